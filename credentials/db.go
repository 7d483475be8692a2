package credentials

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the version of the store's layout this package writes. A
// store written with a higher version is refused with ErrNewerSchema.
const SchemaVersion = 1

// DefaultLockTimeout is how long Open waits for another process to release
// the store.
const DefaultLockTimeout = 5 * time.Second

// KeySize is the size of the key in a key file: an AES-256 key.
const KeySize = 32

var (
	bucketMeta     = []byte("credentials.meta")
	bucketProfiles = []byte("credentials.profiles")
	bucketRuntime  = []byte("credentials.runtime")

	keySchema  = []byte("schema")
	keyCheck   = []byte("key-check")
	keyDefault = []byte("default-profile")

	checkPlaintext = []byte("amtkit credential store key check v1")
)

const sealVersion = 1

// DB is the embedded credential store: a bbolt database file whose records
// are sealed with AES-256-GCM under a key kept in a separate key file.
//
// While a DB is open its process holds the file's lock; a second process's
// Open waits up to the lock timeout and then fails with ErrLocked. A DB is
// safe for concurrent use by many goroutines; every write is one transaction.
type DB struct {
	path    string
	keyPath string
	bolt    *bolt.DB
	sealer  *Sealer
	macKey  []byte // keys the lockout guard's candidate hashes
}

var (
	_ Store      = (*DB)(nil)
	_ GuardStore = (*DB)(nil)
)

// StoreOption configures Open.
type StoreOption func(*storeConfig) error

type storeConfig struct {
	keyFile     string
	lockTimeout time.Duration
}

// WithKeyFile names the key file, overriding AMTKIT_KEY_FILE and the default
// amtkit.key beside the database.
func WithKeyFile(path string) StoreOption {
	return func(c *storeConfig) error {
		if path == "" {
			return fmt.Errorf("credentials: WithKeyFile needs a path")
		}
		c.keyFile = path
		return nil
	}
}

// WithLockTimeout sets how long Open waits for another process to release the
// store (default DefaultLockTimeout). Zero means do not wait.
func WithLockTimeout(d time.Duration) StoreOption {
	return func(c *storeConfig) error {
		if d < 0 {
			return fmt.Errorf("credentials: negative lock timeout %v", d)
		}
		c.lockTimeout = d
		return nil
	}
}

// KeyFileEnv names the environment variable that overrides the key file's
// location.
const KeyFileEnv = "AMTKIT_KEY_FILE"

// KeyFileName is the key file's name beside the database by default.
const KeyFileName = "amtkit.key"

// Open opens the credential store at path, creating it (and its directory,
// with mode 0700) when it does not exist.
//
// The key file is the one named by WithKeyFile, else by $AMTKIT_KEY_FILE, else
// amtkit.key beside the database. When the key file does not exist and the
// database holds no credential records yet (it is new, or holds only other
// state), a random key is written to it with mode 0600; when the database
// holds credential records, Open fails with ErrKeyMissing rather than make a
// key that could open none of them.
//
// Open never rewrites or resets an existing file it cannot read: a damaged
// file gives ErrCorrupt, another key ErrWrongKey, a newer layout
// ErrNewerSchema, and a store held by another process ErrLocked.
func Open(path string, opts ...StoreOption) (*DB, error) {
	cfg := storeConfig{lockTimeout: DefaultLockTimeout}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if path == "" {
		return nil, fmt.Errorf("credentials: Open needs a path")
	}
	keyPath := cfg.keyFile
	if keyPath == "" {
		keyPath = os.Getenv(KeyFileEnv)
	}
	if keyPath == "" {
		keyPath = filepath.Join(filepath.Dir(path), KeyFileName)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("credentials: creating the state directory: %w", err)
	}

	exists := false
	switch info, err := os.Stat(path); {
	case err == nil:
		if info.IsDir() {
			return nil, fmt.Errorf("credentials: %s is a directory, not a credential store", path)
		}
		exists = info.Size() > 0
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if exists {
		// bbolt maps the file and trusts its header; a truncated file would
		// fault on first access instead of returning an error.
		if err := checkBoltFile(path); err != nil {
			return nil, fmt.Errorf("credentials: %s: %w: %w", path, ErrCorrupt, err)
		}
	}

	timeout := cfg.lockTimeout
	if timeout == 0 {
		timeout = time.Nanosecond // bbolt waits forever on zero
	}
	bdb, err := openBolt(path, timeout)
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("credentials: %s: %w (waited %v)", path, ErrLocked, cfg.lockTimeout)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
			errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
			return nil, fmt.Errorf("credentials: %s: %w: %w", path, ErrCorrupt, err)
		}
		return nil, fmt.Errorf("credentials: opening %s: %w", path, err)
	}

	// The key is read or made while the file is locked, so that two
	// processes opening a new store agree on it.
	key, err := loadKey(bdb, path, keyPath)
	if err != nil {
		_ = bdb.Close()
		return nil, err
	}
	sealer, err := NewSealer(key)
	if err != nil {
		_ = bdb.Close()
		return nil, err
	}
	// Learning writes from many resolutions at once are folded into shared
	// transactions; a lone writer waits at most this long for company.
	bdb.MaxBatchDelay = 2 * time.Millisecond
	d := &DB{path: path, keyPath: keyPath, bolt: bdb, sealer: sealer, macKey: key}
	if err := d.init(); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	return d, nil
}

