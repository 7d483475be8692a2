package durable

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/statedb"
)

// committer writes markers, attempt counts and results in group commits:
// whatever arrives while one transaction is being written goes into the
// next. A marker's caller waits for its commit (the change is sent only
// after it); results and attempt counts are waited for before a
// chunk is reported done (batchWait).
type committer struct {
	db     *statedb.DB
	worker string

	mu       sync.Mutex
	marks    []markReq
	results  map[machineKey]resultReq
	attempts map[machineKey]resultReq
	claims   map[machineKey]int64 // machines started (when), for Status
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}

	stmts rowStmts // the statements of a group commit (SQLite prepares them once)
}

// rowStmts are the statements that write one machine's row, and those
// each group commit runs per job.
type rowStmts struct {
	final, attempt, claim *statedb.Stmt
	seq, done, finish     *statedb.Stmt
}

type machineKey struct {
	job  ID
	host string
}

type markReq struct {
	key  machineKey
	done chan error
}

type resultReq struct {
	r     fleet.Result
	prior int // attempts made before this run
	w     *batchWait
}

// errMarkRefused: another worker has marked the machine, or it has its
// outcome already; nothing is sent.
var errMarkRefused = fmt.Errorf("durable: the machine is held by another worker or already done")

const maxPerCommit = 1000

func newCommitter(db *statedb.DB, worker string) *committer {
	c := &committer{db: db, worker: worker, results: map[machineKey]resultReq{}, attempts: map[machineKey]resultReq{},
		claims: map[machineKey]int64{}, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		stmts: rowStmts{final: db.Prepare(finalRowSQL), attempt: db.Prepare(attemptRowSQL), claim: db.Prepare(claimRowSQL),
			seq: db.Prepare(resultSeqSQL), done: db.Prepare(addDoneSQL), finish: db.Prepare(finishIfDoneSQL)}}
	go c.run()
	return c
}

func (c *committer) signal() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// mark commits the marker of a machine and returns once it is committed
// (nil), or refused (errMarkRefused), or failed.
func (c *committer) mark(ctx context.Context, job ID, host string) error {
	req := markReq{key: machineKey{job, host}, done: make(chan error, 1)}
	c.mu.Lock()
	c.marks = append(c.marks, req)
	c.mu.Unlock()
	c.signal()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		// The marker may still be committed: the machine then reads as
		// outcome unknown, never as untried, which is the safe side.
		return ctx.Err()
	}
}

// batchWait lets a chunk wait for the writes it queued.
type batchWait struct {
	wg  sync.WaitGroup
	mu  sync.Mutex
	err error
}

func (w *batchWait) finish(err error) {
	if err != nil {
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
	}
	w.wg.Done()
}

// wait waits for every write queued with w and returns the last error.
func (w *batchWait) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// result queues a machine's outcome.
func (c *committer) result(w *batchWait, job ID, r fleet.Result, prior int) {
	k := machineKey{job, r.Host}
	w.wg.Add(1)
	c.mu.Lock()
	if old, ok := c.results[k]; ok {
		old.w.finish(nil)
	}
	c.results[k] = resultReq{r: r, prior: prior, w: w}
	if old, ok := c.attempts[k]; ok {
		old.w.finish(nil)
		delete(c.attempts, k)
	}
	// A machine done before its claim was written needs none.
	delete(c.claims, k)
	c.mu.Unlock()
	c.signal()
}

// claim queues the record that this worker has started on a machine
// (claimed_at and worker), which Status reads as the machine held now. It
// is not waited for: it rides the next group commit, and is dropped when
// the machine's result comes first.
func (c *committer) claim(job ID, host string) {
	c.mu.Lock()
	c.claims[machineKey{job, host}] = statedb.Micros(time.Now())
	c.mu.Unlock()
	c.signal()
}

// attempt queues a machine's attempt count (for a machine that will be
// retried, so that a worker taking over after a crash knows the retries
// left).
func (c *committer) attempt(w *batchWait, job ID, r fleet.Result, prior int) {
	k := machineKey{job, r.Host}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, done := c.results[k]; done {
		return
	}
	w.wg.Add(1)
	if old, ok := c.attempts[k]; ok {
		old.w.finish(nil)
	}
	c.attempts[k] = resultReq{r: r, prior: prior, w: w}
	c.signal()
}

