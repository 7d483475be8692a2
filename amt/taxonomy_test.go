package amt_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
	"github.com/amtkit/amtkit/wsman"
)

// A failed login through the credential resolver names the host once and
// every layer once, and matches the one class of authentication failure.
func TestLoginFailureSaysEachThingOnce(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{LockoutAfter: 10})
	store := credentials.NewMemoryStore()
	r, err := credentials.NewResolver(store, credentials.WithGuard(credentials.NewGuard(3, time.Minute)))
	require.NoError(t, err)
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentialSource(r.For(&credentials.Credential{User: user, Password: "Wrong-1!"})))
	_, err = c.Inventory(context.Background())
	ae := requireKind(t, err, amt.ErrAuthFailed)
	assert.ErrorIs(t, err, credentials.ErrAuthFailed)
	assert.ErrorIs(t, err, wsman.ErrUnauthorized)
	msg := err.Error()
	assert.Equal(t, 1, strings.Count(msg, "127.0.0.1"), "the host once: %s", msg)
	assert.Equal(t, 1, strings.Count(msg, "amt: "), "amt once: %s", msg)
	assert.Equal(t, 1, strings.Count(msg, "authentication failed"), "the class once: %s", msg)
	assert.Equal(t, dev.HTTPAddr(), ae.Host)

	// The same identity for the same failure on the redirection port.
	assert.True(t, errors.Is(&redirect.AuthError{User: user, Type: 4}, wsman.ErrUnauthorized))
	assert.Same(t, redirect.ErrAuthFailed, wsman.ErrUnauthorized)
	assert.Same(t, amt.ErrOutcomeUnknown, wsman.ErrOutcomeUnknown)
}

// A cause amt does not know is not guessed into a class.
func TestUnknownCauseStaysUnclassified(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{})
	boom := errors.New("disk on fire")
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentialSource(failingSource{boom}))
	_, err := c.Power.Status(context.Background())
	require.ErrorIs(t, err, boom)
	var ae *amt.Error
	require.ErrorAs(t, err, &ae)
	assert.Nil(t, ae.Kind, "%v", err)
	for _, k := range allKinds {
		assert.NotErrorIs(t, err, k)
	}
	assert.Contains(t, err.Error(), "disk on fire")
}

type failingSource struct{ err error }

func (s failingSource) Resolve(context.Context, string, func(context.Context, credentials.Credential) error) (credentials.Candidate, []credentials.Attempt, error) {
	return credentials.Candidate{}, nil, s.err
}

// Caller mistakes are their own class, found before anything is sent.
func TestCallerMistakeIsInvalidArgument(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{})
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password))
	ctx := context.Background()
	err := c.Power.NextBoot(ctx, 99, power.BootOptions{})
	requireKind(t, err, amt.ErrInvalidArgument)
	assert.NotContains(t, err.Error(), "boot boot")
	_, err = c.Redirect.BootFromImage(ctx, redirect.BootOptions{})
	requireKind(t, err, amt.ErrInvalidArgument)
	assert.Zero(t, dev.Stats().Actions[wsman.ActionPut], "nothing changed")
}
