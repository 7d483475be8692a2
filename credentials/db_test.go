package credentials_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/amtkit/amtkit/credentials"
)

func openTestDB(t *testing.T, dir string, opts ...credentials.StoreOption) *credentials.DB {
	t.Helper()
	db, err := credentials.Open(filepath.Join(dir, credentials.DatabaseFileName), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// fileState is a file's size and hash, to show a file was left untouched.
func fileState(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	return fmt.Sprintf("%d %x %v", len(b), sha256.Sum256(b), info.ModTime())
}

// populate writes a profile and n runtime entries named prefix-i.
func populate(t *testing.T, s credentials.Store, prefix string, n int) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, s.PutProfile(ctx, amtProfile(prefix, "admin", prefix+"-"+secret, false)))
	for i := range n {
		require.NoError(t, s.PutRuntime(ctx, fmt.Sprintf("%s-%d", prefix, i), credentials.RuntimeEntry{
			Credential: cred("admin", fmt.Sprintf("%s-%d-%s", prefix, i, secret)), Profile: prefix, Origin: credentials.Named,
			LearnedAt: time.Date(2025, 1, 1, 0, 0, i, 0, time.UTC),
		}))
	}
}

// requirePopulated checks what populate wrote.
func requirePopulated(t *testing.T, s credentials.Store, prefix string, n int) {
	t.Helper()
	ctx := t.Context()
	p, err := s.Profile(ctx, prefix)
	require.NoError(t, err)
	assert.Equal(t, prefix+"-"+secret, p.Entries[credentials.AMT].Password)
	for i := range n {
		e, ok, err := s.Runtime(ctx, fmt.Sprintf("%s-%d", prefix, i))
		require.NoError(t, err)
		require.True(t, ok, "%s-%d", prefix, i)
		assert.Equal(t, fmt.Sprintf("%s-%d-%s", prefix, i, secret), e.Credential.Password)
	}
}

func TestDBPersistsAcrossRestarts(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, credentials.DatabaseFileName)
	certPEM, keyPEM := selfSigned(t)

	db, err := credentials.Open(path)
	require.NoError(t, err)
	populate(t, db, "corp", 5)
	withCert := credentials.Profile{Name: "mtls", Default: true, Entries: map[credentials.Technology]credentials.Credential{
		credentials.AMT: {User: "admin", Password: secret, ClientCertPEM: certPEM, ClientKeyPEM: keyPEM},
		credentials.ASF: {User: "asf", Password: secret},
	}}
	require.NoError(t, db.PutProfile(t.Context(), withCert))
	require.NoError(t, db.Close())

	for range 2 {
		db, err = credentials.Open(path)
		require.NoError(t, err)
		requirePopulated(t, db, "corp", 5)
		got, err := db.Profile(t.Context(), "mtls")
		require.NoError(t, err)
		assert.Equal(t, withCert, got)
		all, err := db.RuntimeEntries(t.Context())
		require.NoError(t, err)
		assert.Len(t, all, 5)
		require.NoError(t, db.Close())
	}

	// Learning through a resolver persists too.
	db, err = credentials.Open(path)
	require.NoError(t, err)
	r := newResolver(t, db, credentials.AllowOtherProfiles(true))
	_, _, err = r.Resolve(t.Context(), "learned-host", newDevice("admin", "corp-"+secret).try)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	db = openTestDB(t, dir)
	e, ok, err := db.Runtime(t.Context(), "learned-host")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "corp", e.Profile)
	assert.Equal(t, credentials.Other, e.Origin)
}