func (c *committer) close() {
	close(c.stop)
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.kick:
		case <-c.stop:
			c.writeAll()
			return
		}
		c.writeAll()
	}
}

// writeAll writes batches until nothing is queued.
func (c *committer) writeAll() {
	for {
		c.mu.Lock()
		if len(c.marks) == 0 && len(c.results) == 0 && len(c.attempts) == 0 && len(c.claims) == 0 {
			c.mu.Unlock()
			return
		}
		marks := c.marks
		if len(marks) > maxPerCommit {
			marks = marks[:maxPerCommit]
		}
		c.marks = c.marks[len(marks):]
		results := take(c.results)
		attempts := take(c.attempts)
		claims := takeClaims(c.claims)
		c.mu.Unlock()

		refused, err := c.write(marks, results, attempts, claims)

		for _, m := range marks {
			switch {
			case err != nil:
				m.done <- err
			case refused[m.key]:
				m.done <- errMarkRefused
			default:
				m.done <- nil
			}
		}
		for _, set := range []map[machineKey]resultReq{results, attempts} {
			for _, r := range set {
				r.w.finish(err)
			}
		}
	}
}

func takeClaims(m map[machineKey]int64) map[ID][]string {
	out := map[ID][]string{}
	n := 0
	for k := range m {
		if n == maxPerCommit {
			break
		}
		out[k.job] = append(out[k.job], k.host)
		delete(m, k)
		n++
	}
	return out
}

func take(m map[machineKey]resultReq) map[machineKey]resultReq {
	out := make(map[machineKey]resultReq, min(len(m), maxPerCommit))
	for k, v := range m {
		if len(out) == maxPerCommit {
			break
		}
		out[k] = v
		delete(m, k)
	}
	return out
}

// write commits one batch: markers (refusing machines already marked or
// done), attempt counts, and results with a new result sequence per job.
func (c *committer) write(marks []markReq, results, attempts map[machineKey]resultReq, claims map[ID][]string) (map[machineKey]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	refused := map[machineKey]bool{}
	now := statedb.Micros(time.Now())
	err := c.db.InTx(ctx, func(tx *statedb.Tx) error {
		clear(refused)
		for job, hosts := range claims {
			if err := c.claimTx(ctx, tx, job, hosts, now); err != nil {
				return err
			}
		}
		byJob := map[ID][]string{}
		for _, m := range marks {
			byJob[m.key.job] = append(byJob[m.key.job], m.key.host)
		}
		for job, hosts := range byJob {
			ok, err := markTx(ctx, tx, job, hosts, c.worker, now)
			if err != nil {
				return err
			}
			for _, h := range hosts {
				if !ok[h] {
					refused[machineKey{job, h}] = true
				}
			}
		}
		perRow := c.db.Engine() == statedb.SQLite
		if err := writeRows(ctx, tx, attempts, c.worker, false, now, &c.stmts, perRow); err != nil {
			return err
		}
		return writeRows(ctx, tx, results, c.worker, true, now, &c.stmts, perRow)
	})
	if err != nil {
		return nil, fmt.Errorf("durable: recording %d markers and %d results: %w", len(marks), len(results), err)
	}
	return refused, nil
}

