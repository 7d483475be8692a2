package fleet_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/credentials"
)

const otherPassword = "Other#Pass1"

// mixedSpec is a fleet with one group per outcome a run can meet. Groups
// "busy", "slow", "refuse" and "unprov" are ordinary devices that get
// faults injected below.
const mixedSpec = `{"groups": [
	{"name": "ok", "weight": 3},
	{"name": "off", "weight": 2, "power_state": "off"},
	{"name": "other", "weight": 2, "accounts": [{"user": "admin", "password": "Other#Pass1"}]},
	{"name": "wrong", "weight": 2, "accounts": [{"user": "admin", "password": "Nobody#Knows1"}]},
	{"name": "unprov", "weight": 2, "provisioning_state": 0},
	{"name": "noamt", "weight": 2, "no_amt": true},
	{"name": "lost", "weight": 2, "power_state_lost": true},
	{"name": "reset", "weight": 2, "reset_after_requests": 0},
	{"name": "busy", "weight": 2},
	{"name": "slow", "weight": 2},
	{"name": "refuse", "weight": 2},
	{"name": "empty", "weight": 2, "empty": true}
]}`

// newMixed starts the mixed fleet: devices lock an account after three
// failed logins in a row.
func newMixed(t testing.TB, cidr string) (*amtsim.Server, map[string]*amtsim.Device, []string) {
	t.Helper()
	spec, err := amtsim.ParseFleetSpec(strings.NewReader(mixedSpec))
	require.NoError(t, err)
	sim := newFleet(t, amtsim.Options{DevicesCIDR: cidr, Fleet: spec, LockoutAfter: 3})
	byHost := map[string]*amtsim.Device{}
	groups := map[string]int{}
	for _, d := range sim.Devices() {
		byHost[d.HTTPAddr()] = d
		groups[d.Group()]++
		switch d.Group() {
		case "unprov":
			// Firmware that is not activated refuses with
			// INVALID_PROVISIONING_STATE.
			d.InjectFault(amtsim.Fault{Kind: amtsim.FaultInternalError, PTStatus: 32})
		case "busy":
			d.InjectFault(amtsim.Fault{Kind: amtsim.FaultStatus, Status: 503, Action: "Get", Times: 1})
		case "slow":
			d.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelayAnswer, Action: "RequestPowerStateChange", Delay: 6 * time.Second})
		case "refuse":
			d.InjectFault(amtsim.Fault{Kind: amtsim.FaultInternalError, Action: "RequestPowerStateChange", PTStatus: 16})
		}
	}
	tg := targets(sim)
	// The empty group's addresses: nothing listens there.
	_, port, _ := net.SplitHostPort(tg[0])
	pfx := netip.MustParsePrefix(cidr)
	for a := pfx.Addr().Next(); pfx.Contains(a.Next()); a = a.Next() {
		hp := net.JoinHostPort(a.String(), port)
		if byHost[hp] == nil {
			tg = append(tg, hp)
			groups["empty"]++
		}
	}
	for _, g := range spec.Groups {
		require.Positive(t, groups[g.Name], "group %s has no device", g.Name)
	}
	return sim, byHost, tg
}

// resolverFor is the normal credential source: the default profile, then
// a second one, under a guard that allows two failed logins per device
// (the devices lock after three).
func resolverFor(t testing.TB) *credentials.Resolver {
	t.Helper()
	store := credentials.NewMemoryStore()
	ctx := context.Background()
	require.NoError(t, store.PutProfile(ctx, credentials.Profile{Name: "default", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: password}}}))
	require.NoError(t, store.SetDefault(ctx, "default"))
	require.NoError(t, store.PutProfile(ctx, credentials.Profile{Name: "branch", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: otherPassword}}}))
	r, err := credentials.NewResolver(store, credentials.AllowOtherProfiles(true), credentials.WithGuard(credentials.NewGuard(2, time.Minute)))
	require.NoError(t, err)
	return r
}

// memLog is an activity log in memory.
type memLog struct {
	mu      sync.Mutex
	entries []amt.Activity
}

func (l *memLog) Record(a amt.Activity) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, a)
}

func (l *memLog) attempts(host, op string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.entries {
		if a.Host == host && a.Operation == op {
			n++
		}
	}
	return n
}

