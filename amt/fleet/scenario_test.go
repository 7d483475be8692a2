package fleet_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/internal/testiso"
	"github.com/amtkit/amtkit/wsman"
)

// TestExpiryBeforeStart: machines a batch would start after the expiry
// are reported Expired, untried; those started before it finish.
func TestExpiryBeforeStart(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.105.0.0/29"})
	opts := fastOpts()
	opts.Concurrency, opts.BatchSize, opts.BatchInterval = 1, 2, time.Minute
	opts.Expire = time.Now().Add(20 * time.Second)
	tg := targets(sim)
	res := collect(t, context.Background(), tg, fleet.Task{Action: fleet.PowerReset}, opts)
	require.Len(t, res, len(tg))
	for i, h := range tg {
		r := res[h]
		d := sim.Devices()[i]
		if i < 2 {
			assert.Equal(t, fleet.Succeeded, r.Outcome, r.Message)
			assert.Equal(t, []int{10}, d.PowerRequests())
			continue
		}
		assert.Equal(t, fleet.Expired, r.Outcome, h)
		assert.Zero(t, r.Attempts)
		assert.Nil(t, r.LastAttempt)
		assert.True(t, errors.Is(r.Err, fleet.ErrExpired))
		assert.Empty(t, d.PowerRequests())
		assert.Zero(t, d.Stats().HTTPRequests, "nothing reached an expired machine")
	}
}

// TestExpiryWhileWaitingForRetry: a machine waiting for its next retry
// when the run expires is Expired, with the attempts it had.
func TestExpiryWhileWaitingForRetry(t *testing.T) {
	t.Parallel()
	opts := fastOpts()
	opts.Retries, opts.RetryDelay = 10, 400*time.Millisecond
	opts.Expire = time.Now().Add(time.Second)
	// Nothing listens on these addresses: every attempt is refused.
	tg := []string{"127.105.1.1:9", "127.105.1.2:9"}
	res := collect(t, context.Background(), tg, fleet.Task{Action: fleet.PowerStatus}, opts)
	for _, h := range tg {
		r := res[h]
		assert.Equal(t, fleet.Expired, r.Outcome, r.Message)
		assert.GreaterOrEqual(t, r.Attempts, 1)
		assert.Equal(t, opts.Retries-(r.Attempts-1), r.RetriesRemaining)
		assert.Contains(t, r.Message, "expired before retry")
		assert.Contains(t, r.Message, "connection refused")
	}
}

// TestCancel: cancelling the run after the first result reports the
// machines not started Cancelled, and none of them got a request.
func TestCancel(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.105.2.0/27"})
	tg := targets(sim)
	opts := fastOpts()
	opts.Concurrency = 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seq, err := fleet.Run(ctx, tg, fleet.Task{Action: fleet.PowerReset}, opts)
	require.NoError(t, err)
	res := map[string]fleet.Result{}
	for r := range seq {
		res[r.Host] = r
		cancel()
	}
	require.Len(t, res, len(tg))
	cancelled := 0
	for _, d := range sim.Devices() {
		r := res[d.HTTPAddr()]
		assert.LessOrEqual(t, len(d.PowerRequests()), 1)
		switch r.Outcome {
		case fleet.Cancelled:
			cancelled++
			assert.Empty(t, d.PowerRequests(), "%s: %s", r.Host, r.Message)
			assert.Equal(t, opts.Retries, r.RetriesRemaining)
		case fleet.Succeeded:
			assert.Equal(t, []int{10}, d.PowerRequests())
		default:
			assert.Equal(t, fleet.OutcomeUnknown, r.Outcome, r.Message)
		}
	}
	assert.GreaterOrEqual(t, cancelled, len(tg)-2)
}

// TestBreakStopsRun: leaving the loop early stops the run and leaves no
// goroutine behind (TestMain checks).
func TestBreakStopsRun(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.105.3.0/28"})
	seq, err := fleet.Run(context.Background(), targets(sim), fleet.Task{Action: fleet.PowerStatus}, fastOpts())
	require.NoError(t, err)
	for range seq {
		break
	}
	n := 0
	for range seq {
		n++ // a second range yields nothing
	}
	assert.Zero(t, n)
}

