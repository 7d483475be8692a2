package statedb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/statedb"
	"github.com/amtkit/amtkit/statedb/statedbtest"
)

const secret = "S3cr3t-Pa55word!xyz"

// each runs fn once per engine.
func each(t *testing.T, fn func(t *testing.T, target string)) {
	for _, e := range statedbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, e.Target(t)) })
	}
}

// keyFor returns the key file a test's database uses: beside a SQLite
// file, in a temporary directory for Postgres.
func keyFor(t testing.TB, target string) string {
	if statedb.IsPostgres(target) {
		return filepath.Join(t.TempDir(), "keys", "amtkit.key")
	}
	return filepath.Join(filepath.Dir(target), "amtkit.key")
}

type testDB struct {
	*statedb.DB
	target, key string
}

func open(t testing.TB, target string, opts ...statedb.Option) testDB {
	t.Helper()
	key := keyFor(t, target)
	db, err := statedb.Open(context.Background(), target, append([]statedb.Option{statedb.WithKeyFile(key)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return testDB{DB: db, target: target, key: key}
}

func (d testDB) reopen(t testing.TB) *statedb.DB {
	t.Helper()
	db, err := statedb.Open(context.Background(), d.target, statedb.WithKeyFile(d.key))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestOpenLaysOutBothSchemas(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		db := open(t, target)
		v, err := db.Schema(context.Background())
		require.NoError(t, err)
		assert.Equal(t, v.AmtkitKnown, v.Amtkit)
		assert.Positive(t, v.Amtkit)
		assert.Equal(t, v.RiverKnown, v.River)
		assert.Positive(t, v.River)
		require.NoError(t, db.Close())
		// A second open finds everything in place.
		db2 := db.reopen(t)
		v2, err := db2.Schema(context.Background())
		require.NoError(t, err)
		assert.Equal(t, v, v2)
	})
}

func TestCredentialStore(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		db := open(t, target)
		s := db.Credentials()

		_, err := s.Profile(ctx, "none")
		require.ErrorIs(t, err, credentials.ErrNotFound)
		require.ErrorIs(t, s.DeleteProfile(ctx, "none"), credentials.ErrNotFound)
		require.ErrorIs(t, s.SetDefault(ctx, "none"), credentials.ErrNotFound)

		office := credentials.Profile{Name: "office", Default: true, Entries: map[credentials.Technology]credentials.Credential{
			credentials.AMT: {User: "admin", Password: secret},
			credentials.WMI: {User: `DOM\ops`, Password: "w", Kerberos: true},
		}}
		lab := credentials.Profile{Name: "lab", Entries: map[credentials.Technology]credentials.Credential{
			credentials.AMT: {User: "labadmin", Password: "lab-pass"},
		}}
		require.NoError(t, s.PutProfile(ctx, office))
		require.NoError(t, s.PutProfile(ctx, lab))
		got, err := s.Profile(ctx, "office")
		require.NoError(t, err)
		assert.Equal(t, office, got)
		all, err := s.Profiles(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, []string{"lab", "office"}, []string{all[0].Name, all[1].Name})

		// One default at a time.
		lab.Default = true
		require.NoError(t, s.PutProfile(ctx, lab))
		all, _ = s.Profiles(ctx)
		assert.True(t, all[0].Default)
		assert.False(t, all[1].Default)
		require.NoError(t, s.SetDefault(ctx, "office"))
		all, _ = s.Profiles(ctx)
		assert.False(t, all[0].Default)
		assert.True(t, all[1].Default)
		require.NoError(t, s.DeleteProfile(ctx, "lab"))
		all, _ = s.Profiles(ctx)
		require.Len(t, all, 1)

		// The runtime profile.
		_, ok, err := s.Runtime(ctx, "10.0.0.1")
		require.NoError(t, err)
		assert.False(t, ok)
		learned := time.Date(2026, 3, 1, 12, 0, 0, 123000, time.UTC)
		e := credentials.RuntimeEntry{Credential: credentials.Credential{User: "admin", Password: secret}, Profile: "office", Origin: credentials.Default, LearnedAt: learned}
		require.NoError(t, s.PutRuntime(ctx, " 10.0.0.2 ", e))
		require.NoError(t, s.PutRuntime(ctx, "10.0.0.1", e))
		got1, ok, err := s.Runtime(ctx, "10.0.0.2")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "10.0.0.2", got1.Host)
		assert.Equal(t, secret, got1.Credential.Password)
		assert.True(t, learned.Equal(got1.LearnedAt))
		assert.False(t, got1.Stale)

		// Stale only while it still holds that credential.
		require.NoError(t, s.MarkRuntimeStale(ctx, "10.0.0.2", credentials.Credential{User: "admin", Password: "other"}, learned))
		got1, _, _ = s.Runtime(ctx, "10.0.0.2")
		assert.False(t, got1.Stale)
		staleAt := learned.Add(time.Hour)
		require.NoError(t, s.MarkRuntimeStale(ctx, "10.0.0.2", e.Credential, staleAt))
		got1, _, _ = s.Runtime(ctx, "10.0.0.2")
		assert.True(t, got1.Stale)
		assert.True(t, staleAt.Equal(got1.StaleAt))
		require.NoError(t, s.MarkRuntimeStale(ctx, "10.9.9.9", e.Credential, staleAt))

		entries, err := s.RuntimeEntries(ctx)
		require.NoError(t, err)
		require.Len(t, entries, 2)
		assert.Equal(t, "10.0.0.1", entries[0].Host)
		require.NoError(t, s.ForgetRuntime(ctx, "10.0.0.1"))
		require.ErrorIs(t, s.ForgetRuntime(ctx, "10.0.0.1"), credentials.ErrNotFound)

		// What was written is read back by another connection.
		require.NoError(t, db.Close())
		s2 := db.reopen(t).Credentials()
		got, err = s2.Profile(ctx, "office")
		require.NoError(t, err)
		assert.Equal(t, secret, got.Entries[credentials.AMT].Password)

		require.NoError(t, s2.Close())
		_, err = s2.Profiles(ctx)
		require.ErrorIs(t, err, credentials.ErrClosed)
	})
}

