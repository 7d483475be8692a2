package durable

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/statedb"
)

// metaLastCleanup is the amtkit_meta entry that records the last purge of
// finished jobs.
const metaLastCleanup = "jobs_last_cleanup"

// Manager submits, inspects and steers durable jobs, and keeps the named
// collections of targets. It does no device I/O (a Worker does), so it is
// what a CLI command or a console uses. It is safe for concurrent use.
type Manager struct {
	db    *statedb.DB
	river riverClient
}

// NewManager returns a Manager over the state database.
func NewManager(db *statedb.DB) (*Manager, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: no state database", ErrInvalid)
	}
	rc, err := newRiver(db, &river.Config{})
	if err != nil {
		return nil, fmt.Errorf("durable: %w", err)
	}
	return &Manager{db: db, river: rc}, nil
}

// DB returns the state database the Manager works on.
func (m *Manager) DB() *statedb.DB { return m.db }

func (m *Manager) now() time.Time { return m.db.Now() }

// knownActions are the actions a job may run.
var knownActions = map[fleet.Action]bool{
	fleet.PowerStatus: true, fleet.PowerOn: true, fleet.PowerOff: true, fleet.PowerReset: true,
	fleet.PowerCycle: true, fleet.PowerSoftOff: true, fleet.PowerSoftReset: true, fleet.Wake: true,
	fleet.Boot: true, fleet.Inventory: true, fleet.Hardware: true, fleet.ClockSet: true, fleet.IDERBoot: true,
	fleet.DefenseQuarantine: true, fleet.DefensePingOnly: true, fleet.DefenseApply: true,
	fleet.DefenseRemove: true, fleet.DefenseStatus: true,
}

func (s Spec) withDefaults() Spec {
	if s.Concurrency <= 0 {
		s.Concurrency = 100
	}
	if s.RetryDelay <= 0 {
		s.RetryDelay = 5 * time.Second
	}
	if s.ChunkSize <= 0 {
		s.ChunkSize = DefaultChunkSize
	}
	s.Connection = s.Connection.normalized()
	if s.Actor == "" {
		if u, err := user.Current(); err == nil {
			s.Actor = u.Username
		}
	}
	return s
}

func (s Spec) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case !knownActions[s.Task.Action]:
		return bad("unknown task %q", s.Task.Action)
	case s.Retries < 0:
		return bad("negative retries %d", s.Retries)
	case s.Timeout < 0:
		return bad("negative timeout %v", s.Timeout)
	case s.ExpireAfter < 0:
		return bad("negative expiry %v", s.ExpireAfter)
	case !s.ExpireAt.IsZero() && s.ExpireAfter != 0:
		return bad("both an expiry time and an expiry duration")
	case s.BatchSize < 0 || s.BatchInterval < 0:
		return bad("negative batch size or interval")
	case s.BatchSize > 0 && s.BatchInterval == 0:
		return bad("a batch size needs a batch interval")
	case s.BatchSize == 0 && s.BatchInterval > 0:
		return bad("a batch interval needs a batch size")
	case s.Canary < 0:
		return bad("negative canary %d", s.Canary)
	case strings.ContainsAny(s.Profile, "\n\r"):
		return bad("profile name with a line break")
	}
	return s.Connection.Validate()
}

