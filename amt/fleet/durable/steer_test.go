package durable_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/amt/fleet/durable"
)

func cidrFor(e env, sqlite, postgres string) string {
	if e.engine == "postgres" {
		return postgres
	}
	return sqlite
}

// TestCanaryContinueBatches: a job with a canary of 2 runs those two and
// pauses (nothing sent to the others while it waits); Continue releases
// the rest in batches of 4, each batch starting no earlier than its slot
// counted from Continue; every machine gets exactly one power-on.
func TestCanaryContinueBatches(t *testing.T) {
	t.Parallel()
	eachParallel(t, func(t *testing.T, e env) {
		ctx := context.Background()
		sim := newFleet(t, amtsim.Options{DevicesCIDR: cidrFor(e, "127.112.1.0/28", "127.112.2.0/28"), PowerState: 8})
		require.Len(t, sim.Devices(), 14)
		db := e.open(t)
		withProfile(t, db)
		m, err := durable.NewManager(db)
		require.NoError(t, err)
		const interval = 400 * time.Millisecond
		targets := addrs(sim)
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerOn}, Targets: targets,
			Canary: 2, BatchSize: 4, BatchInterval: interval, Profile: profile})
		require.NoError(t, err)
		startWorker(t, e, "w1")

		var canary []string
		fctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		for mc, err := range m.Follow(fctx, id, durable.FollowOptions{Poll: 50 * time.Millisecond, UntilPaused: true}) {
			require.NoError(t, err)
			canary = append(canary, mc.Host)
		}
		assert.ElementsMatch(t, targets[:2], canary, "the canary is the first two targets")
		st, err := m.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, durable.StatePaused, st.State)
		assert.Equal(t, 2, st.Done)
		time.Sleep(300 * time.Millisecond) // paused stays paused
		for i, d := range sim.Devices() {
			if i < 2 {
				assert.Equal(t, []int{2}, d.PowerRequests(), d.HTTPAddr())
			} else {
				assert.Empty(t, d.PowerRequests(), "%s: sent before Continue", d.HTTPAddr())
			}
		}

		continued := time.Now()
		require.NoError(t, m.Continue(ctx, id))
		require.ErrorIs(t, m.Continue(ctx, id), durable.ErrState)
		rows := waitDone(t, m, id, time.Minute)
		for i, h := range targets {
			r := rows[h]
			require.NotNil(t, r.Outcome)
			assert.Equal(t, fleet.Succeeded, *r.Outcome, r.Message)
			require.NotNil(t, r.LastAttempt)
			if i >= 2 {
				batch := (i - 2) / 4
				slot := continued.Add(time.Duration(batch) * interval)
				assert.False(t, r.LastAttempt.Before(slot.Add(-50*time.Millisecond)),
					"%s of batch %d started %v before its slot", h, batch, slot.Sub(*r.LastAttempt))
			}
		}
		for _, d := range sim.Devices() {
			assert.Equal(t, []int{2}, d.PowerRequests(), d.HTTPAddr())
		}
		j, err := m.Job(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, durable.StateFinished, j.State)
		require.NotNil(t, j.ContinuedAt)
		// Waiting for Continue and for batch slots snoozed the River jobs
		// without spending attempts.
		var maxAttempt, snoozed int
		require.NoError(t, db.QueryRow(ctx, `SELECT MAX(attempt), COUNT(*) FILTER (WHERE CAST(metadata AS TEXT) LIKE '%snoozes%')
			FROM river_job WHERE kind = 'amtkit_fleet_chunk'`).Scan(&maxAttempt, &snoozed))
		assert.Equal(t, 1, maxAttempt)
		assert.Positive(t, snoozed)
	})
}

