package statedb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/statedb"
	"github.com/amtkit/amtkit/statedb/statedbtest"
)

func TestGuardBudget(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		db := open(t, target)
		_, ok, err := db.GuardBudget(ctx)
		require.NoError(t, err)
		assert.False(t, ok, "none set: the defaults apply")

		want := statedb.GuardBudget{MaxFailures: 1, Window: 10 * time.Minute}
		require.NoError(t, db.SetGuardBudget(ctx, want))
		got, ok, err := db.GuardBudget(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, want, got)

		// Another handle on the same database sees it.
		other := open(t, target, statedb.WithKeyFile(db.key))
		got, ok, err = other.GuardBudget(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, want, got)

		assert.Error(t, db.SetGuardBudget(ctx, statedb.GuardBudget{MaxFailures: 0, Window: time.Minute}))
		require.NoError(t, db.SetGuardBudget(ctx, statedb.GuardBudget{}))
		_, ok, err = db.GuardBudget(ctx)
		require.NoError(t, err)
		assert.False(t, ok)
	})
}

// An error a transaction's function returns of its own stays as it is; one
// that comes from the database is classified: SQLite's write lock held by
// another handle past the busy timeout is ErrUnavailable.
func TestInTxErrorsClassified(t *testing.T) {
	ctx := context.Background()
	target := statedbtest.SQLite(t)
	a := open(t, target)
	b := open(t, target, statedb.WithKeyFile(a.key), statedb.WithBusyTimeout(100*time.Millisecond))

	mine := errors.New("the caller's own")
	err := a.InTx(ctx, func(*statedb.Tx) error { return mine })
	assert.Same(t, mine, err)
	assert.NotErrorIs(t, err, statedb.ErrUnavailable)

	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.InTx(ctx, func(tx *statedb.Tx) error {
			if _, err := tx.SQL().ExecContext(ctx, "INSERT INTO amtkit_meta (name, value) VALUES ('held', 'x')"); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	err = b.InTx(ctx, func(tx *statedb.Tx) error {
		_, err := tx.SQL().ExecContext(ctx, "INSERT INTO amtkit_meta (name, value) VALUES ('waited', 'x')")
		return err
	})
	close(release)
	require.NoError(t, <-done)
	require.Error(t, err)
	assert.ErrorIs(t, err, statedb.ErrUnavailable, "%v", err)
}
