package defense

import (
	"context"
	"strconv"
)

// Tracker starts recording an operation of the service (an activity log
// entry) and returns the context to run it under and the function that
// ends it with the operation's error. params hold no secret.
type Tracker func(ctx context.Context, operation string, params map[string]string) (context.Context, func(err error))

// WithTracker records every operation of the service (Apply, Remove,
// Status, Statistics, Capabilities) through t: one entry per call.
func WithTracker(t Tracker) Option {
	return func(s *Service) {
		if t != nil {
			s.tracker = t
		}
	}
}

func (s *Service) begin(ctx context.Context, op string, params map[string]string) (context.Context, func(error)) {
	if s.tracker == nil {
		return ctx, func(error) {}
	}
	return s.tracker(ctx, op, params)
}

func applyParams(p *Policy, opts ApplyOptions) map[string]string {
	m := map[string]string{"timeout": opts.Timeout.String()}
	if p != nil {
		m["policy"] = p.Name
	}
	if opts.NoTimeout {
		m["no_timeout"] = "true"
	}
	m["interface"] = strconv.Itoa(int(opts.Interface))
	return m
}
