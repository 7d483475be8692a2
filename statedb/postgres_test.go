package statedb_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/statedb"
	"github.com/amtkit/amtkit/statedb/statedbtest"
)

func pgKey(t *testing.T) statedb.Option {
	return statedb.WithKeyFile(filepath.Join(t.TempDir(), "keys", "amtkit.key"))
}

// TestPostgresRefusedAndWrongPassword: a server that refuses the
// connection, a wrong password and a database that does not exist are
// ErrUnavailable with a message that names the server but never the
// password; nothing falls back to SQLite.
func TestPostgresRefusedAndWrongPassword(t *testing.T) {
	admin := statedbtest.AdminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := url.Parse(admin)
	require.NoError(t, err)

	wrong := *u
	wrong.User = url.UserPassword(u.User.Username(), secret)
	_, err = statedb.Open(ctx, wrong.String(), pgKey(t))
	require.ErrorIs(t, err, statedb.ErrUnavailable)
	assert.NotContains(t, err.Error(), secret)
	assert.Contains(t, err.Error(), "password authentication failed")

	nodb := *u
	nodb.Path = "/amtkit_no_such_database"
	_, err = statedb.Open(ctx, nodb.String(), pgKey(t))
	require.ErrorIs(t, err, statedb.ErrUnavailable)
	assert.Contains(t, err.Error(), "does not exist")

	refused := *u
	refused.Host = "127.0.0.1:1"
	refused.User = url.UserPassword("amtkit", secret)
	_, err = statedb.Open(ctx, refused.String(), pgKey(t))
	require.ErrorIs(t, err, statedb.ErrUnavailable)
	assert.NotContains(t, err.Error(), secret)
}

// TestPostgresSSLModeHonoured: sslmode=verify-full without a trusted root
// fails; sslmode=require either runs over TLS or, against a server without
// TLS, fails instead of going on in clear text.
func TestPostgresSSLModeHonoured(t *testing.T) {
	u, err := url.Parse(statedbtest.Postgres(t))
	require.NoError(t, err)
	q := u.Query()
	q.Set("sslmode", "require")
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// verify-full with no trusted root for the server's certificate must
	// fail, whatever the server offers: the mode is not quietly weakened.
	strict := *u
	sq := strict.Query()
	sq.Set("sslmode", "verify-full")
	sq.Set("sslrootcert", filepath.Join(t.TempDir(), "none.pem"))
	strict.RawQuery = sq.Encode()
	_, err = statedb.Open(ctx, strict.String(), pgKey(t))
	require.ErrorIs(t, err, statedb.ErrUnavailable)

	db, err := statedb.Open(ctx, u.String(), pgKey(t))
	if err == nil {
		// The server offers TLS: then the connection uses it.
		defer db.Close()
		var ssl bool
		require.NoError(t, db.SQL().QueryRowContext(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl))
		assert.True(t, ssl)
		return
	}
	require.ErrorIs(t, err, statedb.ErrUnavailable)
	assert.Contains(t, strings.ToLower(err.Error()), "ssl")
}

// TestPostgresDroppedMidRun: the database is dropped while a process has
// it open; its next calls fail with ErrUnavailable, never a panic or a
// hang.
func TestPostgresDroppedMidRun(t *testing.T) {
	target := statedbtest.Postgres(t)
	db := open(t, target)
	s := db.Credentials()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.PutProfile(ctx, credentials.Profile{Name: "p", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: "u", Password: secret}}}))
	u, err := url.Parse(target)
	require.NoError(t, err)
	statedbtest.DropDatabase(t, strings.TrimPrefix(u.Path, "/"))

	_, err = s.Profiles(ctx)
	require.Error(t, err)
	require.ErrorIs(t, err, statedb.ErrUnavailable, "%v", err)
	err = s.PutProfile(ctx, credentials.Profile{Name: "q", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: "u", Password: secret}}})
	require.ErrorIs(t, err, statedb.ErrUnavailable, "%v", err)
	assert.NotContains(t, err.Error(), secret)
}

// TestPostgresTransactionCutMidWrite: the server ends the connection in the
// middle of a transaction that writes two records; the error says the
// database is unavailable and neither record is there.
func TestPostgresTransactionCutMidWrite(t *testing.T) {
	target := statedbtest.Postgres(t)
	db := open(t, target)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, statedbtest.AdminURL(t))
	require.NoError(t, err)
	defer admin.Close(ctx)

	err = db.InTx(ctx, func(tx *statedb.Tx) error {
		if _, err := tx.Pgx().Exec(ctx, "INSERT INTO amtkit_meta (name, value) VALUES ('first', 'x')"); err != nil {
			return err
		}
		var pid int
		if err := tx.Pgx().QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			return err
		}
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
			return err
		}
		_, err := tx.Pgx().Exec(ctx, "INSERT INTO amtkit_meta (name, value) VALUES ('second', 'x')")
		return err
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, statedb.ErrUnavailable, "%v", err)
	var n int
	require.NoError(t, db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM amtkit_meta WHERE name IN ('first', 'second')").Scan(&n))
	assert.Zero(t, n, "no partial record")
	// The pool recovers: the next write works.
	require.NoError(t, db.Credentials().PutProfile(ctx, credentials.Profile{Name: "p", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: "u", Password: "x"}}}))
}
