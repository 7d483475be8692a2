// Package statedbtest gives tests a state database on each engine: a SQLite
// file in a temporary directory, and a fresh Postgres database when
// AMTKIT_TEST_POSTGRES names a server.
package statedbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresEnv names the environment variable with the URL of a Postgres
// database whose role may create databases. Without it the Postgres tests
// skip; CI sets it.
const PostgresEnv = "AMTKIT_TEST_POSTGRES"

// Engine is one engine to run a test on.
type Engine struct {
	Name string
	// Target returns a new, empty database for the test: a SQLite path or
	// a Postgres URL.
	Target func(t testing.TB) string
}

// Engines returns SQLite and, when AMTKIT_TEST_POSTGRES is set, Postgres.
func Engines() []Engine {
	return []Engine{{Name: "sqlite", Target: SQLite}, {Name: "postgres", Target: Postgres}}
}

// SQLite returns the path of a new SQLite file in a private temporary
// directory.
func SQLite(t testing.TB) string {
	return filepath.Join(t.TempDir(), "state", "amtkit.sqlite")
}

// AdminURL returns the URL AMTKIT_TEST_POSTGRES names, skipping the test
// when it is not set.
func AdminURL(t testing.TB) string {
	u := os.Getenv(PostgresEnv)
	if u == "" {
		t.Skipf("Postgres tests skipped: set %s to a postgres:// URL whose role may create databases (.ci/run does)", PostgresEnv)
	}
	return u
}

// Postgres creates a database for the test, dropped when it ends, and
// returns its URL. It skips the test without AMTKIT_TEST_POSTGRES.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "amtkit_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connecting to %s: %v", PostgresEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating the test database: %v", err)
	}
	t.Cleanup(func() { DropDatabase(t, name) })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// DropDatabase drops a test database, closing its connections first.
func DropDatabase(t testing.TB, name string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, AdminURL(t))
	if err != nil {
		t.Errorf("dropping %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	// A process that has just exited may leave a server backend still in
	// its start-up, with no role yet; FORCE may not terminate it without
	// pg_signal_backend, and it ends on its own within moments. So a refusal
	// to terminate, or a database still in use, is tried again for a while.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		if err == nil {
			return
		}
		var pgErr *pgconn.PgError
		retry := errors.As(err, &pgErr) && (pgErr.Code == "42501" || pgErr.Code == "55006")
		if !retry || time.Now().After(deadline) {
			t.Errorf("dropping %s: %v", name, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