// openBolt opens the file with bbolt, turning a panic on a damaged file
// (bbolt asserts rather than returns on some damaged pages) into ErrCorrupt.
// The damaged file stays mapped and locked by this process in that case.
func openBolt(path string, timeout time.Duration) (bdb *bolt.DB, err error) {
	var file *os.File
	defer func() {
		if p := recover(); p != nil {
			if file != nil {
				_ = file.Close()
			}
			bdb, err = nil, fmt.Errorf("%w: %v", berrors.ErrInvalid, p)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return bolt.Open(path, 0o600, &bolt.Options{
		Timeout: timeout,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
}

// loadKey reads the key file, or makes one when the store holds no credential
// records yet (a new file, or one that so far holds only other state).
func loadKey(bdb *bolt.DB, path, keyPath string) ([]byte, error) {
	key, err := readKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		var laidOut bool
		verr := bdb.View(func(tx *bolt.Tx) error {
			laidOut = tx.Bucket(bucketMeta) != nil
			return nil
		})
		if verr != nil {
			return nil, fmt.Errorf("credentials: %s: %w", path, verr)
		}
		if laidOut {
			return nil, fmt.Errorf("credentials: %w: %s (the store %s cannot be read without it; restore the key file or set %s)",
				ErrKeyMissing, keyPath, path, KeyFileEnv)
		}
		key, err = createKey(keyPath)
	}
	if err != nil {
		return nil, err
	}
	return key, nil
}

// Path returns the database file's path.
func (d *DB) Path() string { return d.path }

// KeyFile returns the key file's path.
func (d *DB) KeyFile() string { return d.keyPath }

// init checks an existing store (schema, key, every record) without writing,
// and lays out a new one.
func (d *DB) init() error {
	fresh := false
	err := d.view(context.Background(), func(tx *bolt.Tx) error {
		// A fault reading the mapped file is a damaged file, not a crash.
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if tx.Bucket(bucketProfiles) != nil || tx.Bucket(bucketRuntime) != nil {
				return fmt.Errorf("%w: records without a schema", ErrCorrupt)
			}
			fresh = true
			return nil
		}
		v := meta.Get(keySchema)
		if len(v) != 4 {
			return fmt.Errorf("%w: no schema version", ErrCorrupt)
		}
		if got := binary.BigEndian.Uint32(v); got > SchemaVersion {
			return fmt.Errorf("%w (schema %d; this build reads up to %d)", ErrNewerSchema, got, SchemaVersion)
		}
		check := meta.Get(keyCheck)
		if check == nil {
			return fmt.Errorf("%w: no key check value", ErrCorrupt)
		}
		pt, err := d.open(bucketMeta, keyCheck, check)
		if err != nil || !bytes.Equal(pt, checkPlaintext) {
			return fmt.Errorf("%w (key file %s)", ErrWrongKey, d.keyPath)
		}
		for _, name := range [][]byte{bucketProfiles, bucketRuntime} {
			b := tx.Bucket(name)
			if b == nil {
				return fmt.Errorf("%w: bucket %s is missing", ErrCorrupt, name)
			}
			if err := b.ForEach(func(k, v []byte) error {
				if v == nil {
					return fmt.Errorf("%w: unexpected bucket %q in %s", ErrCorrupt, k, name)
				}
				if _, err := d.open(name, k, v); err != nil {
					return err
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("credentials: %s: %w", d.path, err)
	}
	if !fresh {
		return nil
	}
	return d.update(context.Background(), func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if meta.Get(keySchema) != nil {
			return nil // another process laid it out between our view and update
		}
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], SchemaVersion)
		if err := meta.Put(keySchema, v[:]); err != nil {
			return err
		}
		sealed, err := d.seal(bucketMeta, keyCheck, checkPlaintext)
		if err != nil {
			return err
		}
		if err := meta.Put(keyCheck, sealed); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketProfiles, bucketRuntime} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close closes the database and releases its lock.
func (d *DB) Close() error {
	if err := d.bolt.Close(); err != nil {
		return fmt.Errorf("credentials: closing %s: %w", d.path, err)
	}
	return nil
}

func (d *DB) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	return d.txn(ctx, d.bolt.View, fn)
}

func (d *DB) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	return d.txn(ctx, d.bolt.Update, fn)
}

// batch is for the small, idempotent writes that many goroutines make at once
// (learning): bbolt folds them into fewer transactions.
func (d *DB) batch(ctx context.Context, fn func(*bolt.Tx) error) error {
	return d.txn(ctx, d.bolt.Batch, fn)
}

func (d *DB) txn(ctx context.Context, run func(func(*bolt.Tx) error) error, fn func(*bolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer func() {
		// bbolt panics on some damaged pages; that is a corrupt store, and
		// the transaction has already been rolled back by then.
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, p)
		}
	}()
	err = run(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Records.

type credRecord struct {
	User     string `json:"u"`
	Password string `json:"p,omitempty"`
	Kerberos bool   `json:"k,omitempty"`
	CertPEM  []byte `json:"c,omitempty"`
	KeyPEM   []byte `json:"ck,omitempty"`
}

func toRecord(c Credential) credRecord {
	return credRecord{User: c.User, Password: c.Password, Kerberos: c.Kerberos, CertPEM: c.ClientCertPEM, KeyPEM: c.ClientKeyPEM}
}

func (r credRecord) credential() Credential {
	return Credential{User: r.User, Password: r.Password, Kerberos: r.Kerberos, ClientCertPEM: r.CertPEM, ClientKeyPEM: r.KeyPEM}
}

type profileRecord struct {
	Name    string                    `json:"name"`
	Entries map[Technology]credRecord `json:"entries"`
}

type runtimeRecord struct {
	Host       string     `json:"host"`
	Technology Technology `json:"tech,omitempty"`
	Credential credRecord `json:"cred"`
	Profile    string     `json:"profile,omitempty"`
	Origin     Origin     `json:"origin,omitempty"`
	LearnedAt  time.Time  `json:"learned"`
	Stale      bool       `json:"stale,omitempty"`
	StaleAt    time.Time  `json:"stale_at,omitzero"`
}

func (d *DB) putRecord(b *bolt.Bucket, bucket, key []byte, v any) error {
	pt, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sealed, err := d.seal(bucket, key, pt)
	if err != nil {
		return err
	}
	return b.Put(key, sealed)
}

func (d *DB) getRecord(bucket, key, sealed []byte, v any) error {
	pt, err := d.open(bucket, key, sealed)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(pt, v); err != nil {
		return fmt.Errorf("%w: record %q in %s: %v", ErrCorrupt, key, bucket, err)
	}
	return nil
}

func (d *DB) readProfile(tx *bolt.Tx, name []byte, sealed []byte) (Profile, error) {
	var rec profileRecord
	if err := d.getRecord(bucketProfiles, name, sealed, &rec); err != nil {
		return Profile{}, err
	}
	p := Profile{Name: rec.Name, Default: bytes.Equal(tx.Bucket(bucketMeta).Get(keyDefault), name)}
	if len(rec.Entries) > 0 {
		p.Entries = make(map[Technology]Credential, len(rec.Entries))
		for t, c := range rec.Entries {
			p.Entries[t] = c.credential()
		}
	}
	return p, nil
}

func (d *DB) Profiles(ctx context.Context) ([]Profile, error) {
	var out []Profile
	err := d.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProfiles).ForEach(func(k, v []byte) error {
			p, err := d.readProfile(tx, k, v)
			if err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return out, nil // bbolt iterates in key order, i.e. by name
}

func (d *DB) Profile(ctx context.Context, name string) (Profile, error) {
	var p Profile
	err := d.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketProfiles).Get([]byte(name))
		if v == nil {
			return notFound("profile", name)
		}
		var err error
		p, err = d.readProfile(tx, []byte(name), v)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Profile{}, fmt.Errorf("credentials: %w", err)
	}
	return p, err
}

func (d *DB) PutProfile(ctx context.Context, p Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	rec := profileRecord{Name: p.Name, Entries: make(map[Technology]credRecord, len(p.Entries))}
	for t, c := range p.Entries {
		rec.Entries[t] = toRecord(c)
	}
	name := []byte(p.Name)
	err := d.update(ctx, func(tx *bolt.Tx) error {
		if err := d.putRecord(tx.Bucket(bucketProfiles), bucketProfiles, name, rec); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		switch {
		case p.Default:
			return meta.Put(keyDefault, name)
		case bytes.Equal(meta.Get(keyDefault), name):
			return meta.Delete(keyDefault)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("credentials: storing profile %q: %w", p.Name, err)
	}
	return nil
}

func (d *DB) DeleteProfile(ctx context.Context, name string) error {
	err := d.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketProfiles)
		if b.Get([]byte(name)) == nil {
			return notFound("profile", name)
		}
		if err := b.Delete([]byte(name)); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if bytes.Equal(meta.Get(keyDefault), []byte(name)) {
			return meta.Delete(keyDefault)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("credentials: deleting profile %q: %w", name, err)
	}
	return err
}

func (d *DB) SetDefault(ctx context.Context, name string) error {
	err := d.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketProfiles).Get([]byte(name)) == nil {
			return notFound("profile", name)
		}
		return tx.Bucket(bucketMeta).Put(keyDefault, []byte(name))
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("credentials: setting the default profile: %w", err)
	}
	return err
}

func (d *DB) readRuntime(key, sealed []byte) (RuntimeEntry, error) {
	var rec runtimeRecord
	if err := d.getRecord(bucketRuntime, key, sealed, &rec); err != nil {
		return RuntimeEntry{}, err
	}
	return RuntimeEntry{
		Host: rec.Host, Technology: rec.Technology, Credential: rec.Credential.credential(),
		Profile: rec.Profile, Origin: rec.Origin, LearnedAt: rec.LearnedAt, Stale: rec.Stale, StaleAt: rec.StaleAt,
	}, nil
}

func (d *DB) Runtime(ctx context.Context, host string) (RuntimeEntry, bool, error) {
	var (
		e  RuntimeEntry
		ok bool
	)
	key := []byte(hostKey(host))
	err := d.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRuntime).Get(key)
		if v == nil {
			return nil
		}
		var err error
		e, err = d.readRuntime(key, v)
		ok = err == nil
		return err
	})
	if err != nil {
		return RuntimeEntry{}, false, fmt.Errorf("credentials: %w", err)
	}
	return e, ok, nil
}