func TestDBNeverWritesSecretsInClear(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	db := openTestDB(t, dir)
	populate(t, db, "corp", 3)
	require.NoError(t, db.PutProfile(t.Context(), credentials.Profile{Name: "mtls", Entries: map[credentials.Technology]credentials.Credential{
		credentials.AMT: {User: "mtls-user-name", Password: secret, ClientCertPEM: certPEM, ClientKeyPEM: keyPEM},
	}}))
	// Overwritten and deleted records leave old pages behind; those must be
	// sealed too.
	require.NoError(t, db.PutProfile(t.Context(), amtProfile("corp", "admin", "replaced", false)))
	require.NoError(t, db.DeleteProfile(t.Context(), "mtls"))
	require.NoError(t, db.Close())

	raw, err := os.ReadFile(filepath.Join(dir, credentials.DatabaseFileName))
	require.NoError(t, err)
	for _, needle := range []string{secret, "replaced", "mtls-user-name", "PRIVATE KEY", string(keyPEM[40:80]), "CERTIFICATE", string(certPEM[40:80])} {
		assert.False(t, bytes.Contains(raw, []byte(needle)), "%q is in the database file in clear text", needle)
	}
	assert.True(t, bytes.Contains(raw, []byte("corp-0")), "host names are keys, in clear")
}

func TestDBFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX modes")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b")
	db := openTestDB(t, dir)
	assert.Equal(t, filepath.Join(dir, credentials.KeyFileName), db.KeyFile())
	for path, want := range map[string]os.FileMode{
		dir: 0o700, filepath.Dir(dir): 0o700,
		db.KeyFile(): 0o600, db.Path(): 0o600,
	} {
		info, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, want, info.Mode().Perm(), path)
	}
	key, err := os.ReadFile(db.KeyFile())
	require.NoError(t, err)
	assert.Len(t, key, credentials.KeySize)
	leftovers, err := filepath.Glob(filepath.Join(dir, ".amtkit-key-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers)
}

func TestDBKeyFileLocation(t *testing.T) { // not parallel: Setenv
	dir := t.TempDir()
	keys := filepath.Join(t.TempDir(), "keys")
	envKey := filepath.Join(keys, "from-env.key")
	t.Setenv(credentials.KeyFileEnv, envKey)
	db := openTestDB(t, dir)
	assert.Equal(t, envKey, db.KeyFile())
	assert.FileExists(t, envKey)
	assert.NoFileExists(t, filepath.Join(dir, credentials.KeyFileName))
	populate(t, db, "corp", 1)
	require.NoError(t, db.Close())

	// WithKeyFile wins over the environment.
	optKey := filepath.Join(keys, "from-option.key")
	db2 := openTestDB(t, t.TempDir(), credentials.WithKeyFile(optKey))
	assert.Equal(t, optKey, db2.KeyFile())
	require.NoError(t, db2.Close())

	// An existing key file is used for a new database.
	db3 := openTestDB(t, t.TempDir(), credentials.WithKeyFile(envKey))
	require.NoError(t, db3.Close())
	db = openTestDB(t, dir)
	requirePopulated(t, db, "corp", 1)
}

func TestDBWrongKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, credentials.DatabaseFileName)
	db := openTestDB(t, dir)
	populate(t, db, "corp", 3)
	require.NoError(t, db.Close())
	before := fileState(t, path)

	other := filepath.Join(t.TempDir(), "other.key")
	k := make([]byte, credentials.KeySize)
	_, _ = rand.Read(k)
	require.NoError(t, os.WriteFile(other, k, 0o600))
	_, err := credentials.Open(path, credentials.WithKeyFile(other))
	require.ErrorIs(t, err, credentials.ErrWrongKey)
	assert.Contains(t, err.Error(), other)

	short := filepath.Join(t.TempDir(), "short.key")
	require.NoError(t, os.WriteFile(short, k[:16], 0o600))
	_, err = credentials.Open(path, credentials.WithKeyFile(short))
	require.ErrorIs(t, err, credentials.ErrWrongKey)

	assert.Equal(t, before, fileState(t, path), "the database was not touched")
	db = openTestDB(t, dir)
	requirePopulated(t, db, "corp", 3)
}

func TestDBMissingKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, credentials.DatabaseFileName)
	db := openTestDB(t, dir)
	populate(t, db, "corp", 2)
	require.NoError(t, db.Close())
	before := fileState(t, path)
	keyPath := filepath.Join(dir, credentials.KeyFileName)
	key, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	require.NoError(t, os.Remove(keyPath))

	_, err = credentials.Open(path)
	require.ErrorIs(t, err, credentials.ErrKeyMissing)
	assert.Contains(t, err.Error(), keyPath)
	assert.NoFileExists(t, keyPath, "no new key is made for an existing store")
	assert.Equal(t, before, fileState(t, path))

	require.NoError(t, os.WriteFile(keyPath, key, 0o600))
	db = openTestDB(t, dir)
	requirePopulated(t, db, "corp", 2)
}

func TestDBCorrupt(t *testing.T) {
	t.Parallel()
	real := func(t *testing.T) (string, []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, credentials.DatabaseFileName)
		db := openTestDB(t, dir)
		populate(t, db, "corp", 20)
		require.NoError(t, db.Close())
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		return path, b
	}
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, path string, orig []byte)
	}{
		{"garbage", func(t *testing.T, path string, orig []byte) {
			g := make([]byte, 64<<10)
			_, _ = rand.Read(g)
			require.NoError(t, os.WriteFile(path, g, 0o600))
		}},
		{"text file", func(t *testing.T, path string, orig []byte) {
			require.NoError(t, os.WriteFile(path, []byte("not a database\n"), 0o600))
		}},
		{"truncated after the meta pages", func(t *testing.T, path string, orig []byte) {
			require.NoError(t, os.Truncate(path, 3*4096))
		}},
		{"last page cut off", func(t *testing.T, path string, orig []byte) {
			// The file may be longer than its pages; cut into the pages.
			bdb, err := bolt.Open(path, 0o600, nil)
			require.NoError(t, err)
			var used, page int64
			require.NoError(t, bdb.View(func(tx *bolt.Tx) error {
				used, page = tx.Size(), int64(tx.DB().Info().PageSize)
				return nil
			}))
			require.NoError(t, bdb.Close())
			require.Greater(t, used, 4*page)
			require.NoError(t, os.Truncate(path, used-page))
		}},
		{"truncated inside the first page", func(t *testing.T, path string, orig []byte) {
			require.NoError(t, os.Truncate(path, 100))
		}},
		{"meta pages overwritten", func(t *testing.T, path string, orig []byte) {
			b := bytes.Clone(orig)
			for i := 16; i < 80; i++ {
				b[i] ^= 0xff
				b[4096+i] ^= 0xff
			}
			require.NoError(t, os.WriteFile(path, b, 0o600))
		}},
		{"data pages overwritten", func(t *testing.T, path string, orig []byte) {
			b := bytes.Clone(orig)
			_, _ = rand.Read(b[2*4096:])
			require.NoError(t, os.WriteFile(path, b, 0o600))
		}},
		{"data pages zeroed", func(t *testing.T, path string, orig []byte) {
			b := bytes.Clone(orig)
			clear(b[2*4096:])
			require.NoError(t, os.WriteFile(path, b, 0o600))
		}},
		{"record moved to another key", func(t *testing.T, path string, orig []byte) {
			// The seal binds each record to its key: a swapped record
			// does not open.
			bdb, err := bolt.Open(path, 0o600, nil)
			require.NoError(t, err)
			require.NoError(t, bdb.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte("credentials.runtime"))
				v := bytes.Clone(b.Get([]byte("corp-1")))
				return b.Put([]byte("corp-2"), v)
			}))
			require.NoError(t, bdb.Close())
		}},
		{"record damaged", func(t *testing.T, path string, orig []byte) {
			bdb, err := bolt.Open(path, 0o600, nil)
			require.NoError(t, err)
			require.NoError(t, bdb.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte("credentials.profiles"))
				v := bytes.Clone(b.Get([]byte("corp")))
				v[len(v)-1] ^= 1
				return b.Put([]byte("corp"), v)
			}))
			require.NoError(t, bdb.Close())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, orig := real(t)
			tc.corrupt(t, path, orig)
			before := fileState(t, path)
			_, err := credentials.Open(path)
			require.ErrorIs(t, err, credentials.ErrCorrupt)
			assert.Contains(t, err.Error(), path)
			assert.Equal(t, before, fileState(t, path), "a corrupt file is left as it is")
		})
	}
}

func TestDBNewerSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, credentials.DatabaseFileName)
	db := openTestDB(t, dir)
	populate(t, db, "corp", 2)
	require.NoError(t, db.Close())

	bdb, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, bdb.Update(func(tx *bolt.Tx) error {
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], credentials.SchemaVersion+1)
		return tx.Bucket([]byte("credentials.meta")).Put([]byte("schema"), v[:])
	}))
	require.NoError(t, bdb.Close())
	before := fileState(t, path)

	_, err = credentials.Open(path)
	require.ErrorIs(t, err, credentials.ErrNewerSchema)
	assert.Contains(t, err.Error(), "schema 2")
	assert.Equal(t, before, fileState(t, path))
}

func TestDBOtherBucketsAreLeftAlone(t *testing.T) {
	t.Parallel()
	// Other state (job records) may share the file.
	dir := t.TempDir()
	path := filepath.Join(dir, credentials.DatabaseFileName)
	bdb, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, bdb.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("jobs"))
		if err != nil {
			return err
		}
		return b.Put([]byte("job-1"), []byte("done"))
	}))
	require.NoError(t, bdb.Close())

	// No credential records yet, so a key may be made.
	db := openTestDB(t, dir)
	populate(t, db, "corp", 2)
	require.NoError(t, db.Close())
	bdb, err = bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, bdb.View(func(tx *bolt.Tx) error {
		assert.Equal(t, []byte("done"), tx.Bucket([]byte("jobs")).Get([]byte("job-1")))
		return nil
	}))
	require.NoError(t, bdb.Close())
	db = openTestDB(t, dir)
	requirePopulated(t, db, "corp", 2)
}

func TestDBManyWriters(t *testing.T) {
	t.Parallel()
	db := openTestDB(t, t.TempDir())
	const goroutines, each = 16, 16
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each*2)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range each {
				host := fmt.Sprintf("host-%d-%d", g, i)
				errs <- db.PutRuntime(ctx, host, credentials.RuntimeEntry{Credential: cred("admin", host), LearnedAt: time.Now()})
				if i%5 == 0 {
					_, err := db.RuntimeEntries(ctx)
					errs <- err
					errs <- db.PutProfile(ctx, amtProfile(fmt.Sprintf("p-%d", g), "admin", host, i == 0))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	all, err := db.RuntimeEntries(t.Context())
	require.NoError(t, err)
	require.Len(t, all, goroutines*each)
	for _, e := range all {
		assert.Equal(t, e.Host, e.Credential.Password)
	}
	ps, err := db.Profiles(t.Context())
	require.NoError(t, err)
	assert.Len(t, ps, goroutines)
	defaults := 0
	for _, p := range ps {
		if p.Default {
			defaults++
		}
	}
	assert.LessOrEqual(t, defaults, 1)
}

// TestFleetLearning resolves many hosts at once against the database store:
// each host accepts one of three profiles; every host ends with the right
// credential learned, and a second pass costs one login per host.
func TestFleetLearning(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openTestDB(t, t.TempDir())
	require.NoError(t, db.PutProfile(ctx, amtProfile("p0", "admin", "pw0", true)))
	require.NoError(t, db.PutProfile(ctx, amtProfile("p1", "admin", "pw1", false)))
	require.NoError(t, db.PutProfile(ctx, amtProfile("p2", "admin", "pw2", false)))
	// Reaching the third profile takes two failures and then a third login,
	// which the guard allows only with K=3 (a device locking after four
	// failures). With the default K=2 the third profile waits for the window.
	g := credentials.NewGuard(3, time.Hour)
	r := newResolver(t, db, credentials.AllowOtherProfiles(true), credentials.WithGuard(g))

	const hosts = 120
	devs := make([]*device, hosts)
	for i := range devs {
		devs[i] = newDevice("admin", fmt.Sprintf("pw%d", i%3))
	}
	run := func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i, d := range devs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				got, _, err := r.Resolve(ctx, fmt.Sprintf("10.0.0.%d", i), d.try)
				assert.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("p%d", i%3), got.Profile)
			}()
		}
		wg.Wait()
	}
	run()
	for i, d := range devs {
		assert.Equal(t, i%3+1, d.count(), "host %d", i)
	}
	run()
	for i, d := range devs {
		assert.Equal(t, i%3+2, d.count(), "host %d: one more login", i)
		e, ok, err := db.Runtime(ctx, fmt.Sprintf("10.0.0.%d", i))
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, fmt.Sprintf("pw%d", i%3), e.Credential.Password)
	}
}

