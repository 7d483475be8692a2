package credentials_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/credentials/credtest"
)

// fixture is a memory store with three AMT profiles (the default "corp", and
// "lab" and "legacy") and a WMI-only profile.
func fixture(t *testing.T) credentials.Store {
	t.Helper()
	ctx := t.Context()
	s := credentials.NewMemoryStore()
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.PutProfile(ctx, amtProfile("corp", "admin", "corp-pw", true)))
	require.NoError(t, s.PutProfile(ctx, amtProfile("lab", "admin", "lab-pw", false)))
	require.NoError(t, s.PutProfile(ctx, amtProfile("legacy", "admin", "legacy-pw", false)))
	require.NoError(t, s.PutProfile(ctx, credentials.Profile{Name: "wmi-only", Entries: map[credentials.Technology]credentials.Credential{
		credentials.WMI: cred("Administrator", "wmi-pw"),
	}}))
	return s
}

func newResolver(t *testing.T, s credentials.Store, opts ...credentials.Option) *credentials.Resolver {
	t.Helper()
	// A guard of its own: the process-wide one would carry failures
	// from test to test.
	r, err := credentials.NewResolver(s, append([]credentials.Option{credentials.WithGuard(credentials.NewGuard(0, 0))}, opts...)...)
	require.NoError(t, err)
	return r
}

// origins summarises candidates as "origin:profile:password".
func summary(cands []credentials.Candidate) []string {
	var out []string
	for _, c := range cands {
		out = append(out, fmt.Sprintf("%s:%s:%s", c.Origin, c.Profile, c.Credential.Password))
	}
	return out
}

func outcomes(attempts []credentials.Attempt) []string {
	var out []string
	for _, a := range attempts {
		out = append(out, fmt.Sprintf("%s:%s:%s", a.Origin, a.Profile, a.Outcome))
	}
	return out
}

func TestCandidateOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := fixture(t)
	require.NoError(t, s.PutRuntime(ctx, "h1", credentials.RuntimeEntry{Credential: cred("admin", "rt-pw"), Profile: "old", Origin: credentials.Other, Stale: true}))
	task := cred("operator", "task-pw")

	t.Run("default order", func(t *testing.T) {
		r := newResolver(t, s)
		cands, err := r.Candidates(ctx, "h1", &task)
		require.NoError(t, err)
		assert.Equal(t, []string{"task::task-pw", "default:corp:corp-pw", "runtime:old:rt-pw"}, summary(cands))
	})
	t.Run("named profile instead of the default", func(t *testing.T) {
		r := newResolver(t, s, credentials.WithProfile("lab"))
		cands, err := r.Candidates(ctx, "h1", nil)
		require.NoError(t, err)
		assert.Equal(t, []string{"profile:lab:lab-pw", "runtime:old:rt-pw"}, summary(cands))
	})
	t.Run("others only when allowed", func(t *testing.T) {
		r := newResolver(t, s, credentials.WithProfile("lab"), credentials.AllowOtherProfiles(true))
		cands, err := r.Candidates(ctx, "h1", &task)
		require.NoError(t, err)
		assert.Equal(t, []string{"task::task-pw", "profile:lab:lab-pw", "runtime:old:rt-pw", "other:legacy:legacy-pw"}, summary(cands),
			"corp is the default, not an other; wmi-only has no AMT entry")
	})
	t.Run("configured order", func(t *testing.T) {
		r := newResolver(t, s, credentials.WithOrder(credentials.Runtime, credentials.Other, credentials.Default), credentials.AllowOtherProfiles(true))
		cands, err := r.Candidates(ctx, "h1", &task)
		require.NoError(t, err)
		assert.Equal(t, []string{"runtime:old:rt-pw", "other:lab:lab-pw", "other:legacy:legacy-pw", "default:corp:corp-pw"}, summary(cands),
			"Task left out of the order is not used")
	})
	t.Run("named and default both", func(t *testing.T) {
		r := newResolver(t, s, credentials.WithProfile("lab"), credentials.WithOrder(credentials.Named, credentials.Default))
		cands, err := r.Candidates(ctx, "h1", nil)
		require.NoError(t, err)
		assert.Equal(t, []string{"profile:lab:lab-pw", "default:corp:corp-pw"}, summary(cands))
	})
	t.Run("technology", func(t *testing.T) {
		r := newResolver(t, s, credentials.WithTechnology(credentials.WMI), credentials.AllowOtherProfiles(true))
		cands, err := r.Candidates(ctx, "h1", nil)
		require.NoError(t, err)
		assert.Equal(t, []string{"other:wmi-only:wmi-pw"}, summary(cands), "the runtime entry is for AMT")
	})
	t.Run("unknown named profile", func(t *testing.T) {
		r := newResolver(t, s, credentials.WithProfile("nope"))
		_, err := r.Candidates(ctx, "h1", nil)
		require.ErrorIs(t, err, credentials.ErrNotFound)
	})
	t.Run("bad options", func(t *testing.T) {
		for _, o := range []credentials.Option{
			credentials.WithOrder(), credentials.WithOrder(credentials.Task, credentials.Task), credentials.WithOrder(credentials.Origin(42)),
			credentials.WithProfile(""), credentials.WithTechnology("ipmi"), credentials.WithAttemptTimeout(-1),
			credentials.WithGuard(nil), credentials.WithAuthFailure(nil), credentials.WithClock(nil),
		} {
			_, err := credentials.NewResolver(s, o)
			require.Error(t, err)
		}
		_, err := credentials.NewResolver(nil)
		require.Error(t, err)
	})
}

