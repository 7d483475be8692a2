package durable

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/statedb"
)

// Worker runs durable jobs: it takes chunks of machines from River's queue
// in the state database and works them with fleet.Run. Any number of
// workers, in any number of processes on any number of machines (with
// Postgres), share the jobs. Run it with Run.
type Worker struct {
	db    *statedb.DB
	m     *Manager
	opts  WorkerOptions
	river riverClient
	log   *slog.Logger
	com   *committer
	slots chan struct{} // the worker's machines at once
	pool  machinePool

	mu     sync.Mutex
	perJob map[ID]*jobSem
}

// canaryPoll is how long a chunk waiting for Continue snoozes between
// looks (Continue also wakes it at once).
const canaryPoll = time.Minute

// gateSnooze is how long a chunk snoozes when its job already has as many
// chunks running as its concurrency allows.
const gateSnooze = 250 * time.Millisecond

// NewWorker returns a worker over the state database. It does nothing
// until Run.
func NewWorker(db *statedb.DB, opts WorkerOptions) (*Worker, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: no state database", ErrInvalid)
	}
	if opts.Credentials == nil {
		return nil, fmt.Errorf("%w: a worker needs WorkerOptions.Credentials", ErrInvalid)
	}
	if opts.Name == "" {
		host, _ := os.Hostname()
		opts.Name = host + "-" + strconv.Itoa(os.Getpid())
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultWorkerConcurrency
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = DefaultJobTimeout
	}
	if opts.RescueAfter <= 0 {
		opts.RescueAfter = max(DefaultRescueAfter, opts.JobTimeout+time.Minute)
	}
	if opts.RescueAfter <= opts.JobTimeout {
		return nil, fmt.Errorf("%w: RescueAfter (%v) must be longer than JobTimeout (%v)", ErrInvalid, opts.RescueAfter, opts.JobTimeout)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.CleanupEvery <= 0 {
		opts.CleanupEvery = DefaultCleanupEvery
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := NewManager(db)
	if err != nil {
		return nil, err
	}
	w := &Worker{db: db, m: m, opts: opts, log: log, slots: make(chan struct{}, opts.Concurrency), perJob: map[ID]*jobSem{},
		pool: machinePool{work: make(chan func()), stop: make(chan struct{})}}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &chunkWorker{w: w}); err != nil {
		return nil, fmt.Errorf("durable: %w", err)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	rc, err := newRiver(db, &river.Config{
		// River's client ID (leader election, attempts) must be unique
		// per process even when two workers are given one name.
		ID: opts.Name + "-" + hex.EncodeToString(suffix[:]),
		// Twice the chunks the worker's slots hold, so that the next
		// chunks are in hand when machines of the last ones finish.
		Queues:               map[string]river.QueueConfig{Queue: {MaxWorkers: 2 * max(1, opts.Concurrency/DefaultChunkSize)}},
		Workers:              workers,
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: opts.RescueAfter,
		FetchPollInterval:    opts.PollInterval,
		FetchCooldown:        max(time.Millisecond, opts.PollInterval/4),
		Logger:               log,
		MaxAttempts:          chunkMaxAttempts,
	})
	if err != nil {
		return nil, fmt.Errorf("durable: %w", err)
	}
	w.river = rc
	return w, nil
}

// Name returns the worker's name, as results and Status show it.
func (w *Worker) Name() string { return w.opts.Name }

// Run works jobs until ctx ends, then stops taking work and waits for the
// chunks in hand to finish (each at most JobTimeout). It also expires
// jobs past their expiry and purges finished ones past the retention.
func (w *Worker) Run(ctx context.Context) error {
	w.com = newCommitter(w.db, w.opts.Name)
	defer w.com.close()
	defer close(w.pool.stop)
	if err := w.river.start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("durable: starting the worker: %w", err)
	}
	sweep := time.NewTicker(time.Second)
	defer sweep.Stop()
	clean := time.NewTimer(0)
	defer clean.Stop()
	for {
		select {
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.Background(), w.opts.JobTimeout)
			defer cancel()
			if err := w.river.stop(stopCtx); err != nil {
				return fmt.Errorf("durable: stopping the worker: %w", err)
			}
			return nil
		case <-sweep.C:
			if err := w.m.sweep(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("durable: expiring jobs", "error", err)
			}
		case <-clean.C:
			if _, err := w.m.Purge(ctx, w.opts.Retention); err != nil && ctx.Err() == nil {
				w.log.Warn("durable: purging finished jobs", "error", err)
			}
			clean.Reset(w.opts.CleanupEvery)
		}
	}
}

