package statedb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStmtNeedsNoOtherConnection: a transaction that runs a statement
// not yet prepared never waits for a second connection of the pool (the
// others may be waiting for the write lock it holds). With every other
// connection taken, the first run prepares the statement on the
// transaction's own connection; the statement of the database is
// prepared after it, and the next transactions reuse it.
func TestStmtNeedsNoOtherConnection(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(dir, 0o700))
	db, err := Open(context.Background(), filepath.Join(dir, "amtkit.sqlite"), WithKeyFile(filepath.Join(dir, "amtkit.key")))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = db.Exec(ctx, "CREATE TABLE t (a INTEGER, b TEXT)")
	require.NoError(t, err)
	held := make([]*sql.Conn, 0, sqliteMaxConns-1)
	for range sqliteMaxConns - 1 {
		c, err := db.sql.Conn(ctx)
		require.NoError(t, err)
		held = append(held, c)
	}
	st := db.Prepare("INSERT INTO t (a, b) VALUES ($1, $2)")
	require.NoError(t, db.InTx(ctx, func(tx *Tx) error {
		for i := range 3 {
			if _, err := tx.ExecStmt(ctx, st, i, "x"); err != nil {
				return err
			}
		}
		return nil
	}), "a transaction whose pool is otherwise taken")
	for _, c := range held {
		require.NoError(t, c.Close())
	}
	assert.NotNil(t, st.prepared(), "prepared for the database once the transaction ended")
	require.NoError(t, db.InTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecStmt(ctx, st, 9, "y")
		return err
	}))
	var n int
	require.NoError(t, db.QueryRow(ctx, "SELECT COUNT(*) FROM t").Scan(&n))
	assert.Equal(t, 4, n)
}
