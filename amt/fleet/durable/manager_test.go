package durable_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/amt/fleet/durable"
)

// TestCollections: create, add, remove, list, show and delete named
// collections, and a job submitted with one gets its targets.
func TestCollections(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		m := e.manager(t)
		require.NoError(t, m.CreateCollection(ctx, "lab-1", "127.110.0.1", "127.110.0.2"))
		require.ErrorIs(t, m.CreateCollection(ctx, "lab-1"), durable.ErrExists)
		require.ErrorIs(t, m.CreateCollection(ctx, "bad name"), durable.ErrInvalid)
		n, err := m.AddToCollection(ctx, "lab-1", "127.110.0.2", "127.110.0.3")
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		n, err = m.RemoveFromCollection(ctx, "lab-1", "127.110.0.1", "127.110.0.9")
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		_, err = m.AddToCollection(ctx, "nope", "127.110.0.1")
		require.ErrorIs(t, err, durable.ErrNotFound)
		c, err := m.Collection(ctx, "lab-1")
		require.NoError(t, err)
		assert.Equal(t, []string{"127.110.0.2", "127.110.0.3"}, c.Targets)
		require.NoError(t, m.CreateCollection(ctx, "empty"))
		list, err := m.Collections(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		assert.Equal(t, "empty", list[0].Name)
		assert.Equal(t, 0, list[0].Count)
		assert.Equal(t, "lab-1", list[1].Name)
		assert.Equal(t, 2, list[1].Count)

		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerStatus},
			Targets: []string{"127.110.0.3", "127.110.0.4"}, Collections: []string{"lab-1"}})
		require.NoError(t, err)
		rows, err := m.Report(ctx, id)
		require.NoError(t, err)
		var hosts []string
		for _, r := range rows {
			hosts = append(hosts, r.Host)
			assert.Equal(t, durable.MachinePending, r.State)
			assert.Nil(t, r.Outcome)
		}
		assert.Equal(t, []string{"127.110.0.3", "127.110.0.4", "127.110.0.2"}, hosts)

		require.NoError(t, m.DeleteCollection(ctx, "lab-1"))
		require.ErrorIs(t, m.DeleteCollection(ctx, "lab-1"), durable.ErrNotFound)
		_, err = m.Collection(ctx, "lab-1")
		require.ErrorIs(t, err, durable.ErrNotFound)
		rows, err = m.Report(ctx, id)
		require.NoError(t, err)
		assert.Len(t, rows, 3, "a job keeps its machines when its collection goes")
	})
}

// TestSubmitValidates: bad specs are refused before anything is stored.
func TestSubmitValidates(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		m := e.manager(t)
		for name, s := range map[string]durable.Spec{
			"no task":        {Targets: []string{"127.110.0.1"}},
			"unknown task":   {Task: fleet.Task{Action: "explode"}, Targets: []string{"127.110.0.1"}},
			"no targets":     {Task: fleet.Task{Action: fleet.PowerStatus}},
			"bad target":     {Task: fleet.Task{Action: fleet.PowerStatus}, Targets: []string{"a b"}},
			"batch":          {Task: fleet.Task{Action: fleet.PowerStatus}, Targets: []string{"127.110.0.1"}, BatchSize: 2},
			"two expiries":   {Task: fleet.Task{Action: fleet.PowerStatus}, Targets: []string{"127.110.0.1"}, ExpireAfter: time.Minute, ExpireAt: time.Now()},
			"negative retry": {Task: fleet.Task{Action: fleet.PowerStatus}, Targets: []string{"127.110.0.1"}, Retries: -1},
		} {
			_, err := m.Submit(ctx, s)
			assert.ErrorIs(t, err, durable.ErrInvalid, name)
		}
		_, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerStatus}, Collections: []string{"missing"}})
		assert.ErrorIs(t, err, durable.ErrNotFound)
		jobs, err := m.List(ctx, durable.ListFilter{})
		require.NoError(t, err)
		assert.Empty(t, jobs)
	})
}

// TestExpiryWithoutWorker: a job whose expiry passes with no worker running
// reports every machine expired, and finishes; Purge then removes it and
// records when it ran.
func TestExpiryWithoutWorker(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		m := e.manager(t)
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerOn},
			Targets: []string{"127.110.0.1", "127.110.0.2"}, ExpireAt: time.Now().Add(300 * time.Millisecond)})
		require.NoError(t, err)
		st, err := m.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, durable.StateRunning, st.State)
		assert.Equal(t, 2, st.Machines[durable.MachinePending])
		assert.Nil(t, st.LastCleanup)
		var got []durable.Machine
		for mc, err := range m.Follow(ctx, id, durable.FollowOptions{Poll: 50 * time.Millisecond}) {
			require.NoError(t, err)
			got = append(got, mc)
		}
		require.Len(t, got, 2)
		for _, mc := range got {
			require.NotNil(t, mc.Outcome)
			assert.Equal(t, fleet.Expired, *mc.Outcome)
			assert.Equal(t, 0, mc.Attempts)
		}
		st, err = m.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, durable.StateFinished, st.State)
		assert.Equal(t, 2, st.Counts[fleet.Expired])
		assert.Equal(t, 0, st.Counts[fleet.Succeeded])
		require.NotNil(t, st.FinishedAt)

		res, err := m.Purge(ctx, time.Hour)
		require.NoError(t, err)
		assert.Equal(t, durable.PurgeResult{}, res, "younger than the age given")
		res, err = m.Purge(ctx, 0)
		require.NoError(t, err)
		assert.Equal(t, durable.PurgeResult{Jobs: 1, Machines: 2}, res)
		_, err = m.Status(ctx, id)
		require.ErrorIs(t, err, durable.ErrNotFound)
		last, err := m.LastCleanup(ctx)
		require.NoError(t, err)
		require.NotNil(t, last)
		assert.WithinDuration(t, time.Now(), *last, time.Minute)
	})
}

// TestCancelWithoutWorker: cancelling a job no worker has started reports
// every machine cancelled; cancelling again is refused.
func TestCancelWithoutWorker(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		m := e.manager(t)
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerReset},
			Targets: []string{"127.110.0.1", "127.110.0.2", "127.110.0.3"}, StartAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		j, err := m.Job(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, durable.StateScheduled, j.State)
		n, err := m.Cancel(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		_, err = m.Cancel(ctx, id)
		require.ErrorIs(t, err, durable.ErrState)
		require.ErrorIs(t, m.Continue(ctx, id), durable.ErrState)
		rows, err := m.Report(ctx, id, fleet.Cancelled)
		require.NoError(t, err)
		assert.Len(t, rows, 3)
		jobs, err := m.List(ctx, durable.ListFilter{States: []durable.State{durable.StateCancelled}})
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		assert.Equal(t, 3, jobs[0].Counts[fleet.Cancelled])
		_, err = m.Cancel(ctx, 999)
		require.ErrorIs(t, err, durable.ErrNotFound)
	})
}
