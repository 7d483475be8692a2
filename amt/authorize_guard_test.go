package amt_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
)

// guardTestAddr is a loopback address of its own for a test of the
// process-wide guard, which counts per address: one no other test uses,
// and another on each run of the test binary.
func guardTestAddr() string {
	return fmt.Sprintf("127.15%d.%d.%d", rand.IntN(10), rand.IntN(256), 1+rand.IntN(254))
}

// A program that makes one client per call with a wrong fixed password
// cannot lock the device: the clients share the process-wide guard, so
// twenty clients with the same wrong password send one failed login,
// different wrong passwords stop at the budget, and the device, which
// locks after 3, never locks.
func TestFixedCredentialsShareTheProcessGuard(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{Addr: guardTestAddr(), TLSPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1,
		LockoutAfter: 3, LockoutDuration: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status := func(pw string) error {
		c, err := amt.New(dev.HTTPAddr(), amt.WithCredentials(user, pw), fastRetry)
		require.NoError(t, err)
		defer c.CloseIdleConnections()
		_, err = c.Power.Status(ctx)
		return err
	}

	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		authFailed, locked int
	)
	for range 20 {
		wg.Go(func() {
			err := status("Wrong-pass1")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, amt.ErrLockedOut):
				locked++
			case errors.Is(err, amt.ErrAuthFailed):
				authFailed++
			default:
				t.Errorf("unexpected: %v", err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, authFailed, "one login sent")
	assert.Equal(t, 19, locked, "the others sent nothing")
	assert.Equal(t, 1, dev.Stats().FailedLogins)

	// Different wrong passwords: the budget of 2 holds.
	for i := range 5 {
		err := status(fmt.Sprintf("Wrong-pass%d", i+2))
		if i == 0 {
			assert.ErrorIs(t, err, amt.ErrAuthFailed)
		} else {
			assert.ErrorIs(t, err, amt.ErrLockedOut)
			assert.ErrorIs(t, err, credentials.ErrLockoutRisk)
		}
	}
	assert.Equal(t, 2, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut(), "the device never locked")
	assert.Zero(t, credentials.ProcessGuard().Remaining(dev.HTTPAddr()))

	// The device still takes the right password (a guard of its own here:
	// the process-wide one waits for its window).
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password), amt.WithLockoutGuard(credentials.NewGuard(0, 0)))
	_, err := c.Power.Status(ctx)
	require.NoError(t, err)
}

// One client with a wrong password answers later calls from memory,
// whatever the guard: nothing more is sent.
func TestFixedCredentialRejectionIsLatched(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1, LockoutAfter: 3})
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, "wrong"))
	ctx := context.Background()
	_, err := c.Power.Status(ctx)
	require.ErrorIs(t, err, amt.ErrAuthFailed)
	sent := dev.Stats().HTTPRequests
	for range 3 {
		_, err = c.Inventory(ctx)
		require.ErrorIs(t, err, amt.ErrAuthFailed)
		err = c.Authorize(ctx, c.Power.Wake)
		require.ErrorIs(t, err, amt.ErrAuthFailed)
	}
	assert.Equal(t, sent, dev.Stats().HTTPRequests)
	assert.Equal(t, 1, dev.Stats().FailedLogins)
}
