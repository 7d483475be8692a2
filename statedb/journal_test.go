package statedb_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type restoreRecord struct {
	Host             string  `json:"host"`
	RedirectionState *uint64 `json:"redirection_state"`
	BootOptionsArmed bool    `json:"boot_options_armed"`
}

// TestRestoreJournal: a record written by one process is found by another
// (here a second handle), replaced, listed and removed.
func TestRestoreJournal(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		db := open(t, target)
		j := db.Journal()
		var rec restoreRecord
		ok, err := j.Get(ctx, "192.0.2.1:16992", &rec)
		require.NoError(t, err)
		assert.False(t, ok)

		state := uint64(32771)
		started := time.Now().UTC().Truncate(time.Microsecond)
		require.NoError(t, j.Put(ctx, "192.0.2.1:16992", "ider boot", started, restoreRecord{Host: "192.0.2.1:16992", RedirectionState: &state}))
		require.NoError(t, j.Put(ctx, "192.0.2.1:16992", "ider boot", started, restoreRecord{Host: "192.0.2.1:16992", RedirectionState: &state, BootOptionsArmed: true}))
		require.NoError(t, j.Put(ctx, "192.0.2.2:16992", "ider boot", started, restoreRecord{Host: "192.0.2.2:16992"}))

		other := db.reopen(t).Journal()
		ok, err = other.Get(ctx, "192.0.2.1:16992", &rec)
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, rec.BootOptionsArmed)
		require.NotNil(t, rec.RedirectionState)
		assert.Equal(t, state, *rec.RedirectionState)

		list, err := other.List(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		assert.Equal(t, "192.0.2.1:16992", list[0].Host)
		assert.Equal(t, "ider boot", list[0].Reason)
		assert.True(t, started.Equal(list[0].Started))
		var back restoreRecord
		require.NoError(t, json.Unmarshal(list[0].Record, &back))
		assert.True(t, back.BootOptionsArmed)

		require.NoError(t, other.Done(ctx, "192.0.2.1:16992"))
		require.NoError(t, other.Done(ctx, "192.0.2.1:16992"), "nothing to remove is not an error")
		ok, err = j.Get(ctx, "192.0.2.1:16992", &rec)
		require.NoError(t, err)
		assert.False(t, ok)
		require.Error(t, j.Put(ctx, " ", "x", started, nil))
	})
}
