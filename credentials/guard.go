package credentials

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Guard defaults: two failed logins per device in five minutes. Intel AMT's
// anti-hammering protection starts locking an account after a few
// consecutive failures; the default stays below the smallest threshold
// firmware uses (amtsim's LockoutAfter, 3 by default, models it).
const (
	DefaultMaxFailures = 2
	DefaultWindow      = 5 * time.Minute
)

// Guard limits failed logins per device so that trying several profiles, or
// running amtctl several times with a wrong password, cannot lock an AMT
// account. Within a sliding window it allows at most MaxFailures failed
// logins on a device (the address without the port: WS-Man over HTTP and
// TLS and the redirection ports share one count), and never lets the same
// failed credential be tried on that device again. MaxFailures must stay
// below the device's own lockout threshold. A success does not clear the
// count: the device's counter may not clear either, so the guard stays on
// the safe side.
//
// The records live in a GuardStore: in memory by default (one process), or
// in the state database with GuardStorage, so that every process sharing it
// shares the count. A login is reserved in the store before it is sent and
// counts as a failure until its answer says otherwise, so a process killed
// mid-login errs on the safe side.
//
// A Guard is safe for concurrent use. Share one Guard between every resolver
// that may log in to the same devices; the resolvers then take turns per
// device, so that a resolution that waited sees what the previous one
// learned.
type Guard struct {
	max    int
	window time.Duration
	now    func() time.Time
	store  GuardStore

	// pendingWait bounds how long a login waits for logins in flight
	// elsewhere to settle when they alone spend the budget.
	pendingWait time.Duration

	mu    sync.Mutex
	hosts map[string]*hostState
}

var processGuard = sync.OnceValue(func() *Guard { return NewGuard(DefaultMaxFailures, DefaultWindow) })

// ProcessGuard returns the process-wide lockout guard: in memory, with the
// default budget, keyed per device. Static sources and resolvers without a
// guard of their own use it, and so does an amt.Client given fixed
// credentials, so that a program creating one client per call with a wrong
// password spends at most the budget on each device however many clients
// it makes. It does not outlive the process; separate processes share a
// count only through a guard kept in shared storage (GuardStorage with the
// state database, as amtctl does).
func ProcessGuard() *Guard { return processGuard() }

// DefaultPendingWait is how long a login waits, at most, for another
// process's logins to the same device to settle when those logins in
// flight are what spends the budget: longer than a login's round trip,
// short enough that a record left pending by a killed process delays a
// refusal only briefly.
const DefaultPendingWait = 5 * time.Second

// GuardPendingWait sets how long a login waits for logins in flight
// elsewhere to settle before the budget they hold is taken as spent; 0
// refuses at once.
func GuardPendingWait(d time.Duration) GuardOption {
	return func(g *Guard) { g.pendingWait = d }
}

type hostState struct {
	turn  chan struct{} // holds one token; taken for the length of a resolution
	users int           // goroutines holding or waiting for turn
}

// GuardOption configures a Guard.
type GuardOption func(*Guard)

// GuardClock sets the guard's clock, for tests.
func GuardClock(now func() time.Time) GuardOption {
	return func(g *Guard) {
		if now != nil {
			g.now = now
		}
	}
}

// GuardStorage keeps the guard's records in s, for example the state
// database, instead of in memory.
func GuardStorage(s GuardStore) GuardOption {
	return func(g *Guard) {
		if s != nil {
			g.store = s
		}
	}
}

// NewGuard returns a guard allowing maxFailures failed logins per device
// within window. A maxFailures or window below one takes the default.
func NewGuard(maxFailures int, window time.Duration, opts ...GuardOption) *Guard {
	if maxFailures < 1 {
		maxFailures = DefaultMaxFailures
	}
	if window <= 0 {
		window = DefaultWindow
	}
	g := &Guard{max: maxFailures, window: window, now: time.Now, pendingWait: DefaultPendingWait, hosts: make(map[string]*hostState)}
	for _, o := range opts {
		o(g)
	}
	if g.store == nil {
		g.store = newMemoryGuard()
	}
	return g
}

// MaxFailures returns the number of failed logins allowed per device per window.
func (g *Guard) MaxFailures() int { return g.max }

// Window returns the guard's sliding window.
func (g *Guard) Window() time.Duration { return g.window }

// Store returns where the guard keeps its records.
func (g *Guard) Store() GuardStore { return g.store }

// Remaining returns how many failed logins the guard still allows on host's
// device now; 0 when the store cannot be read.
func (g *Guard) Remaining(host string) int {
	rec, ok, err := g.store.GuardRecord(context.Background(), hostKey(host), g.now())
	switch {
	case err != nil:
		return 0
	case !ok:
		return g.max
	}
	return max(0, g.max-rec.Counted())
}

// Status returns the guard's record of host's device now (zero counts when
// there is none).
func (g *Guard) Status(ctx context.Context, host string) (GuardRecord, error) {
	key := hostKey(host)
	rec, ok, err := g.store.GuardRecord(ctx, key, g.now())
	if err != nil {
		return GuardRecord{}, fmt.Errorf("credentials: reading the lockout guard for %s: %w", key, err)
	}
	if !ok {
		rec = GuardRecord{Device: key}
	}
	return rec, nil
}