// TestCredentialStoreWithResolver runs the credentials package's resolver
// over the store: it learns what works and reads it back.
func TestCredentialStoreWithResolver(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		s := open(t, target).Credentials()
		require.NoError(t, s.PutProfile(ctx, credentials.Profile{Name: "p", Default: true,
			Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: "admin", Password: secret}}}))
		r, err := credentials.NewResolver(s)
		require.NoError(t, err)
		cand, _, err := r.Resolve(ctx, "192.0.2.7", func(ctx context.Context, c credentials.Credential) error {
			if c.Password != secret {
				return credentials.ErrAuthFailed
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, "p", cand.Profile)
		e, ok, err := s.Runtime(ctx, "192.0.2.7")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "p", e.Profile)
	})
}

func TestActivityLog(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		db := open(t, target)
		w := db.Activity()
		base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		code := 2
		for i := range 10 {
			a := amt.Activity{
				Time: base.Add(time.Duration(i) * time.Minute), Actor: "alice", Host: "10.0.0.1", Operation: "power reset",
				Params: map[string]string{"wait": "false"}, Technology: amt.TechWSMan, Profile: "office", Outcome: amt.OutcomeOK,
				Duration: 1500 * time.Millisecond,
			}
			if i%2 == 1 {
				a.Actor, a.Host, a.Operation = "bob", "10.0.0.2", "boot next pxe"
				a.Outcome, a.ReturnCode, a.ReturnCodeName = "device_error", &code, "Unsupported"
			}
			w.Record(a)
		}
		require.NoError(t, w.Flush())

		all, err := db.QueryActivity(ctx, statedb.ActivityFilter{})
		require.NoError(t, err)
		require.Len(t, all, 10)
		assert.True(t, base.Equal(all[0].Time))
		assert.Equal(t, "power reset", all[0].Operation)
		assert.Equal(t, map[string]string{"wait": "false"}, all[0].Params)
		assert.Equal(t, 1500*time.Millisecond, all[0].Duration)
		assert.Nil(t, all[0].ReturnCode)
		require.NotNil(t, all[1].ReturnCode)
		assert.Equal(t, 2, *all[1].ReturnCode)

		bob, err := db.QueryActivity(ctx, statedb.ActivityFilter{Actor: "bob"})
		require.NoError(t, err)
		assert.Len(t, bob, 5)
		host, err := db.QueryActivity(ctx, statedb.ActivityFilter{Host: "10.0.0.1", Operation: "power"})
		require.NoError(t, err)
		assert.Len(t, host, 5)
		none, err := db.QueryActivity(ctx, statedb.ActivityFilter{Operation: "pow"})
		require.NoError(t, err)
		assert.Empty(t, none, "an operation filter matches whole words")
		window, err := db.QueryActivity(ctx, statedb.ActivityFilter{Since: base.Add(2 * time.Minute), Until: base.Add(5 * time.Minute)})
		require.NoError(t, err)
		assert.Len(t, window, 3)

		st, err := db.ActivityStats(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 10, st.Count)
		require.NotNil(t, st.Oldest)
		assert.True(t, base.Equal(*st.Oldest))

		n, err := db.PurgeActivity(ctx, base.Add(4*time.Minute))
		require.NoError(t, err)
		assert.EqualValues(t, 4, n)
		st, err = db.ActivityStats(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 6, st.Count)
		require.NotNil(t, st.LastPurge)
		assert.WithinDuration(t, time.Now(), *st.LastPurge, time.Minute)
	})
}

