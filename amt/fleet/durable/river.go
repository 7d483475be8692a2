package durable

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/amtkit/amtkit/statedb"
)

// Queue is the River queue durable jobs' chunks run on.
const Queue = "amtkit_fleet"

// chunkKind is the River kind of a chunk of machines.
const chunkKind = "amtkit_fleet_chunk"

// chunkArgs are a River job's arguments: which chunk of which job, and
// the machines it covers (those a retry put back, for a retried chunk), so
// that River UI shows which machines each River job touches. A worker on
// any machine reads the rest (the task, the machines' state, the profile
// name) from the job's tables, never Hosts; no secret is ever here.
type chunkArgs struct {
	Job   ID       `json:"job"`
	Chunk int      `json:"chunk"`
	Hosts []string `json:"hosts,omitempty"`
}

// chunkOutput is the output a worker records on a chunk's River job when
// it ends (River UI shows it): the chunk's machines by outcome, and those
// still without one.
type chunkOutput struct {
	Job      ID                  `json:"job"`
	Chunk    int                 `json:"chunk"`
	Outcomes map[string][]string `json:"outcomes"`
	Pending  []string            `json:"pending"`
}

func (chunkArgs) Kind() string { return chunkKind }

// riverClient is a River client of either engine, behind the few calls the
// package makes.
type riverClient interface {
	insertManyTx(ctx context.Context, tx *statedb.Tx, params []river.InsertManyParams) ([]int64, error)
	retry(ctx context.Context, id int64) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
}

type riverOf[TTx any] struct {
	c    *river.Client[TTx]
	txOf func(*statedb.Tx) TTx
}

func (r riverOf[TTx]) insertManyTx(ctx context.Context, tx *statedb.Tx, params []river.InsertManyParams) ([]int64, error) {
	res, err := r.c.InsertManyTx(ctx, r.txOf(tx), params)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(res))
	for i, x := range res {
		ids[i] = x.Job.ID
	}
	return ids, nil
}

func (r riverOf[TTx]) retry(ctx context.Context, id int64) error {
	_, err := r.c.JobRetry(ctx, id)
	if errors.Is(err, rivertype.ErrNotFound) {
		return nil
	}
	return err
}

func (r riverOf[TTx]) start(ctx context.Context) error { return r.c.Start(ctx) }
func (r riverOf[TTx]) stop(ctx context.Context) error  { return r.c.Stop(ctx) }

// newRiver makes a River client over the state database's engine.
func newRiver(db *statedb.DB, cfg *river.Config) (riverClient, error) {
	if db.Engine() == statedb.Postgres {
		c, err := river.NewClient(riverpgxv5.New(db.Pool()), cfg)
		if err != nil {
			return nil, err
		}
		return riverOf[pgx.Tx]{c: c, txOf: func(t *statedb.Tx) pgx.Tx { return t.Pgx() }}, nil
	}
	c, err := river.NewClient(riversqlite.New(db.SQL()), cfg)
	if err != nil {
		return nil, err
	}
	return riverOf[*sql.Tx]{c: c, txOf: func(t *statedb.Tx) *sql.Tx { return t.SQL() }}, nil
}
