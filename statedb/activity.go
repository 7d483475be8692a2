package statedb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amtkit/amtkit/amt"
)

// DefaultRetention is how long activity entries are kept by default.
const DefaultRetention = 180 * 24 * time.Hour

// Batching of activity writes: a batch is written when it holds
// activityBatchSize entries or its first entry is activityFlushDelay old.
const (
	activityBatchSize  = 256
	activityFlushDelay = 100 * time.Millisecond
	// autoPurgeEvery is how often writing the log also purges entries past
	// the retention.
	autoPurgeEvery = 24 * time.Hour
	metaLastPurge  = "activity_last_purge"
)

// ActivityWriter writes activity entries to the database in batches, from
// a goroutine of its own, so that recording never waits for the database.
// It implements amt.ActivityLog. Close (or the database's Close) writes
// what is left.
type ActivityWriter struct {
	db *DB

	kick   chan struct{} // an entry arrived
	urgent chan struct{} // write now: a full batch, or Flush
	stop   chan struct{} // closed by Close
	done   chan struct{} // closed when the goroutine ends

	mu       sync.Mutex
	cond     *sync.Cond // signalled after every batch
	pending  []amt.Activity
	inflight bool
	closing  bool
	stmts    [len(activityBlocks)]*Stmt // SQLite's prepared INSERTs
	err      error                      // the last write error, reported by Flush and Close
}

var _ amt.ActivityLog = (*ActivityWriter)(nil)

// Activity returns the database's activity writer, starting it on first use.
func (d *DB) Activity() *ActivityWriter {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.activity == nil {
		w := &ActivityWriter{db: d, kick: make(chan struct{}, 1), urgent: make(chan struct{}, 1),
			stop: make(chan struct{}), done: make(chan struct{})}
		w.cond = sync.NewCond(&w.mu)
		d.activity = w
		go w.run()
	}
	return d.activity
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Record queues an entry. It never blocks on the database.
func (w *ActivityWriter) Record(a amt.Activity) {
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return
	}
	w.pending = append(w.pending, a)
	n := len(w.pending)
	w.mu.Unlock()
	switch {
	case n >= activityBatchSize:
		signal(w.urgent)
	case n == 1:
		signal(w.kick)
	}
}

func (w *ActivityWriter) run() {
	defer close(w.done)
	for {
		now := false
		select {
		case <-w.kick:
		case <-w.urgent:
			now = true
		case <-w.stop:
			now = true
		}
		if !now {
			// Give a lone entry company for a moment.
			select {
			case <-time.After(activityFlushDelay):
			case <-w.urgent:
			case <-w.stop:
			}
		}
		w.mu.Lock()
		batch := w.pending
		w.pending = nil
		w.inflight = len(batch) > 0
		w.mu.Unlock()

		err := w.write(batch)

		w.mu.Lock()
		w.inflight = false
		if err != nil {
			w.err = err
		}
		w.cond.Broadcast()
		finished := w.closing && len(w.pending) == 0
		w.mu.Unlock()
		if finished {
			return
		}
	}
}

// write inserts a batch in one transaction, and purges past the retention
// when the last purge is a day old.
func (w *ActivityWriter) write(batch []amt.Activity) error {
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := w.db.InTx(ctx, func(tx *Tx) error {
		if w.db.engine == SQLite {
			return w.insertPrepared(ctx, tx, batch)
		}
		return insertActivityArrays(ctx, tx.q, batch)
	})
	if err != nil {
		return w.db.fail(fmt.Sprintf("writing %d activity entries", len(batch)), err)
	}
	if last, err := w.db.LastPurge(ctx); err == nil && w.db.now().Sub(last) > autoPurgeEvery {
		if _, err := w.db.PurgeActivity(ctx, w.db.now().Add(-w.db.retention)); err != nil {
			return err
		}
	}
	return nil
}

const activityColumns = 15 - 1 // without id

// activityBlocks are the row counts of the INSERTs SQLite keeps prepared,
// largest first: a batch is written in as many of each as fit, so that
// SQLite parses each only once per connection rather than a new
// statement for every batch. (Postgres, a round trip per statement away,
// writes a batch in one statement over arrays: insertActivityArrays.)
var activityBlocks = [...]int{64, 8, 1}