// TestActivityAutoPurge: writing the log purges entries past the retention
// when the last purge is more than a day old.
func TestActivityAutoPurge(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		db := open(t, target, statedb.WithRetention(30*24*time.Hour))
		w := db.Activity()
		w.Record(amt.Activity{Time: time.Now().Add(-40 * 24 * time.Hour), Host: "old", Operation: "info", Outcome: amt.OutcomeOK})
		w.Record(amt.Activity{Time: time.Now(), Host: "new", Operation: "info", Outcome: amt.OutcomeOK})
		require.NoError(t, w.Flush())
		all, err := db.QueryActivity(ctx, statedb.ActivityFilter{})
		require.NoError(t, err)
		require.Len(t, all, 1)
		assert.Equal(t, "new", all[0].Host)
		st, err := db.ActivityStats(ctx)
		require.NoError(t, err)
		require.NotNil(t, st.LastPurge)
	})
}

// TestActivityCloseWritesEverything: entries recorded just before Close are
// written by it.
func TestActivityCloseWritesEverything(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		db := open(t, target)
		for range 1000 {
			db.Activity().Record(amt.Activity{Host: "h", Operation: "info", Outcome: amt.OutcomeOK})
		}
		require.NoError(t, db.Close())
		st, err := db.reopen(t).ActivityStats(context.Background())
		require.NoError(t, err)
		assert.EqualValues(t, 1000, st.Count)
	})
}

func TestWrongAndMissingKey(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		db := open(t, target)
		require.NoError(t, db.Credentials().PutProfile(ctx, credentials.Profile{Name: "p",
			Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: "admin", Password: secret}}}))
		require.NoError(t, db.Close())

		other := filepath.Join(t.TempDir(), "keys", "other.key")
		_, err := statedb.Open(ctx, target, statedb.WithKeyFile(other))
		// A missing key for a database with secrets is not made afresh.
		require.ErrorIs(t, err, statedb.ErrKeyMissing)
		assert.Contains(t, err.Error(), other)
		_, statErr := os.Stat(other)
		assert.ErrorIs(t, statErr, os.ErrNotExist)

		require.NoError(t, os.MkdirAll(filepath.Dir(other), 0o700))
		require.NoError(t, os.WriteFile(other, make([]byte, statedb.KeySize), 0o600))
		_, err = statedb.Open(ctx, target, statedb.WithKeyFile(other))
		require.ErrorIs(t, err, statedb.ErrWrongKey)

		require.NoError(t, os.WriteFile(other, []byte("short"), 0o600))
		_, err = statedb.Open(ctx, target, statedb.WithKeyFile(other))
		require.ErrorIs(t, err, statedb.ErrWrongKey)

		// The right key still opens it, with everything in place.
		p, err := db.reopen(t).Credentials().Profile(ctx, "p")
		require.NoError(t, err)
		assert.Equal(t, secret, p.Entries[credentials.AMT].Password)
	})
}

func TestNewerSchemaRefused(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		db := open(t, target)
		_, err := db.SQL().ExecContext(ctx, "INSERT INTO "+statedb.SchemaTable+" (version_id, is_applied) VALUES (9999, true)")
		require.NoError(t, err)
		require.NoError(t, db.Close())
		_, err = statedb.Open(ctx, target, statedb.WithKeyFile(db.key))
		require.ErrorIs(t, err, statedb.ErrNewerSchema)
		assert.Contains(t, err.Error(), "upgrade amtkit")
	})
}