// normTargets trims, checks and removes duplicates, keeping the order.
func normTargets(in []string) ([]string, error) {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, t := range in {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if len(t) > 255 || strings.ContainsAny(t, " \t\r\n,") {
			return nil, fmt.Errorf("%w: target %q", ErrInvalid, t)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// chunkPlan is one chunk of a new job: machines [first, first+n), and its
// batch (-1: the canary).
type chunkPlan struct{ first, n, batch int }

// plan cuts n machines into chunks: the canary first, then batches of
// BatchSize (or one batch of everything), each cut into chunks of at most
// ChunkSize.
func (s Spec) plan(n int) []chunkPlan {
	var out []chunkPlan
	next := 0
	if s.Canary > 0 {
		c := min(s.Canary, n)
		for off := 0; off < c; off += s.ChunkSize {
			out = append(out, chunkPlan{first: off, n: min(s.ChunkSize, c-off), batch: -1})
		}
		next = c
	}
	batch := 0
	for next < n {
		size := n - next
		if s.BatchSize > 0 {
			size = min(s.BatchSize, size)
		}
		for off := 0; off < size; off += s.ChunkSize {
			out = append(out, chunkPlan{first: next + off, n: min(s.ChunkSize, size-off), batch: batch})
		}
		next += size
		batch++
	}
	return out
}

// Submit validates and enqueues a job, with its machines, its chunks and
// their River jobs, in one transaction; it returns the job's ID. Workers
// run it; nothing is sent to a device here.
func (m *Manager) Submit(ctx context.Context, s Spec) (ID, error) {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return 0, err
	}
	targets, err := normTargets(s.Targets)
	if err != nil {
		return 0, err
	}
	// The task is checked as a worker will run it (boot target, policy,
	// image kind); nothing is sent.
	r, err := fleet.NewRunner(s.Task, fleet.Options{Retries: s.Retries, RetryDelay: s.RetryDelay, Timeout: s.Timeout})
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	r.Close()
	now := m.now()
	start := s.StartAt
	if start.IsZero() || start.Before(now) {
		start = now
	}
	var expire *int64
	switch {
	case !s.ExpireAt.IsZero():
		v := statedb.Micros(s.ExpireAt)
		expire = &v
	case s.ExpireAfter > 0:
		v := statedb.Micros(start.Add(s.ExpireAfter))
		expire = &v
	}
	var id ID
	err = m.db.InTx(ctx, func(tx *statedb.Tx) error {
		all := targets
		for _, name := range s.Collections {
			c, err := collectionTargets(ctx, tx, name)
			if err != nil {
				return err
			}
			all = append(all, c...)
		}
		all, err := normTargets(all)
		if err != nil {
			return err
		}
		// One machine per address, whatever the port or spelling, as a
		// worker's fleet.Run works them.
		if all, err = fleet.Targets(all); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if len(all) == 0 {
			return fmt.Errorf("%w: no targets", ErrInvalid)
		}
		if s.Connection.TLS {
			for _, t := range all {
				if strings.HasPrefix(strings.ToLower(t), "http:") {
					return fmt.Errorf("%w: target %s is plain http but the job connects with TLS", ErrInvalid, t)
				}
			}
		}
		stored := s
		stored.Targets, stored.Collections, stored.Connection = nil, nil, Connection{}
		specJSON, err := json.Marshal(stored)
		if err != nil {
			return err
		}
		connJSON, err := json.Marshal(s.Connection)
		if err != nil {
			return err
		}
		taskJSON, err := json.Marshal(s.Task)
		if err != nil {
			return err
		}
		var raw int64
		err = tx.QueryRow(ctx, `INSERT INTO amtkit_job (created_at, actor, action, task, spec, profile, state, start_at,
			expire_at, total, connection) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			statedb.Micros(now), s.Actor, string(s.Task.Action), string(taskJSON), string(specJSON), s.Profile,
			string(StateRunning), statedb.Micros(start), expire, len(all), string(connJSON)).Scan(&raw)
		if err != nil {
			return fmt.Errorf("durable: recording the job: %w", err)
		}
		id = ID(raw)
		chunks := s.plan(len(all))
		chunkOf := make([]int, len(all))
		for ci, c := range chunks {
			for i := c.first; i < c.first+c.n; i++ {
				chunkOf[i] = ci
			}
		}
		const perInsert = 500
		for off := 0; off < len(all); off += perInsert {
			n := min(perInsert, len(all)-off)
			var b strings.Builder
			b.WriteString("INSERT INTO amtkit_job_machine (job, seq, host, chunk, retries_remaining) VALUES ")
			args := make([]any, 0, n*5)
			for i := off; i < off+n; i++ {
				if i > off {
					b.WriteString(", ")
				}
				b.WriteString("(" + statedb.Placeholders(len(args)+1, 5) + ")")
				args = append(args, raw, i, all[i], chunkOf[i], s.Retries)
			}
			if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
				return fmt.Errorf("durable: recording the machines: %w", err)
			}
		}
		params := make([]river.InsertManyParams, len(chunks))
		for ci := range chunks {
			c := chunks[ci]
			params[ci] = river.InsertManyParams{Args: chunkArgs{Job: id, Chunk: ci, Hosts: all[c.first : c.first+c.n]},
				InsertOpts: insertOpts(start, now)}
		}
		rids, err := m.river.insertManyTx(ctx, tx, params)
		if err != nil {
			return fmt.Errorf("durable: enqueueing the job: %w", err)
		}
		for off := 0; off < len(chunks); off += perInsert {
			n := min(perInsert, len(chunks)-off)
			var b strings.Builder
			b.WriteString("INSERT INTO amtkit_job_chunk (job, chunk, batch, river_id) VALUES ")
			args := make([]any, 0, n*4)
			for ci := off; ci < off+n; ci++ {
				if ci > off {
					b.WriteString(", ")
				}
				b.WriteString("(" + statedb.Placeholders(len(args)+1, 4) + ")")
				args = append(args, raw, ci, chunks[ci].batch, rids[ci])
			}
			if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
				return fmt.Errorf("durable: recording the chunks: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// insertOpts are a chunk's River options: scheduled only when it starts
// later (a job scheduled for now would wait for River's scheduler).
func insertOpts(start, now time.Time) *river.InsertOpts {
	o := &river.InsertOpts{Queue: Queue, MaxAttempts: chunkMaxAttempts}
	if start.After(now) {
		o.ScheduledAt = start
	}
	return o
}

// chunkMaxAttempts bounds how often River runs one chunk after worker-level
// failures (the database unavailable, the chunk's timeout); machines'
// own retries are the Spec's.
const chunkMaxAttempts = 10

const jobColumns = `id, created_at, actor, task, spec, profile, state, start_at, expire_at, continued_at,
	finished_at, total, done, connection`

func scanJob(r statedb.Row) (Job, error) {
	var (
		j                           Job
		raw, created, start         int64
		task, spec, state, conn     string
		expire, continued, finished sql.NullInt64
	)
	if err := r.Scan(&raw, &created, &j.Actor, &task, &spec, &j.Profile, &state, &start, &expire, &continued,
		&finished, &j.Total, &j.Done, &conn); err != nil {
		return j, err
	}
	j.ID, j.State = ID(raw), State(state)
	j.CreatedAt, j.StartAt = statedb.FromMicros(created), statedb.FromMicros(start)
	j.ExpireAt, j.ContinuedAt, j.FinishedAt = optTime(expire), optTime(continued), optTime(finished)
	if err := json.Unmarshal([]byte(task), &j.Task); err != nil {
		return j, fmt.Errorf("durable: job %d: unreadable task: %w", raw, err)
	}
	if err := json.Unmarshal([]byte(spec), &j.Spec); err != nil {
		return j, fmt.Errorf("durable: job %d: unreadable spec: %w", raw, err)
	}
	j.Spec.Connection = Connection{}
	if err := json.Unmarshal([]byte(conn), &j.Spec.Connection); err != nil {
		return j, fmt.Errorf("durable: job %d: unreadable connection: %w", raw, err)
	}
	j.Spec.Connection = j.Spec.Connection.normalized()
	return j, nil
}

func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := statedb.FromMicros(v.Int64)
	return &t
}

// shown is the state a caller sees: a running job before its start time is
// scheduled.
func (j *Job) shown(now time.Time) {
	if j.State == StateRunning && j.StartAt.After(now) {
		j.State = StateScheduled
	}
}

func emptyCounts() map[fleet.Outcome]int {
	c := make(map[fleet.Outcome]int, len(fleet.Outcomes))
	for _, o := range fleet.Outcomes {
		c[o] = 0
	}
	return c
}

// counts fills the counts by outcome of the jobs given.
func (m *Manager) counts(ctx context.Context, jobs []Job) error {
	if len(jobs) == 0 {
		return nil
	}
	byID := make(map[ID]*Job, len(jobs))
	args := make([]any, len(jobs))
	for i := range jobs {
		jobs[i].Counts = emptyCounts()
		byID[jobs[i].ID] = &jobs[i]
		args[i] = int64(jobs[i].ID)
	}
	rs, err := m.db.Query(ctx, `SELECT job, outcome, COUNT(*) FROM amtkit_job_machine WHERE outcome IS NOT NULL
		AND job IN (`+statedb.Placeholders(1, len(args))+`) GROUP BY job, outcome`, args...)
	if err != nil {
		return fmt.Errorf("durable: reading outcomes: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			job     int64
			outcome string
			n       int
		)
		if err := rs.Scan(&job, &outcome, &n); err != nil {
			return fmt.Errorf("durable: reading outcomes: %w", err)
		}
		byID[ID(job)].Counts[fleet.Outcome(outcome)] = n
	}
	return rs.Err()
}

// Job returns one job's record and counts.
func (m *Manager) Job(ctx context.Context, id ID) (Job, error) {
	if err := m.sweep(ctx); err != nil {
		return Job{}, err
	}
	return m.job(ctx, id)
}

// jobRecord reads a job's row, without its counts.
func (m *Manager) jobRecord(ctx context.Context, id ID) (Job, error) {
	j, err := scanJob(m.db.QueryRow(ctx, "SELECT "+jobColumns+" FROM amtkit_job WHERE id = $1", int64(id)))
	if errors.Is(err, statedb.ErrNoRows) {
		return j, fmt.Errorf("%w: job %d", ErrNotFound, id)
	}
	if err != nil {
		return j, fmt.Errorf("durable: reading job %d: %w", id, err)
	}
	return j, nil
}

func (m *Manager) job(ctx context.Context, id ID) (Job, error) {
	j, err := m.jobRecord(ctx, id)
	if err != nil {
		return j, err
	}
	jobs := []Job{j}
	if err := m.counts(ctx, jobs); err != nil {
		return j, err
	}
	jobs[0].shown(m.now())
	return jobs[0], nil
}

// List returns the jobs the filter selects, newest first.
func (m *Manager) List(ctx context.Context, f ListFilter) ([]Job, error) {
	if err := m.sweep(ctx); err != nil {
		return nil, err
	}
	rs, err := m.db.Query(ctx, "SELECT "+jobColumns+" FROM amtkit_job ORDER BY id DESC")
	if err != nil {
		return nil, fmt.Errorf("durable: listing jobs: %w", err)
	}
	defer rs.Close()
	now := m.now()
	want := make(map[State]bool, len(f.States))
	for _, s := range f.States {
		want[s] = true
	}
	jobs := []Job{}
	for rs.Next() {
		j, err := scanJob(rs)
		if err != nil {
			return nil, fmt.Errorf("durable: listing jobs: %w", err)
		}
		j.shown(now)
		if len(want) > 0 && !want[j.State] {
			continue
		}
		jobs = append(jobs, j)
		if f.Limit > 0 && len(jobs) == f.Limit {
			break
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("durable: listing jobs: %w", err)
	}
	rs.Close()
	return jobs, m.counts(ctx, jobs)
}

// Status returns a job's record, its machines by state, who holds which
// machine now, and when finished jobs were last purged.
func (m *Manager) Status(ctx context.Context, id ID) (Status, error) {
	j, err := m.Job(ctx, id)
	if err != nil {
		return Status{}, err
	}
	st := Status{Job: j, Machines: map[MachineState]int{MachinePending: 0, MachineRunning: 0, MachineDone: j.Done},
		Holders: []Holder{}, Running: []Running{}}
	rs, err := m.db.Query(ctx, `SELECT m.worker, m.claimed_at, m.host FROM amtkit_job_machine m
		JOIN amtkit_job_chunk c ON c.job = m.job AND c.chunk = m.chunk
		WHERE m.job = $1 AND m.outcome IS NULL AND `+heldNow+`
		ORDER BY m.worker, m.seq`, int64(id))
	if err != nil {
		return st, fmt.Errorf("durable: reading job %d: %w", id, err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			worker, host string
			since        int64
		)
		if err := rs.Scan(&worker, &since, &host); err != nil {
			return st, fmt.Errorf("durable: reading job %d: %w", id, err)
		}
		at := statedb.FromMicros(since)
		st.Running = append(st.Running, Running{Host: host, Worker: worker, Since: at})
		if n := len(st.Holders); n == 0 || st.Holders[n-1].Worker != worker {
			st.Holders = append(st.Holders, Holder{Worker: worker, Since: at})
		}
		h := &st.Holders[len(st.Holders)-1]
		if at.Before(h.Since) {
			h.Since = at
		}
		h.Hosts = append(h.Hosts, host)
		st.Machines[MachineRunning]++
	}
	if err := rs.Err(); err != nil {
		return st, fmt.Errorf("durable: reading job %d: %w", id, err)
	}
	st.Machines[MachinePending] = j.Total - j.Done - st.Machines[MachineRunning]
	st.LastCleanup, err = m.LastCleanup(ctx)
	return st, err
}

// LastCleanup returns when finished jobs were last purged (nil: never).
func (m *Manager) LastCleanup(ctx context.Context) (*time.Time, error) {
	v, err := m.db.Meta(ctx, metaLastCleanup)
	if err != nil || v == "" {
		return nil, err
	}
	us, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("durable: unreadable last clean-up %q", v)
	}
	t := statedb.FromMicros(us)
	return &t, nil
}

// heldNow selects the machines a worker is working now: claimed (in the
// worker's group commit, when it started on the machine) by the worker
// that runs the machine's chunk, since that worker took the chunk. A
// claim of a worker that stopped, in a chunk another worker took over,
// does not count.
const heldNow = `c.started_at IS NOT NULL AND c.finished_at IS NULL AND m.claimed_at IS NOT NULL
	AND m.worker = c.worker AND m.claimed_at >= c.started_at`

const machineColumns = `m.job, m.host, m.outcome, m.return_code, m.return_code_name, m.attempts, m.retries_remaining,
	m.last_attempt, m.worker, m.message, m.data, m.finished_at, m.done_seq,
	(` + heldNow + `)`

const machineFrom = ` FROM amtkit_job_machine m JOIN amtkit_job_chunk c ON c.job = m.job AND c.chunk = m.chunk`

func scanMachine(r statedb.Row) (Machine, int64, error) {
	var (
		mc                     Machine
		job                    int64
		outcome, rcName, data  sql.NullString
		rc, last, fin, doneSeq sql.NullInt64
		running                bool
	)
	if err := r.Scan(&job, &mc.Host, &outcome, &rc, &rcName, &mc.Attempts, &mc.RetriesRemaining, &last, &mc.Worker,
		&mc.Message, &data, &fin, &doneSeq, &running); err != nil {
		return mc, 0, err
	}
	mc.Job = ID(job)
	mc.State = MachinePending
	switch {
	case outcome.Valid:
		o := fleet.Outcome(outcome.String)
		mc.Outcome = &o
		mc.State = MachineDone
	case running:
		mc.State = MachineRunning
	}
	if rc.Valid {
		v := int(rc.Int64)
		mc.ReturnCode = &v
	}
	if rcName.Valid {
		v := rcName.String
		mc.ReturnCodeName = &v
	}
	if data.Valid {
		mc.Data = json.RawMessage(data.String)
	}
	mc.LastAttempt, mc.FinishedAt = optTime(last), optTime(fin)
	return mc, doneSeq.Int64, nil
}

// Report returns one row per machine of the job, in the order the targets
// were given; with outcomes, only machines that ended so.
func (m *Manager) Report(ctx context.Context, id ID, outcomes ...fleet.Outcome) ([]Machine, error) {
	if _, err := m.Job(ctx, id); err != nil {
		return nil, err
	}
	q := "SELECT " + machineColumns + machineFrom + " WHERE m.job = $1"
	args := []any{int64(id)}
	if len(outcomes) > 0 {
		for _, o := range outcomes {
			args = append(args, string(o))
		}
		q += " AND m.outcome IN (" + statedb.Placeholders(2, len(outcomes)) + ")"
	}
	rs, err := m.db.Query(ctx, q+" ORDER BY m.seq", args...)
	if err != nil {
		return nil, fmt.Errorf("durable: reading job %d: %w", id, err)
	}
	defer rs.Close()
	out := []Machine{}
	for rs.Next() {
		mc, _, err := scanMachine(rs)
		if err != nil {
			return nil, fmt.Errorf("durable: reading job %d: %w", id, err)
		}
		out = append(out, mc)
	}
	return out, rs.Err()
}

// FollowOptions tune Follow.
type FollowOptions struct {
	// Poll is how often the database is read (default 200ms).
	Poll time.Duration
	// UntilPaused ends the stream when the job pauses after its canary
	// as well as when it ends.
	UntilPaused bool
}

// Follow yields each machine of the job as its outcome is recorded (those
// already recorded first), until every machine has one (or, with
// UntilPaused, the job is paused), or ctx ends. It reads the database, so
// it follows work done by workers in any process. An error ends the
// stream.
func (m *Manager) Follow(ctx context.Context, id ID, opts FollowOptions) iter.Seq2[Machine, error] {
	poll := opts.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	return func(yield func(Machine, error) bool) {
		var cursor int64
		for {
			j, err := m.Job(ctx, id)
			if err != nil {
				yield(Machine{}, err)
				return
			}
			rs, err := m.db.Query(ctx, "SELECT "+machineColumns+machineFrom+
				" WHERE m.job = $1 AND m.done_seq > $2 AND m.outcome IS NOT NULL ORDER BY m.done_seq, m.seq", int64(id), cursor)
			if err != nil {
				yield(Machine{}, fmt.Errorf("durable: following job %d: %w", id, err))
				return
			}
			var batch []Machine
			for rs.Next() {
				mc, seq, err := scanMachine(rs)
				if err != nil {
					rs.Close()
					yield(Machine{}, fmt.Errorf("durable: following job %d: %w", id, err))
					return
				}
				cursor = max(cursor, seq)
				batch = append(batch, mc)
			}
			err = rs.Err()
			rs.Close()
			if err != nil {
				yield(Machine{}, fmt.Errorf("durable: following job %d: %w", id, err))
				return
			}
			for _, mc := range batch {
				if !yield(mc, nil) {
					return
				}
			}
			// The job's record was read before the machines, so every
			// outcome it counts has been yielded.
			if j.Done >= j.Total || (opts.UntilPaused && j.State == StatePaused) {
				return
			}
			select {
			case <-ctx.Done():
				yield(Machine{}, ctx.Err())
				return
			case <-time.After(poll):
			}
		}
	}
}

// Cancel cancels a job: machines not started are reported fleet.Cancelled
// (those with a marker and no result fleet.OutcomeUnknown); machines in
// the middle of an attempt finish it, and workers start nothing more. It
// returns how many machines it ended.
func (m *Manager) Cancel(ctx context.Context, id ID) (int, error) {
	var n int
	err := m.db.InTx(ctx, func(tx *statedb.Tx) error {
		var state string
		if err := tx.QueryRow(ctx, "SELECT state FROM amtkit_job WHERE id = $1", int64(id)).Scan(&state); err != nil {
			if errors.Is(err, statedb.ErrNoRows) {
				return fmt.Errorf("%w: job %d", ErrNotFound, id)
			}
			return err
		}
		if State(state) != StateRunning && State(state) != StatePaused {
			return fmt.Errorf("%w: job %d is %s", ErrState, id, state)
		}
		now := statedb.Micros(m.now())
		if _, err := tx.Exec(ctx, "UPDATE amtkit_job SET state = $1, finished_at = $2 WHERE id = $3",
			string(StateCancelled), now, int64(id)); err != nil {
			return err
		}
		var err error
		n, err = endIdle(ctx, tx, id, fleet.Cancelled, "cancelled before it was tried", now)
		return err
	})
	return n, err
}

// endIdle gives every machine of the job that has no outcome and is not
// in a running chunk the outcome given, or fleet.OutcomeUnknown when it
// has a marker; it returns how many.
func endIdle(ctx context.Context, tx *statedb.Tx, id ID, outcome fleet.Outcome, message string, now int64) (int, error) {
	var seq int64
	if err := tx.QueryRow(ctx, "UPDATE amtkit_job SET result_seq = result_seq + 1 WHERE id = $1 RETURNING result_seq",
		int64(id)).Scan(&seq); err != nil {
		return 0, err
	}
	n, err := tx.Exec(ctx, `UPDATE amtkit_job_machine SET
			outcome = CASE WHEN marked_at IS NULL THEN $1 ELSE $2 END,
			message = CASE WHEN marked_at IS NULL THEN $3 ELSE $4 END,
			finished_at = $5, done_seq = $6
		WHERE job = $7 AND outcome IS NULL AND chunk NOT IN (
			SELECT chunk FROM amtkit_job_chunk WHERE job = $7 AND started_at IS NOT NULL AND finished_at IS NULL)`,
		string(outcome), string(fleet.OutcomeUnknown), message, unknownMessage, now, seq, int64(id))
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, "UPDATE amtkit_job SET done = done + $1 WHERE id = $2", n, int64(id)); err != nil {
		return 0, err
	}
	return int(n), finishIfDone(ctx, tx, id, now)
}

const unknownMessage = "a change was about to be sent (its marker is recorded) when its worker stopped; not sent again"

// finishIfDone marks a running or paused job finished once every machine
// has an outcome.
func finishIfDone(ctx context.Context, tx *statedb.Tx, id ID, now int64) error {
	_, err := tx.Exec(ctx, finishIfDoneSQL, finishIfDoneArgs(id, now)...)
	return err
}

// finishIfDoneSQL is finishIfDone's statement, with finishIfDoneArgs.
const finishIfDoneSQL = `UPDATE amtkit_job SET state = $1, finished_at = $2
	WHERE id = $3 AND state IN ($4, $5) AND done >= total`

func finishIfDoneArgs(id ID, now int64) []any {
	return []any{string(StateFinished), now, int64(id), string(StateRunning), string(StatePaused)}
}

// sweep expires the machines of jobs past their expiry that no worker
// holds, so that a job expires on time even when no worker runs.
func (m *Manager) sweep(ctx context.Context) error {
	now := statedb.Micros(m.now())
	rs, err := m.db.Query(ctx, `SELECT id FROM amtkit_job WHERE expire_at IS NOT NULL AND expire_at <= $1
		AND state IN ($2, $3) AND done < total`, now, string(StateRunning), string(StatePaused))
	if err != nil {
		return fmt.Errorf("durable: finding expired jobs: %w", err)
	}
	var ids []ID
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return fmt.Errorf("durable: finding expired jobs: %w", err)
		}
		ids = append(ids, ID(id))
	}
	err = rs.Err()
	rs.Close()
	if err != nil {
		return fmt.Errorf("durable: finding expired jobs: %w", err)
	}
	for _, id := range ids {
		err := m.db.InTx(ctx, func(tx *statedb.Tx) error {
			_, err := endIdle(ctx, tx, id, fleet.Expired, "not tried before the job expired", now)
			return err
		})
		if err != nil {
			return fmt.Errorf("durable: expiring job %d: %w", id, err)
		}
	}
	return nil
}

// Continue releases a job paused after its canary (or whose canary is
// still running): the rest of its machines start, in their batches
// counted from now.
func (m *Manager) Continue(ctx context.Context, id ID) error {
	var waiting []int64
	err := m.db.InTx(ctx, func(tx *statedb.Tx) error {
		var (
			state     string
			continued sql.NullInt64
			spec      string
		)
		err := tx.QueryRow(ctx, "SELECT state, continued_at, spec FROM amtkit_job WHERE id = $1", int64(id)).
			Scan(&state, &continued, &spec)
		if errors.Is(err, statedb.ErrNoRows) {
			return fmt.Errorf("%w: job %d", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		var s Spec
		if err := json.Unmarshal([]byte(spec), &s); err != nil {
			return err
		}
		if s.Canary == 0 || continued.Valid || (State(state) != StateRunning && State(state) != StatePaused) {
			return fmt.Errorf("%w: job %d is %s and not waiting after a canary", ErrState, id, state)
		}
		now := statedb.Micros(m.now())
		if _, err := tx.Exec(ctx, "UPDATE amtkit_job SET state = $1, continued_at = $2 WHERE id = $3",
			string(StateRunning), now, int64(id)); err != nil {
			return err
		}
		rs, err := tx.Query(ctx, `SELECT river_id FROM amtkit_job_chunk WHERE job = $1 AND batch >= 0
			AND finished_at IS NULL AND river_id IS NOT NULL`, int64(id))
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var rid int64
			if err := rs.Scan(&rid); err != nil {
				return err
			}
			waiting = append(waiting, rid)
		}
		return rs.Err()
	})
	if err != nil {
		return err
	}
	// The waiting chunks snooze; wake them now rather than at their next
	// look. A chunk this misses starts at its next look.
	for _, rid := range waiting {
		if err := m.river.retry(ctx, rid); err != nil {
			return fmt.Errorf("durable: releasing job %d: %w", id, err)
		}
	}
	return nil
}

// DefaultRetryOutcomes are what Retry tries again when given no outcomes:
// every failure except fleet.OutcomeUnknown, which is never sent again
// unless asked for by name.
var DefaultRetryOutcomes = []fleet.Outcome{fleet.Unreachable, fleet.NotDetected, fleet.AuthFailed,
	fleet.LockedOut, fleet.NotProvisioned, fleet.TLS, fleet.DeviceError, fleet.Refused, fleet.Expired, fleet.Cancelled}

// Retry tries again the machines of a job that ended with one of the
// outcomes (DefaultRetryOutcomes when none are given), with the job's
// retries afresh and no expiry; it returns how many. The job must not be
// running: wait for it to finish, or cancel it, first.
func (m *Manager) Retry(ctx context.Context, id ID, outcomes ...fleet.Outcome) (int, error) {
	if len(outcomes) == 0 {
		outcomes = DefaultRetryOutcomes
	}
	for _, o := range outcomes {
		if o == fleet.Succeeded || !knownOutcome(o) {
			return 0, fmt.Errorf("%w: cannot retry outcome %q", ErrInvalid, o)
		}
	}
	var (
		n      int
		chunks []int
		start  time.Time
	)
	err := m.db.InTx(ctx, func(tx *statedb.Tx) error {
		var (
			state, spec string
		)
		err := tx.QueryRow(ctx, "SELECT state, spec FROM amtkit_job WHERE id = $1", int64(id)).Scan(&state, &spec)
		if errors.Is(err, statedb.ErrNoRows) {
			return fmt.Errorf("%w: job %d", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		var s Spec
		if err := json.Unmarshal([]byte(spec), &s); err != nil {
			return err
		}
		var running int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM amtkit_job_chunk WHERE job = $1 AND finished_at IS NULL`,
			int64(id)).Scan(&running); err != nil {
			return err
		}
		if State(state) == StateRunning && running > 0 {
			return fmt.Errorf("%w: job %d is still running", ErrState, id)
		}
		args := []any{int64(id)}
		for _, o := range outcomes {
			args = append(args, string(o))
		}
		in := statedb.Placeholders(2, len(outcomes))
		rs, err := tx.Query(ctx, `SELECT m.chunk, c.batch, m.host FROM amtkit_job_machine m
			JOIN amtkit_job_chunk c ON c.job = m.job AND c.chunk = m.chunk
			WHERE m.job = $1 AND m.outcome IN (`+in+`) ORDER BY m.chunk, m.seq`, args...)
		if err != nil {
			return err
		}
		batchOf := map[int]int{}
		hostsOf := map[int][]string{} // the machines retried, by chunk
		for rs.Next() {
			var (
				c, b int
				host string
			)
			if err := rs.Scan(&c, &b, &host); err != nil {
				rs.Close()
				return err
			}
			if _, seen := batchOf[c]; !seen {
				chunks = append(chunks, c)
				batchOf[c] = b
			}
			hostsOf[c] = append(hostsOf[c], host)
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return err
		}
		args = append(args, s.Retries)
		cnt, err := tx.Exec(ctx, `UPDATE amtkit_job_machine SET outcome = NULL, return_code = NULL,
			return_code_name = NULL, message = '', data = NULL, marked_at = NULL, claimed_at = NULL, finished_at = NULL, done_seq = NULL,
			retries_remaining = $`+strconv.Itoa(len(args))+` WHERE job = $1 AND outcome IN (`+in+`)`, args...)
		if err != nil {
			return err
		}
		n = int(cnt)
		if n == 0 {
			return nil
		}
		now := m.now()
		start = now
		if _, err := tx.Exec(ctx, `UPDATE amtkit_job SET state = $1, finished_at = NULL, expire_at = NULL,
			done = done - $2 WHERE id = $3`, string(StateRunning), n, int64(id)); err != nil {
			return err
		}
		sort.Ints(chunks)
		slots := retrySlots(chunks, batchOf, start, s.BatchInterval)
		params := make([]river.InsertManyParams, len(chunks))
		for i, c := range chunks {
			params[i] = river.InsertManyParams{Args: chunkArgs{Job: id, Chunk: c, Hosts: hostsOf[c]}, InsertOpts: insertOpts(slots[i], now)}
		}
		rids, err := m.river.insertManyTx(ctx, tx, params)
		if err != nil {
			return err
		}
		for i, c := range chunks {
			if _, err := tx.Exec(ctx, `UPDATE amtkit_job_chunk SET river_id = $1, started_at = NULL, finished_at = NULL,
				worker = '', not_before = $2 WHERE job = $3 AND chunk = $4`, rids[i], statedb.Micros(slots[i]), int64(id), c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("durable: retrying job %d: %w", id, err)
	}
	return n, nil
}

// retrySlots gives the chunks a retry queues again their start times: the
// roll-out starts again from now, in the order of the original batches,
// one batch slot after another (the first now), so that a retried batch
// neither waits for its original slot nor starts together with the
// batches after it. chunks are sorted, so batches come in order.
func retrySlots(chunks []int, batchOf map[int]int, now time.Time, interval time.Duration) []time.Time {
	out := make([]time.Time, len(chunks))
	k, last := -1, 0
	for i, c := range chunks {
		if b := batchOf[c]; k < 0 || b != last {
			k, last = k+1, b
		}
		out[i] = now.Add(time.Duration(k) * interval)
	}
	return out
}

func knownOutcome(o fleet.Outcome) bool {
	for _, k := range fleet.Outcomes {
		if k == o {
			return true
		}
	}
	return false
}

// Purge deletes finished and cancelled jobs that ended more than olderThan
// ago, with their machines and chunks, and records when it ran (Status's
// LastCleanup). Workers do it on their own every CleanupEvery.
func (m *Manager) Purge(ctx context.Context, olderThan time.Duration) (PurgeResult, error) {
	if olderThan < 0 {
		return PurgeResult{}, fmt.Errorf("%w: negative age %v", ErrInvalid, olderThan)
	}
	if err := m.sweep(ctx); err != nil {
		return PurgeResult{}, err
	}
	var res PurgeResult
	now := m.now()
	before := statedb.Micros(now.Add(-olderThan))
	err := m.db.InTx(ctx, func(tx *statedb.Tx) error {
		where := `state IN ($1, $2) AND finished_at IS NOT NULL AND finished_at < $3`
		args := []any{string(StateFinished), string(StateCancelled), before}
		if err := tx.QueryRow(ctx, "SELECT COUNT(*), COALESCE(SUM(total), 0) FROM amtkit_job WHERE "+where, args...).
			Scan(&res.Jobs, &res.Machines); err != nil {
			return err
		}
		sub := "SELECT id FROM amtkit_job WHERE " + where
		for _, t := range []string{"amtkit_job_machine", "amtkit_job_chunk"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+t+" WHERE job IN ("+sub+")", args...); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM amtkit_job WHERE "+where, args...); err != nil {
			return err
		}
		return tx.SetMeta(ctx, metaLastCleanup, strconv.FormatInt(statedb.Micros(now), 10))
	})
	if err != nil {
		return PurgeResult{}, fmt.Errorf("durable: purging jobs: %w", err)
	}
	return res, nil
}
