package statedb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Journal is the restore journal on the state database: per host, the
// record of settings a command changed and their original values, written
// before each change and removed once everything is put back, so that any
// process (or worker on another machine) can find and finish an unfinished
// restore. The record is the caller's, stored as JSON; it must hold no
// secret.
type Journal struct {
	db *DB
	q  querier
}

// Journal returns the database's restore journal.
func (d *DB) Journal() *Journal { return &Journal{db: d, q: d.q} }

// Journal returns the restore journal within the transaction.
func (t *Tx) Journal() *Journal { return &Journal{db: t.db, q: t.q} }

// Now returns the database's clock.
func (d *DB) Now() time.Time { return d.now() }

// JournalEntry is one unfinished record.
type JournalEntry struct {
	Host    string
	Reason  string
	Started time.Time
	Record  json.RawMessage
}

// Put writes (or replaces) host's record; it is durable when Put returns.
func (j *Journal) Put(ctx context.Context, host, reason string, started time.Time, record any) error {
	if strings.TrimSpace(host) == "" {
		return errors.New("statedb: a restore record needs a host")
	}
	if j.db.isClosed() {
		return ErrClosed
	}
	b, err := json.Marshal(record)
	if err != nil {
		return fmt.Errorf("statedb: restore record of %s: %w", host, err)
	}
	_, err = j.q.exec(ctx, `INSERT INTO amtkit_restore (host, reason, started_at, record) VALUES ($1, $2, $3, $4)
		ON CONFLICT (host) DO UPDATE SET reason = excluded.reason, started_at = excluded.started_at, record = excluded.record`,
		host, reason, micros(started), string(b))
	if err != nil {
		return j.db.fail("writing the restore record of "+host, err)
	}
	return nil
}

// Get reads host's unfinished record into record; ok is false when there is
// none.
func (j *Journal) Get(ctx context.Context, host string, record any) (ok bool, err error) {
	if j.db.isClosed() {
		return false, ErrClosed
	}
	var s string
	err = j.q.queryRow(ctx, "SELECT record FROM amtkit_restore WHERE host = $1", host).Scan(&s)
	if errors.Is(err, errNoRows) {
		return false, nil
	}
	if err != nil {
		return false, j.db.fail("reading the restore record of "+host, err)
	}
	if err := json.Unmarshal([]byte(s), record); err != nil {
		return false, fmt.Errorf("statedb: restore record of %s: %w: %v", host, ErrCorrupt, err)
	}
	return true, nil
}

// Done removes host's record once everything was put back. No record is
// not an error.
func (j *Journal) Done(ctx context.Context, host string) error {
	if j.db.isClosed() {
		return ErrClosed
	}
	if _, err := j.q.exec(ctx, "DELETE FROM amtkit_restore WHERE host = $1", host); err != nil {
		return j.db.fail("removing the restore record of "+host, err)
	}
	return nil
}

// List returns every unfinished record, by host.
func (j *Journal) List(ctx context.Context) ([]JournalEntry, error) {
	if j.db.isClosed() {
		return nil, ErrClosed
	}
	rs, err := j.q.query(ctx, "SELECT host, reason, started_at, record FROM amtkit_restore ORDER BY host")
	if err != nil {
		return nil, j.db.fail("reading the restore journal", err)
	}
	defer rs.Close()
	var out []JournalEntry
	for rs.Next() {
		var (
			e   JournalEntry
			at  int64
			rec string
		)
		if err := rs.Scan(&e.Host, &e.Reason, &at, &rec); err != nil {
			return nil, j.db.fail("reading the restore journal", err)
		}
		e.Started, e.Record = fromMicros(at), json.RawMessage(rec)
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, j.db.fail("reading the restore journal", err)
	}
	return out, nil
}
