package credentials_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
)

// testStore runs the Store contract against one implementation.
func testStore(t *testing.T, open func(t *testing.T) credentials.Store) {
	ctx := t.Context()

	t.Run("profiles", func(t *testing.T) {
		s := open(t)
		ps, err := s.Profiles(ctx)
		require.NoError(t, err)
		assert.Empty(t, ps)

		certPEM, keyPEM := selfSigned(t)
		corp := credentials.Profile{Name: "corp", Default: true, Entries: map[credentials.Technology]credentials.Credential{
			credentials.AMT:  {User: "admin", Password: "corp-pw", ClientCertPEM: certPEM, ClientKeyPEM: keyPEM},
			credentials.SNMP: {User: "public", Password: "community"},
			credentials.WMI:  {User: `CORP\svc`, Password: "w", Kerberos: true},
		}}
		require.NoError(t, s.PutProfile(ctx, corp))
		got, err := s.Profile(ctx, "corp")
		require.NoError(t, err)
		assert.Equal(t, corp, got)

		// A new default clears the old one.
		require.NoError(t, s.PutProfile(ctx, amtProfile("lab", "admin", "lab-pw", true)))
		require.NoError(t, s.PutProfile(ctx, amtProfile("a-first", "admin", "a-pw", false)))
		ps, err = s.Profiles(ctx)
		require.NoError(t, err)
		require.Len(t, ps, 3)
		assert.Equal(t, []string{"a-first", "corp", "lab"}, []string{ps[0].Name, ps[1].Name, ps[2].Name})
		assert.Equal(t, []bool{false, false, true}, []bool{ps[0].Default, ps[1].Default, ps[2].Default})

		require.NoError(t, s.SetDefault(ctx, "corp"))
		got, err = s.Profile(ctx, "corp")
		require.NoError(t, err)
		assert.True(t, got.Default)
		got, err = s.Profile(ctx, "lab")
		require.NoError(t, err)
		assert.False(t, got.Default)
		require.ErrorIs(t, s.SetDefault(ctx, "nope"), credentials.ErrNotFound)

		// Replacing the default without the flag leaves no default.
		corp.Default = false
		require.NoError(t, s.PutProfile(ctx, corp))
		ps, err = s.Profiles(ctx)
		require.NoError(t, err)
		for _, p := range ps {
			assert.False(t, p.Default, p.Name)
		}

		// Values handed out are copies.
		got, err = s.Profile(ctx, "corp")
		require.NoError(t, err)
		c := got.Entries[credentials.AMT]
		c.ClientKeyPEM[0] = 'X'
		got.Entries[credentials.AMT] = credentials.Credential{User: "mallory"}
		again, err := s.Profile(ctx, "corp")
		require.NoError(t, err)
		assert.Equal(t, "admin", again.Entries[credentials.AMT].User)
		assert.Equal(t, keyPEM, again.Entries[credentials.AMT].ClientKeyPEM)

		require.NoError(t, s.SetDefault(ctx, "corp"))
		require.NoError(t, s.DeleteProfile(ctx, "corp"))
		_, err = s.Profile(ctx, "corp")
		require.ErrorIs(t, err, credentials.ErrNotFound)
		require.ErrorIs(t, s.DeleteProfile(ctx, "corp"), credentials.ErrNotFound)
		require.NoError(t, s.PutProfile(ctx, amtProfile("corp", "admin", "x", false)))
		got, err = s.Profile(ctx, "corp")
		require.NoError(t, err)
		assert.False(t, got.Default, "deleting the default profile took its flag with it")

		require.Error(t, s.PutProfile(ctx, credentials.Profile{}))
		require.Error(t, s.PutProfile(ctx, credentials.Profile{Name: " padded"}))
		require.Error(t, s.PutProfile(ctx, credentials.Profile{Name: "x", Entries: map[credentials.Technology]credentials.Credential{"ipmi": {}}}))
	})

	t.Run("runtime", func(t *testing.T) {
		s := open(t)
		_, ok, err := s.Runtime(ctx, "h1")
		require.NoError(t, err)
		assert.False(t, ok)

		at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		e := credentials.RuntimeEntry{Technology: credentials.AMT, Credential: cred("admin", "pw"), Profile: "corp", Origin: credentials.Default, LearnedAt: at}
		require.NoError(t, s.PutRuntime(ctx, " H1.Example.COM ", e))
		got, ok, err := s.Runtime(ctx, "h1.example.com")
		require.NoError(t, err)
		require.True(t, ok)
		e.Host = "h1.example.com"
		assert.Equal(t, e, got)

		// Only the stored credential is marked stale.
		require.NoError(t, s.MarkRuntimeStale(ctx, "h1.example.com", cred("admin", "other"), at.Add(time.Minute)))
		got, _, err = s.Runtime(ctx, "h1.example.com")
		require.NoError(t, err)
		assert.False(t, got.Stale)
		require.NoError(t, s.MarkRuntimeStale(ctx, "H1.example.com", cred("admin", "pw"), at.Add(time.Minute)))
		got, _, err = s.Runtime(ctx, "h1.example.com")
		require.NoError(t, err)
		assert.True(t, got.Stale)
		assert.Equal(t, at.Add(time.Minute), got.StaleAt)
		require.NoError(t, s.MarkRuntimeStale(ctx, "nobody", cred("admin", "pw"), at))

		require.NoError(t, s.PutRuntime(ctx, "a-host", credentials.RuntimeEntry{Credential: cred("u", "p"), LearnedAt: at}))
		all, err := s.RuntimeEntries(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, "a-host", all[0].Host)
		assert.Equal(t, "h1.example.com", all[1].Host)

		require.NoError(t, s.ForgetRuntime(ctx, "A-HOST"))
		require.ErrorIs(t, s.ForgetRuntime(ctx, "a-host"), credentials.ErrNotFound)
		require.Error(t, s.PutRuntime(ctx, "", e))
	})

	t.Run("closed", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.Close())
		_, err := s.Profiles(ctx)
		require.ErrorIs(t, err, credentials.ErrClosed)
		require.ErrorIs(t, s.PutRuntime(ctx, "h", credentials.RuntimeEntry{}), credentials.ErrClosed)
	})
}

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	testStore(t, func(t *testing.T) credentials.Store {
		s := credentials.NewMemoryStore()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestDBStore(t *testing.T) {
	t.Parallel()
	testStore(t, func(t *testing.T) credentials.Store {
		return openTestDB(t, t.TempDir())
	})
}
