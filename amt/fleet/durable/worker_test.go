package durable_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/amt/fleet/durable"
	"github.com/amtkit/amtkit/statedb"
)

// mixedSpec is a floor of machines that are off, and machines that fail in
// each of the ways a fleet does.
const mixedSpec = `{"groups": [
	{"name": "ok", "weight": 8, "power_state": "off"},
	{"name": "wrongpw", "weight": 2, "accounts": [{"user": "admin", "password": "Other-Pa55word"}]},
	{"name": "noamt", "weight": 2, "no_amt": true}
]}`

// TestMixedOutcomes: a durable power-on over a fleet mixing outcomes gives
// each machine the right outcome (and return code), sends exactly one
// power change to each machine that succeeded and none elsewhere, retries
// only the unreachable machines (transient), and writes one activity entry
// per attempt with the job's ID.
func TestMixedOutcomes(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		cidr := "127.110.1.0/24"
		if e.engine == "postgres" {
			cidr = "127.110.2.0/24"
		}
		sim := newFleet(t, amtsim.Options{DevicesCIDR: cidr, DeviceCount: 12, Fleet: fleetSpec(t, mixedSpec)})
		var errDev *amtsim.Device
		for _, d := range sim.Devices() {
			if d.Group() == "ok" {
				errDev = d
			}
		}
		// One machine refuses the change with a PT_STATUS.
		errDev.InjectFault(amtsim.Fault{Kind: amtsim.FaultInternalError, Action: "RequestPowerStateChange", PTStatus: 2054})
		// Nothing listens on these: unreachable.
		port := strconv.Itoa(sim.HTTPPort())
		unreachable := []string{cidr[:len(cidr)-5] + ".250:" + port, cidr[:len(cidr)-5] + ".251:" + port}

		db := e.open(t)
		withProfile(t, db)
		m, err := durable.NewManager(db)
		require.NoError(t, err)
		targets := append(addrs(sim), unreachable...)
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerOn}, Targets: targets,
			Concurrency: 8, Retries: 2, RetryDelay: 20 * time.Millisecond, Timeout: 20 * time.Second,
			Profile: profile, Actor: "test-actor", ChunkSize: 5})
		require.NoError(t, err)
		stop := startWorker(t, e, "w1")
		rows := waitDone(t, m, id, time.Minute)
		stop()
		require.Len(t, rows, len(targets))

		want := map[string]fleet.Outcome{"ok": fleet.Succeeded, "wrongpw": fleet.AuthFailed,
			"noamt": fleet.NotDetected}
		attempts := 0
		for _, d := range sim.Devices() {
			r := rows[d.HTTPAddr()]
			require.NotNil(t, r.Outcome, d.HTTPAddr())
			attempts += r.Attempts
			assert.Equal(t, "w1", r.Worker, d.HTTPAddr())
			assert.NotNil(t, r.LastAttempt)
			if d == errDev {
				assert.Equal(t, fleet.DeviceError, *r.Outcome, r.Message)
				require.NotNil(t, r.ReturnCode)
				assert.Equal(t, 2054, *r.ReturnCode)
				assert.NotNil(t, r.ReturnCodeName)
				assert.Equal(t, 1, r.Attempts, "a change is never retried")
				continue
			}
			assert.Equal(t, want[d.Group()], *r.Outcome, "%s (%s): %s", d.HTTPAddr(), d.Group(), r.Message)
			assert.Equal(t, 1, r.Attempts, "%s: permanent failures and successes take one attempt", d.HTTPAddr())
			if d.Group() == "ok" {
				assert.Equal(t, []int{2}, d.PowerRequests(), "%s: exactly one power-on", d.HTTPAddr())
			} else {
				assert.Empty(t, d.PowerRequests(), d.HTTPAddr())
			}
		}
		for _, h := range unreachable {
			r := rows[h]
			require.NotNil(t, r.Outcome)
			assert.Equal(t, fleet.Unreachable, *r.Outcome, r.Message)
			assert.Equal(t, 3, r.Attempts, "transient: tried again twice")
			assert.Equal(t, 0, r.RetriesRemaining)
			attempts += r.Attempts
		}

		st, err := m.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, durable.StateFinished, st.State)
		assert.Equal(t, 7, st.Counts[fleet.Succeeded])
		assert.Equal(t, 1, st.Counts[fleet.DeviceError])
		assert.Equal(t, 2, st.Counts[fleet.Unreachable])
		assert.Equal(t, len(targets), st.Machines[durable.MachineDone])
		assert.Empty(t, st.Holders)
		failed, err := m.Report(ctx, id, fleet.Unreachable, fleet.AuthFailed)
		require.NoError(t, err)
		assert.Len(t, failed, 4)

		entries, err := db.QueryActivity(ctx, statedb.ActivityFilter{Job: fmt.Sprint(id), Operation: "power on"})
		require.NoError(t, err)
		assert.Len(t, entries, attempts, "one activity entry per attempt")
		for _, a := range entries {
			assert.Equal(t, "test-actor", a.Actor)
		}
	})
}

