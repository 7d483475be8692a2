package statedb

import (
	"context"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/amtkit/amtkit/credentials"
)

// Engine names a database engine.
type Engine string

// The engines of the state database.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

const (
	// DatabaseEnv names the environment variable that selects the database:
	// a postgres:// URL, or the path of a SQLite file.
	DatabaseEnv = "AMTKIT_DATABASE"
	// FileName is the SQLite file's name in the state directory.
	FileName = "amtkit.sqlite"
	// KeyFileEnv names the environment variable that overrides the key
	// file's location.
	KeyFileEnv = "AMTKIT_KEY_FILE"
	// KeyFileName is the key file's name in the state directory.
	KeyFileName = "amtkit.key"
	// DefaultBusyTimeout is how long a SQLite statement waits for another
	// process's write to finish before it fails.
	DefaultBusyTimeout = 10 * time.Second
	// DefaultConnectTimeout bounds connecting to Postgres when the URL sets
	// no connect_timeout.
	DefaultConnectTimeout = 10 * time.Second
)

var (
	// ErrCorrupt: the SQLite file is not a readable state database
	// (damaged, truncated, or not a database at all). It is left untouched.
	ErrCorrupt = errors.New("the state database is corrupt")
	// ErrNewerSchema: the database was laid out by a newer amtkit.
	ErrNewerSchema = errors.New("the state database was written by a newer version of amtkit")
	// ErrWrongKey: the key file does not open the database's secrets.
	ErrWrongKey = errors.New("the key file does not match the state database")
	// ErrKeyMissing: the database holds sealed secrets but the key file is
	// missing. A new key would open none of them, so none is made.
	ErrKeyMissing = errors.New("the key file of an existing state database is missing")
	// ErrInsecure: the state directory, the database file or the key file
	// can be read by other users.
	ErrInsecure = errors.New("the state files are readable by other users")
	// ErrUnavailable: the Postgres server could not be reached, refused
	// the login or ended the connection, or the database does not exist;
	// or, with SQLite, another process held the write lock for longer than
	// the busy timeout.
	ErrUnavailable = errors.New("the state database is unavailable")
	// ErrClosed: the database was closed. It is credentials.ErrClosed, so
	// that the credential store's callers match it too.
	ErrClosed = credentials.ErrClosed
	// ErrNotFound: no such record. It is credentials.ErrNotFound.
	ErrNotFound = credentials.ErrNotFound
)

// DB is the state database: amtkit's tables and River's, on SQLite or
// Postgres. It is safe for concurrent use, and by many processes at once;
// it holds no lock between statements.
type DB struct {
	engine  Engine
	where   string // the file, or the URL without its password
	secret  string // the URL's password, scrubbed from errors
	keyPath string
	aead    cipher.AEAD
	macKey  credentials.CandidateHasher // the lockout guard's candidate hashes

	sql  *sql.DB       // SQLite; with Postgres, database/sql over pool
	pool *pgxpool.Pool // Postgres only
	q    querier

	retention time.Duration
	now       func() time.Time

	gate *writeGate // SQLite: queues writers before BEGIN IMMEDIATE

	mu       sync.Mutex
	closed   bool
	activity *ActivityWriter
}

// Option configures Open.
type Option func(*config) error

type config struct {
	keyFile     string
	busyTimeout time.Duration
	retention   time.Duration
}

// WithKeyFile names the key file, overriding AMTKIT_KEY_FILE and the default
// amtkit.key in the state directory.
func WithKeyFile(path string) Option {
	return func(c *config) error {
		if path == "" {
			return errors.New("statedb: WithKeyFile needs a path")
		}
		c.keyFile = path
		return nil
	}
}

// WithBusyTimeout sets how long a SQLite statement waits for another
// process's write (default DefaultBusyTimeout).
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("statedb: negative busy timeout %v", d)
		}
		c.busyTimeout = d
		return nil
	}
}

// WithRetention sets how long activity entries are kept (default
// DefaultRetention); older ones are purged automatically.
func WithRetention(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("statedb: retention must be positive, not %v", d)
		}
		c.retention = d
		return nil
	}
}

// DefaultPath returns the default SQLite file: amtkit.sqlite in the per-user
// state directory (credentials.DefaultStateDir: $AMTKIT_STATE, else
// $XDG_STATE_HOME/amtkit or ~/.local/state/amtkit, ...).
func DefaultPath() (string, error) {
	dir, err := credentials.DefaultStateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, FileName), nil
}