func (d *DB) PutRuntime(ctx context.Context, host string, e RuntimeEntry) error {
	key, e, err := prepareRuntime(host, e)
	if err != nil {
		return err
	}
	rec := runtimeRecord{
		Host: key, Technology: e.Technology, Credential: toRecord(e.Credential),
		Profile: e.Profile, Origin: e.Origin, LearnedAt: e.LearnedAt, Stale: e.Stale, StaleAt: e.StaleAt,
	}
	err = d.batch(ctx, func(tx *bolt.Tx) error {
		return d.putRecord(tx.Bucket(bucketRuntime), bucketRuntime, []byte(key), rec)
	})
	if err != nil {
		return fmt.Errorf("credentials: storing the runtime entry for %s: %w", key, err)
	}
	return nil
}

func (d *DB) MarkRuntimeStale(ctx context.Context, host string, c Credential, at time.Time) error {
	key := []byte(hostKey(host))
	err := d.batch(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuntime)
		v := b.Get(key)
		if v == nil {
			return nil
		}
		var rec runtimeRecord
		if err := d.getRecord(bucketRuntime, key, v, &rec); err != nil {
			return err
		}
		t := rec.Technology
		if t == "" {
			t = AMT
		}
		if fingerprintOf(t, rec.Credential.credential()) != fingerprintOf(t, c) {
			return nil
		}
		rec.Stale, rec.StaleAt = true, at
		return d.putRecord(b, bucketRuntime, key, rec)
	})
	if err != nil {
		return fmt.Errorf("credentials: marking the runtime entry for %s stale: %w", key, err)
	}
	return nil
}