// TestOutcomeUnknownNeverResent: a machine whose marker is committed and
// whose result is not (its worker died between the two) is reported
// outcome_unknown by the next worker and nothing is sent to it; a plain
// Retry leaves it alone, and only a Retry naming outcome_unknown sends it.
func TestOutcomeUnknownNeverResent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		cidr := "127.110.3.0/28"
		if e.engine == "postgres" {
			cidr = "127.110.4.0/28"
		}
		sim := newFleet(t, amtsim.Options{DevicesCIDR: cidr, PowerState: 8})
		db := e.open(t)
		withProfile(t, db)
		m, err := durable.NewManager(db)
		require.NoError(t, err)
		devs := sim.Devices()
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerOn}, Targets: addrs(sim), Profile: profile})
		require.NoError(t, err)
		marked := devs[0].HTTPAddr()
		_, err = db.Exec(ctx, "UPDATE amtkit_job_machine SET marked_at = $1, worker = 'gone' WHERE job = $2 AND host = $3",
			statedb.Micros(time.Now()), int64(id), marked)
		require.NoError(t, err)
		startWorker(t, e, "w1")
		rows := waitDone(t, m, id, time.Minute)
		for _, d := range devs {
			r := rows[d.HTTPAddr()]
			require.NotNil(t, r.Outcome)
			if d.HTTPAddr() == marked {
				assert.Equal(t, fleet.OutcomeUnknown, *r.Outcome)
				assert.Empty(t, d.PowerRequests(), "never sent again on its own")
				continue
			}
			assert.Equal(t, fleet.Succeeded, *r.Outcome, r.Message)
			assert.Equal(t, []int{2}, d.PowerRequests())
		}
		n, err := m.Retry(ctx, id)
		require.NoError(t, err)
		assert.Zero(t, n, "a plain retry leaves outcome_unknown alone")
		n, err = m.Retry(ctx, id, fleet.OutcomeUnknown)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		deadline := time.Now().Add(30 * time.Second)
		for {
			j, err := m.Job(ctx, id)
			require.NoError(t, err)
			if j.State == durable.StateFinished {
				break
			}
			require.True(t, time.Now().Before(deadline), "retry did not finish")
			time.Sleep(50 * time.Millisecond)
		}
		r, err := m.Report(ctx, id, fleet.Succeeded)
		require.NoError(t, err)
		assert.Len(t, r, len(devs))
		assert.Equal(t, []int{2}, devs[0].PowerRequests(), "sent once, when asked by name")
	})
}

