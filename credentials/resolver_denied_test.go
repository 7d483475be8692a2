package credentials_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
)

// rolesDevice accepts "admin"/"admin-pw" for everything and "viewer"/"view-pw"
// for reads only: a change by the viewer is AccessDenied.
type rolesDevice struct {
	logins, failed, changes int
}

func (d *rolesDevice) op(change bool) func(context.Context, credentials.Credential) error {
	return func(_ context.Context, c credentials.Credential) error {
		d.logins++
		switch {
		case c.User == "admin" && c.Password == "admin-pw":
		case c.User == "viewer" && c.Password == "view-pw":
			if change {
				return fmt.Errorf("device: fault: %w", credentials.ErrAccessDenied)
			}
			return nil
		default:
			d.failed++
			return fmt.Errorf("device: 401: %w", credentials.ErrAuthFailed)
		}
		if change {
			d.changes++
		}
		return nil
	}
}

func rolesStore(t *testing.T) credentials.Store {
	t.Helper()
	s := credentials.NewMemoryStore()
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.PutProfile(t.Context(), amtProfile("ops", "admin", "admin-pw", true)))
	require.NoError(t, s.PutProfile(t.Context(), amtProfile("viewer", "viewer", "view-pw", false)))
	return s
}

func TestResolverAccessDeniedMovesOnWithoutFailedLogin(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := rolesStore(t)
	dev := &rolesDevice{}
	g := credentials.NewGuard(2, 0)
	// The admin credential is learned by a change.
	_, _, err := newResolver(t, s, credentials.WithGuard(g)).Resolve(credentials.ForChange(ctx), "192.0.2.10", dev.op(true))
	require.NoError(t, err)
	rt, ok, err := s.Runtime(ctx, "192.0.2.10")
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, rt.Changes)

	// The viewer profile is named, so it is tried before the runtime
	// entry; it logs in but is refused the change, and the runtime entry
	// does it. The refusal costs no failed login.
	r := newResolver(t, s, credentials.WithGuard(g), credentials.WithProfile("viewer"))
	cands, err := r.Candidates(ctx, "192.0.2.10", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"profile:viewer:view-pw", "runtime:ops:admin-pw"}, summary(cands), "a named profile comes before the runtime entry")
	got, attempts, err := r.Resolve(credentials.ForChange(ctx), "192.0.2.10:16993", dev.op(true))
	require.NoError(t, err)
	assert.Equal(t, credentials.Runtime, got.Origin)
	assert.Equal(t, []string{"profile:viewer:denied", "runtime:ops:succeeded"}, outcomes(attempts))
	assert.Zero(t, dev.failed)
	assert.Equal(t, 2, g.Remaining("192.0.2.10"), "a denial is not a failed login")
	rt, _, err = s.Runtime(ctx, "192.0.2.10")
	require.NoError(t, err)
	assert.Equal(t, "admin", rt.Credential.User, "the viewer never replaces the admin entry")

	// A read with the viewer works, but does not displace the entry that
	// has made changes either.
	got, _, err = r.Resolve(ctx, "192.0.2.10", dev.op(false))
	require.NoError(t, err)
	assert.Equal(t, "viewer", got.Profile)
	rt, _, err = s.Runtime(ctx, "192.0.2.10")
	require.NoError(t, err)
	assert.Equal(t, "admin", rt.Credential.User)
	assert.True(t, rt.Changes)

	// Only the viewer: the change is refused, and the error says so.
	only := newResolver(t, s, credentials.WithGuard(g), credentials.WithProfile("viewer"), credentials.WithOrder(credentials.Named))
	_, attempts, err = only.Resolve(credentials.ForChange(ctx), "192.0.2.10", dev.op(true))
	require.ErrorIs(t, err, credentials.ErrAccessDenied)
	assert.NotErrorIs(t, err, credentials.ErrAuthFailed)
	assert.Equal(t, []string{"profile:viewer:denied"}, outcomes(attempts))
	assert.Zero(t, dev.failed)

	// On a device with no entry yet, a read with the viewer is learned.
	_, _, err = r.Resolve(ctx, "192.0.2.11", dev.op(false))
	require.NoError(t, err)
	rt, _, err = s.Runtime(ctx, "192.0.2.11")
	require.NoError(t, err)
	assert.Equal(t, "viewer", rt.Credential.User)
	assert.False(t, rt.Changes)
	// And an admin change then replaces it.
	task := cred("admin", "admin-pw")
	_, _, err = newResolver(t, s, credentials.WithGuard(g)).ResolveTask(credentials.ForChange(ctx), "192.0.2.11", &task, dev.op(true))
	require.NoError(t, err)
	rt, _, err = s.Runtime(ctx, "192.0.2.11")
	require.NoError(t, err)
	assert.Equal(t, "admin", rt.Credential.User)
}

func TestResolverRememberTask(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := rolesStore(t)
	dev := &rolesDevice{}
	task := cred("admin", "admin-pw")
	_, _, err := newResolver(t, s, credentials.RememberTask(false), credentials.WithOrder(credentials.Task)).ResolveTask(ctx, "h", &task, dev.op(false))
	require.NoError(t, err)
	_, ok, err := s.Runtime(ctx, "h")
	require.NoError(t, err)
	assert.False(t, ok, "a task credential is not written without RememberTask")
	_, _, err = newResolver(t, s, credentials.WithOrder(credentials.Task)).ResolveTask(ctx, "h", &task, dev.op(false))
	require.NoError(t, err)
	_, ok, err = s.Runtime(ctx, "h")
	require.NoError(t, err)
	assert.True(t, ok, "remembered by default")
}