// The second process of TestSecondProcess runs this test with childEnv set to
// the database path. It opens the store, writes, reports "ready", waits for
// its stdin to close, writes more, and exits.
const childEnv = "AMTKIT_CREDENTIALS_TEST_CHILD_DB"

func TestChildProcess(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("runs only as the second process of TestSecondProcess")
	}
	db, err := credentials.Open(path, credentials.WithLockTimeout(time.Minute))
	require.NoError(t, err)
	populate(t, db, "child", 10)
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for i := 10; i < 20; i++ {
		require.NoError(t, db.PutRuntime(t.Context(), fmt.Sprintf("child-%d", i), credentials.RuntimeEntry{
			Credential: cred("admin", fmt.Sprintf("child-%d-%s", i, secret)),
		}))
	}
	require.NoError(t, db.Close())
}

// syncBuffer is a bytes.Buffer that a child process's output may be copied
// into while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSecondProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, credentials.DatabaseFileName)
	db, err := credentials.Open(path)
	require.NoError(t, err)
	populate(t, db, "parent", 10)
	require.NoError(t, db.Close())

	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := bufio.NewScanner(stdout)
	var childOut strings.Builder
	for lines.Scan() {
		childOut.WriteString(lines.Text() + "\n")
		if lines.Text() == "ready" {
			break
		}
	}
	require.Contains(t, childOut.String(), "ready", "child: %s %s", childOut.String(), stderr.String())

	// The child holds the store: a short wait ends in a clear error.
	_, err = credentials.Open(path, credentials.WithLockTimeout(100*time.Millisecond))
	require.ErrorIs(t, err, credentials.ErrLocked)
	assert.Contains(t, err.Error(), "in use by another process")
	_, err = credentials.Open(path, credentials.WithLockTimeout(0))
	require.ErrorIs(t, err, credentials.ErrLocked)

	// A patient Open waits for the child to finish.
	opened := make(chan *credentials.DB, 1)
	openErr := make(chan error, 1)
	go func() {
		db, err := credentials.Open(path, credentials.WithLockTimeout(time.Minute))
		openErr <- err
		opened <- db
	}()
	require.NoError(t, stdin.Close())
	rest, _ := io.ReadAll(stdout)
	require.NoError(t, cmd.Wait(), "child: %s%s %s", childOut.String(), rest, stderr.String())
	require.NoError(t, <-openErr)
	db = <-opened
	t.Cleanup(func() { _ = db.Close() })

	// No entry of either process is lost.
	requirePopulated(t, db, "parent", 10)
	requirePopulated(t, db, "child", 20)
	all, err := db.RuntimeEntries(t.Context())
	require.NoError(t, err)
	assert.Len(t, all, 30)
}
