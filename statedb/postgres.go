package statedb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/amtkit/amtkit/credentials"
)

// migrationLockKey is the Postgres advisory lock that serialises amtkit's
// migrations between processes ("amtkit" in ASCII).
const migrationLockKey = 0x616d746b6974

func openPostgres(ctx context.Context, rawURL string, cfg config) (*DB, error) {
	where, secret := redactURL(rawURL)
	pcfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		e := &dbError{msg: "statedb: " + where, err: fmt.Errorf("%w: the URL does not parse: %w", ErrUnavailable, err), secret: secret}
		return nil, e
	}
	if !strings.Contains(rawURL, "connect_timeout") {
		pcfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	keyPath := cfg.keyFile
	if keyPath == "" {
		keyPath = os.Getenv(KeyFileEnv)
	}
	if keyPath == "" {
		dir, err := credentials.DefaultStateDir()
		if err != nil {
			return nil, fmt.Errorf("statedb: %w", err)
		}
		keyPath = filepath.Join(dir, KeyFileName)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, &dbError{msg: "statedb: " + where, err: fmt.Errorf("%w: %w", ErrUnavailable, err), secret: secret}
	}
	d := &DB{
		engine: Postgres, where: where, secret: secret, keyPath: keyPath,
		pool: pool, sql: stdlib.OpenDBFromPool(pool), q: pgxQ{pool}, retention: cfg.retention, now: timeNow,
	}
	if err := pool.Ping(ctx); err != nil {
		d.closeQuietly()
		return nil, d.fail("connecting", err)
	}
	if err := d.init(ctx, &pgLocker{pool: pool}); err != nil {
		d.closeQuietly()
		return nil, err
	}
	return d, nil
}

func (d *DB) closeQuietly() {
	_ = d.sql.Close()
	d.pool.Close()
}

// redactURL returns the URL without its password for messages, and the
// password to scrub from errors.
func redactURL(raw string) (where, secret string) {
	u, err := url.Parse(raw)
	if err != nil {
		return "postgres://(unparsable URL)", ""
	}
	if u.User != nil {
		secret, _ = u.User.Password()
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	if q.Has("password") {
		secret = q.Get("password")
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String(), secret
}

// classifyPostgres names the class of a Postgres error: ErrUnavailable for a
// server that cannot be reached, refuses the login, or has no such
// database.
func classifyPostgres(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "28P01", pe.Code == "28000": // invalid password, authorization
			return ErrUnavailable
		case pe.Code == "3D000": // no such database
			return ErrUnavailable
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"): // connection, shutdown
			return ErrUnavailable
		}
		return nil
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed") {
		return ErrUnavailable
	}
	return nil
}

// pgLocker serialises migrations between processes with a session advisory
// lock, held only while a migration runs.
type pgLocker struct{ pool *pgxpool.Pool }

func (l *pgLocker) lock(ctx context.Context) (func(), error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockKey)); err != nil {
		conn.Release()
		return nil, err
	}
	return func() {
		_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(migrationLockKey))
		conn.Release()
	}, nil
}
