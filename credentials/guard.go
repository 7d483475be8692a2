package credentials

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Guard defaults: two failed logins per host in five minutes. Intel AMT's
// anti-hammering protection starts locking an account after a few consecutive
// failures; the default stays well below that.
const (
	DefaultMaxFailures = 2
	DefaultWindow      = 5 * time.Minute
)

// Guard limits failed logins per host so that trying several profiles cannot
// lock an AMT account. Within a sliding window it allows at most MaxFailures
// failed logins on a host, and never lets the same failed credential be tried
// on that host again. MaxFailures must stay below the device's own lockout
// threshold. A success does not clear the count: the device's counter may not
// clear either, so the guard stays on the safe side.
//
// A Guard is safe for concurrent use. Share one Guard between every resolver
// that may log in to the same hosts; the resolvers then take turns per host,
// so that two resolutions cannot both spend the last allowed failure.
type Guard struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	hosts map[string]*hostState
}

type hostState struct {
	turn     chan struct{} // holds one token; taken for the length of a resolution
	users    int           // goroutines holding or waiting for turn
	failures []failure     // oldest first
}

type failure struct {
	fp fingerprint
	at time.Time
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

// NewGuard returns a guard allowing maxFailures failed logins per host within
// window. A maxFailures or window below one takes the default.
func NewGuard(maxFailures int, window time.Duration, opts ...GuardOption) *Guard {
	if maxFailures < 1 {
		maxFailures = DefaultMaxFailures
	}
	if window <= 0 {
		window = DefaultWindow
	}
	g := &Guard{max: maxFailures, window: window, now: time.Now, hosts: make(map[string]*hostState)}
	for _, o := range opts {
		o(g)
	}
	return g
}

// MaxFailures returns the number of failed logins allowed per host per window.
func (g *Guard) MaxFailures() int { return g.max }

// Window returns the guard's sliding window.
func (g *Guard) Window() time.Duration { return g.window }

// Remaining returns how many failed logins the guard still allows on host now.
func (g *Guard) Remaining(host string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.hosts[hostKey(host)]
	if st == nil {
		return g.max
	}
	return max(0, g.max-len(g.prune(st, g.now())))
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

// leave drops a user of st and forgets the host once nobody uses it and no
// failure is left to remember.
func (g *Guard) leave(key string, st *hostState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st.users--
	if st.users == 0 && len(g.prune(st, g.now())) == 0 {
		delete(g.hosts, key)
	}
}

// prune drops failures older than the window. g.mu must be held.
func (g *Guard) prune(st *hostState, now time.Time) []failure {
	cut := 0
	for cut < len(st.failures) && !now.Before(st.failures[cut].at.Add(g.window)) {
		cut++
	}
	if cut > 0 {
		st.failures = append(st.failures[:0], st.failures[cut:]...)
	}
	return st.failures
}

// guardTurn is one resolution's exclusive turn on a host.
type guardTurn struct {
	g   *Guard
	key string
	st  *hostState
}

func (t *guardTurn) release() {
	t.st.turn <- struct{}{}
	t.g.leave(t.key, t.st)
}

// check says whether the candidate may be tried: skip is set when it failed
// within the window; budget is non-nil when no failure is left to spend.
func (t *guardTurn) check(fp fingerprint) (skip bool, retryAt time.Time, spent bool) {
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	fs := g.prune(t.st, g.now())
	for _, f := range fs {
		if f.fp == fp {
			return true, time.Time{}, false
		}
	}
	if len(fs) >= g.max {
		return false, fs[len(fs)-g.max].at.Add(g.window), true
	}
	return false, time.Time{}, false
}

// fail records a failed login.
func (t *guardTurn) fail(fp fingerprint) {
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.prune(t.st, now)
	t.st.failures = append(t.st.failures, failure{fp: fp, at: now})
}

// hostKey normalises a host name for the guard and the runtime profile.
func hostKey(host string) string {
	return strings.ToLower(strings.TrimSpace(host))
}
