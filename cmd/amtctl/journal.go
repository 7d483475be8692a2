package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/redirect"
	"github.com/amtkit/amtkit/statedb"
)

// stateJournal keeps the restore records of redirect in the state
// database (SQLite or Postgres), so that every process and every machine
// sharing the database sees an unfinished record. Each call opens the
// database and closes it again: a long IDE-R boot holds no handle between
// its records.
type stateJournal struct {
	open func(ctx context.Context) (*statedb.DB, error)
}

func (j *stateJournal) do(ctx context.Context, f func(*statedb.Journal) error) error {
	db, err := j.open(ctx)
	if err != nil {
		return err
	}
	err = f(db.Journal())
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

func (j *stateJournal) Put(ctx context.Context, rec redirect.RestoreRecord) error {
	return j.do(ctx, func(sj *statedb.Journal) error { return sj.Put(ctx, rec.Host, rec.Reason, rec.Started, rec) })
}

func (j *stateJournal) Get(ctx context.Context, host string) (*redirect.RestoreRecord, error) {
	var rec redirect.RestoreRecord
	var found bool
	err := j.do(ctx, func(sj *statedb.Journal) error {
		var err error
		found, err = sj.Get(ctx, host, &rec)
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	return &rec, nil
}

func (j *stateJournal) Done(ctx context.Context, host string) error {
	return j.do(ctx, func(sj *statedb.Journal) error { return sj.Done(ctx, host) })
}

func (j *stateJournal) List(ctx context.Context) ([]redirect.RestoreRecord, error) {
	var out []redirect.RestoreRecord
	err := j.do(ctx, func(sj *statedb.Journal) error {
		es, err := sj.List(ctx)
		if err != nil {
			return err
		}
		for _, e := range es {
			var rec redirect.RestoreRecord
			if err := json.Unmarshal(e.Record, &rec); err != nil {
				return fmt.Errorf("restore record of %s: %w", e.Host, err)
			}
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// restoreJournal is the journal of settings to put back, in the state
// database that --database, $AMTKIT_DATABASE or --state names.
func restoreJournal(cmd *cobra.Command, stateFlag string) (redirect.Journal, error) {
	return &stateJournal{open: func(context.Context) (*statedb.DB, error) { return openState(cmd, stateFlag) }}, nil
}