func (d *DB) RuntimeEntries(ctx context.Context) ([]RuntimeEntry, error) {
	var out []RuntimeEntry
	err := d.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRuntime).ForEach(func(k, v []byte) error {
			e, err := d.readRuntime(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return CompareDevices(out[i].Host, out[j].Host) < 0 })
	return out, nil
}

func (d *DB) ForgetRuntime(ctx context.Context, host string) error {
	key := hostKey(host)
	err := d.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuntime)
		if b.Get([]byte(key)) == nil {
			return notFound("runtime entry for host", key)
		}
		return b.Delete([]byte(key))
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("credentials: forgetting %s: %w", key, err)
	}
	return err
}

// Sealing.

// Sealer seals records with AES-256-GCM: each sealing draws a fresh random
// 96-bit nonce, and the associated data binds a record to where it is
// stored, so that a record copied elsewhere does not open. A sealed record is
// a version byte, the nonce and the ciphertext with its tag. The embedded
// store uses it, and so may other stores that keep credentials under the
// same key file.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a KeySize-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("credentials: a sealing key is %d bytes, not %d", KeySize, len(key))
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return cipher.NewGCM(block)
}

// Seal returns version || nonce || ciphertext of plaintext, bound to ad.
func (s *Sealer) Seal(ad, plaintext []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("credentials: nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:], plaintext, ad), nil
}

// Open returns the plaintext of a record sealed with ad. A record that is
// malformed, sealed under another key or with other associated data gives
// an error matching ErrCorrupt.
func (s *Sealer) Open(ad, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: the sealed record is malformed", ErrCorrupt)
	}
	pt, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w: the sealed record does not open with the key", ErrCorrupt)
	}
	return pt, nil
}

