package amt_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
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
// the profile that worked, or the step that refused it) and every operation
// run through Track, with its outcome; never a secret.
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

	done := c.Track("power status", amt.TechWSMan, map[string]string{"wait": "false"})
	_, err = c.Power.Status(ctx)
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
	done = c2.Track("power status", amt.TechWSMan, nil)
	_, err = c2.Power.Status(ctx)
	done(err)
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
