package amt_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
)

// profiles puts three profiles in a fresh store: "first" (the default) and
// "second" hold wrong passwords for the simulator, "right" the right one.
func profiles(t *testing.T) credentials.Store {
	t.Helper()
	store := credentials.NewMemoryStore()
	ctx := context.Background()
	for _, p := range []credentials.Profile{
		{Name: "first", Default: true, Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: "Wrong-1!"}}},
		{Name: "second", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: "Wrong-2!"}}},
		{Name: "right", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: password}}},
	} {
		require.NoError(t, store.PutProfile(ctx, p))
	}
	return store
}

func TestCredentialSourceFallsBackAndLearns(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{LockoutAfter: 4})
	store := profiles(t)
	r, err := credentials.NewResolver(store, credentials.AllowOtherProfiles(true), credentials.WithGuard(credentials.NewGuard(3, time.Minute)))
	require.NoError(t, err)
	ctx := context.Background()

	c := newClient(t, dev.HTTPAddr(), amt.WithCredentialSource(r))
	assert.Nil(t, c.Resolution(), "no login before the first call")
	inv, err := c.Inventory(ctx)
	require.NoError(t, err)
	assert.Equal(t, dev.Realm(), inv.DigestRealm)
	res := c.Resolution()
	require.NotNil(t, res)
	assert.Equal(t, "right", res.Profile)
	var outcomes []string
	for _, a := range res.Attempts {
		outcomes = append(outcomes, a.Profile+":"+a.Outcome.String())
	}
	assert.Equal(t, []string{"first:auth_failed", "right:succeeded", "second:not_tried"}, outcomes,
		"the default profile first, then the others in name order, stopping at the first that works")
	assert.Equal(t, 1, dev.Stats().FailedLogins, "one wrong profile, one failed login")
	assert.False(t, dev.LockedOut())

	// Later calls reuse what worked.
	before := dev.Stats().FailedLogins
	_, err = c.Power.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, dev.Stats().FailedLogins)

	// A new client (a second run) uses the learned credential first: one login.
	requestsBefore := dev.Stats().HTTPRequests
	c2 := newClient(t, dev.HTTPAddr(), amt.WithCredentialSource(r))
	_, err = c2.Inventory(ctx)
	require.NoError(t, err)
	res2 := c2.Resolution()
	require.NotEmpty(t, res2.Attempts)
	assert.Equal(t, credentials.Runtime, res2.Attempts[0].Origin)
	assert.Equal(t, credentials.Succeeded, res2.Attempts[0].Outcome)
	for _, a := range res2.Attempts[1:] {
		assert.Equal(t, credentials.NotTried, a.Outcome, "exactly one login attempt")
	}
	assert.Equal(t, before, dev.Stats().FailedLogins)
	assert.Greater(t, dev.Stats().HTTPRequests, requestsBefore)
}

func TestCredentialSourceGuardRefusesBeforeLockout(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{LockoutAfter: 3})
	store := profiles(t)
	r, err := credentials.NewResolver(store, credentials.AllowOtherProfiles(true), credentials.WithGuard(credentials.NewGuard(1, time.Minute)))
	require.NoError(t, err)
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentialSource(r))
	_, err = c.Inventory(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, amt.ErrLockedOut, "the budget is spent: no more logins, and the error says so")
	assert.ErrorIs(t, err, credentials.ErrLockoutRisk)
	assert.Equal(t, 1, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())
	res := c.Resolution()
	require.NotNil(t, res)
	assert.Error(t, res.Err)
}

func TestStaticSourceAuthFailure(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{})
	// A guard of its own: the process's guard keys devices by address, and
	// an earlier run of this test (-count) failed on this one.
	guard := credentials.NewGuard(credentials.DefaultMaxFailures, credentials.DefaultWindow)
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentialSource(credentials.StaticWithGuard(credentials.Credential{User: user, Password: "nope"}, guard)))
	_, err := c.Inventory(context.Background())
	assert.ErrorIs(t, err, amt.ErrAuthFailed)
	assert.Equal(t, 1, dev.Stats().FailedLogins)
}

func TestCredentialOptionsExcludeEachOther(t *testing.T) {
	t.Parallel()
	_, err := amt.New("h", amt.WithCredentials(user, password), amt.WithCredentialSource(credentials.Static(credentials.Credential{User: user})))
	assert.Error(t, err)
	_, err = amt.New("h", amt.WithCredentialSource(nil))
	assert.Error(t, err)
}