// TestBatches: BatchSize machines start per BatchInterval.
func TestBatches(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.105.4.0/28"})
	tg := targets(sim)[:9]
	opts := fastOpts()
	opts.BatchSize, opts.BatchInterval = 3, 300*time.Millisecond
	t0 := time.Now()
	res := collect(t, context.Background(), tg, fleet.Task{Action: fleet.PowerStatus}, opts)
	var starts []time.Time
	for _, h := range tg {
		require.Equal(t, fleet.Succeeded, res[h].Outcome)
		starts = append(starts, *res[h].LastAttempt)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	// Batch k (from 0) starts no sooner than k intervals after the run.
	for i, s := range starts {
		assert.False(t, s.Before(t0.Add(time.Duration(i/3)*opts.BatchInterval)), "machine %d started %s after the run", i, s.Sub(t0))
	}
}

// TestBeforeSendFails: when the marker cannot be committed nothing is
// sent, and the machine is not retried.
func TestBeforeSendFails(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.105.5.0/29"})
	opts := fastOpts()
	opts.Retries = 3
	boom := errors.New("database gone")
	opts.Hooks.BeforeSend = func(context.Context, string) error { return boom }
	res := collect(t, context.Background(), targets(sim), fleet.Task{Action: fleet.PowerReset}, opts)
	for _, d := range sim.Devices() {
		r := res[d.HTTPAddr()]
		assert.Equal(t, fleet.Cancelled, r.Outcome)
		assert.ErrorIs(t, r.Err, boom)
		assert.ErrorIs(t, r.Err, fleet.ErrHook)
		assert.Equal(t, 1, r.Attempts)
		assert.Contains(t, r.Message, "nothing sent")
		assert.Empty(t, d.PowerRequests())
	}
}

// TestNothingToSend: power on of machines already on sends nothing and
// calls no BeforeSend.
func TestNothingToSend(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.105.6.0/29"})
	opts := fastOpts()
	var calls int
	var mu sync.Mutex
	opts.Hooks.BeforeSend = func(context.Context, string) error { mu.Lock(); calls++; mu.Unlock(); return nil }
	res := collect(t, context.Background(), targets(sim), fleet.Task{Action: fleet.PowerOn}, opts)
	for _, d := range sim.Devices() {
		r := res[d.HTTPAddr()]
		assert.Equal(t, fleet.Succeeded, r.Outcome)
		assert.Equal(t, "already on; nothing sent", r.Message)
		assert.Empty(t, d.PowerRequests())
	}
	assert.Zero(t, calls)
}

// TestRefused: a graceful shutdown of machines without the OS agent is
// refused before anything is sent, and not retried.
func TestRefused(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.105.7.0/29", NoOSAgent: true})
	opts := fastOpts()
	opts.Retries = 2
	res := collect(t, context.Background(), targets(sim), fleet.Task{Action: fleet.PowerSoftOff}, opts)
	for _, d := range sim.Devices() {
		r := res[d.HTTPAddr()]
		assert.Equal(t, fleet.Refused, r.Outcome, r.Message)
		assert.Equal(t, 1, r.Attempts)
		assert.Equal(t, 2, r.RetriesRemaining)
		assert.Empty(t, d.PowerRequests())
	}
}

// TestTLS: a certificate that does not match the pin is TLS; the right
// pin works (each machine then has a transport of its own).
func TestTLS(t *testing.T) {
	t.Parallel()
	sim := newSim(t, amtsim.Options{DevicesCIDR: "127.105.8.0/30", HTTPPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1})
	var tg []string
	for _, d := range sim.Devices() {
		tg = append(tg, "https://"+d.TLSAddr())
	}
	opts := fastOpts()
	opts.ClientOptions = append(opts.ClientOptions, amt.WithPinnedCertificate("00"+sim.CertificateSHA256()[2:]))
	for _, r := range collect(t, context.Background(), tg, fleet.Task{Action: fleet.PowerStatus}, opts) {
		assert.Equal(t, fleet.TLS, r.Outcome, r.Message)
		assert.Equal(t, 1, r.Attempts, "a TLS failure is not retried")
	}
	opts = fastOpts()
	opts.ClientOptions = append(opts.ClientOptions, amt.WithPinnedCertificate(sim.CertificateSHA256()))
	for _, r := range collect(t, context.Background(), tg, fleet.Task{Action: fleet.PowerStatus}, opts) {
		assert.Equal(t, fleet.Succeeded, r.Outcome, r.Message)
	}
}

// TestInvalidTasks: tasks and options that cannot run are refused before
// anything is sent.
func TestInvalidTasks(t *testing.T) {
	t.Parallel()
	for _, task := range []fleet.Task{
		{Action: "dance"},
		{Action: fleet.Boot, BootTarget: "floppy-disk"},
		{Action: fleet.Boot},
		{Action: fleet.IDERBoot},
		{Action: fleet.IDERBoot, Image: "/nonexistent.iso"},
		{Action: fleet.DefenseQuarantine, DefenseTimeout: fleet.Duration(time.Minute)},
		{Action: fleet.DefenseQuarantine, Servers: []string{"10.0.0.1"}},
		{Action: fleet.DefensePingOnly, Servers: []string{"10.0.0.1"}, DefenseTimeout: fleet.Duration(time.Minute)},
		{Action: fleet.DefenseApply, Policy: "not: [a policy", DefenseTimeout: fleet.Duration(time.Minute)},
		{Action: fleet.PowerStatus, Wake: "levitate"},
	} {
		_, err := fleet.Run(context.Background(), []string{"127.105.9.1"}, task, fastOpts())
		assert.Error(t, err, "%+v", task)
	}
	_, err := fleet.Run(context.Background(), []string{"127.105.9.1", ""}, fleet.Task{Action: fleet.PowerStatus}, fastOpts())
	assert.Error(t, err)
	_, err = fleet.Run(context.Background(), nil, fleet.Task{Action: fleet.PowerStatus}, fleet.Options{BatchSize: 3})
	assert.Error(t, err)
}

// TestEveryAction runs each task on two simulated machines and checks
// what the devices record.
func TestEveryAction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	iso := filepath.Join(dir, "boot.iso")
	require.NoError(t, os.WriteFile(iso, testiso.Make(600, 4), 0o600))
	cases := []struct {
		name  string
		task  fleet.Task
		sim   amtsim.Options
		check func(t *testing.T, d *amtsim.Device, r fleet.Result)
	}{
		{"power-on", fleet.Task{Action: fleet.PowerOn}, amtsim.Options{PowerState: 8}, powerRequests(2)},
		{"power-off", fleet.Task{Action: fleet.PowerOff}, amtsim.Options{}, powerRequests(8)},
		{"power-cycle", fleet.Task{Action: fleet.PowerCycle}, amtsim.Options{}, powerRequests(5)},
		{"power-soft-off", fleet.Task{Action: fleet.PowerSoftOff}, amtsim.Options{}, powerRequests(12)},
		{"power-soft-reset", fleet.Task{Action: fleet.PowerSoftReset}, amtsim.Options{}, powerRequests(14)},
		{"power-reset-off", fleet.Task{Action: fleet.PowerReset}, amtsim.Options{PowerState: 8}, powerRequests(2)},
		{"wake", fleet.Task{Action: fleet.Wake}, amtsim.Options{}, powerRequests()},
		{"boot", fleet.Task{Action: fleet.Boot, BootTarget: "pxe"}, amtsim.Options{}, func(t *testing.T, d *amtsim.Device, r fleet.Result) {
			powerRequests(10)(t, d, r)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b, err := d.WaitBoot(ctx, 1)
			require.NoError(t, err)
			assert.Equal(t, "pxe", b.Source)
		}},
		{"wake-first inventory", fleet.Task{Action: fleet.Inventory, Wake: fleet.WakePowerOn}, amtsim.Options{PowerState: 8}, func(t *testing.T, d *amtsim.Device, r fleet.Result) {
			powerRequests(2)(t, d, r)
			var inv map[string]any
			require.NoError(t, json.Unmarshal(r.Data, &inv))
			assert.Equal(t, "post-provisioning", inv["provisioning_state"])
		}},
		{"inventory", fleet.Task{Action: fleet.Inventory}, amtsim.Options{}, hasData},
		{"hardware", fleet.Task{Action: fleet.Hardware}, amtsim.Options{}, hasData},
		{"clock-set", fleet.Task{Action: fleet.ClockSet}, amtsim.Options{}, func(t *testing.T, d *amtsim.Device, r fleet.Result) {
			assert.Less(t, d.ClockOffset().Abs(), 5*time.Second)
		}},
		{"defense-quarantine", fleet.Task{Action: fleet.DefenseQuarantine, Servers: []string{"192.0.2.10:443/tcp"}, DefenseTimeout: fleet.Duration(10 * time.Minute)}, amtsim.Options{}, func(t *testing.T, d *amtsim.Device, r fleet.Result) {
			assert.NotEmpty(t, d.ActiveDefensePolicy(0))
		}},
		{"defense-ping-only", fleet.Task{Action: fleet.DefensePingOnly, DefenseTimeout: fleet.Duration(10 * time.Minute)}, amtsim.Options{}, func(t *testing.T, d *amtsim.Device, r fleet.Result) {
			assert.NotEmpty(t, d.ActiveDefensePolicy(0))
		}},
		{"defense-status", fleet.Task{Action: fleet.DefenseStatus}, amtsim.Options{}, hasData},
		{"defense-remove", fleet.Task{Action: fleet.DefenseRemove}, amtsim.Options{}, hasData},
		{"ider-boot", fleet.Task{Action: fleet.IDERBoot, Image: iso, ServeIdle: fleet.Duration(500 * time.Millisecond)}, amtsim.Options{}, func(t *testing.T, d *amtsim.Device, r fleet.Result) {
			boots := d.IDERBoots()
			require.Len(t, boots, 1)
			assert.True(t, boots[0].OK, boots[0].Err)
			assert.Equal(t, "cd", boots[0].Medium)
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := tc.sim
			o.DevicesCIDR = "127.106." + strconv.Itoa(i) + ".0/30"
			o.TLSPort, o.RMCPPort, o.RedirectTLSPort = -1, -1, -1
			if tc.task.Action != fleet.IDERBoot {
				o.RedirectPort = -1
			}
			sim := newSim(t, o)
			for _, d := range sim.Devices() {
				d.SetClockOffset(time.Hour)
			}
			opts := fastOpts()
			if tc.task.Action == fleet.IDERBoot {
				opts.ClientOptions = append(opts.ClientOptions, amt.WithRedirectPort(sim.RedirectPort()))
			}
			res := collect(t, context.Background(), targets(sim), tc.task, opts)
			for _, d := range sim.Devices() {
				r := res[d.HTTPAddr()]
				require.Equal(t, fleet.Succeeded, r.Outcome, "%s: %s", d.HTTPAddr(), r.Message)
				tc.check(t, d, r)
			}
		})
	}
}

