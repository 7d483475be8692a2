package amt_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
)

// The caller's context ends while Authorize runs the operation with a
// candidate: the error is the operation's, not a login failure.
func TestAuthorizeKeepsTheOperationsErrorWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{Addr: "127.200.0.1"})
	store := credentials.NewMemoryStore()
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.PutProfile(t.Context(), credentials.Profile{Name: "ops", Default: true,
		Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: password}}}))
	r, err := credentials.NewResolver(store, credentials.WithGuard(credentials.NewGuard(3, 0)))
	require.NoError(t, err)
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentialSource(r))

	errLost := errors.New("the answer to the change was lost")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	err = c.Authorize(ctx, func(ctx context.Context) error {
		cancel()
		return fmt.Errorf("power: %w", errLost)
	})
	require.ErrorIs(t, err, errLost)
	assert.NotContains(t, err.Error(), "login")
}

// The caller's context ends during a candidate's login: the error says
// which candidate it was trying, and still matches the context's end.
func TestAuthorizeNamesTheCandidateWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.200.0.2:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		// Something accepts the connection and never answers; the
		// operator gives up.
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		cancel()
		<-t.Context().Done()
	}()

	store := credentials.NewMemoryStore()
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.PutProfile(t.Context(), credentials.Profile{Name: "corp", Default: true,
		Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: password}}}))
	r, err := credentials.NewResolver(store, credentials.WithGuard(credentials.NewGuard(3, 0)))
	require.NoError(t, err)
	c := newClient(t, ln.Addr().String(), amt.WithCredentialSource(r))

	err = c.Authorize(ctx, func(ctx context.Context) error { return errors.New("not reached") })
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), `"corp"`)
	assert.NotContains(t, err.Error(), "not reached")
}