// chunkWorker is River's worker of chunks.
type chunkWorker struct {
	river.WorkerDefaults[chunkArgs]
	w *Worker
}

func (c *chunkWorker) Work(ctx context.Context, job *river.Job[chunkArgs]) error {
	err := c.w.work(ctx, job.ID, job.Args)
	var snooze *rivertype.JobSnoozeError
	if !errors.As(err, &snooze) {
		c.w.recordOutput(ctx, job.Args)
	}
	return err
}

// recordOutput records on the chunk's River job, as it ends, its machines
// by outcome (chunkOutput), for River UI. A failure is only logged: the
// job's own tables hold the results.
func (w *Worker) recordOutput(ctx context.Context, a chunkArgs) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	rs, err := w.db.Query(qctx, `SELECT host, outcome FROM amtkit_job_machine WHERE job = $1 AND chunk = $2 ORDER BY seq`,
		int64(a.Job), a.Chunk)
	if err != nil {
		w.log.Warn("durable: reading a chunk's outcomes", "job", a.Job, "chunk", a.Chunk, "error", err)
		return
	}
	defer rs.Close()
	out := chunkOutput{Job: a.Job, Chunk: a.Chunk, Outcomes: map[string][]string{}, Pending: []string{}}
	for rs.Next() {
		var (
			host    string
			outcome sql.NullString
		)
		if err := rs.Scan(&host, &outcome); err != nil {
			w.log.Warn("durable: reading a chunk's outcomes", "job", a.Job, "chunk", a.Chunk, "error", err)
			return
		}
		if outcome.Valid {
			out.Outcomes[outcome.String] = append(out.Outcomes[outcome.String], host)
		} else {
			out.Pending = append(out.Pending, host)
		}
	}
	if err := rs.Err(); err != nil {
		w.log.Warn("durable: reading a chunk's outcomes", "job", a.Job, "chunk", a.Chunk, "error", err)
		return
	}
	if err := river.RecordOutput(ctx, out); err != nil {
		w.log.Warn("durable: recording a chunk's output", "job", a.Job, "chunk", a.Chunk, "error", err)
	}
}

type chunkRow struct {
	batch     int
	riverID   sql.NullInt64
	startedAt sql.NullInt64
	finished  sql.NullInt64
	notBefore sql.NullInt64 // set by a retry: the chunk's new batch slot
}

// work runs one chunk of a job. It returns nil when the chunk is done (or
// has nothing left to do), a snooze while it waits for its start, its
// batch slot, the canary's Continue or a concurrency slot, and an error
// (for River to retry) when machines were left undone.
func (w *Worker) work(ctx context.Context, riverID int64, a chunkArgs) error {
	j, err := w.m.jobRecord(ctx, a.Job)
	if errors.Is(err, ErrNotFound) {
		return nil // purged
	}
	if err != nil {
		return err
	}
	var ch chunkRow
	err = w.db.QueryRow(ctx, `SELECT batch, river_id, started_at, finished_at, not_before FROM amtkit_job_chunk
		WHERE job = $1 AND chunk = $2`, int64(a.Job), a.Chunk).Scan(&ch.batch, &ch.riverID, &ch.startedAt, &ch.finished, &ch.notBefore)
	if errors.Is(err, statedb.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if ch.riverID.Int64 != riverID || ch.finished.Valid {
		return nil // superseded by a retry, or done
	}
	now := w.db.Now()
	switch {
	case j.State == StateCancelled || j.State == StateFinished:
		return w.endChunk(ctx, j, a.Chunk, riverID, fleet.Cancelled, "cancelled before it was tried")
	case j.ExpireAt != nil && !now.Before(*j.ExpireAt):
		return w.endChunk(ctx, j, a.Chunk, riverID, fleet.Expired, "not tried before the job expired")
	case j.StartAt.After(now):
		return river.JobSnooze(j.StartAt.Sub(now))
	}
	release := j.StartAt
	if j.Spec.Canary > 0 && ch.batch >= 0 {
		if j.ContinuedAt == nil {
			return river.JobSnooze(canaryPoll)
		}
		release = *j.ContinuedAt
	}
	switch {
	case ch.notBefore.Valid:
		// Queued again by a retry: its slot counts from the retry.
		if slot := statedb.FromMicros(ch.notBefore.Int64); slot.After(now) {
			return river.JobSnooze(slot.Sub(now))
		}
	case ch.batch > 0 && j.Spec.BatchInterval > 0:
		if slot := release.Add(time.Duration(ch.batch) * j.Spec.BatchInterval); slot.After(now) {
			return river.JobSnooze(slot.Sub(now))
		}
	}
	ok, err := w.claim(ctx, j, a.Chunk, riverID)
	if err != nil {
		return err
	}
	if !ok {
		return river.JobSnooze(gateSnooze)
	}
	left, err := w.runChunk(ctx, j, a.Chunk)
	if err == nil && left > 0 {
		if now, rerr := w.m.jobRecord(ctx, a.Job); rerr == nil && now.State == StateCancelled {
			// Cancelled while the chunk ran: what it did not start is
			// cancelled too.
			return w.endChunk(ctx, now, a.Chunk, riverID, fleet.Cancelled, "cancelled before it was tried")
		}
	}
	if err != nil || left > 0 {
		w.unclaim(a, riverID)
		if err == nil {
			err = fmt.Errorf("durable: job %d chunk %d: %d machines left undone", a.Job, a.Chunk, left)
		}
		if ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			return river.JobSnooze(0) // the worker is stopping: another takes it at once
		}
		return err
	}
	return w.finishChunk(ctx, j, a.Chunk, riverID)
}

