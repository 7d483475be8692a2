package durable_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/fleet/durable"
	"github.com/amtkit/amtkit/statedb"
	"github.com/amtkit/amtkit/statedb/statedbtest"
)

// env is one engine's database for a test.
type env struct {
	engine string
	target string
	key    string
}

// each runs fn on SQLite and, when AMTKIT_TEST_POSTGRES is set, Postgres.
func each(t *testing.T, fn func(t *testing.T, e env)) {
	for _, eng := range statedbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			target := eng.Target(t)
			key := filepath.Join(t.TempDir(), "keys", "amtkit.key")
			fn(t, env{engine: eng.Name, target: target, key: key})
		})
	}
}

// eachParallel is each with the engines' subtests run in parallel.
func eachParallel(t *testing.T, fn func(t *testing.T, e env)) {
	each(t, func(t *testing.T, e env) {
		t.Parallel()
		fn(t, e)
	})
}

func (e env) open(t testing.TB) *statedb.DB {
	t.Helper()
	db, err := statedb.Open(context.Background(), e.target, statedb.WithKeyFile(e.key))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func (e env) manager(t testing.TB) *durable.Manager {
	t.Helper()
	m, err := durable.NewManager(e.open(t))
	require.NoError(t, err)
	return m
}
