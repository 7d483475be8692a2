// Package credtest is the conformance suite of the credentials package's
// store interfaces: any implementation of credentials.Store and
// credentials.GuardStore (in memory, the embedded file, the state database on
// SQLite or Postgres) runs RunStoreTests and RunGuardStoreTests in its own
// tests:
//
//	func TestConformance(t *testing.T) {
//		credtest.RunAll(t, credtest.Engine{
//			Open: func(t *testing.T, location string) credentials.Store { ... },
//			Shared: true,
//		})
//	}
package credtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
)

// Engine describes a store implementation to the suite.
type Engine struct {
	// Open opens the store kept at location, creating it when it does not
	// exist, and registers its Close with t.Cleanup (closing twice must be
	// harmless). The suite passes a fresh t.TempDir() for each test: a file
	// engine keeps its files there, a server engine may use it to name a
	// fresh database or schema. Opening the same location again must show
	// the same records.
	Open func(t *testing.T, location string) credentials.Store
	// Shared says two stores may be open on one location at once (from one
	// process, standing in for two processes): true for SQLite and
	// Postgres, false for the embedded file, which one process holds
	// exclusively. The suite then checks that both see one count.
	Shared bool
	// Ephemeral says the store forgets everything when closed (the memory
	// store): the suite then skips its checks across a reopen.
	Ephemeral bool
}

// RunAll runs RunStoreTests and RunGuardStoreTests.
func RunAll(t *testing.T, e Engine) {
	t.Run("Store", func(t *testing.T) { RunStoreTests(t, e) })
	t.Run("GuardStore", func(t *testing.T) { RunGuardStoreTests(t, e) })
}

func (e Engine) open(t *testing.T) (credentials.Store, string) {
	t.Helper()
	loc := t.TempDir()
	return e.Open(t, loc), loc
}

// RunStoreTests checks the credentials.Store contract: profiles, the default
// profile, the runtime profile keyed per device (the address without the
// port) and sorted numerically, copies handed out, persistence, ErrNotFound
// and ErrClosed.
func RunStoreTests(t *testing.T, e Engine) {
	open := func(t *testing.T) credentials.Store { s, _ := e.open(t); return s }
	ctx := t.Context()

	t.Run("profiles", func(t *testing.T) {
		s := open(t)
		ps, err := s.Profiles(ctx)
		require.NoError(t, err)
		assert.Empty(t, ps)

		certPEM, keyPEM := SelfSigned(t)
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
		e := credentials.RuntimeEntry{Technology: credentials.AMT, Credential: cred("admin", "pw"), Profile: "corp", Origin: credentials.Default, LearnedAt: at, Changes: true}
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

	t.Run("runtime per device", func(t *testing.T) {
		s := open(t)
		at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		e := credentials.RuntimeEntry{Credential: cred("admin", "pw"), LearnedAt: at}
		require.NoError(t, s.PutRuntime(ctx, "192.0.2.10:16992", e))
		for _, h := range []string{"192.0.2.10", "192.0.2.10:16993", "192.0.2.10:16994", "192.0.2.10:16995", " 192.0.2.10 "} {
			got, ok, err := s.Runtime(ctx, h)
			require.NoError(t, err)
			require.True(t, ok, "what was learned on 16992 serves %q", h)
			assert.Equal(t, "192.0.2.10", got.Host)
			assert.Equal(t, "pw", got.Credential.Password)
		}
		// A later success on another port replaces the device's one entry.
		require.NoError(t, s.PutRuntime(ctx, "192.0.2.10:16993", credentials.RuntimeEntry{Credential: cred("admin", "pw2"), LearnedAt: at.Add(time.Second)}))
		require.NoError(t, s.MarkRuntimeStale(ctx, "192.0.2.10:16994", cred("admin", "pw2"), at.Add(time.Minute)))
		got, _, err := s.Runtime(ctx, "192.0.2.10")
		require.NoError(t, err)
		assert.Equal(t, "pw2", got.Credential.Password)
		assert.True(t, got.Stale, "marked stale through another port")

		require.NoError(t, s.PutRuntime(ctx, "[2001:db8::1]:16992", e))
		_, ok, err := s.Runtime(ctx, "2001:DB8:0:0::1")
		require.NoError(t, err)
		assert.True(t, ok, "IPv6 addresses in any spelling name one device")
		for _, h := range []string{"192.0.2.100", "192.0.2.9:16993", "10.0.0.1", "b.example", "a.example"} {
			require.NoError(t, s.PutRuntime(ctx, h, e))
		}
		all, err := s.RuntimeEntries(ctx)
		require.NoError(t, err)
		var hosts []string
		for _, x := range all {
			hosts = append(hosts, x.Host)
		}
		assert.Equal(t, []string{"10.0.0.1", "192.0.2.9", "192.0.2.10", "192.0.2.100", "2001:db8::1", "a.example", "b.example"}, hosts,
			"sorted numerically, IPv4 before IPv6, then names")

		require.NoError(t, s.ForgetRuntime(ctx, "192.0.2.10"), "forget works without a port")
		_, ok, err = s.Runtime(ctx, "192.0.2.10:16992")
		require.NoError(t, err)
		assert.False(t, ok)
		require.NoError(t, s.ForgetRuntime(ctx, "192.0.2.9:16992"), "and with any port")
	})

	t.Run("persistent", func(t *testing.T) {
		if e.Ephemeral {
			t.Skip("the store forgets everything when closed")
		}
		s, loc := e.open(t)
		require.NoError(t, s.PutProfile(ctx, amtProfile("corp", "admin", "corp-pw", true)))
		at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		require.NoError(t, s.PutRuntime(ctx, "192.0.2.7:16993", credentials.RuntimeEntry{Credential: cred("admin", "rt-pw"), Profile: "corp", Origin: credentials.Default, LearnedAt: at}))
		require.NoError(t, s.Close())
		s = e.Open(t, loc)
		p, err := s.Profile(ctx, "corp")
		require.NoError(t, err)
		assert.True(t, p.Default)
		assert.Equal(t, "corp-pw", p.Entries[credentials.AMT].Password)
		got, ok, err := s.Runtime(ctx, "192.0.2.7")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "rt-pw", got.Credential.Password)
		assert.Equal(t, credentials.Default, got.Origin)
		assert.True(t, at.Equal(got.LearnedAt))
	})

	t.Run("closed", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.Close())
		_, err := s.Profiles(ctx)
		require.ErrorIs(t, err, credentials.ErrClosed)
		require.ErrorIs(t, s.PutRuntime(ctx, "h", credentials.RuntimeEntry{}), credentials.ErrClosed)
	})
}

func cred(user, password string) credentials.Credential {
	return credentials.Credential{User: user, Password: password}
}

func amtProfile(name, user, password string, def bool) credentials.Profile {
	return credentials.Profile{Name: name, Default: def, Entries: map[credentials.Technology]credentials.Credential{
		credentials.AMT: cred(user, password),
	}}
}

// SelfSigned returns a PEM client certificate and its key, for tests of
// credentials that log in with mutual TLS.
func SelfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "console"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
