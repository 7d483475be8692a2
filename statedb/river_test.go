package statedb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/statedb"
)

type markerArgs struct {
	Host string `json:"host"`
}

func (markerArgs) Kind() string { return "amtkit_test_marker" }

// TestRiverInSameTransaction: River's tables live in the state database, so
// one transaction inserts a River job and writes amtkit's tables; rolled
// back, neither is there; committed, both are.
func TestRiverInSameTransaction(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		db := open(t, target)
		insert := func(tx *statedb.Tx) error {
			var err error
			if db.Engine() == statedb.Postgres {
				c, cerr := river.NewClient(riverpgxv5.New(db.Pool()), &river.Config{})
				require.NoError(t, cerr)
				_, err = c.InsertTx(ctx, tx.Pgx(), markerArgs{Host: "192.0.2.1"}, nil)
			} else {
				c, cerr := river.NewClient(riversqlite.New(db.SQL()), &river.Config{})
				require.NoError(t, cerr)
				_, err = c.InsertTx(ctx, tx.SQL(), markerArgs{Host: "192.0.2.1"}, nil)
			}
			return err
		}
		count := func() (jobs, entries int) {
			require.NoError(t, db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM river_job WHERE kind = 'amtkit_test_marker'").Scan(&jobs))
			require.NoError(t, db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM amtkit_restore").Scan(&entries))
			return
		}
		write := func(tx *statedb.Tx) error {
			return tx.Journal().Put(ctx, "192.0.2.1", "job", db.Now(), map[string]string{"job": "1"})
		}

		boom := errors.New("rolled back")
		err := db.InTx(ctx, func(tx *statedb.Tx) error {
			if err := insert(tx); err != nil {
				return err
			}
			if err := write(tx); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		jobs, entries := count()
		assert.Zero(t, jobs)
		assert.Zero(t, entries)

		require.NoError(t, db.InTx(ctx, func(tx *statedb.Tx) error {
			if err := insert(tx); err != nil {
				return err
			}
			return write(tx)
		}))
		jobs, entries = count()
		assert.Equal(t, 1, jobs)
		assert.Equal(t, 1, entries)
	})
}