// TestKilledWorker: a worker process killed with SIGKILL in the middle of
// a power-on job; on SQLite a restarted worker finishes it, on Postgres a
// second worker started beside it (frozen, just before the kill) does (River's rescuer hands it the
// killed worker's chunks after RescueAfter). Every machine ends with an
// outcome (none lost), no machine gets a second power change (none done
// twice), each succeeded machine got exactly one, and machines whose
// change may have been in flight are reported outcome_unknown.
func TestKilledWorker(t *testing.T) {
	t.Parallel()
	eachParallel(t, func(t *testing.T, e env) {
		ctx := context.Background()
		cidr := "127.111.1.0/26"
		if e.engine == "postgres" {
			cidr = "127.111.2.0/26"
		}
		sim := newFleet(t, amtsim.Options{DevicesCIDR: cidr, PowerState: 8, Latency: 100 * time.Millisecond})
		db := e.open(t)
		withProfile(t, db)
		m, err := durable.NewManager(db)
		require.NoError(t, err)
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerOn}, Targets: addrs(sim),
			Concurrency: 20, ChunkSize: 10, Profile: profile, Timeout: 20 * time.Second, Retries: 2,
			RetryDelay: 100 * time.Millisecond})
		require.NoError(t, err)

		// The victim starts alone, so that it is River's leader (the
		// other worker then takes over leadership and rescues at once)
		// and so that no other worker can take the chunks it would hold:
		// were the second started beside it from the beginning, the
		// victim could finish its chunks while the other held the rest,
		// and never be seen holding machines with some done.
		victim := spawnWorker(t, e, "w1")
		if e.engine == "postgres" {
			waitLeader(t, db, "w1")
		}
		// Once it has finished some machines and holds others, it is
		// frozen (SIGSTOP), so that it cannot finish what it holds
		// between the look and the kill; if it did finish them in that
		// moment, it is let go on and looked at again.
		held := func() (holds bool, done int, st durable.Status) {
			st, err := m.Status(ctx, id)
			require.NoError(t, err)
			for _, h := range st.Holders {
				holds = holds || h.Worker == "w1"
			}
			rows, err := m.Report(ctx, id)
			require.NoError(t, err)
			for _, r := range rows {
				if r.Outcome != nil && r.Worker == "w1" {
					done++
				}
			}
			return holds, done, st
		}
		deadline := time.Now().Add(time.Minute)
		for {
			holds, done, st := held()
			require.Less(t, st.Done, st.Total, "the job finished before its worker could be killed mid-job")
			if holds && done >= 3 {
				victim.signal(t, syscall.SIGSTOP)
				if holds, _, st = held(); holds && st.Done < st.Total {
					break
				}
				victim.signal(t, syscall.SIGCONT)
			}
			require.True(t, time.Now().Before(deadline), "the worker never held machines with some done")
			time.Sleep(20 * time.Millisecond)
		}
		if e.engine == "postgres" {
			spawnWorker(t, e, "w2") // beside the frozen victim
		}
		victim.kill(t)
		if e.engine == "sqlite" {
			spawnWorker(t, e, "w2") // restarted
		}
		rows := waitDone(t, m, id, 2*time.Minute)

		byWorker := map[string]int{}
		unknown := 0
		for _, d := range sim.Devices() {
			r := rows[d.HTTPAddr()]
			require.NotNil(t, r.Outcome, "%s lost", d.HTTPAddr())
			reqs := d.PowerRequests()
			assert.LessOrEqual(t, len(reqs), 1, "%s: changed twice", d.HTTPAddr())
			switch *r.Outcome {
			case fleet.Succeeded:
				assert.Equal(t, []int{2}, reqs, d.HTTPAddr())
				byWorker[r.Worker]++
			case fleet.OutcomeUnknown:
				unknown++
			default:
				t.Errorf("%s: %s: %s", d.HTTPAddr(), *r.Outcome, r.Message)
			}
		}
		t.Logf("succeeded by worker: %v; outcome unknown: %d", byWorker, unknown)
		assert.Positive(t, byWorker["w1"], "the killed worker did part of the job")
		assert.Positive(t, byWorker["w2"], "the other worker finished it")
		st, err := m.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, durable.StateFinished, st.State)
	})
}

// waitLeader waits until the named worker is River's leader.
func waitLeader(t testing.TB, db *statedb.DB, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var leader string
		err := db.QueryRow(context.Background(), "SELECT leader_id FROM river_leader").Scan(&leader)
		if err == nil && strings.HasPrefix(leader, name+"-") {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s never led (leader %q, %v)", name, leader, err)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWorkerStopsGracefully: a worker process sent SIGTERM mid-job
// finishes the chunks in hand, exits 0 and holds nothing; another worker
// finishes the job at once (no rescue needed), each machine changed
// exactly once.
func TestWorkerStopsGracefully(t *testing.T) {
	t.Parallel()
	eachParallel(t, func(t *testing.T, e env) {
		ctx := context.Background()
		sim := newFleet(t, amtsim.Options{DevicesCIDR: cidrFor(e, "127.111.3.0/26", "127.111.4.0/26"), PowerState: 8,
			Latency: 50 * time.Millisecond})
		db := e.open(t)
		withProfile(t, db)
		m, err := durable.NewManager(db)
		require.NoError(t, err)
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerOn}, Targets: addrs(sim),
			Concurrency: 10, ChunkSize: 10, Profile: profile, Timeout: 20 * time.Second})
		require.NoError(t, err)
		w1 := spawnWorker(t, e, "w1")
		deadline := time.Now().Add(time.Minute)
		for {
			j, err := m.Job(ctx, id)
			require.NoError(t, err)
			if j.Done >= 5 {
				require.Less(t, j.Done, j.Total)
				break
			}
			require.True(t, time.Now().Before(deadline))
			time.Sleep(20 * time.Millisecond)
		}
		require.NoError(t, w1.cmd.Process.Signal(syscall.SIGTERM))
		<-w1.done
		assert.Equal(t, 0, w1.cmd.ProcessState.ExitCode())
		st, err := m.Status(ctx, id)
		require.NoError(t, err)
		assert.Empty(t, st.Holders, "a stopped worker holds nothing")
		startWorker(t, e, "w2")
		rows := waitDone(t, m, id, time.Minute)
		for _, d := range sim.Devices() {
			r := rows[d.HTTPAddr()]
			require.NotNil(t, r.Outcome)
			assert.Equal(t, fleet.Succeeded, *r.Outcome, "%s: %s", d.HTTPAddr(), r.Message)
			assert.Equal(t, []int{2}, d.PowerRequests(), d.HTTPAddr())
		}
	})
}