// associatedData binds a sealed record to its bucket and key, so that a record
// copied to another key or bucket does not open.
func associatedData(bucket, key []byte) []byte {
	ad := make([]byte, 0, 24+len(bucket)+len(key))
	ad = append(ad, "amtkit/credentials\x00"...)
	ad = append(ad, bucket...)
	ad = append(ad, 0)
	return append(ad, key...)
}

func (d *DB) seal(bucket, key, plaintext []byte) ([]byte, error) {
	return d.sealer.Seal(associatedData(bucket, key), plaintext)
}

func (d *DB) open(bucket, key, sealed []byte) ([]byte, error) {
	pt, err := d.sealer.Open(associatedData(bucket, key), sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: record %q in %s does not open with the key or is malformed", ErrCorrupt, key, bucket)
	}
	return pt, nil
}

// Key file.

func readKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("credentials: reading the key file: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("credentials: key file %s: %w (it holds %d bytes, a key is %d)", path, ErrWrongKey, len(key), KeySize)
	}
	return key, nil
}

// createKey writes a new random key to path with mode 0600. The key is written
// to a temporary file and linked into place, which fails if path exists, so
// that a reader never sees a partial key and two processes creating the key
// at once end up with the same one.
func createKey(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("credentials: creating the key directory: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("credentials: generating a key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".amtkit-key-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("credentials: creating the key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	_, werr := tmp.Write(key)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("credentials: writing the key file: %w", werr)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKey(path) // another process won the race
		}
		// Some file systems have no hard links; O_EXCL is still exclusive.
		if err := writeKeyExcl(path, key); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return readKey(path)
			}
			return nil, fmt.Errorf("credentials: creating the key file: %w", err)
		}
	}
	syncDir(dir)
	return key, nil
}