// Login sends one login with credential c to host through the guard: it
// waits for the device's turn, asks the guard's store, calls try only when
// allowed, and records the outcome (isAuth says which errors are failed
// logins; nil means ErrAuthFailed). It returns a *BudgetError when the
// budget is spent or c already failed on the device within the window (it
// then also matches ErrRecentlyFailed); try is not called then. This is
// for logins outside a resolution, such as the redirection port's.
func (g *Guard) Login(ctx context.Context, host string, tech Technology, c Credential, isAuth func(error) bool, try func(ctx context.Context) error) error {
	if isAuth == nil {
		isAuth = func(err error) bool { return errors.Is(err, ErrAuthFailed) }
	}
	if tech == "" {
		tech = AMT
	}
	turn, err := g.acquire(ctx, host)
	if err != nil {
		return fmt.Errorf("credentials: %s: waiting for the lockout guard: %w", hostKey(host), err)
	}
	defer turn.release()
	fp := fingerprintOf(tech, c)
	res, err := turn.reserve(ctx, fp)
	if err != nil {
		return err
	}
	if res, err = turn.awaitPending(ctx, fp, res); err != nil {
		return err
	}
	switch res.Decision {
	case GuardSkip:
		return &BudgetError{Host: turn.key, Skipped: 1, MaxFailures: g.max, Window: g.window, RetryAt: res.RetryAt}
	case GuardSpent:
		return &BudgetError{Host: turn.key, Untried: 1, MaxFailures: g.max, Window: g.window, RetryAt: res.RetryAt}
	}
	err = try(ctx)
	if serr := turn.settle(ctx, res.ID, err != nil && isAuth(err)); serr != nil && err == nil {
		return serr
	}
	return err
}

// acquire waits for host's turn; release ends it.
func (g *Guard) acquire(ctx context.Context, host string) (*guardTurn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key := hostKey(host)
	g.mu.Lock()
	st := g.hosts[key]
	if st == nil {
		st = &hostState{turn: make(chan struct{}, 1)}
		st.turn <- struct{}{}
		g.hosts[key] = st
	}
	st.users++
	g.mu.Unlock()

	select {
	case <-st.turn:
		return &guardTurn{g: g, key: key, st: st}, nil
	case <-ctx.Done():
		g.leave(key, st)
		return nil, ctx.Err()
	}
}

// leave drops a user of st and forgets the host once nobody uses it.
func (g *Guard) leave(key string, st *hostState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st.users--
	if st.users == 0 {
		delete(g.hosts, key)
	}
}

// guardTurn is one resolution's exclusive turn on a device in this process.
type guardTurn struct {
	g   *Guard
	key string
	st  *hostState
}

func (t *guardTurn) release() {
	t.st.turn <- struct{}{}
	t.g.leave(t.key, t.st)
}

// reserve asks the store whether the candidate may be tried, and reserves
// the login when it may.
func (t *guardTurn) reserve(ctx context.Context, fp fingerprint) (GuardReservation, error) {
	g := t.g
	res, err := g.store.ReserveLogin(ctx, GuardRequest{
		Device: t.key, Candidate: fp, At: g.now(), MaxFailures: g.max, Window: g.window,
	})
	if err != nil {
		return GuardReservation{}, fmt.Errorf("credentials: %s: lockout guard: %w", t.key, err)
	}
	return res, nil
}

// awaitPending: a budget spent by logins still in flight (another process
// logging in to this device at the same moment) frees up as soon as they
// settle, so wait for them, for at most pendingWait, and reserve again,
// rather than refuse a login that would be counted only if it failed. A
// record left pending by a killed process still counts as a failure once
// the wait is over.
func (t *guardTurn) awaitPending(ctx context.Context, fp fingerprint, res GuardReservation) (GuardReservation, error) {
	g := t.g
	deadline := time.Now().Add(g.pendingWait)
	for res.Decision == GuardSpent && time.Now().Before(deadline) {
		rec, ok, err := g.store.GuardRecord(ctx, t.key, g.now())
		if err != nil {
			return res, nil
		}
		if !ok || rec.Pending == 0 {
			// Settled since the reservation was refused: ask again.
			return t.reserve(ctx, fp)
		}
		if g.now().Sub(rec.Last) > g.pendingWait {
			return res, nil // left pending by a process that is gone
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("credentials: %s: waiting for logins in flight: %w", t.key, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if res, err = t.reserve(ctx, fp); err != nil {
			return res, err
		}
	}
	return res, nil
}

// settle records the outcome of a reserved login. It outlives ctx: the
// device has counted the login whatever became of the caller.
func (t *guardTurn) settle(ctx context.Context, id string, failed bool) error {
	if err := t.g.store.SettleLogin(context.WithoutCancel(ctx), t.key, id, failed); err != nil {
		return fmt.Errorf("credentials: %s: recording the login in the lockout guard: %w", t.key, err)
	}
	return nil
}

// hostKey normalises a host for the guard and the runtime profile: both are
// kept per device, whatever the port.
func hostKey(host string) string { return DeviceKey(host) }