func TestCandidatesDeduplicate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := fixture(t)
	require.NoError(t, s.PutProfile(ctx, amtProfile("copy-of-corp", "admin", "corp-pw", false)))
	require.NoError(t, s.PutRuntime(ctx, "h1", credentials.RuntimeEntry{Credential: cred("admin", "lab-pw"), Profile: "lab", Origin: credentials.Other, Stale: true}))
	task := cred("admin", "corp-pw")
	r := newResolver(t, s, credentials.AllowOtherProfiles(true))
	cands, err := r.Candidates(ctx, "H1", &task)
	require.NoError(t, err)
	assert.Equal(t, []string{"task::corp-pw", "runtime:lab:lab-pw", "other:legacy:legacy-pw"}, summary(cands),
		"the default and its copy equal the task credential; lab equals the earlier runtime entry")

	// A different user, a Kerberos principal or a client certificate makes
	// a different login.
	certPEM, keyPEM := credtest.SelfSigned(t)
	withCert := cred("admin", "corp-pw")
	withCert.ClientCertPEM, withCert.ClientKeyPEM = certPEM, keyPEM
	kerb := cred("admin", "corp-pw")
	kerb.Kerberos = true
	require.NoError(t, s.PutProfile(ctx, credentials.Profile{Name: "m1", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: withCert}}))
	require.NoError(t, s.PutProfile(ctx, credentials.Profile{Name: "m2", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: kerb}}))
	require.NoError(t, s.PutProfile(ctx, amtProfile("m3", "Admin", "corp-pw", false)))
	cands, err = r.Candidates(ctx, "h1", &task)
	require.NoError(t, err)
	assert.Len(t, cands, 6)
}

func TestLearning(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := fixture(t)
	clk := newClock()
	dev := newDevice("admin", "legacy-pw")
	r := newResolver(t, s, credentials.AllowOtherProfiles(true), credentials.WithClock(clk.Now),
		credentials.WithGuard(credentials.NewGuard(3, time.Minute, credentials.GuardClock(clk.Now))))

	got, attempts, err := r.Resolve(ctx, "h1", dev.try)
	require.NoError(t, err)
	assert.Equal(t, "legacy", got.Profile)
	assert.Equal(t, credentials.Other, got.Origin)
	assert.Equal(t, []string{"default:corp:auth_failed", "other:lab:auth_failed", "other:legacy:succeeded"}, outcomes(attempts))
	assert.Equal(t, 3, dev.count())

	e, ok, err := s.Runtime(ctx, "h1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "legacy-pw", e.Credential.Password)
	assert.Equal(t, "legacy", e.Profile)
	assert.Equal(t, credentials.Other, e.Origin)
	assert.Equal(t, credentials.AMT, e.Technology)
	assert.Equal(t, clk.Now(), e.LearnedAt)
	assert.False(t, e.Stale)

	// The second run uses the runtime entry first: exactly one login.
	clk.Advance(time.Hour)
	before := dev.count()
	got, attempts, err = r.Resolve(ctx, "h1", dev.try)
	require.NoError(t, err)
	assert.Equal(t, 1, dev.count()-before)
	assert.Equal(t, credentials.Runtime, got.Origin)
	assert.Equal(t, "legacy", got.Profile, "a runtime candidate names the profile it was learned from")
	assert.Equal(t, credentials.Succeeded, attempts[0].Outcome)
	for _, a := range attempts[1:] {
		assert.Equal(t, credentials.NotTried, a.Outcome)
	}
	e, _, err = s.Runtime(ctx, "h1")
	require.NoError(t, err)
	assert.Equal(t, clk.Now(), e.LearnedAt, "the success refreshes the learned time")
	assert.Equal(t, "legacy", e.Profile)
	assert.Equal(t, credentials.Other, e.Origin)

	// A task credential still comes first, ahead of the runtime entry.
	task := cred("operator", "x")
	cands, err := r.Candidates(ctx, "h1", &task)
	require.NoError(t, err)
	assert.Equal(t, []string{"task::x", "runtime:legacy:legacy-pw", "default:corp:corp-pw", "other:lab:lab-pw"}, summary(cands))

	// WithRuntimeFirst(false) keeps the configured place.
	r2 := newResolver(t, s, credentials.WithRuntimeFirst(false))
	cands, err = r2.Candidates(ctx, "h1", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"default:corp:corp-pw", "runtime:legacy:legacy-pw"}, summary(cands))
}

