package amt_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/internal/testiso"
	"github.com/amtkit/amtkit/redirect"
)

// viewerAndOps is a store whose "viewer" profile is an account the device
// lets log in over WS-Man but refuses at the redirection port, and whose
// "ops" profile is the administrator.
func viewerAndOps(t *testing.T) credentials.Store {
	t.Helper()
	ctx := context.Background()
	store := credentials.NewMemoryStore()
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.PutProfile(ctx, credentials.Profile{Name: "viewer", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: "viewer", Password: "View-0nly!"}}}))
	require.NoError(t, store.PutProfile(ctx, credentials.Profile{Name: "ops", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: password}}}))
	return store
}

// viewerFirst is a device with the viewer account (viewerAndOps) and a
// client whose resolver tries the viewer profile first, then the others,
// under a guard with a budget of two failures.
type viewerFirst struct {
	sim   *amtsim.Server
	dev   *amtsim.Device
	store credentials.Store
	guard *credentials.Guard
	c     *amt.Client
}

func newViewerFirst(t *testing.T) *viewerFirst {
	t.Helper()
	sim, dev := newSim(t, amtsim.Options{TLSPort: -1, RMCPPort: -1, RedirectTLSPort: -1, LockoutAfter: 3, LockoutDuration: time.Hour,
		Accounts: []amtsim.Account{{User: "viewer", Password: "View-0nly!", ReadOnly: true}}})
	store := viewerAndOps(t)
	guard := credentials.NewGuard(2, 0)
	r, err := credentials.NewResolver(store, credentials.WithProfile("viewer"), credentials.AllowOtherProfiles(true), credentials.WithGuard(guard))
	require.NoError(t, err)
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentialSource(r), amt.WithRedirectPort(sim.RedirectPort()))
	return &viewerFirst{sim: sim, dev: dev, store: store, guard: guard, c: c}
}

// A candidate that logs in over WS-Man but is refused at the redirection
// port gives way to the next one, as a failed WS-Man login does: the
// session opens with the administrator, the refusal is counted once in
// the guard, the device locks nothing, and only the administrator is
// learned.
func TestRedirectDialMovesOnAfterRedirectionRefusal(t *testing.T) {
	t.Parallel()
	rig := newViewerFirst(t)
	sim, dev, store, guard, c := rig.sim, rig.dev, rig.store, rig.guard, rig.c
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	s, err := c.Redirect.Dial(ctx, redirect.SOL)
	require.NoError(t, err)
	assert.True(t, dev.RedirectionSessionOpen())
	require.NoError(t, s.Close())

	res := c.Resolution()
	require.NotNil(t, res)
	assert.Equal(t, "ops", res.Profile)
	require.Len(t, res.Attempts, 2)
	assert.Equal(t, credentials.AuthFailed, res.Attempts[0].Outcome, "the viewer was refused at the redirection port")
	assert.ErrorIs(t, res.Attempts[0].Err, redirect.ErrAuthFailed)
	assert.Equal(t, credentials.Succeeded, res.Attempts[1].Outcome)
	assert.Equal(t, 1, guard.Remaining(dev.HTTPAddr()), "the refusal counts in the guard")
	assert.Zero(t, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())
	rt, ok, err := store.Runtime(ctx, dev.HTTPAddr())
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, user, rt.Credential.User)
	assert.True(t, rt.Changes)

	// The session's credential is kept: a second session needs no new
	// resolution.
	s, err = c.Redirect.Dial(ctx, redirect.IDER)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.Len(t, c.Resolution().Attempts, 2)

	// The viewer alone: refused at the redirection port, nothing else is
	// tried, and a second try sends nothing (the guard skips it).
	only, err := credentials.NewResolver(store, credentials.WithProfile("viewer"), credentials.WithOrder(credentials.Named), credentials.WithGuard(guard))
	require.NoError(t, err)
	c2 := newClient(t, dev.HTTPAddr(), amt.WithCredentialSource(only), amt.WithRedirectPort(sim.RedirectPort()))
	_, err = c2.Redirect.Dial(ctx, redirect.SOL)
	assert.ErrorIs(t, err, amt.ErrLockedOut, "the viewer already failed here within the window: %v", err)
	assert.False(t, dev.LockedOut())
}

// A boot from an image with a candidate refused at the redirection port:
// the next candidate boots the machine, one reset is sent, and the device
// is left as it was before.
func TestRedirectBootFromImageMovesOnAfterRedirectionRefusal(t *testing.T) {
	t.Parallel()
	rig := newViewerFirst(t)
	dev, c := rig.dev, rig.c
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before := dev.RedirectionState()

	img := testiso.Make(256, 4)
	res, err := c.Redirect.BootFromImage(ctx, redirect.BootOptions{
		Media:       redirect.IDERMedia{CD: &redirect.Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}},
		IdleTimeout: 300 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NotNil(t, res)
	b, err := dev.WaitIDERBoot(ctx, 1)
	require.NoError(t, err)
	assert.True(t, b.OK, b.Err)
	assert.Len(t, dev.PowerRequests(), 1, "one power change, by the administrator")
	assert.Equal(t, "ops", c.Resolution().Profile)
	assert.Equal(t, before, dev.RedirectionState())
	assert.Zero(t, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())
}