// IsPostgres reports whether target names a Postgres database.
func IsPostgres(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// Open opens the state database target names, creating and laying it out
// when it is new, and bringing its schema up to date:
//
//   - "" opens the SQLite file at DefaultPath;
//   - a postgres:// or postgresql:// URL opens that Postgres database
//     (sslmode and the other libpq parameters are honoured);
//   - anything else is the path of a SQLite file (a "sqlite:" prefix is
//     allowed).
//
// An engine that cannot be opened is an error: Open never falls back to the
// other one. A database laid out by a newer amtkit gives ErrNewerSchema and
// is not written to; a damaged SQLite file gives ErrCorrupt and is left
// untouched.
//
// Secrets are sealed under the key file (WithKeyFile, else $AMTKIT_KEY_FILE,
// else amtkit.key beside the SQLite file, or in the per-user state directory
// with Postgres). A key is made, with mode 0600, only for a database that
// holds none yet; every process that shares a Postgres database needs a copy
// of the same key file.
func Open(ctx context.Context, target string, opts ...Option) (*DB, error) {
	cfg := config{busyTimeout: DefaultBusyTimeout, retention: DefaultRetention}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if IsPostgres(target) {
		return openPostgres(ctx, target, cfg)
	}
	path := strings.TrimPrefix(target, "sqlite:")
	if path == "" {
		var err error
		if path, err = DefaultPath(); err != nil {
			return nil, fmt.Errorf("statedb: %w", err)
		}
	}
	return openSQLite(ctx, path, cfg)
}

// Engine returns the database's engine.
func (d *DB) Engine() Engine { return d.engine }

// String names the database without secrets: the SQLite file, or the
// Postgres URL without its password.
func (d *DB) String() string { return d.where }

// KeyFile returns the key file's path.
func (d *DB) KeyFile() string { return d.keyPath }

// SQL returns the database/sql handle: the SQLite database (for
// riversqlite), or with Postgres a database/sql view of the pool.
func (d *DB) SQL() *sql.DB { return d.sql }

// Pool returns the pgx pool of a Postgres database (for riverpgxv5), nil
// with SQLite.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Close flushes the activity log and closes the database.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	w := d.activity
	d.mu.Unlock()
	var errs []error
	if w != nil {
		errs = append(errs, w.Close())
	}
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	errs = append(errs, d.sql.Close())
	if d.gate != nil {
		d.gate.close()
	}
	if d.pool != nil {
		d.pool.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return d.fail("closing", err)
	}
	return nil
}

func (d *DB) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// InTx runs fn in one transaction, committed when fn returns nil and rolled
// back otherwise. With SQLite the transaction takes the write lock when it
// begins, so keep it short.
//
// An error of fn that comes from the database (a connection cut, the
// server shut down, a busy timeout, a corrupt file) is classified like the
// database's other errors: it matches ErrUnavailable (or ErrCorrupt) and
// still matches what fn returned. An error of fn's own is returned as it
// is.
func (d *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	if d.isClosed() {
		return ErrClosed
	}
	if d.pool != nil {
		ptx, err := d.pool.BeginTx(ctx, pgx.TxOptions{})
		if err != nil {
			return d.fail("", err)
		}
		if err := fn(&Tx{db: d, q: pgxQ{ptx}, pgxTx: ptx}); err != nil {
			_ = ptx.Rollback(context.WithoutCancel(ctx))
			return d.failInTx(ctx, err)
		}
		if err := ptx.Commit(ctx); err != nil {
			return d.fail("committing", err)
		}
		return nil
	}
	if d.gate != nil {
		leave, err := d.gate.enter(ctx)
		if err != nil {
			return d.fail("", err)
		}
		defer leave()
	}
	stx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return d.fail("", err)
	}
	tx := &Tx{db: d, q: sqlQ{stx}, sqlTx: stx}
	err = fn(tx)
	if err != nil {
		_ = stx.Rollback()
	} else if cerr := stx.Commit(); cerr != nil {
		return d.fail("committing", cerr)
	}
	// The connection and SQLite's lock are given back: what the
	// transaction prepared for itself is prepared for the next ones.
	tx.ended(ctx)
	if err != nil {
		return d.failInTx(ctx, err)
	}
	return nil
}

// fail wraps an error of the database with what was being done, classified
// (ErrCorrupt, ErrUnavailable, ErrClosed) and with the Postgres password
// scrubbed from its text.
func (d *DB) fail(doing string, err error) error {
	if err == nil {
		return nil
	}
	var inner *dbError
	if errors.As(err, &inner) && inner.msg == "statedb: "+d.where {
		// Classified below without saying what was being done: say it
		// once, here.
		err = inner.err
	}
	if errors.Is(err, sql.ErrConnDone) || (d.isClosed() && strings.Contains(err.Error(), "closed")) {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	} else if class := d.classify(err); class != nil && !errors.Is(err, class) {
		err = fmt.Errorf("%w: %w", class, err)
	}
	msg := "statedb: " + d.where
	if doing != "" {
		msg += ": " + doing
	}
	return &dbError{msg: msg, err: err, secret: d.secret}
}

// failInTx classifies an error a transaction's function returned, when it
// is the database's: the caller's own errors, its cancellation and errors
// classified already are left as they are.
func (d *DB) failInTx(ctx context.Context, err error) error {
	var already *dbError
	switch {
	case errors.As(err, &already), errors.Is(err, ErrUnavailable), errors.Is(err, ErrCorrupt), errors.Is(err, ErrClosed):
		return err
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return err
	case errors.Is(err, sql.ErrConnDone), d.classify(err) != nil:
		return d.fail("in a transaction", err)
	}
	return err
}

func (d *DB) classify(err error) error {
	if d.engine == Postgres {
		return classifyPostgres(err)
	}
	return classifySQLite(err)
}

// dbError is an error of the database whose text never holds the Postgres
// password.
type dbError struct {
	msg    string
	err    error
	secret string
}

func (e *dbError) Error() string {
	s := e.msg + ": " + e.err.Error()
	if e.secret != "" {
		s = strings.ReplaceAll(s, e.secret, "xxxxx")
	}
	return s
}

func (e *dbError) Unwrap() error { return e.err }