func TestRuntimeEntryStaleThenReplaced(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := fixture(t)
	clk := newClock()
	require.NoError(t, s.PutRuntime(ctx, "h1", credentials.RuntimeEntry{Credential: cred("admin", "old-pw"), Profile: "gone", Origin: credentials.Named, LearnedAt: clk.Now()}))
	dev := newDevice("admin", "rotated-pw")
	r := newResolver(t, s, credentials.WithClock(clk.Now), credentials.WithGuard(credentials.NewGuard(3, time.Minute, credentials.GuardClock(clk.Now))))

	// The password was rotated: the runtime entry fails, the default fails.
	clk.Advance(time.Second)
	_, attempts, err := r.Resolve(ctx, "h1", dev.try)
	require.ErrorIs(t, err, credentials.ErrExhausted)
	require.ErrorIs(t, err, credentials.ErrAuthFailed)
	assert.Equal(t, []string{"runtime:gone:auth_failed", "default:corp:auth_failed"}, outcomes(attempts))
	e, ok, err := s.Runtime(ctx, "h1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, e.Stale)
	assert.Equal(t, clk.Now(), e.StaleAt)
	assert.Equal(t, "old-pw", e.Credential.Password)

	// A stale entry goes back to its configured place.
	cands, err := r.Candidates(ctx, "h1", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"default:corp:corp-pw", "runtime:gone:old-pw"}, summary(cands))

	// The new password goes into the default profile; its success replaces
	// the stale entry.
	require.NoError(t, s.PutProfile(ctx, amtProfile("corp", "admin", "rotated-pw", true)))
	clk.Advance(time.Second)
	got, _, err := r.Resolve(ctx, "h1", dev.try)
	require.NoError(t, err)
	assert.Equal(t, credentials.Default, got.Origin)
	e, _, err = s.Runtime(ctx, "h1")
	require.NoError(t, err)
	assert.False(t, e.Stale)
	assert.Equal(t, "rotated-pw", e.Credential.Password)
	assert.Equal(t, "corp", e.Profile)
	assert.Equal(t, credentials.Default, e.Origin)
	assert.Equal(t, clk.Now(), e.LearnedAt)
}