// claimTx records that the worker has started on machines that have no
// outcome (and no marker of another worker): on SQLite one prepared UPDATE
// per machine (parsed once per connection, where a list of hosts would be
// a new statement for each size), on Postgres one statement over an array
// of the hosts.
func (c *committer) claimTx(ctx context.Context, tx *statedb.Tx, job ID, hosts []string, now int64) error {
	if c.db.Engine() == statedb.SQLite {
		for _, h := range hosts {
			if _, err := tx.ExecStmt(ctx, c.stmts.claim, now, c.worker, int64(job), h); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := tx.Exec(ctx, claimRowsSQL, now, c.worker, int64(job), hosts)
	return err
}

// The statements of claimTx.
const (
	claimRowSQL = `UPDATE amtkit_job_machine SET claimed_at = $1, worker = $2
		WHERE job = $3 AND host = $4 AND outcome IS NULL AND (marked_at IS NULL OR worker = $2)`
	claimRowsSQL = `UPDATE amtkit_job_machine SET claimed_at = $1, worker = $2
		WHERE job = $3 AND host = ANY($4::text[]) AND outcome IS NULL AND (marked_at IS NULL OR worker = $2)`
)

// markTx sets the markers of machines that have neither a marker nor an
// outcome, and returns those it set.
func markTx(ctx context.Context, tx *statedb.Tx, job ID, hosts []string, worker string, now int64) (map[string]bool, error) {
	args := []any{now, worker, int64(job)}
	for _, h := range hosts {
		args = append(args, h)
	}
	rs, err := tx.Query(ctx, `UPDATE amtkit_job_machine SET marked_at = $1, worker = $2
		WHERE job = $3 AND host IN (`+statedb.Placeholders(4, len(hosts))+`) AND marked_at IS NULL AND outcome IS NULL
		RETURNING host`, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	ok := make(map[string]bool, len(hosts))
	for rs.Next() {
		var h string
		if err := rs.Scan(&h); err != nil {
			return nil, err
		}
		ok[h] = true
	}
	return ok, rs.Err()
}

// writeRows updates machine rows from results: the outcome and its
// details (final), or only the attempt counts. A row that has its outcome
// already is never written again.
//
// SQLite, in process, runs one prepared UPDATE per machine (perRow) faster
// than a join against a list of values; Postgres saves round trips with
// one statement per job over arrays of the values. The per-job statements
// are st's on both engines (with Postgres a Stmt is its text).
func writeRows(ctx context.Context, tx *statedb.Tx, reqs map[machineKey]resultReq, worker string, final bool, now int64, st *rowStmts, perRow bool) error {
	byJob := map[ID][]resultReq{}
	for k, v := range reqs {
		byJob[k.job] = append(byJob[k.job], v)
	}
	for job, rows := range byJob {
		var seq int64
		if final {
			if err := tx.QueryRowStmt(ctx, st.seq, int64(job)).Scan(&seq); err != nil {
				return err
			}
		}
		var total int64
		for off := 0; off < len(rows); off += maxPerCommit {
			part := rows[off:min(off+maxPerCommit, len(rows))]
			var (
				n   int64
				err error
			)
			if perRow {
				n, err = updateEach(ctx, tx, st, job, part, worker, final, now, seq)
			} else {
				n, err = updateRows(ctx, tx, job, part, worker, final, now, seq)
			}
			if err != nil {
				return err
			}
			total += n
		}
		if final && total > 0 {
			if _, err := tx.ExecStmt(ctx, st.done, total, int64(job)); err != nil {
				return err
			}
			if _, err := tx.ExecStmt(ctx, st.finish, finishIfDoneArgs(job, now)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// The statements a group commit runs per job: the job's next result
// sequence number, and its count of machines done.
const (
	resultSeqSQL = "UPDATE amtkit_job SET result_seq = result_seq + 1 WHERE id = $1 RETURNING result_seq"
	addDoneSQL   = "UPDATE amtkit_job SET done = done + $1 WHERE id = $2"
)

// The statements that write many machines' rows at once on Postgres, from
// arrays (one text whatever the number of rows, so that pgx prepares it
// once): results, and attempt counts.
const (
	finalRowsSQL = `UPDATE amtkit_job_machine AS m SET outcome = v.outcome, return_code = v.rc,
		return_code_name = v.rc_name, message = v.message, data = v.data, finished_at = $10, done_seq = $11,
		attempts = v.attempts, retries_remaining = v.retries,
		last_attempt = COALESCE(v.last_attempt, m.last_attempt),
		worker = CASE WHEN v.last_attempt IS NULL THEN m.worker ELSE $12 END
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
			$8::text[], $9::text[]) AS v(host, outcome, rc, rc_name, attempts, retries, last_attempt, message, data)
		WHERE m.job = $13 AND m.host = v.host AND m.outcome IS NULL`
	attemptRowsSQL = `UPDATE amtkit_job_machine AS m SET attempts = v.attempts, retries_remaining = v.retries,
		last_attempt = COALESCE(v.last_attempt, m.last_attempt),
		worker = CASE WHEN v.last_attempt IS NULL THEN m.worker ELSE $5 END
		FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS v(host, attempts, retries, last_attempt)
		WHERE m.job = $6 AND m.host = v.host AND m.outcome IS NULL`
)

// updateRows writes rows with one statement over arrays of their values
// (Postgres).
func updateRows(ctx context.Context, tx *statedb.Tx, job ID, rows []resultReq, worker string, final bool, now, seq int64) (int64, error) {
	var (
		hosts    = make([]string, len(rows))
		attempts = make([]int64, len(rows))
		retries  = make([]int64, len(rows))
		last     = make([]*int64, len(rows))
	)
	for i, rq := range rows {
		hosts[i] = rq.r.Host
		attempts[i] = int64(rq.prior + rq.r.Attempts)
		retries[i] = int64(rq.r.RetriesRemaining)
		if rq.r.LastAttempt != nil {
			v := statedb.Micros(*rq.r.LastAttempt)
			last[i] = &v
		}
	}
	if !final {
		return tx.Exec(ctx, attemptRowsSQL, hosts, attempts, retries, last, worker, int64(job))
	}
	var (
		outcomes = make([]string, len(rows))
		rcs      = make([]*int64, len(rows))
		rcNames  = make([]*string, len(rows))
		messages = make([]string, len(rows))
		data     = make([]*string, len(rows))
	)
	for i, rq := range rows {
		r := rq.r
		outcomes[i] = string(r.Outcome)
		if r.ReturnCode != nil {
			v := int64(*r.ReturnCode)
			rcs[i] = &v
		}
		rcNames[i] = r.ReturnCodeName
		messages[i] = oneLine(r.Message)
		if len(r.Data) > 0 && json.Valid(r.Data) && string(r.Data) != "null" {
			v := string(r.Data)
			data[i] = &v
		}
	}
	return tx.Exec(ctx, finalRowsSQL, hosts, outcomes, rcs, rcNames, attempts, retries, last, messages, data,
		now, seq, worker, int64(job))
}

// rowValues are the values of a result's row.
func rowValues(rq resultReq) (rc, rcName, last, data any) {
	r := rq.r
	if r.ReturnCode != nil {
		rc = int64(*r.ReturnCode)
	}
	if r.LastAttempt != nil {
		last = statedb.Micros(*r.LastAttempt)
	}
	if r.ReturnCodeName != nil {
		rcName = *r.ReturnCodeName
	}
	if len(r.Data) > 0 && json.Valid(r.Data) && string(r.Data) != "null" {
		data = string(r.Data)
	}
	return
}

// The per-machine statements: a result, and an attempt count.
const (
	finalRowSQL = `UPDATE amtkit_job_machine SET outcome = $1, return_code = $2, return_code_name = $3,
		message = $4, data = $5, finished_at = $6, done_seq = $7, attempts = $8, retries_remaining = $9,
		last_attempt = COALESCE($10, last_attempt), worker = CASE WHEN $10 IS NULL THEN worker ELSE $11 END
		WHERE job = $12 AND host = $13 AND outcome IS NULL`
	attemptRowSQL = `UPDATE amtkit_job_machine SET attempts = $1, retries_remaining = $2,
		last_attempt = COALESCE($3, last_attempt), worker = CASE WHEN $3 IS NULL THEN worker ELSE $4 END
		WHERE job = $5 AND host = $6 AND outcome IS NULL`
)

// updateEach writes rows with one prepared UPDATE each.
func updateEach(ctx context.Context, tx *statedb.Tx, st *rowStmts, job ID, rows []resultReq, worker string, final bool, now, seq int64) (int64, error) {
	var total int64
	for _, rq := range rows {
		r := rq.r
		rc, rcName, last, data := rowValues(rq)
		var (
			n   int64
			err error
		)
		if final {
			n, err = tx.ExecStmt(ctx, st.final,
				string(r.Outcome), rc, rcName, oneLine(r.Message), data, now, seq, rq.prior+r.Attempts, r.RetriesRemaining,
				last, worker, int64(job), r.Host)
		} else {
			n, err = tx.ExecStmt(ctx, st.attempt,
				rq.prior+r.Attempts, r.RetriesRemaining, last, worker, int64(job), r.Host)
		}
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// oneLine keeps a message to one line of bounded length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// hostSet is a set of hosts safe for concurrent use.
type hostSet struct {
	mu sync.Mutex
	m  map[string]bool
}

func newHostSet() *hostSet { return &hostSet{m: map[string]bool{}} }

func (s *hostSet) add(h string) {
	s.mu.Lock()
	s.m[h] = true
	s.mu.Unlock()
}

func (s *hostSet) has(h string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[h]
}
