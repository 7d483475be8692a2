package credtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
)

func guardStore(t *testing.T, s credentials.Store) credentials.GuardStore {
	t.Helper()
	gs, ok := s.(credentials.GuardStore)
	require.True(t, ok, "%T does not implement credentials.GuardStore", s)
	return gs
}

// fp returns a distinct candidate fingerprint for n.
func fp(n byte) credentials.Fingerprint {
	var f credentials.Fingerprint
	for i := range f {
		f[i] = n ^ byte(i)
	}
	return f
}

// RunGuardStoreTests checks the credentials.GuardStore contract: the budget
// per device, skipping a candidate that failed, pending logins counting as
// failures, windows ending, RetryAt, settling, reset, the summaries (sorted
// numerically), persistence, atomic reservations under concurrency (and
// across two stores on one location when the engine is Shared), and the
// Guard and Resolver working over the store.
func RunGuardStoreTests(t *testing.T, e Engine) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const window = 5 * time.Minute
	req := func(dev string, cand byte, at time.Time) credentials.GuardRequest {
		return credentials.GuardRequest{Device: dev, Candidate: fp(cand), At: at, MaxFailures: 2, Window: window}
	}

	t.Run("budget", func(t *testing.T) {
		ctx := t.Context()
		s, _ := e.open(t)
		g := guardStore(t, s)
		_, ok, err := g.GuardRecord(ctx, "192.0.2.10", t0)
		require.NoError(t, err)
		assert.False(t, ok)

		r1, err := g.ReserveLogin(ctx, req("192.0.2.10", 1, t0))
		require.NoError(t, err)
		require.Equal(t, credentials.GuardAllow, r1.Decision)
		require.NotEmpty(t, r1.ID)
		rec, ok, err := g.GuardRecord(ctx, "192.0.2.10", t0)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, 0, rec.Failures)
		assert.Equal(t, 1, rec.Pending, "a login in flight counts")
		require.NoError(t, g.SettleLogin(ctx, "192.0.2.10", r1.ID, true))

		// The same candidate is not sent again within the window.
		r, err := g.ReserveLogin(ctx, req("192.0.2.10", 1, t0.Add(time.Minute)))
		require.NoError(t, err)
		assert.Equal(t, credentials.GuardSkip, r.Decision)
		assert.True(t, t0.Add(window).Equal(r.RetryAt), "a skip says when the failure leaves its window: %v", r.RetryAt)

		r2, err := g.ReserveLogin(ctx, req("192.0.2.10", 2, t0.Add(time.Minute)))
		require.NoError(t, err)
		require.Equal(t, credentials.GuardAllow, r2.Decision)
		assert.NotEqual(t, r1.ID, r2.ID)
		require.NoError(t, g.SettleLogin(ctx, "192.0.2.10", r2.ID, true))

		// Spent: nothing more, not even a new candidate, until the oldest
		// failure leaves the window.
		r, err = g.ReserveLogin(ctx, req("192.0.2.10", 3, t0.Add(2*time.Minute)))
		require.NoError(t, err)
		assert.Equal(t, credentials.GuardSpent, r.Decision)
		assert.True(t, t0.Add(window).Equal(r.RetryAt), "RetryAt %v", r.RetryAt)
		rec, ok, err = g.GuardRecord(ctx, "192.0.2.10", t0.Add(2*time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, 2, rec.Failures)
		assert.Equal(t, 0, rec.Pending)
		assert.Equal(t, 2, rec.Counted())
		assert.True(t, t0.Equal(rec.First))
		assert.True(t, t0.Add(time.Minute).Equal(rec.Last))
		assert.True(t, t0.Add(window).Equal(rec.FreesAt))
		assert.True(t, t0.Add(time.Minute+window).Equal(rec.ClearAt))

		// Other devices have their own budget.
		r, err = g.ReserveLogin(ctx, req("192.0.2.11", 1, t0.Add(2*time.Minute)))
		require.NoError(t, err)
		assert.Equal(t, credentials.GuardAllow, r.Decision)
		require.NoError(t, g.SettleLogin(ctx, "192.0.2.11", r.ID, false))

		// The first failure leaves the window: one login is free, and the
		// first candidate may be tried again.
		r, err = g.ReserveLogin(ctx, req("192.0.2.10", 1, t0.Add(window)))
		require.NoError(t, err)
		assert.Equal(t, credentials.GuardAllow, r.Decision)
		// A success removes its record.
		require.NoError(t, g.SettleLogin(ctx, "192.0.2.10", r.ID, false))
		rec, _, err = g.GuardRecord(ctx, "192.0.2.10", t0.Add(window))
		require.NoError(t, err)
		assert.Equal(t, 1, rec.Counted())
		// Settling twice, or an unknown ID, is harmless.
		require.NoError(t, g.SettleLogin(ctx, "192.0.2.10", r.ID, true))
		require.NoError(t, g.SettleLogin(ctx, "192.0.2.99", "no-such-id", true))
		rec, _, err = g.GuardRecord(ctx, "192.0.2.10", t0.Add(window))
		require.NoError(t, err)
		assert.Equal(t, 1, rec.Counted())

		// Everything has left its window.
		_, ok, err = g.GuardRecord(ctx, "192.0.2.10", t0.Add(time.Minute+window))
		require.NoError(t, err)
		assert.False(t, ok)
	})

	t.Run("pending counts", func(t *testing.T) {
		ctx := t.Context()
		s, _ := e.open(t)
		g := guardStore(t, s)
		// Two logins whose process died before the answer: they count, and
		// they do not make their candidate a skip.
		for i := range 2 {
			r, err := g.ReserveLogin(ctx, req("h.example", byte(i), t0))
			require.NoError(t, err)
			require.Equal(t, credentials.GuardAllow, r.Decision)
		}
		r, err := g.ReserveLogin(ctx, req("h.example", 0, t0.Add(time.Second)))
		require.NoError(t, err)
		assert.Equal(t, credentials.GuardSpent, r.Decision)
		assert.True(t, t0.Add(window).Equal(r.RetryAt))
	})

	t.Run("retry at with a larger budget", func(t *testing.T) {
		ctx := t.Context()
		s, _ := e.open(t)
		g := guardStore(t, s)
		for i := range 3 {
			q := req("h", byte(i), t0.Add(time.Duration(i)*time.Minute))
			q.MaxFailures = 3
			r, err := g.ReserveLogin(ctx, q)
			require.NoError(t, err)
			require.Equal(t, credentials.GuardAllow, r.Decision)
			require.NoError(t, g.SettleLogin(ctx, "h", r.ID, true))
		}
		// With a budget of 2 and three failures, two must leave the window.
		r, err := g.ReserveLogin(ctx, req("h", 9, t0.Add(3*time.Minute)))
		require.NoError(t, err)
		assert.Equal(t, credentials.GuardSpent, r.Decision)
		assert.True(t, t0.Add(time.Minute+window).Equal(r.RetryAt), "RetryAt %v", r.RetryAt)
	})

	t.Run("records and reset", func(t *testing.T) {
		ctx := t.Context()
		s, loc := e.open(t)
		g := guardStore(t, s)
		for _, dev := range []string{"192.0.2.100", "192.0.2.9", "b.example", "192.0.2.10", "2001:db8::1"} {
			r, err := g.ReserveLogin(ctx, req(dev, 1, t0))
			require.NoError(t, err)
			require.NoError(t, g.SettleLogin(ctx, dev, r.ID, true))
		}
		recs, err := g.GuardRecords(ctx, t0.Add(time.Minute))
		require.NoError(t, err)
		var devs []string
		for _, r := range recs {
			devs = append(devs, r.Device)
			assert.Equal(t, 1, r.Failures)
		}
		assert.Equal(t, []string{"192.0.2.9", "192.0.2.10", "192.0.2.100", "2001:db8::1", "b.example"}, devs)

		// The records survive a reopen.
		if !e.Ephemeral {
			require.NoError(t, s.Close())
			s = e.Open(t, loc)
			g = guardStore(t, s)
		}
		rec, ok, err := g.GuardRecord(ctx, "192.0.2.10", t0.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, 1, rec.Failures)
		r, err := g.ReserveLogin(ctx, req("192.0.2.10", 1, t0.Add(time.Minute)))
		require.NoError(t, err)
		assert.Equal(t, credentials.GuardSkip, r.Decision, "the candidate's hash survives a reopen")

		n, err := g.ResetGuard(ctx, "192.0.2.10")
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		_, ok, err = g.GuardRecord(ctx, "192.0.2.10", t0.Add(time.Minute))
		require.NoError(t, err)
		assert.False(t, ok)
		r, err = g.ReserveLogin(ctx, req("192.0.2.10", 1, t0.Add(time.Minute)))
		require.NoError(t, err)
		assert.Equal(t, credentials.GuardAllow, r.Decision, "after a reset the candidate may be tried")
		n, err = g.ResetGuard(ctx, "nobody")
		require.NoError(t, err)
		assert.Zero(t, n)
		recs, err = g.GuardRecords(ctx, t0.Add(window))
		require.NoError(t, err)
		assert.Len(t, recs, 1, "only the new login's record is still in its window")
	})

	t.Run("invalid requests", func(t *testing.T) {
		ctx := t.Context()
		s, _ := e.open(t)
		g := guardStore(t, s)
		_, err := g.ReserveLogin(ctx, credentials.GuardRequest{Candidate: fp(1), At: t0, MaxFailures: 2, Window: window})
		require.Error(t, err, "no device")
		_, err = g.ReserveLogin(ctx, credentials.GuardRequest{Device: "h", Candidate: fp(1), At: t0, Window: window})
		require.Error(t, err, "no budget")
	})

	concurrent := func(t *testing.T, stores ...credentials.GuardStore) {
		ctx := t.Context()
		const n = 16
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			allowed int
			errs    []error
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := stores[i%len(stores)]
				r, err := g.ReserveLogin(ctx, req("192.0.2.50", byte(i), t0))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				if r.Decision == credentials.GuardAllow {
					allowed++
				}
			}()
		}
		wg.Wait()
		require.Empty(t, errs)
		assert.Equal(t, 2, allowed, "of %d concurrent reservations exactly the budget is allowed", n)
	}

	t.Run("concurrent", func(t *testing.T) {
		s, _ := e.open(t)
		concurrent(t, guardStore(t, s))
	})

	t.Run("shared", func(t *testing.T) {
		if !e.Shared {
			t.Skip("the engine holds its location exclusively")
		}
		s1, loc := e.open(t)
		s2 := e.Open(t, loc)
		concurrent(t, guardStore(t, s1), guardStore(t, s2))
		rec, ok, err := guardStore(t, s2).GuardRecord(t.Context(), "192.0.2.50", t0)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, 2, rec.Counted(), "both stores see one count")
	})

	t.Run("guard and resolver", func(t *testing.T) {
		ctx := t.Context()
		s, _ := e.open(t)
		now := t0
		clock := func() time.Time { return now }
		g := credentials.NewGuard(2, window, credentials.GuardClock(clock), credentials.GuardStorage(guardStore(t, s)))
		for i := range 3 {
			require.NoError(t, s.PutProfile(ctx, amtProfile(fmt.Sprintf("p%d", i), "admin", fmt.Sprintf("pw%d", i), i == 0)))
		}
		r, err := credentials.NewResolver(s, credentials.AllowOtherProfiles(true), credentials.WithGuard(g), credentials.WithClock(clock))
		require.NoError(t, err)
		var sent []string
		try := func(_ context.Context, c credentials.Credential) error {
			sent = append(sent, c.Password)
			if c.Password == "pw2" {
				return nil
			}
			return credentials.ErrAuthFailed
		}
		_, _, err = r.Resolve(ctx, "192.0.2.20:16992", func(ctx context.Context, c credentials.Credential) error { return try(ctx, c) })
		require.ErrorIs(t, err, credentials.ErrLockoutRisk)
		assert.Equal(t, []string{"pw0", "pw1"}, sent)
		assert.Zero(t, g.Remaining("192.0.2.20:16993"), "the count is per device, whatever the port")
		rec, err := g.Status(ctx, "192.0.2.20")
		require.NoError(t, err)
		assert.Equal(t, 2, rec.Failures)

		// A guard over the same store in a fresh resolver (another process,
		// as far as the store can tell) sees the count.
		g2 := credentials.NewGuard(2, window, credentials.GuardClock(clock), credentials.GuardStorage(guardStore(t, s)))
		err = g2.Login(ctx, "192.0.2.20:16994", credentials.AMT, cred("admin", "pw2"), nil, func(context.Context) error {
			t.Fatal("sent although the budget is spent")
			return nil
		})
		var be *credentials.BudgetError
		require.ErrorAs(t, err, &be)
		assert.True(t, t0.Add(window).Equal(be.RetryAt))

		// Once the window has passed, logins are allowed again.
		now = t0.Add(window)
		good := cred("admin", "pw2")
		_, _, err = r.ResolveTask(ctx, "192.0.2.20", &good, func(ctx context.Context, c credentials.Credential) error { return try(ctx, c) })
		require.NoError(t, err)
		assert.Equal(t, []string{"pw0", "pw1", "pw2"}, sent)
		rec, err = g.Status(ctx, "192.0.2.20")
		require.NoError(t, err)
		assert.Zero(t, rec.Counted(), "a success leaves no record")
	})
}