// chunksAtOnce is how many chunks of a job may run at once, over every
// worker: twice what its concurrency holds, so that the next chunks start
// as machines of the last ones finish. Within a worker the job's machines
// at once are bounded by Concurrency exactly.
func chunksAtOnce(s Spec) int {
	return 2 * max(1, (s.Concurrency+s.ChunkSize-1)/s.ChunkSize)
}

// claim records that this worker runs the chunk, unless the job already
// has as many chunks running as its concurrency allows (counting chunks
// before this one first, so that two workers racing agree).
func (w *Worker) claim(ctx context.Context, j Job, chunk int, riverID int64) (bool, error) {
	allowed := chunksAtOnce(j.Spec)
	ok := false
	err := w.db.InTx(ctx, func(tx *statedb.Tx) error {
		// Lock the job's row: claims of one job are serialised.
		if _, err := tx.Exec(ctx, "UPDATE amtkit_job SET result_seq = result_seq WHERE id = $1", int64(j.ID)); err != nil {
			return err
		}
		var before int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM amtkit_job_chunk WHERE job = $1 AND chunk <> $2
			AND started_at IS NOT NULL AND finished_at IS NULL`, int64(j.ID), chunk).Scan(&before); err != nil {
			return err
		}
		if before >= allowed {
			return nil
		}
		n, err := tx.Exec(ctx, `UPDATE amtkit_job_chunk SET started_at = $1, worker = $2
			WHERE job = $3 AND chunk = $4 AND river_id = $5 AND finished_at IS NULL`,
			statedb.Micros(w.db.Now()), w.opts.Name, int64(j.ID), chunk, riverID)
		ok = n == 1
		return err
	})
	return ok, err
}

// unclaim gives a chunk back after an error, so that it does not hold a
// slot of its job while it waits for River's retry.
func (w *Worker) unclaim(a chunkArgs, riverID int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.db.Exec(ctx, `UPDATE amtkit_job_chunk SET started_at = NULL WHERE job = $1 AND chunk = $2
		AND river_id = $3 AND finished_at IS NULL`, int64(a.Job), a.Chunk, riverID); err != nil {
		w.log.Warn("durable: releasing a chunk", "job", a.Job, "chunk", a.Chunk, "error", err)
	}
}

// finishChunk records the chunk done; the job finishes when every machine
// has its outcome, and pauses when its canary is done.
func (w *Worker) finishChunk(ctx context.Context, j Job, chunk int, riverID int64) error {
	return w.db.InTx(ctx, func(tx *statedb.Tx) error {
		now := statedb.Micros(w.db.Now())
		if _, err := tx.Exec(ctx, `UPDATE amtkit_job_chunk SET finished_at = $1 WHERE job = $2 AND chunk = $3 AND river_id = $4`,
			now, int64(j.ID), chunk, riverID); err != nil {
			return err
		}
		if j.Spec.Canary > 0 {
			_, err := tx.Exec(ctx, `UPDATE amtkit_job SET state = $1 WHERE id = $2 AND state = $3 AND continued_at IS NULL
				AND done < total AND NOT EXISTS (SELECT 1 FROM amtkit_job_chunk WHERE job = $2 AND batch < 0 AND finished_at IS NULL)`,
				string(StatePaused), int64(j.ID), string(StateRunning))
			if err != nil {
				return err
			}
		}
		return finishIfDone(ctx, tx, j.ID, now)
	})
}

// endChunk gives the chunk's idle machines an outcome (cancelled or
// expired; outcome unknown for those with a marker) and finishes it.
func (w *Worker) endChunk(ctx context.Context, j Job, chunk int, riverID int64, o fleet.Outcome, msg string) error {
	return w.db.InTx(ctx, func(tx *statedb.Tx) error {
		now := statedb.Micros(w.db.Now())
		if _, err := tx.Exec(ctx, `UPDATE amtkit_job_chunk SET started_at = NULL, finished_at = $1
			WHERE job = $2 AND chunk = $3 AND river_id = $4`, now, int64(j.ID), chunk, riverID); err != nil {
			return err
		}
		_, err := endIdle(ctx, tx, j.ID, o, msg, now)
		return err
	})
}

type pendingMachine struct {
	host     string
	attempts int
	retries  int
	marked   bool
}

// runChunk works the chunk's machines that have no outcome and returns how
// many were left undone (the chunk's context ended first).
func (w *Worker) runChunk(ctx context.Context, j Job, chunk int) (int, error) {
	rs, err := w.db.Query(ctx, `SELECT host, attempts, retries_remaining, marked_at IS NOT NULL FROM amtkit_job_machine
		WHERE job = $1 AND chunk = $2 AND outcome IS NULL ORDER BY seq`, int64(j.ID), chunk)
	if err != nil {
		return 0, err
	}
	var ms []pendingMachine
	for rs.Next() {
		var p pendingMachine
		if err := rs.Scan(&p.host, &p.attempts, &p.retries, &p.marked); err != nil {
			rs.Close()
			return 0, err
		}
		ms = append(ms, p)
	}
	err = rs.Err()
	rs.Close()
	if err != nil {
		return 0, err
	}
	var bw batchWait
	// Machines whose change may have been sent by a worker that stopped:
	// never sent again on their own.
	groups := map[int][]pendingMachine{}
	var order []int
	for _, p := range ms {
		if p.marked {
			now := w.db.Now()
			w.com.result(&bw, j.ID, fleet.Result{Host: p.host, Action: j.Task.Action, Outcome: fleet.OutcomeUnknown,
				RetriesRemaining: 0, LastAttempt: &now, Message: unknownMessage}, p.attempts)
			continue
		}
		if _, ok := groups[p.retries]; !ok {
			order = append(order, p.retries)
		}
		groups[p.retries] = append(groups[p.retries], p)
	}
	left := 0
	for _, retries := range order {
		n, err := w.runGroup(ctx, j, groups[retries], retries, &bw)
		left += n
		if err != nil {
			return left, err
		}
	}
	if err := bw.wait(context.WithoutCancel(ctx)); err != nil {
		return left, err
	}
	return left, nil
}

// runGroup runs machines with the same retries left through fleet.Run.
func (w *Worker) runGroup(ctx context.Context, j Job, ms []pendingMachine, retries int, bw *batchWait) (int, error) {
	src, err := w.opts.Credentials(ctx, j.Profile)
	if err != nil {
		return len(ms), fmt.Errorf("durable: job %d: credentials of profile %q: %w", j.ID, j.Profile, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Machines start as the worker's slots and the job's allow, so that
	// a chunk's stragglers never hold the next chunk's machines back.
	js, release := w.jobSlots(j)
	defer release()
	go func() {
		select {
		case <-js.cancelled:
			cancel()
		case <-runCtx.Done():
		}
	}()
	cancelled := js.wasCancelled
	jobSlots := js.ch
	prior := make(map[string]int, len(ms))
	hosts := make([]string, len(ms))
	for i, p := range ms {
		prior[p.host] = p.attempts
		hosts[i] = p.host
	}
	connOpts, err := j.Spec.Connection.Options()
	if err != nil {
		return len(ms), fmt.Errorf("durable: job %d: %w", j.ID, err)
	}
	var expire time.Time
	if j.ExpireAt != nil {
		expire = *j.ExpireAt
	}
	refused := newHostSet()
	jobName := strconv.FormatInt(int64(j.ID), 10)
	opts := fleet.Options{
		Concurrency:   min(len(ms), j.Spec.Concurrency),
		Retries:       retries,
		RetryDelay:    j.Spec.RetryDelay,
		Timeout:       j.Spec.Timeout,
		Expire:        expire,
		Credentials:   src,
		ClientOptions: append(w.opts.ClientOptions[:len(w.opts.ClientOptions):len(w.opts.ClientOptions)], connOpts...),
		Worker:        w.opts.Name,
		ActivityLog:   w.db.Activity(),
		Actor:         j.Actor,
		Job:           jobName,
		Hooks: fleet.Hooks{
			BeforeSend: func(ctx context.Context, host string) error {
				err := w.com.mark(ctx, j.ID, host)
				if errors.Is(err, errMarkRefused) {
					refused.add(host)
				}
				return err
			},
			AfterAttempt: func(_ context.Context, r fleet.Result) {
				if r.Outcome != fleet.Succeeded && r.RetriesRemaining > 0 {
					w.com.attempt(bw, j.ID, r, prior[r.Host])
				}
			},
		},
	}
	runner, err := fleet.NewRunner(j.Task, opts)
	if err != nil {
		return len(ms), fmt.Errorf("durable: job %d: %w", j.ID, err)
	}
	defer runner.Close()
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got int
	)
	for _, host := range hosts {
		if acquire(runCtx, jobSlots) != nil {
			break
		}
		if acquire(runCtx, w.slots) != nil {
			<-jobSlots
			break
		}
		wg.Add(1)
		w.com.claim(j.ID, host)
		w.pool.run(func() {
			defer wg.Done()
			r := runner.Machine(runCtx, host)
			<-w.slots
			<-jobSlots
			mu.Lock()
			defer mu.Unlock()
			switch {
			case refused.has(r.Host):
				got++ // another worker holds it; its outcome is that worker's to write
			case r.Outcome == fleet.Cancelled && !cancelled():
				// Stopped by the chunk's timeout or the worker's shutdown,
				// or its marker could not be committed (nothing was sent):
				// left for the next run.
			default:
				got++
				w.com.result(bw, j.ID, r, prior[r.Host])
			}
		})
	}
	wg.Wait()
	return len(ms) - got, nil
}

// machinePool runs the worker's machines on goroutines reused from one
// machine to the next, across chunks: a fresh goroutine per machine would
// grow its stack again through the deep call chain of an exchange every
// time. Their number is bounded by the worker's slots, taken before a
// machine is handed over; one idle for poolIdle ends, and all end with
// the worker's Run.
type machinePool struct {
	work chan func()
	stop chan struct{}
}

const poolIdle = 5 * time.Second

func (p *machinePool) run(f func()) {
	select {
	case p.work <- f: // a goroutine that finished a machine takes it
	default:
		go p.loop(f)
	}
}

func (p *machinePool) loop(f func()) {
	idle := time.NewTimer(poolIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(poolIdle)
		select {
		case f = <-p.work:
		case <-idle.C:
			return
		case <-p.stop:
			return
		}
	}
}

// acquire takes a slot of sem, or fails when ctx ends first.
func acquire(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// jobSlots returns the job's state in this worker, shared by its chunks:
// the semaphore bounding its machines at once (Spec.Concurrency), and one
// watch for its cancellation (whatever the number of its chunks running).
func (w *Worker) jobSlots(j Job) (*jobSem, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.perJob[j.ID]
	if s == nil {
		ctx, stop := context.WithCancel(context.Background())
		s = &jobSem{ch: make(chan struct{}, j.Spec.Concurrency), cancelled: make(chan struct{}), stop: stop}
		w.perJob[j.ID] = s
		go w.watchCancel(ctx, j.ID, s.cancelled)
	}
	s.refs++
	return s, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if s.refs--; s.refs == 0 {
			delete(w.perJob, j.ID)
			s.stop()
		}
	}
}

type jobSem struct {
	ch        chan struct{}
	refs      int
	cancelled chan struct{} // closed once the job is seen cancelled
	stop      context.CancelFunc
}

// wasCancelled reports whether the job was seen cancelled.
func (s *jobSem) wasCancelled() bool {
	select {
	case <-s.cancelled:
		return true
	default:
		return false
	}
}

// watchCancel closes hit when the job is cancelled, looking every other
// poll until ctx ends.
func (w *Worker) watchCancel(ctx context.Context, id ID, hit chan struct{}) {
	t := time.NewTicker(max(w.opts.PollInterval*2, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			var state string
			err := w.db.QueryRow(ctx, "SELECT state FROM amtkit_job WHERE id = $1", int64(id)).Scan(&state)
			if err == nil && State(state) == StateCancelled {
				close(hit)
				return
			}
		}
	}
}