func TestSealingIsRandomised(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		db := open(t, target)
		s := db.Credentials()
		p := credentials.Profile{Name: "p", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: "admin", Password: secret}}}
		var sealed [2][]byte
		for i := range sealed {
			require.NoError(t, s.PutProfile(ctx, p))
			require.NoError(t, db.SQL().QueryRowContext(ctx, "SELECT sealed FROM amtkit_profile WHERE name = 'p'").Scan(&sealed[i]))
		}
		assert.NotEqual(t, sealed[0], sealed[1], "two sealings of the same secret must differ (random nonce)")
		assert.NotEqual(t, sealed[0][1:13], sealed[1][1:13], "nonces differ")
	})
}

// TestSealedValuesAreBound: a sealed value copied to another row does not
// open.
func TestSealedValuesAreBound(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		db := open(t, target)
		s := db.Credentials()
		e := credentials.RuntimeEntry{Credential: credentials.Credential{User: "admin", Password: secret}, LearnedAt: time.Now()}
		require.NoError(t, s.PutRuntime(ctx, "a", e))
		require.NoError(t, s.PutRuntime(ctx, "b", credentials.RuntimeEntry{Credential: credentials.Credential{User: "x", Password: "y"}, LearnedAt: time.Now()}))
		_, err := db.SQL().ExecContext(ctx, "UPDATE amtkit_runtime SET sealed = (SELECT sealed FROM amtkit_runtime WHERE device = 'a') WHERE device = 'b'")
		require.NoError(t, err)
		_, _, err = s.Runtime(ctx, "b")
		require.ErrorIs(t, err, statedb.ErrCorrupt)
	})
}

func TestUnknownTargetNeverFallsBack(t *testing.T) {
	// A Postgres URL that cannot be reached is an error, not a SQLite file.
	dir := t.TempDir()
	t.Setenv("AMTKIT_STATE", dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := statedb.Open(ctx, "postgres://amtkit:"+secret+"@127.0.0.1:1/amtkit?sslmode=disable", statedb.WithKeyFile(filepath.Join(dir, "k")))
	require.Error(t, err)
	require.ErrorIs(t, err, statedb.ErrUnavailable)
	assert.NotContains(t, err.Error(), secret)
	entries, _ := os.ReadDir(dir)
	assert.Empty(t, entries, "nothing was created locally")
}

func TestClosedDatabase(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		db := open(t, target)
		require.NoError(t, db.Close())
		_, err := db.Credentials().Profiles(context.Background())
		require.True(t, errors.Is(err, statedb.ErrClosed), "got %v", err)
		_, err = db.QueryActivity(context.Background(), statedb.ActivityFilter{})
		require.ErrorIs(t, err, statedb.ErrClosed)
	})
}

// TestActivityBatchSizes: batches of every size up to and past the largest
// prepared INSERT keep every entry, with its own values, in order.
func TestActivityBatchSizes(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		db := open(t, target)
		w := db.Activity()
		base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
		code := 7
		seq := 0
		for _, n := range []int{1, 7, 8, 9, 63, 64, 65, 150} {
			for range n {
				a := amt.Activity{Time: base.Add(time.Duration(seq) * time.Millisecond), Host: fmt.Sprintf("10.0.%d.%d", seq/256, seq%256),
					Operation: "info", Outcome: amt.OutcomeOK, Job: strconv.Itoa(n), Duration: time.Duration(seq) * time.Microsecond}
				if seq%3 == 0 {
					a.ReturnCode = &code
				}
				w.Record(a)
				seq++
			}
			require.NoError(t, w.Flush())
		}
		all, err := db.QueryActivity(ctx, statedb.ActivityFilter{})
		require.NoError(t, err)
		require.Len(t, all, seq)
		for i, e := range all {
			assert.Equal(t, fmt.Sprintf("10.0.%d.%d", i/256, i%256), e.Host)
			assert.Equal(t, time.Duration(i)*time.Microsecond, e.Duration)
			assert.Equal(t, i%3 == 0, e.ReturnCode != nil, "entry %d", i)
		}
	})
}