// insertPrepared writes a batch with SQLite's prepared INSERTs.
func (w *ActivityWriter) insertPrepared(ctx context.Context, tx *Tx, batch []amt.Activity) error {
	w.mu.Lock()
	if w.stmts[0] == nil {
		for i, n := range activityBlocks {
			w.stmts[i] = w.db.Prepare(activityInsert(n))
		}
	}
	w.mu.Unlock()
	args := make([]any, 0, activityBlocks[0]*activityColumns)
	for i, n := range activityBlocks {
		for len(batch) >= n {
			args = args[:0]
			for _, a := range batch[:n] {
				var err error
				if args, err = appendActivity(args, a); err != nil {
					return err
				}
			}
			if _, err := tx.ExecStmt(ctx, w.stmts[i], args...); err != nil {
				return err
			}
			batch = batch[n:]
		}
	}
	return nil
}

// activityInsert is an INSERT of n entries.
func activityInsert(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO amtkit_activity (at, actor, host, operation, params, technology, profile, outcome,
		return_code, return_code_name, auth_step, job, duration_us, message) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range activityColumns {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(i*activityColumns + c + 1))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// appendActivity appends an entry's values, in activityInsert's order.
func appendActivity(args []any, a amt.Activity) ([]any, error) {
	t, pj, rc, err := activityValues(a)
	if err != nil {
		return args, err
	}
	return append(args, t, a.Actor, a.Host, a.Operation, pj, a.Technology, a.Profile, a.Outcome,
		rc, a.ReturnCodeName, a.AuthStep, a.Job, a.Duration.Microseconds(), a.Message), nil
}

// activityValues are the stored forms of an entry's time (now when it has
// none), parameters and return code.
func activityValues(a amt.Activity) (at int64, params string, rc sql.NullInt64, err error) {
	p := a.Params
	if p == nil {
		p = map[string]string{}
	}
	pj, err := json.Marshal(p)
	if err != nil {
		return 0, "", rc, err
	}
	if a.ReturnCode != nil {
		rc = sql.NullInt64{Int64: int64(*a.ReturnCode), Valid: true}
	}
	t := a.Time
	if t.IsZero() {
		t = time.Now()
	}
	return micros(t), string(pj), rc, nil
}

// activityArraysSQL inserts entries from arrays of their values, one per
// column (Postgres): one statement text whatever the number of entries,
// which pgx prepares once.
const activityArraysSQL = `INSERT INTO amtkit_activity (at, actor, host, operation, params, technology, profile,
	outcome, return_code, return_code_name, auth_step, job, duration_us, message)
	SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[])`

// insertActivityArrays writes entries with one INSERT over arrays.
func insertActivityArrays(ctx context.Context, q querier, batch []amt.Activity) error {
	n := len(batch)
	at, dur, rc := make([]int64, n), make([]int64, n), make([]*int64, n)
	actor, host, op, params, tech, profile := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	outcome, rcName, authStep, job, msg := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n)
	for i, a := range batch {
		t, pj, code, err := activityValues(a)
		if err != nil {
			return err
		}
		at[i], params[i], dur[i] = t, pj, a.Duration.Microseconds()
		if code.Valid {
			rc[i] = &code.Int64
		}
		actor[i], host[i], op[i], tech[i], profile[i] = a.Actor, a.Host, a.Operation, a.Technology, a.Profile
		outcome[i], rcName[i], authStep[i], job[i], msg[i] = a.Outcome, a.ReturnCodeName, a.AuthStep, a.Job, a.Message
	}
	_, err := q.exec(ctx, activityArraysSQL, at, actor, host, op, params, tech, profile, outcome, rc, rcName, authStep,
		job, dur, msg)
	return err
}

// Flush waits until every entry recorded so far is written, and returns
// the last write error.
func (w *ActivityWriter) Flush() error {
	signal(w.urgent)
	w.mu.Lock()
	defer w.mu.Unlock()
	for (len(w.pending) > 0 || w.inflight) && !w.stopped() {
		w.cond.Wait()
	}
	return w.err
}

