package fleet_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
)

// TestRunDeadlineIsNotUnreachable: machines whose exchange the run's own
// deadline cuts short (a durable chunk's bound, or a caller's timeout)
// did not fail to answer. A read is reported cancelled, never
// unreachable, and is not retried; a change cut short after its request
// was handed over is outcome_unknown. Either way Err matches ErrRunEnded.
func TestRunDeadlineIsNotUnreachable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cidr   string
		action fleet.Action
		within time.Duration
	}{
		// Challenge and Get take 2 × 400 ms: the run ends between them.
		{"read", "127.108.0.0/30", fleet.PowerStatus, 600 * time.Millisecond},
		// Challenge, state read and change: the run ends around the change.
		{"change", "127.108.1.0/30", fleet.PowerOn, 1000 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := newFleet(t, amtsim.Options{DevicesCIDR: tc.cidr, Latency: 400 * time.Millisecond, PowerState: 8})
			opts := fastOpts()
			opts.Retries, opts.Timeout = 3, time.Minute
			var (
				mu     sync.Mutex
				hooked = map[string]bool{}
			)
			opts.Hooks.BeforeSend = func(_ context.Context, host string) error {
				mu.Lock()
				defer mu.Unlock()
				hooked[host] = true
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.within)
			defer cancel()
			res := collect(t, ctx, targets(sim), fleet.Task{Action: tc.action}, opts)
			require.Len(t, res, len(sim.Devices()))
			for host, r := range res {
				assert.NotEqual(t, fleet.Unreachable, r.Outcome, "%s: %s", host, r.Message)
				assert.LessOrEqual(t, r.Attempts, 1, "%s: not retried after the run ended", host)
				if r.Attempts == 0 {
					continue // not started before the deadline
				}
				assert.True(t, errors.Is(r.Err, fleet.ErrRunEnded), "%s: %v", host, r.Err)
				mu.Lock()
				sent := hooked[host]
				mu.Unlock()
				if sent {
					assert.Equal(t, fleet.OutcomeUnknown, r.Outcome, "%s: %s", host, r.Message)
				} else {
					assert.Equal(t, fleet.Cancelled, r.Outcome, "%s: %s", host, r.Message)
					assert.Equal(t, "cancelled before anything was changed", r.Message, host)
				}
			}
		})
	}
}
