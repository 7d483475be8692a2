package statedb_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/credentials/credtest"
	"github.com/amtkit/amtkit/statedb"
	"github.com/amtkit/amtkit/statedb/statedbtest"
)

// TestConformance runs the credentials package's conformance suite for
// stores (profiles, runtime profile, lockout guard records) on both engines.
func TestConformance(t *testing.T) {
	for _, e := range statedbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			if e.Name == "postgres" {
				statedbtest.AdminURL(t) // skip early, with the message
			}
			var (
				mu      sync.Mutex
				targets = map[string]string{} // location → database
			)
			credtest.RunAll(t, credtest.Engine{
				Shared: true,
				Open: func(t *testing.T, location string) credentials.Store {
					mu.Lock()
					target, ok := targets[location]
					if !ok {
						if e.Name == "postgres" {
							target = statedbtest.Postgres(t)
						} else {
							target = filepath.Join(location, "state", statedb.FileName)
						}
						targets[location] = target
					}
					mu.Unlock()
					db, err := statedb.Open(context.Background(), target, statedb.WithKeyFile(filepath.Join(location, "keys", "amtkit.key")))
					require.NoError(t, err)
					t.Cleanup(func() { _ = db.Close() })
					return db.Credentials()
				},
			})
		})
	}
}
