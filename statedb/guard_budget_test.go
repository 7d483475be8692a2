package statedb_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/statedb"
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
		other := open(t, target)
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