// TestMixedFleetReset resets a fleet that mixes every outcome a reset can
// end in, with the normal credential source, and checks each machine's
// outcome, return code and attempts, that each machine got at most one
// power change (exactly one where it succeeded or the answer was lost),
// that only transient causes were retried, that every attempt is in the
// activity log, and that no device locked its account. A second run reads
// the power state: the devices with the second profile's password now
// cost one login, and those whose password nobody knows are not tried
// again while the guard's window lasts.
func TestMixedFleetReset(t *testing.T) {
	t.Parallel()
	_, devs, tg := newMixed(t, "127.104.0.0/26")
	log := &memLog{}
	opts := fastOpts()
	opts.Credentials = resolverFor(t)
	opts.Retries = 2
	opts.Timeout = 3 * time.Second // shorter than the "slow" group's 6s
	opts.ActivityLog, opts.Actor, opts.Job = log, "tester", "job-1"
	var hookMu sync.Mutex
	hooked := map[string]int{}
	opts.Hooks.BeforeSend = func(_ context.Context, host string) error {
		hookMu.Lock()
		defer hookMu.Unlock()
		hooked[host]++
		if d := devs[host]; d != nil {
			assert.Empty(t, d.PowerRequests(), "%s: the marker comes before the change", host)
		}
		return nil
	}
	res := collect(t, context.Background(), tg, fleet.Task{Action: fleet.PowerReset}, opts)
	require.Len(t, res, len(tg))

	type want struct {
		outcome  fleet.Outcome
		attempts int
		requests []int
		code     *int
		codeName string
	}
	i := func(n int) *int { return &n }
	wants := map[string]want{
		"ok":     {fleet.Succeeded, 1, []int{10}, nil, ""},
		"off":    {fleet.Succeeded, 1, []int{2}, nil, ""},
		"other":  {fleet.Succeeded, 1, []int{10}, nil, ""},
		"wrong":  {fleet.AuthFailed, 1, nil, nil, ""},
		"unprov": {fleet.NotProvisioned, 1, nil, i(32), "INVALID_PROVISIONING_STATE"},
		"noamt":  {fleet.NotDetected, 1, nil, nil, ""},
		"lost":   {fleet.DeviceError, 1, nil, nil, fleet.StateUnknownName},
		"reset":  {fleet.Unreachable, 3, nil, nil, ""},
		"busy":   {fleet.Succeeded, 2, []int{10}, nil, ""},
		"slow":   {fleet.OutcomeUnknown, 1, []int{10}, nil, ""},
		"refuse": {fleet.DeviceError, 1, nil, i(16), "NOT_PERMITTED"},
		"empty":  {fleet.Unreachable, 3, nil, nil, ""},
	}
	for _, host := range tg {
		r := res[host]
		group := "empty"
		if d := devs[host]; d != nil {
			group = d.Group()
		}
		w := wants[group]
		assert.Equal(t, w.outcome, r.Outcome, "%s (%s): %s", host, group, r.Message)
		assert.Equal(t, w.attempts, r.Attempts, "%s (%s) attempts", host, group)
		assert.Equal(t, opts.Retries-(w.attempts-1), r.RetriesRemaining, "%s (%s) retries remaining", host, group)
		assert.Equal(t, w.code, r.ReturnCode, "%s (%s) return code", host, group)
		if w.codeName != "" {
			if assert.NotNil(t, r.ReturnCodeName, "%s (%s)", host, group) {
				assert.Equal(t, w.codeName, *r.ReturnCodeName, "%s (%s)", host, group)
			}
		}
		assert.NotNil(t, r.LastAttempt)
		assert.NotEmpty(t, r.Worker)
		assert.NotEmpty(t, r.Message)
		assert.NotContains(t, r.Message, "wsman")
		assert.NotContains(t, r.Message, "\n")
		assert.Equal(t, w.attempts, log.attempts(host, "power reset"), "%s (%s): one activity entry per attempt", host, group)
		if d := devs[host]; d != nil {
			assert.Equal(t, w.requests, d.PowerRequests(), "%s (%s): power changes the device received", host, group)
			assert.False(t, d.LockedOut(), "%s (%s) locked out", host, group)
		}
		sent := 0
		if len(w.requests) > 0 || group == "refuse" {
			sent = 1 // "refuse" answers the change with a fault
		}
		assert.Equal(t, sent, hooked[host], "%s (%s): BeforeSend calls", host, group)
	}
	log.mu.Lock()
	for _, a := range log.entries {
		assert.Equal(t, "tester", a.Actor)
		assert.Equal(t, "job-1", a.Job)
	}
	log.mu.Unlock()

	// Second run: a read.
	failed := map[string]int{}
	for h, d := range devs {
		failed[h] = d.Stats().FailedLogins
	}
	hooked = map[string]int{}
	res = collect(t, context.Background(), tg, fleet.Task{Action: fleet.PowerStatus}, opts)
	for h, d := range devs {
		r := res[h]
		switch d.Group() {
		case "other", "ok":
			assert.Equal(t, fleet.Succeeded, r.Outcome, "%s (%s): %s", h, d.Group(), r.Message)
			assert.Equal(t, failed[h], d.Stats().FailedLogins, "%s (%s): the credential that worked is tried first", h, d.Group())
		case "lost":
			// The read itself succeeds; its message names the cause and the
			// remedy, as a refused change's does.
			assert.Equal(t, fleet.Succeeded, r.Outcome, "%s: %s", h, r.Message)
			assert.Contains(t, r.Message, "power state unknown", h)
			assert.Contains(t, r.Message, "reboot the machine once from its operating system", h)
		case "wrong":
			assert.Equal(t, fleet.LockedOut, r.Outcome, "%s: %s", h, r.Message)
			assert.Equal(t, failed[h], d.Stats().FailedLogins, "%s: nothing tried while the guard's window lasts", h)
		}
		assert.False(t, d.LockedOut(), "%s (%s) locked out", h, d.Group())
	}
	assert.Empty(t, hooked, "a read sends no change")
}
