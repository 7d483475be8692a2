package credentials_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
)

// manyProfiles is a store with n AMT profiles p0..p(n-1), p0 the default,
// none of which works on the test devices.
func manyProfiles(t *testing.T, n int) credentials.Store {
	t.Helper()
	s := credentials.NewMemoryStore()
	t.Cleanup(func() { _ = s.Close() })
	for i := range n {
		require.NoError(t, s.PutProfile(t.Context(), amtProfile(fmt.Sprintf("p%d", i), "admin", fmt.Sprintf("pw%d", i), i == 0)))
	}
	return s
}

func TestGuardBudget(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := newClock()
	g := credentials.NewGuard(2, 5*time.Minute, credentials.GuardClock(clk.Now))
	assert.Equal(t, 2, g.Remaining("h1"))
	s := manyProfiles(t, 5)
	dev := newDevice("admin", "pw4")
	r := newResolver(t, s, credentials.AllowOtherProfiles(true), credentials.WithGuard(g), credentials.WithClock(clk.Now))

	_, attempts, err := r.Resolve(ctx, "h1", dev.try)
	require.ErrorIs(t, err, credentials.ErrLockoutRisk)
	var be *credentials.BudgetError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "h1", be.Host)
	assert.Equal(t, 3, be.Untried)
	assert.Equal(t, 2, be.MaxFailures)
	assert.Equal(t, clk.Now().Add(5*time.Minute), be.RetryAt)
	assert.Contains(t, err.Error(), "3 candidate(s) left untried")
	assert.Equal(t, []string{"default:p0:auth_failed", "other:p1:auth_failed", "other:p2:not_tried", "other:p3:not_tried", "other:p4:not_tried"}, outcomes(attempts))
	assert.Equal(t, 2, dev.count())
	assert.Zero(t, g.Remaining("h1"))
	assert.Equal(t, 2, g.Remaining("H2"), "per host")

	// Within the window nothing more is tried, not even a new candidate.
	clk.Advance(4 * time.Minute)
	task := cred("admin", "pw4")
	_, attempts, err = r.ResolveTask(ctx, "h1", &task, dev.try)
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 5, be.Untried, "the task credential is p4's, so p4 is dropped as a duplicate")
	assert.Equal(t, 2, dev.count())
	assert.Equal(t, credentials.NotTried, attempts[0].Outcome)

	// Once the failures have left the window the budget is back.
	clk.Advance(time.Minute)
	assert.Equal(t, 2, g.Remaining("h1"))
	_, attempts, err = r.ResolveTask(ctx, "h1", &task, dev.try)
	require.NoError(t, err)
	assert.Equal(t, credentials.Succeeded, attempts[0].Outcome)
	assert.Equal(t, 3, dev.count())
}

func TestGuardNeverRetriesAFailedCandidateInTheWindow(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := newClock()
	g := credentials.NewGuard(3, 5*time.Minute, credentials.GuardClock(clk.Now))
	s := manyProfiles(t, 3)
	dev := newDevice("admin", "pw2")
	// Without others: only the default p0, which fails.
	r := newResolver(t, s, credentials.WithGuard(g), credentials.WithClock(clk.Now))
	_, _, err := r.Resolve(ctx, "h1", dev.try)
	require.ErrorIs(t, err, credentials.ErrExhausted)
	assert.Equal(t, []string{"pw0"}, passwords(dev))

	// Again, within the window: p0 is skipped, not tried; no budget spent.
	clk.Advance(time.Minute)
	_, attempts, err := r.Resolve(ctx, "h1", dev.try)
	require.ErrorIs(t, err, credentials.ErrExhausted)
	require.ErrorIs(t, err, credentials.ErrRecentlyFailed)
	// Nothing was sent: the guard refused, and says until when.
	require.ErrorIs(t, err, credentials.ErrLockoutRisk)
	var be *credentials.BudgetError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 1, be.Skipped)
	assert.Zero(t, be.Untried)
	assert.Equal(t, clk.Now().Add(4*time.Minute), be.RetryAt)
	assert.Contains(t, err.Error(), "nothing sent")
	assert.Equal(t, []string{"default:p0:skipped"}, outcomes(attempts))
	require.ErrorIs(t, attempts[0].Err, credentials.ErrRecentlyFailed)
	assert.Equal(t, 1, dev.count())
	assert.Equal(t, 2, g.Remaining("h1"))

	// With others allowed (another resolver sharing the guard), p0 is
	// skipped and p1, p2 are tried.
	r2 := newResolver(t, s, credentials.WithGuard(g), credentials.AllowOtherProfiles(true))
	got, attempts, err := r2.Resolve(ctx, "h1", dev.try)
	require.NoError(t, err)
	assert.Equal(t, "p2", got.Profile)
	assert.Equal(t, []string{"default:p0:skipped", "other:p1:auth_failed", "other:p2:succeeded"}, outcomes(attempts))
	assert.Equal(t, []string{"pw0", "pw1", "pw2"}, passwords(dev))
}

func passwords(d *device) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, c := range d.logins {
		out = append(out, c.Password)
	}
	return out
}

func TestGuardConcurrentResolutionsNeverExceedBudget(t *testing.T) {
	t.Parallel()
	const k = 2
	g := credentials.NewGuard(k, time.Hour)
	s := manyProfiles(t, 6)
	dev := newDevice() // accepts nothing
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Several resolvers share the guard, as fleet workers would.
			r, err := credentials.NewResolver(s, credentials.AllowOtherProfiles(true), credentials.WithGuard(g))
			if err != nil {
				errs <- err
				return
			}
			task := cred("admin", fmt.Sprintf("task-%d", i%5))
			_, _, err = r.ResolveTask(t.Context(), "shared-host", &task, dev.try)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.Error(t, err)
		assert.True(t, errors.Is(err, credentials.ErrLockoutRisk) || errors.Is(err, credentials.ErrExhausted), err)
	}
	assert.Equal(t, k, dev.count(), "at most K failed logins on the host, whatever the concurrency")
	assert.Zero(t, g.Remaining("shared-host"))
}

func TestGuardDefaultsAndWaitingForATurn(t *testing.T) {
	t.Parallel()
	g := credentials.NewGuard(0, 0)
	assert.Equal(t, credentials.DefaultMaxFailures, g.MaxFailures())
	assert.Equal(t, credentials.DefaultWindow, g.Window())

	// A resolution waiting for the host's turn gives up with its context.
	s := manyProfiles(t, 1)
	r := newResolver(t, s, credentials.WithGuard(g))
	entered := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		_, _, err := r.Resolve(t.Context(), "h1", func(ctx context.Context, c credentials.Credential) error {
			close(entered)
			<-release
			return nil
		})
		done <- err
	}()
	<-entered
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	called := false
	_, _, err := r.Resolve(ctx, "h1", func(context.Context, credentials.Credential) error { called = true; return nil })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, called)
	// Another host is not held up.
	_, _, err = r.Resolve(t.Context(), "h2", func(context.Context, credentials.Credential) error { return nil })
	require.NoError(t, err)
	close(release)
	require.NoError(t, <-done)
}
