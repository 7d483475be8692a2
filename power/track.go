package power

import (
	"context"
	"strconv"
)

// Tracker starts recording an operation of the service (an activity log
// entry) and returns the context to run it under and the function that
// ends it with the operation's error. params hold no secret. A device
// client that groups several calls into one entry returns a context that
// tells its tracker to leave the inner calls out.
type Tracker func(ctx context.Context, operation string, params map[string]string) (context.Context, func(err error))

// WithTracker records every operation of the service (Status, Apply,
// WaitFor, NextBoot, ResetTo, ...) through t: one entry per call, under the
// name amtctl gives the command ("power status", "power reset", "boot next
// pxe", ...), with the error the caller gets.
func WithTracker(t Tracker) Option {
	return func(s *Service) {
		if t != nil {
			s.tracker = t
		}
	}
}

// begin starts the entry of operation op.
func (s *Service) begin(ctx context.Context, op string, params map[string]string) (context.Context, func(error)) {
	if s.tracker == nil {
		return ctx, func(error) {}
	}
	return s.tracker(ctx, op, params)
}

// bootParams are the parameters of a boot operation worth recording: the
// target and the options that are on.
func bootParams(target BootTarget, opts BootOptions) map[string]string {
	p := map[string]string{}
	if target != 0 {
		p["target"] = target.String()
	}
	for name, on := range map[string]bool{
		"sol": opts.SOL, "bios_pause": opts.BIOSPause, "lock_keyboard": opts.LockKeyboard,
		"lock_power_button": opts.LockPowerButton, "lock_reset_button": opts.LockResetButton,
		"lock_sleep_button": opts.LockSleepButton, "user_password_bypass": opts.UserPasswordBypass,
		"configuration_data_reset": opts.ConfigurationDataReset, "forced_progress_events": opts.ForcedProgressEvents,
		"safe_mode": opts.SafeMode,
	} {
		if on {
			p[name] = "true"
		}
	}
	if opts.Verbosity != 0 {
		p["verbosity"] = strconv.Itoa(int(opts.Verbosity))
	}
	if opts.MediaIndex != 0 {
		p["media_index"] = strconv.Itoa(opts.MediaIndex)
	}
	return p
}