func TestOnlyAuthFailureMovesOn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := fixture(t)
	task := cred("operator", "task-pw")
	r := newResolver(t, s, credentials.AllowOtherProfiles(true), credentials.WithGuard(credentials.NewGuard(10, time.Minute)))

	// The task credential is rejected, then the network goes.
	calls := 0
	try := func(ctx context.Context, c credentials.Credential) error {
		calls++
		if calls == 1 {
			return credentials.ErrAuthFailed
		}
		return errNetwork
	}
	_, attempts, err := r.ResolveTask(ctx, "h1", &task, try)
	require.ErrorIs(t, err, errNetwork)
	assert.NotErrorIs(t, err, credentials.ErrAuthFailed)
	assert.Equal(t, 2, calls)
	assert.Equal(t, []string{"task::auth_failed", "default:corp:failed", "other:lab:not_tried", "other:legacy:not_tried"}, outcomes(attempts))
	assert.ErrorIs(t, attempts[1].Err, errNetwork)
	_, ok, err := s.Runtime(ctx, "h1")
	require.NoError(t, err)
	assert.False(t, ok, "nothing learned")

	// A caller-supplied classifier decides what an authentication failure is.
	errDenied := errors.New("401 unauthorized")
	r = newResolver(t, s, credentials.WithAuthFailure(func(err error) bool { return errors.Is(err, errDenied) }),
		credentials.AllowOtherProfiles(true), credentials.WithGuard(credentials.NewGuard(10, time.Minute)))
	got, attempts, err := r.Resolve(ctx, "h2", func(ctx context.Context, c credentials.Credential) error {
		if c.Password == "lab-pw" {
			return nil
		}
		return fmt.Errorf("wsman: %w", errDenied)
	})
	require.NoError(t, err)
	assert.Equal(t, "lab", got.Profile)
	assert.Equal(t, []string{"default:corp:auth_failed", "other:lab:succeeded", "other:legacy:not_tried"}, outcomes(attempts))
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	r := newResolver(t, s, credentials.AllowOtherProfiles(true))

	// Cancelled before anything: nothing is tried.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	dev := newDevice()
	_, _, err := r.Resolve(ctx, "h1", dev.try)
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, dev.count())

	// Cancelled during the first login: it stops at once.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	calls := 0
	_, attempts, err := r.Resolve(ctx, "h1", func(actx context.Context, c credentials.Credential) error {
		calls++
		cancel()
		<-actx.Done()
		return actx.Err()
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, calls)
	assert.Equal(t, []string{"default:corp:failed", "other:lab:not_tried", "other:legacy:not_tried"}, outcomes(attempts))

	// An authentication failure as the context ends still counts with the
	// guard, and nothing more is tried.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	g := credentials.NewGuard(5, time.Minute)
	r = newResolver(t, s, credentials.AllowOtherProfiles(true), credentials.WithGuard(g))
	_, attempts, err = r.Resolve(ctx, "h1", func(ctx context.Context, c credentials.Credential) error {
		cancel()
		return credentials.ErrAuthFailed
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []string{"default:corp:auth_failed", "other:lab:not_tried", "other:legacy:not_tried"}, outcomes(attempts))
	assert.Equal(t, 4, g.Remaining("h1"))
}

func TestAttemptTimeout(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	r := newResolver(t, s, credentials.AllowOtherProfiles(true), credentials.WithAttemptTimeout(20*time.Millisecond))
	var deadlines []bool
	_, attempts, err := r.Resolve(t.Context(), "h1", func(ctx context.Context, c credentials.Credential) error {
		_, ok := ctx.Deadline()
		deadlines = append(deadlines, ok)
		<-ctx.Done() // a device that never answers
		return fmt.Errorf("dial: %w", ctx.Err())
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, []bool{true}, deadlines, "one attempt, with its own deadline; a timeout stops")
	assert.Equal(t, []string{"default:corp:failed", "other:lab:not_tried", "other:legacy:not_tried"}, outcomes(attempts))
	require.NoError(t, t.Context().Err(), "the caller's context is untouched")

	// Each attempt gets a fresh timeout.
	r = newResolver(t, s, credentials.AllowOtherProfiles(true), credentials.WithAttemptTimeout(time.Hour))
	var seen []time.Time
	_, _, err = r.Resolve(t.Context(), "h2", func(ctx context.Context, c credentials.Credential) error {
		d, _ := ctx.Deadline()
		seen = append(seen, d)
		if len(seen) == 1 {
			return credentials.ErrAuthFailed
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, seen, 2)
	assert.False(t, seen[1].Before(seen[0]))

	// Zero: only the caller's context bounds an attempt.
	r = newResolver(t, s, credentials.WithAttemptTimeout(0))
	_, _, err = r.Resolve(t.Context(), "h3", func(ctx context.Context, c credentials.Credential) error {
		_, ok := ctx.Deadline()
		assert.False(t, ok)
		return nil
	})
	require.NoError(t, err)
}

func TestNoCandidates(t *testing.T) {
	t.Parallel()
	s := credentials.NewMemoryStore()
	r := newResolver(t, s)
	dev := newDevice()
	_, attempts, err := r.Resolve(t.Context(), "h1", dev.try)
	require.ErrorIs(t, err, credentials.ErrNoCandidates)
	assert.Empty(t, attempts)
	_, _, err = r.Resolve(t.Context(), " ", dev.try)
	require.Error(t, err)
}

func TestStaticAndFor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dev := newDevice("admin", "pw")

	g := credentials.NewGuard(0, 0)
	got, attempts, err := credentials.StaticWithGuard(cred("admin", "pw"), g).Resolve(ctx, "h1", dev.try)
	require.NoError(t, err)
	assert.Equal(t, credentials.Task, got.Origin)
	assert.Equal(t, []string{"task::succeeded"}, outcomes(attempts))

	_, attempts, err = credentials.StaticWithGuard(cred("admin", "bad"), g).Resolve(ctx, "h1", dev.try)
	require.ErrorIs(t, err, credentials.ErrAuthFailed)
	assert.Equal(t, []string{"task::auth_failed"}, outcomes(attempts))
	assert.Equal(t, 2, dev.count(), "no fallback")

	s := fixture(t)
	r := newResolver(t, s)
	src := r.For(&credentials.Credential{User: "admin", Password: "pw"})
	got, _, err = src.Resolve(ctx, "h2", dev.try)
	require.NoError(t, err)
	assert.Equal(t, credentials.Task, got.Origin)
	e, ok, err := s.Runtime(ctx, "h2")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, credentials.Task, e.Origin, "a task credential that worked is learned too")
	assert.Empty(t, e.Profile)

	r = newResolver(t, s, credentials.WithTask(cred("admin", "pw")), credentials.WithOrder(credentials.Task))
	cands, err := r.Candidates(ctx, "h3", nil)
	require.NoError(t, err)
	assert.Empty(t, cands, "Candidates takes the task per call")
	got, _, err = r.Resolve(ctx, "h3", dev.try)
	require.NoError(t, err)
	assert.Equal(t, credentials.Task, got.Origin)
}

// failingStore fails runtime writes.
type failingStore struct {
	credentials.Store
}

func (failingStore) PutRuntime(context.Context, string, credentials.RuntimeEntry) error {
	return errors.New("disk full")
}

func TestLearningFailureDoesNotFailTheLogin(t *testing.T) {
	t.Parallel()
	r := newResolver(t, failingStore{fixture(t)})
	got, attempts, err := r.Resolve(t.Context(), "h1", newDevice("admin", "corp-pw").try)
	require.NoError(t, err)
	assert.Equal(t, "corp", got.Profile)
	require.Len(t, attempts, 1)
	assert.Equal(t, credentials.Succeeded, attempts[0].Outcome)
	require.Error(t, attempts[0].Err)
	assert.Contains(t, attempts[0].Err.Error(), "disk full")
}

// Static sources share the process-wide guard: many sources with the same
// wrong password send one login to a device; different wrong passwords
// stop at the budget; another device has its own count.
func TestStaticSharesTheProcessGuard(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dev := newDevice("admin", "pw")
	host := fmt.Sprintf("static-%d.test:16992", time.Now().UnixNano())
	var outcomes2 []string
	for range 5 {
		_, attempts, err := credentials.Static(cred("admin", "bad")).Resolve(ctx, host, dev.try)
		require.Error(t, err)
		outcomes2 = append(outcomes2, outcomes(attempts)...)
	}
	assert.Equal(t, []string{"task::auth_failed", "task::skipped", "task::skipped", "task::skipped", "task::skipped"}, outcomes2)
	assert.Equal(t, 1, dev.count(), "one login sent for five sources")

	// Another port of the same device shares the count.
	other := strings.TrimSuffix(host, ":16992") + ":16993"
	_, _, err := credentials.Static(cred("admin", "bad-2")).Resolve(ctx, other, dev.try)
	require.ErrorIs(t, err, credentials.ErrAuthFailed)
	_, attempts, err := credentials.Static(cred("admin", "bad-3")).Resolve(ctx, host, dev.try)
	require.ErrorIs(t, err, credentials.ErrLockoutRisk)
	assert.Equal(t, []string{"task::not_tried"}, outcomes(attempts))
	assert.Equal(t, 2, dev.count(), "the budget of 2 is spent; nothing more is sent")
	_, _, err = credentials.Static(cred("admin", "pw")).Resolve(ctx, host, dev.try)
	require.ErrorIs(t, err, credentials.ErrLockoutRisk, "even the right password waits for the window")

	assert.Equal(t, 0, credentials.ProcessGuard().Remaining(host))
	assert.Equal(t, credentials.DefaultMaxFailures, credentials.ProcessGuard().Remaining("elsewhere-"+host))
}

// The caller's context ends while a login runs: the error keeps what the
// login met and names the candidate, and still matches the context's end.
func TestContextEndKeepsTheAttemptsError(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	r := newResolver(t, s, credentials.AllowOtherProfiles(true))
	errLost := errors.New("the answer to the change was lost")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, attempts, err := r.Resolve(ctx, "h1", func(ctx context.Context, c credentials.Credential) error {
		cancel()
		return fmt.Errorf("send: %w", errLost)
	})
	require.ErrorIs(t, err, errLost)
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), `default "corp"`)
	assert.Equal(t, []string{"default:corp:failed", "other:lab:not_tried", "other:legacy:not_tried"}, outcomes(attempts))
	assert.ErrorIs(t, attempts[0].Err, errLost)

	// A login whose error already says the context ended: said once.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	_, _, err = r.Resolve(ctx, "h2", func(actx context.Context, c credentials.Credential) error {
		cancel()
		<-actx.Done()
		return fmt.Errorf("dial: %w", actx.Err())
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, strings.Count(err.Error(), context.Canceled.Error()), "%v", err)
	assert.Contains(t, err.Error(), "dial: ")
}
