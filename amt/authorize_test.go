package amt_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/wsman"
)

// A read-only account that logs in is refused the power change; Authorize
// moves on to the next candidate, which makes it, at no failed login, and
// only that candidate is learned.
func TestAuthorizeMovesOnAfterAccessDenied(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{LockoutAfter: 3, Accounts: []amtsim.Account{{User: "viewer", Password: "View-0nly!", ReadOnly: true}}})
	ctx := context.Background()
	store := credentials.NewMemoryStore()
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.PutProfile(ctx, credentials.Profile{Name: "viewer", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: "viewer", Password: "View-0nly!"}}}))
	require.NoError(t, store.PutProfile(ctx, credentials.Profile{Name: "ops", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: password}}}))
	guard := credentials.NewGuard(2, 0)
	r, err := credentials.NewResolver(store, credentials.WithProfile("viewer"), credentials.AllowOtherProfiles(true), credentials.WithGuard(guard))
	require.NoError(t, err)

	c := newClient(t, dev.HTTPAddr(), amt.WithCredentialSource(r))
	err = c.Authorize(ctx, func(ctx context.Context) error { return c.Power.Set(ctx, power.Reset) })
	require.NoError(t, err)
	res := c.Resolution()
	require.NotNil(t, res)
	assert.Equal(t, "ops", res.Profile)
	require.Len(t, res.Attempts, 2)
	assert.Equal(t, credentials.Denied, res.Attempts[0].Outcome)
	assert.Equal(t, credentials.Succeeded, res.Attempts[1].Outcome)
	assert.Equal(t, []int{10}, dev.PowerRequests(), "one reset, by the account allowed to")
	assert.Zero(t, dev.Stats().FailedLogins)
	assert.Equal(t, 2, guard.Remaining(dev.HTTPAddr()))
	rt, ok, err := store.Runtime(ctx, dev.HTTPAddr())
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, user, rt.Credential.User)
	assert.True(t, rt.Changes)

	// Later calls keep the credential that could.
	st, err := c.Power.Status(ctx)
	require.NoError(t, err)
	assert.NotNil(t, st)

	// The viewer alone: the change is refused, classified as the device's
	// AccessDenied, and nothing is learned.
	only, err := credentials.NewResolver(store, credentials.WithProfile("viewer"), credentials.WithOrder(credentials.Named), credentials.WithGuard(guard))
	require.NoError(t, err)
	c2 := newClient(t, dev.HTTPAddr(), amt.WithCredentialSource(only))
	err = c2.Authorize(ctx, func(ctx context.Context) error { return c2.Power.Set(ctx, power.PowerCycle) })
	require.Error(t, err)
	assert.True(t, errors.Is(err, wsman.ErrAccessDenied), "%v", err)
	assert.ErrorIs(t, err, amt.ErrDevice)
	assert.NotErrorIs(t, err, amt.ErrAuthFailed)
	assert.Len(t, dev.PowerRequests(), 1)
	rt, _, err = store.Runtime(ctx, dev.HTTPAddr())
	require.NoError(t, err)
	assert.Equal(t, user, rt.Credential.User)
}