func powerRequests(want ...int) func(t *testing.T, d *amtsim.Device, r fleet.Result) {
	return func(t *testing.T, d *amtsim.Device, r fleet.Result) {
		t.Helper()
		got := d.PowerRequests()
		if len(want) == 0 {
			assert.Empty(t, got)
			return
		}
		assert.Equal(t, want, got)
	}
}

func hasData(t *testing.T, _ *amtsim.Device, r fleet.Result) {
	t.Helper()
	assert.True(t, json.Valid(r.Data) && len(r.Data) > 2, string(r.Data))
}

// TestOneOperationPerAddress: two runs at once over the same machines
// never work on one address at the same time, and targets naming one
// address in other spellings are one machine.
func TestOneOperationPerAddress(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.105.10.0/29"})
	tg := targets(sim)
	kept, err := fleet.Targets(append(slices.Clone(tg), "http://"+tg[0]+"/wsman", tg[1]))
	require.NoError(t, err)
	assert.Equal(t, tg, kept)

	var mu sync.Mutex
	inFlight, worst := map[string]int{}, 0
	opts := fastOpts()
	opts.Hooks.BeforeSend = func(_ context.Context, host string) error {
		mu.Lock()
		defer mu.Unlock()
		inFlight[host]++
		worst = max(worst, inFlight[host])
		return nil
	}
	opts.Hooks.AfterAttempt = func(_ context.Context, r fleet.Result) {
		mu.Lock()
		defer mu.Unlock()
		if inFlight[r.Host] > 0 {
			inFlight[r.Host]--
		}
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range must(fleet.Run(context.Background(), tg, fleet.Task{Action: fleet.PowerCycle}, opts)) {
				assert.Equal(t, fleet.Succeeded, r.Outcome, r.Message)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, worst)
	for _, d := range sim.Devices() {
		assert.Equal(t, []int{5, 5}, d.PowerRequests())
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestIDERLimit: IDE-R boots run at most IDERConcurrency at a time, however
// high the run's concurrency.
func TestIDERLimit(t *testing.T) {
	t.Parallel()
	iso := filepath.Join(t.TempDir(), "boot.iso")
	require.NoError(t, os.WriteFile(iso, testiso.Make(600, 4), 0o600))
	sim := newSim(t, amtsim.Options{DevicesCIDR: "127.105.12.0/29", TLSPort: -1, RMCPPort: -1, RedirectTLSPort: -1})
	opts := fastOpts()
	opts.Concurrency, opts.IDERConcurrency = 8, 1
	opts.ClientOptions = append(opts.ClientOptions, amt.WithRedirectPort(sim.RedirectPort()))
	// The limit is checked on the devices' side: when a machine is about
	// to be sent its change, its own IDE-R session is open and no other
	// device may have an open session whose boot has not finished. (A
	// machine's slot is given back after its boot finished and its session
	// closed, but before the attempt's AfterAttempt hook runs, so counting
	// between BeforeSend and AfterAttempt would see overlaps that are not
	// there.)
	var mu sync.Mutex
	sends, overlaps := 0, 0
	opts.Hooks.BeforeSend = func(_ context.Context, host string) error {
		mu.Lock()
		defer mu.Unlock()
		sends++
		for _, d := range sim.Devices() {
			if d.HTTPAddr() != host && d.RedirectionSessionOpen() && len(d.IDERBoots()) == 0 {
				overlaps++
			}
		}
		return nil
	}
	task := fleet.Task{Action: fleet.IDERBoot, Image: iso, ServeIdle: fleet.Duration(300 * time.Millisecond)}
	res := collect(t, context.Background(), targets(sim), task, opts)
	for _, d := range sim.Devices() {
		r := res[d.HTTPAddr()]
		assert.Equal(t, fleet.Succeeded, r.Outcome, r.Message)
		assert.Len(t, d.IDERBoots(), 1)
	}
	assert.Positive(t, sends)
	assert.Zero(t, overlaps, "IDE-R sessions of other machines open while one was being changed")
}

// TestRunnerMachine: the per-machine core a job layer calls.
func TestRunnerMachine(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.105.13.0/30"})
	r, err := fleet.NewRunner(fleet.Task{Action: fleet.PowerReset}, fastOpts())
	require.NoError(t, err)
	defer r.Close()
	for _, d := range sim.Devices() {
		res := r.Machine(context.Background(), d.HTTPAddr())
		assert.Equal(t, fleet.Succeeded, res.Outcome, res.Message)
		assert.Equal(t, []int{10}, d.PowerRequests())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := r.Machine(ctx, sim.Devices()[0].HTTPAddr())
	assert.Equal(t, fleet.Cancelled, res.Outcome)
	assert.Equal(t, []int{10}, sim.Devices()[0].PowerRequests())
}

// TestWakeFromOS: a task that asks for the machine to be woken from OS
// power saving first wakes it, waits for full power, then acts.
func TestWakeFromOS(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.105.14.0/30"})
	ctx := context.Background()
	for _, d := range sim.Devices() {
		c, err := amt.New(d.HTTPAddr(), amt.WithCredentials(user, password))
		require.NoError(t, err)
		_, err = c.WSMan().Invoke(ctx, wsman.ResourceURI("IPS_PowerManagementService"), "RequestOSPowerSavingStateChange", []wsman.Property{
			wsman.Param("OSPowerSavingState", "3"),
			wsman.RefParam("ManagedElement", wsman.EPR{ResourceURI: wsman.ResourceURI("CIM_ComputerSystem"), Selectors: []wsman.Selector{
				wsman.Sel("CreationClassName", "CIM_ComputerSystem"), wsman.Sel("Name", "ManagedSystem")}}),
		})
		require.NoError(t, err)
		c.CloseIdleConnections()
		require.Equal(t, 3, d.OSPowerSavingState())
	}
	res := collect(t, ctx, targets(sim), fleet.Task{Action: fleet.Inventory, Wake: fleet.WakeFromOS}, fastOpts())
	for _, d := range sim.Devices() {
		r := res[d.HTTPAddr()]
		assert.Equal(t, fleet.Succeeded, r.Outcome, r.Message)
		assert.Equal(t, 2, d.OSPowerSavingState(), "woken to full power")
		hasData(t, d, r)
	}
}
