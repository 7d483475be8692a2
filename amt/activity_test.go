package amt_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/internal/testiso"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
)

type memoryLog struct {
	mu      sync.Mutex
	entries []amt.Activity
}

func (l *memoryLog) Record(a amt.Activity) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, a)
}

func (l *memoryLog) all() []amt.Activity {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]amt.Activity(nil), l.entries...)
}

// TestActivityLog: a client given WithActivityLog records its login (with
// the profile that worked, or the step that refused it) and its
// operations, with their outcome; never a secret.
func TestActivityLog(t *testing.T) {
	t.Parallel()
	sim, err := amtsim.New(amtsim.Options{TLSPort: -1})
	require.NoError(t, err)
	defer sim.Close()
	dev := sim.Devices()[0]
	ctx := context.Background()

	store := credentials.NewMemoryStore()
	require.NoError(t, store.PutProfile(ctx, credentials.Profile{Name: "office", Default: true,
		Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: password}}}))
	r, err := credentials.NewResolver(store)
	require.NoError(t, err)
	log := &memoryLog{}
	c, err := amt.New(dev.HTTPAddr(), amt.WithCredentialSource(r), amt.WithActivityLog(log, "alice", "job-7"))
	require.NoError(t, err)
	defer c.CloseIdleConnections()

	// A group of service calls under TrackContext is one entry.
	tctx, done := c.TrackContext(ctx, "power status", amt.TechWSMan, map[string]string{"wait": "false"})
	_, err = c.Power.Status(tctx)
	done(err)
	require.NoError(t, err)
	got := log.all()
	require.Len(t, got, 2)
	assert.Equal(t, "login", got[0].Operation)
	assert.Equal(t, amt.OutcomeOK, got[0].Outcome)
	assert.Equal(t, "office", got[0].Profile)
	assert.Equal(t, "power status", got[1].Operation)
	assert.Equal(t, amt.OutcomeOK, got[1].Outcome)
	assert.Equal(t, "alice", got[1].Actor)
	assert.Equal(t, "job-7", got[1].Job)
	assert.Equal(t, "office", got[1].Profile)
	assert.Equal(t, map[string]string{"wait": "false"}, got[1].Params)
	assert.Positive(t, got[1].Duration)

	// A wrong password: the login entry says which step refused it.
	bad := &memoryLog{}
	c2, err := amt.New(dev.HTTPAddr(), amt.WithCredentials(user, "Wrong-pass1"), amt.WithActivityLog(bad, "bob", ""),
		amt.WithLockoutGuard(credentials.NewGuard(0, 0)))
	require.NoError(t, err)
	defer c2.CloseIdleConnections()
	_, err = c2.Power.Status(ctx)
	require.Error(t, err)
	entries := bad.all()
	require.Len(t, entries, 2)
	assert.Equal(t, "login", entries[0].Operation)
	for _, e := range entries {
		assert.Equal(t, "auth_failed", e.Outcome)
		assert.Contains(t, e.AuthStep, "wsman login on port")
		assert.NotContains(t, e.Message, "Wrong-pass1")
	}
}

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "ok", amt.OutcomeOf(nil))
	assert.Equal(t, "cancelled", amt.OutcomeOf(context.Canceled))
	assert.Equal(t, "locked_out", amt.OutcomeOf(credentials.ErrLockoutRisk))
	assert.Equal(t, "outcome_unknown", amt.OutcomeOf(amt.ErrOutcomeUnknown))
	assert.Equal(t, "failure", amt.OutcomeOf(assert.AnError))
}

// The services record their own operations: one entry each, with the
// parameters, the outcome, the device's return code and the duration; a
// boot from an image is one entry, not its steps; nothing is recorded
// twice; no secret appears.
func TestServicesRecordTheirOwnActivity(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{TLSPort: -1, RMCPPort: -1, RedirectTLSPort: -1, TransitionTime: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := &memoryLog{}
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password), amt.WithRedirectPort(sim.RedirectPort()),
		amt.WithPowerChangeGap(0), amt.WithActivityLog(log, "carol", ""))

	_, err := c.Power.Status(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Power.NextBoot(ctx, power.BootPXE, power.BootOptions{SOL: true}))
	require.NoError(t, c.Power.ClearBootOptions(ctx))
	require.NoError(t, c.Power.Set(ctx, power.Reset))
	_, err = c.Clock.Read(ctx)
	require.NoError(t, err)
	_, err = c.Defense.Status(ctx)
	require.NoError(t, err)
	img := testiso.Make(256, 4)
	_, err = c.Redirect.BootFromImage(ctx, redirect.BootOptions{
		Media:       redirect.IDERMedia{CD: &redirect.Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}},
		IdleTimeout: 300 * time.Millisecond,
	})
	require.NoError(t, err)
	// A change the device refuses with a return code: a power cycle while
	// a redirection session is open.
	s, err := c.Redirect.Dial(ctx, redirect.SOL)
	require.NoError(t, err)
	err = c.Power.Set(ctx, power.PowerCycle)
	require.Error(t, err)
	require.NoError(t, s.Close())

	var ops []string
	for _, a := range log.all() {
		ops = append(ops, a.Operation)
		assert.Equal(t, "carol", a.Actor)
		assert.NotContains(t, a.Message, password)
		for _, v := range a.Params {
			assert.NotContains(t, v, password)
		}
	}
	assert.Equal(t, []string{"login", "power status", "boot next pxe", "boot clear", "power reset", "time", "defense status",
		"ider boot", "sol", "power cycle"}, ops)
	entries := log.all()
	next := entries[2]
	assert.Equal(t, map[string]string{"sol": "true"}, next.Params)
	assert.Equal(t, amt.TechWSMan, next.Technology)
	assert.Equal(t, amt.OutcomeOK, next.Outcome)
	assert.Positive(t, next.Duration)
	boot := entries[7]
	assert.Equal(t, amt.TechRedirection, boot.Technology)
	assert.Equal(t, "ider-cd", boot.Params["device"])
	assert.Equal(t, "300ms", boot.Params["idle"])
	cycle := entries[9]
	assert.Equal(t, "device_error", cycle.Outcome)
	require.NotNil(t, cycle.ReturnCode)
	assert.NotZero(t, *cycle.ReturnCode)
	assert.NotEmpty(t, cycle.ReturnCodeName)
	assert.NotEmpty(t, cycle.Message)
}
