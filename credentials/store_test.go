package credentials_test

import (
	"testing"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/credentials/credtest"
)

// The state database's stores (SQLite and Postgres) run the same suite in
// package statedb.
func TestMemoryStore(t *testing.T) {
	t.Parallel()
	credtest.RunAll(t, credtest.Engine{Ephemeral: true, Open: func(t *testing.T, _ string) credentials.Store {
		s := credentials.NewMemoryStore()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}})
}
