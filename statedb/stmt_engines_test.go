package statedb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/statedb"
	"github.com/amtkit/amtkit/statedb/statedbtest"
)

// TestQueryRowStmt: a prepared statement that returns a row gives the
// same answers as the statement run by its text, on both engines, in the
// transaction that prepares it and in those that reuse it; a row that is
// not there is ErrNoRows, and a statement that does not parse is an
// error, never a panic.
func TestQueryRowStmt(t *testing.T) {
	for _, e := range statedbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			target := e.Target(t)
			keys := t.TempDir()
			require.NoError(t, os.Chmod(keys, 0o700))
			db, err := statedb.Open(context.Background(), target, statedb.WithKeyFile(filepath.Join(keys, "amtkit.key")))
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			ctx := context.Background()
			_, err = db.Exec(ctx, "CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")
			require.NoError(t, err)
			_, err = db.Exec(ctx, "INSERT INTO counter (id, n) VALUES ($1, $2)", int64(7), int64(0))
			require.NoError(t, err)

			next := db.Prepare("UPDATE counter SET n = n + 1 WHERE id = $1 RETURNING n")
			for want := int64(1); want <= 3; want++ {
				require.NoError(t, db.InTx(ctx, func(tx *statedb.Tx) error {
					var n int64
					if err := tx.QueryRowStmt(ctx, next, int64(7)).Scan(&n); err != nil {
						return err
					}
					assert.Equal(t, want, n)
					// Twice in one transaction: the statement of the
					// transaction is reused.
					if err := tx.QueryRowStmt(ctx, next, int64(7)).Scan(&n); err != nil {
						return err
					}
					assert.Equal(t, want+1, n)
					_, err := tx.Exec(ctx, "UPDATE counter SET n = n - 1 WHERE id = $1", int64(7))
					return err
				}))
			}
			err = db.InTx(ctx, func(tx *statedb.Tx) error {
				var n int64
				return tx.QueryRowStmt(ctx, next, int64(8)).Scan(&n)
			})
			assert.ErrorIs(t, err, statedb.ErrNoRows)

			bad := db.Prepare("UPDATE no_such_table SET n = 1 RETURNING n")
			err = db.InTx(ctx, func(tx *statedb.Tx) error {
				var n int64
				return tx.QueryRowStmt(ctx, bad).Scan(&n)
			})
			assert.Error(t, err)
		})
	}
}