func (w *ActivityWriter) stopped() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// Close writes what is left and stops the writer.
func (w *ActivityWriter) Close() error {
	w.mu.Lock()
	already := w.closing
	w.closing = true
	w.mu.Unlock()
	if !already {
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// ActivityFilter selects activity entries. Zero fields select everything.
type ActivityFilter struct {
	Host      string
	Actor     string
	Operation string // a prefix: "power" selects "power reset" and "power on"
	Since     time.Time
	Until     time.Time
	Job       string
	Limit     int // 0: no limit
}

// ActivityEntry is a stored activity entry with its ID.
type ActivityEntry struct {
	ID int64 `json:"id"`
	amt.Activity
}

// QueryActivity returns the entries the filter selects, oldest first.
func (d *DB) QueryActivity(ctx context.Context, f ActivityFilter) ([]ActivityEntry, error) {
	if d.isClosed() {
		return nil, ErrClosed
	}
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Host != "" {
		add("host = ?", f.Host)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Operation != "" {
		args = append(args, f.Operation, f.Operation+" %")
		where = append(where, fmt.Sprintf("(operation = $%d OR operation LIKE $%d)", len(args)-1, len(args)))
	}
	if !f.Since.IsZero() {
		add("at >= ?", micros(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", micros(f.Until))
	}
	if f.Job != "" {
		add("job = ?", f.Job)
	}
	q := `SELECT id, at, actor, host, operation, params, technology, profile, outcome, return_code, return_code_name,
		auth_step, job, duration_us, message FROM amtkit_activity`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY at, id"
	if f.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(f.Limit)
	}
	rs, err := d.q.query(ctx, q, args...)
	if err != nil {
		return nil, d.fail("reading the activity log", err)
	}
	defer rs.Close()
	var out []ActivityEntry
	for rs.Next() {
		var (
			e      ActivityEntry
			at, us int64
			params string
			rc     sql.NullInt64
		)
		if err := rs.Scan(&e.ID, &at, &e.Actor, &e.Host, &e.Operation, &params, &e.Technology, &e.Profile, &e.Outcome,
			&rc, &e.ReturnCodeName, &e.AuthStep, &e.Job, &us, &e.Message); err != nil {
			return nil, d.fail("reading the activity log", err)
		}
		e.Time, e.Duration = fromMicros(at), time.Duration(us)*time.Microsecond
		if rc.Valid {
			code := int(rc.Int64)
			e.ReturnCode = &code
		}
		if err := json.Unmarshal([]byte(params), &e.Params); err != nil {
			slog.Debug("statedb: activity entry with unreadable parameters", "id", e.ID)
		}
		if e.Params == nil {
			e.Params = map[string]string{}
		}
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, d.fail("reading the activity log", err)
	}
	return out, nil
}

// PurgeActivity deletes the entries older than before and records when the
// purge ran. It returns how many it deleted.
func (d *DB) PurgeActivity(ctx context.Context, before time.Time) (int64, error) {
	if d.isClosed() {
		return 0, ErrClosed
	}
	var n int64
	err := d.InTx(ctx, func(tx *Tx) error {
		var err error
		if n, err = tx.q.exec(ctx, "DELETE FROM amtkit_activity WHERE at < $1", micros(before)); err != nil {
			return err
		}
		_, err = tx.q.exec(ctx, `INSERT INTO amtkit_meta (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, metaLastPurge, []byte(strconv.FormatInt(micros(d.now()), 10)))
		return err
	})
	if err != nil {
		return 0, d.fail("purging the activity log", err)
	}
	return n, nil
}

// LastPurge returns when the activity log was last purged; the zero time
// when it never was.
func (d *DB) LastPurge(ctx context.Context) (time.Time, error) {
	var v []byte
	err := d.q.queryRow(ctx, "SELECT value FROM amtkit_meta WHERE name = $1", metaLastPurge).Scan(&v)
	if errors.Is(err, errNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, d.fail("reading the last purge", err)
	}
	us, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("statedb: %w: last purge %q", ErrCorrupt, v)
	}
	return fromMicros(us), nil
}

// ActivityStats describes the activity log.
type ActivityStats struct {
	Count     int64         `json:"count"`
	Oldest    *time.Time    `json:"oldest"`
	Newest    *time.Time    `json:"newest"`
	LastPurge *time.Time    `json:"last_purge"`
	Retention time.Duration `json:"-"`
}

// ActivityStats returns the count, the oldest and newest entries, when the
// log was last purged, and the retention.
func (d *DB) ActivityStats(ctx context.Context) (ActivityStats, error) {
	st := ActivityStats{Retention: d.retention}
	if d.isClosed() {
		return st, ErrClosed
	}
	var oldest, newest sql.NullInt64
	if err := d.q.queryRow(ctx, "SELECT COUNT(*), MIN(at), MAX(at) FROM amtkit_activity").Scan(&st.Count, &oldest, &newest); err != nil {
		return st, d.fail("reading the activity log", err)
	}
	if oldest.Valid {
		t := fromMicros(oldest.Int64)
		st.Oldest = &t
	}
	if newest.Valid {
		t := fromMicros(newest.Int64)
		st.Newest = &t
	}
	last, err := d.LastPurge(ctx)
	if err != nil {
		return st, err
	}
	if !last.IsZero() {
		st.LastPurge = &last
	}
	return st, nil
}

// Retention returns how long activity entries are kept.
func (d *DB) Retention() time.Duration { return d.retention }