func writeKeyExcl(path string, key []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(key)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		_ = f.Close()
	}
}

// checkBoltFile checks the header of an existing bbolt file: at least one
// valid meta page, and a file long enough for every page it references.
func checkBoltFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()

	type meta struct {
		pageSize             uint32
		root, freelist, pgid uint64
		txid                 uint64
		valid                bool
	}
	const (
		pageHeader = 16
		magic      = 0xED0CDAED
		version    = 2
		metaLen    = 64
		noFreelist = ^uint64(0)
	)
	read := func(off int64) meta {
		buf := make([]byte, pageHeader+metaLen)
		if n, _ := f.ReadAt(buf, off); n < len(buf) {
			return meta{}
		}
		m := buf[pageHeader:]
		ne := binary.NativeEndian
		if ne.Uint32(m[0:]) != magic || ne.Uint32(m[4:]) != version {
			return meta{}
		}
		h := fnv64a(m[:56])
		if ne.Uint64(m[56:]) != h {
			return meta{}
		}
		return meta{
			pageSize: ne.Uint32(m[8:]), root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]),
			pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:]), valid: true,
		}
	}
	m0 := read(0)
	var m1 meta
	if m0.valid {
		m1 = read(int64(m0.pageSize))
	} else {
		for i := 0; i <= 14 && !m1.valid; i++ {
			m1 = read(int64(1024) << i)
		}
	}
	m := m0
	if !m.valid || (m1.valid && m1.txid > m0.txid) {
		m = m1
	}
	if !m.valid {
		return errors.New("no valid meta page (not a bbolt database)")
	}
	switch {
	case m.pageSize < 512 || m.pageSize&(m.pageSize-1) != 0:
		return fmt.Errorf("page size %d", m.pageSize)
	case m.root >= m.pgid || (m.freelist != noFreelist && m.freelist >= m.pgid):
		return errors.New("meta page references pages past its high water mark")
	case m.pgid > uint64(size)/uint64(m.pageSize):
		return fmt.Errorf("file is %d bytes but its pages need %d (truncated?)", size, m.pgid*uint64(m.pageSize))
	}
	// The pages bbolt reads first must be what the meta page says they are.
	pageFlags := func(id uint64) uint16 {
		var h [pageHeader]byte
		if n, _ := f.ReadAt(h[:], int64(id)*int64(m.pageSize)); n < len(h) {
			return 0
		}
		if binary.NativeEndian.Uint64(h[0:]) != id {
			return 0
		}
		return binary.NativeEndian.Uint16(h[8:])
	}
	const branch, leaf, freelist = 0x01, 0x02, 0x10
	if m.freelist != noFreelist && pageFlags(m.freelist) != freelist {
		return fmt.Errorf("page %d is not the freelist", m.freelist)
	}
	if fl := pageFlags(m.root); fl != branch && fl != leaf {
		return fmt.Errorf("page %d is not the root of the tree", m.root)
	}
	return nil
}

func fnv64a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