// TestCancelRunning: cancelling a running job ends the machines not yet
// started as cancelled with nothing sent to them; those started finish
// with their one power change; the job ends cancelled with every machine
// accounted for.
func TestCancelRunning(t *testing.T) {
	t.Parallel()
	eachParallel(t, func(t *testing.T, e env) {
		ctx := context.Background()
		sim := newFleet(t, amtsim.Options{DevicesCIDR: cidrFor(e, "127.112.3.0/27", "127.112.4.0/27"), PowerState: 8,
			Latency: 50 * time.Millisecond})
		db := e.open(t)
		withProfile(t, db)
		m, err := durable.NewManager(db)
		require.NoError(t, err)
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerOn}, Targets: addrs(sim),
			Concurrency: 3, ChunkSize: 3, Profile: profile})
		require.NoError(t, err)
		startWorker(t, e, "w1")
		deadline := time.Now().Add(time.Minute)
		for {
			j, err := m.Job(ctx, id)
			require.NoError(t, err)
			if j.Done >= 3 {
				break
			}
			require.True(t, time.Now().Before(deadline))
			time.Sleep(20 * time.Millisecond)
		}
		n, err := m.Cancel(ctx, id)
		require.NoError(t, err)
		assert.Positive(t, n)
		rows := waitDone(t, m, id, time.Minute)
		counts := map[fleet.Outcome]int{}
		for _, d := range sim.Devices() {
			r := rows[d.HTTPAddr()]
			require.NotNil(t, r.Outcome, d.HTTPAddr())
			counts[*r.Outcome]++
			switch *r.Outcome {
			case fleet.Succeeded:
				assert.Equal(t, []int{2}, d.PowerRequests(), d.HTTPAddr())
			case fleet.Cancelled:
				assert.Empty(t, d.PowerRequests(), d.HTTPAddr())
			default:
				assert.LessOrEqual(t, len(d.PowerRequests()), 1, "%s: %s", d.HTTPAddr(), *r.Outcome)
			}
		}
		t.Logf("outcomes after cancel: %v", counts)
		assert.Positive(t, counts[fleet.Succeeded])
		assert.Positive(t, counts[fleet.Cancelled])
		j, err := m.Job(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, durable.StateCancelled, j.State)
		assert.Equal(t, j.Total, j.Done)
	})
}

// TestExpiryWhileRunning: machines not started before the job's expiry are
// reported expired, with nothing sent to them, while a worker runs.
func TestExpiryWhileRunning(t *testing.T) {
	t.Parallel()
	eachParallel(t, func(t *testing.T, e env) {
		ctx := context.Background()
		// Each machine takes about 0.6 s (three exchanges of 200 ms), two
		// at a time: the 30 need about 9 s, and the expiry at 5 s leaves
		// some done and some expired even when the worker is slow to start
		// (several seconds under -race beside other packages' tests).
		sim := newFleet(t, amtsim.Options{DevicesCIDR: cidrFor(e, "127.112.5.0/27", "127.112.6.0/27"), PowerState: 8,
			Latency: 200 * time.Millisecond})
		db := e.open(t)
		withProfile(t, db)
		m, err := durable.NewManager(db)
		require.NoError(t, err)
		startWorker(t, e, "w1")
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerOn}, Targets: addrs(sim),
			Concurrency: 2, ChunkSize: 2, Profile: profile, ExpireAfter: 5 * time.Second})
		require.NoError(t, err)
		rows := waitDone(t, m, id, time.Minute)
		counts := map[fleet.Outcome]int{}
		for _, d := range sim.Devices() {
			r := rows[d.HTTPAddr()]
			require.NotNil(t, r.Outcome)
			counts[*r.Outcome]++
			switch *r.Outcome {
			case fleet.Succeeded:
				assert.Equal(t, []int{2}, d.PowerRequests(), d.HTTPAddr())
			case fleet.Expired:
				assert.Empty(t, d.PowerRequests(), d.HTTPAddr())
				assert.Zero(t, r.Attempts)
			default:
				t.Errorf("%s: %s: %s", d.HTTPAddr(), *r.Outcome, r.Message)
			}
		}
		t.Logf("outcomes: %v", counts)
		assert.Positive(t, counts[fleet.Succeeded])
		assert.Positive(t, counts[fleet.Expired])
		j, err := m.Job(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, durable.StateFinished, j.State)
	})
}
