package credentials

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Source supplies the credentials for a device. A device client calls Resolve
// for its first operation, passing a function that performs that operation
// with one credential; Resolve calls it with each candidate in turn until one
// works, and returns the candidate that worked together with what happened to
// every candidate. Later operations reuse the credential that worked.
type Source interface {
	Resolve(ctx context.Context, host string, try func(ctx context.Context, c Credential) error) (Candidate, []Attempt, error)
}

// Static returns a Source with one credential and no fallback: Resolve tries it
// once, through ProcessGuard, so that a program making many clients with the
// same wrong password cannot lock a device's account (the second client's
// login is not sent; a third wrong password is refused once the budget is
// spent). The single attempt's Origin is Task.
func Static(c Credential) Source { return staticSource{c: c.clone()} }

// StaticWithGuard is Static with its logins counted by g instead of
// ProcessGuard: for example a guard kept in the state database, shared by
// every process, or one with another budget.
func StaticWithGuard(c Credential, g *Guard) Source { return staticSource{c: c.clone(), g: g} }

type staticSource struct {
	c Credential
	g *Guard // nil: ProcessGuard
}

// Guard returns the guard the source's logins go through, so that a
// device client sends its other logins (the redirection port's) through
// it too.
func (s staticSource) Guard() *Guard {
	if s.g != nil {
		return s.g
	}
	return ProcessGuard()
}

func (s staticSource) Resolve(ctx context.Context, host string, try func(context.Context, Credential) error) (Candidate, []Attempt, error) {
	cand := Candidate{Origin: Task, Credential: s.c.clone()}
	if err := ctx.Err(); err != nil {
		return Candidate{}, []Attempt{{Origin: Task, Outcome: NotTried}}, fmt.Errorf("credentials: %s: %w", host, err)
	}
	if try == nil {
		return Candidate{}, nil, fmt.Errorf("credentials: Resolve needs a login function")
	}
	err := s.Guard().Login(ctx, host, AMT, cand.Credential, nil, func(ctx context.Context) error { return try(ctx, cand.Credential.clone()) })
	if err == nil {
		return cand, []Attempt{{Origin: Task, Outcome: Succeeded}}, nil
	}
	var be *BudgetError
	if errors.As(err, &be) {
		// Nothing was sent.
		outcome := NotTried
		if be.Skipped > 0 {
			outcome = Skipped
		}
		return Candidate{}, []Attempt{{Origin: Task, Outcome: outcome, Err: err}}, err
	}
	outcome := Failed
	if errors.Is(err, ErrAuthFailed) {
		outcome = AuthFailed
	}
	return Candidate{}, []Attempt{{Origin: Task, Outcome: outcome, Err: err}}, fmt.Errorf("credentials: %s: %w", host, err)
}

// DefaultAttemptTimeout bounds each login attempt unless WithAttemptTimeout
// says otherwise.
const DefaultAttemptTimeout = 30 * time.Second

// defaultOrder is the resolver's default candidate order: the task
// credential, the named profile (or the default profile when none is named),
// the runtime entry for the host, then the other profiles when allowed.
var defaultOrder = [...]Origin{Task, Named, Runtime, Other}

// Resolver orders the candidate credentials for a host and tries them under a
// lockout guard, learning what works into the store's runtime profile. See the
// package documentation for the order rules.
//
// A Resolver is safe for concurrent use by many goroutines on many hosts.
type Resolver struct {
	store        Store
	order        []Origin
	profile      string
	task         *Credential
	allowOthers  bool
	runtimeFirst bool
	learnTask    bool
	guard        *Guard
	tech         Technology
	timeout      time.Duration
	isAuth       func(error) bool
	isDenied     func(error) bool
	now          func() time.Time
	clockSet     bool
}

// Option configures a Resolver.
type Option func(*Resolver) error

// WithOrder sets the order in which origins are tried; the default is Task,
// Named, Runtime, Other. Each origin may appear
// once. Named stands for the named profile, or for the default profile when
// no profile is named; Default for the default profile itself. Other is used
// only with AllowOtherProfiles(true). Origins left out are not tried.
func WithOrder(origins ...Origin) Option {
	return func(r *Resolver) error {
		if len(origins) == 0 {
			return fmt.Errorf("credentials: WithOrder needs at least one origin")
		}
		seen := map[Origin]bool{}
		for _, o := range origins {
			if !o.Valid() {
				return fmt.Errorf("credentials: WithOrder: unknown %v", o)
			}
			if seen[o] {
				return fmt.Errorf("credentials: WithOrder: %v listed twice", o)
			}
			seen[o] = true
		}
		r.order = append([]Origin(nil), origins...)
		return nil
	}
}

// WithProfile names the profile to use; without it the default profile is
// used. A named profile that does not exist makes resolution fail with
// ErrNotFound rather than silently fall back.
func WithProfile(name string) Option {
	return func(r *Resolver) error {
		if err := validName(name); err != nil {
			return err
		}
		r.profile = name
		return nil
	}
}

// WithTask sets the task credential that Resolve tries first. ResolveTask and
// For take a task credential per call instead.
func WithTask(c Credential) Option {
	return func(r *Resolver) error {
		c = c.clone()
		r.task = &c
		return nil
	}
}

// AllowOtherProfiles lets the resolver fall back to every other profile in
// the store (in name order) after the configured ones. It is off by default:
// trying every password an estate has spends the lockout budget quickly.
func AllowOtherProfiles(allow bool) Option {
	return func(r *Resolver) error {
		r.allowOthers = allow
		return nil
	}
}

// WithRuntimeFirst sets whether a fresh (not stale) runtime entry for the host
// is tried right after the task credential, ahead of the default profile,
// when no profile is named (a profile named with WithProfile is always tried
// before the runtime entry: the caller asked for it). It is on by default;
// off, the runtime entry keeps its place in the order.
func WithRuntimeFirst(first bool) Option {
	return func(r *Resolver) error {
		r.runtimeFirst = first
		return nil
	}
}

// RememberTask sets whether a task credential that worked is written to the
// runtime profile (default true). Programs that take a password on the
// command line or from the environment turn it off unless the operator asks
// for it, so that the password does not reach the disk.
func RememberTask(remember bool) Option {
	return func(r *Resolver) error {
		r.learnTask = remember
		return nil
	}
}

// WithGuard sets the lockout guard. Without it a resolver uses
// ProcessGuard, which every resolver and Static source of the process
// without a guard of its own shares (a resolver given WithClock has its own
// guard on that clock instead). Programs in which several processes log in
// to the same devices give one kept in shared storage (GuardStorage).
func WithGuard(g *Guard) Option {
	return func(r *Resolver) error {
		if g == nil {
			return fmt.Errorf("credentials: WithGuard(nil): a resolver always has a guard")
		}
		r.guard = g
		return nil
	}
}

// WithTechnology chooses which entry of each profile is a candidate (default
// AMT). Profiles without an entry for it are passed over.
func WithTechnology(t Technology) Option {
	return func(r *Resolver) error {
		if !t.Valid() {
			return fmt.Errorf("credentials: unknown technology %q", string(t))
		}
		r.tech = t
		return nil
	}
}

// WithAttemptTimeout gives each login attempt its own timeout (default
// DefaultAttemptTimeout); zero means attempts are bounded only by the
// caller's context. An attempt that times out is a Failed attempt and stops
// the resolution, like any network error.
func WithAttemptTimeout(d time.Duration) Option {
	return func(r *Resolver) error {
		if d < 0 {
			return fmt.Errorf("credentials: negative attempt timeout %v", d)
		}
		r.timeout = d
		return nil
	}
}

// WithAuthFailure sets how an authentication failure is recognised among the
// errors the login function returns, e.g.
//
//	credentials.WithAuthFailure(func(err error) bool { return errors.Is(err, amt.ErrAuthFailed) })
//
// Only such failures move on to the next candidate. The default recognises
// ErrAuthFailed.
func WithAuthFailure(isAuth func(error) bool) Option {
	return func(r *Resolver) error {
		if isAuth == nil {
			return fmt.Errorf("credentials: WithAuthFailure(nil)")
		}
		r.isAuth = isAuth
		return nil
	}
}

// WithAccessDenied sets how the refusal of an operation to a credential that
// logged in (the device's AccessDenied) is recognised among the errors the
// login function returns. Such a candidate is Denied: the resolution moves
// on to the next candidate, the refusal costs no failed login, and nothing
// is learned from it. The default recognises ErrAccessDenied.
func WithAccessDenied(isDenied func(error) bool) Option {
	return func(r *Resolver) error {
		if isDenied == nil {
			return fmt.Errorf("credentials: WithAccessDenied(nil)")
		}
		r.isDenied = isDenied
		return nil
	}
}

type changeKey struct{}

// ForChange marks ctx for a resolution whose login function makes a change
// on the device (a power change, a boot setting), not only reads. What
// such a resolution learns is marked RuntimeEntry.Changes, and a resolution
// not so marked does not replace a fresh entry that has made changes with a
// different credential: a read-only account that can read must not displace
// the administrator's credential that could do more.
func ForChange(ctx context.Context) context.Context {
	return context.WithValue(ctx, changeKey{}, true)
}

func isChange(ctx context.Context) bool {
	v, _ := ctx.Value(changeKey{}).(bool)
	return v
}

// WithClock sets the clock used for learned and stale times, and for the
// resolver's own guard (a guard given with WithGuard keeps its clock). For
// tests.
func WithClock(now func() time.Time) Option {
	return func(r *Resolver) error {
		if now == nil {
			return fmt.Errorf("credentials: WithClock(nil)")
		}
		r.now, r.clockSet = now, true
		return nil
	}
}

// NewResolver returns a resolver over store.
func NewResolver(store Store, opts ...Option) (*Resolver, error) {
	if store == nil {
		return nil, fmt.Errorf("credentials: NewResolver needs a store")
	}
	r := &Resolver{
		store:        store,
		order:        defaultOrder[:],
		runtimeFirst: true,
		learnTask:    true,
		tech:         AMT,
		timeout:      DefaultAttemptTimeout,
		isAuth:       func(err error) bool { return errors.Is(err, ErrAuthFailed) },
		isDenied:     func(err error) bool { return errors.Is(err, ErrAccessDenied) },
		now:          time.Now,
	}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	switch {
	case r.guard != nil:
	case r.clockSet:
		r.guard = NewGuard(DefaultMaxFailures, DefaultWindow, GuardClock(r.now))
	default:
		r.guard = ProcessGuard()
	}
	return r, nil
}

// Guard returns the resolver's lockout guard.
func (r *Resolver) Guard() *Guard { return r.guard }

// Guarded is implemented by sources whose logins go through a lockout guard
// (a Resolver and the sources its For returns). A device client sends its
// other logins with the chosen credential, such as the redirection port's,
// through the same guard with Guard.Login.
type Guarded interface {
	Guard() *Guard
}

// Candidates returns the credentials a resolution for host would try, in
// order, without trying any. task is the task credential, or nil. Candidates
// that are the same login as an earlier one are left out.
func (r *Resolver) Candidates(ctx context.Context, host string, task *Credential) ([]Candidate, error) {
	if hostKey(host) == "" {
		return nil, fmt.Errorf("credentials: no host given")
	}
	var (
		profiles []Profile
		loaded   bool
		rt       RuntimeEntry
		haveRT   bool
	)
	loadProfiles := func() error {
		if loaded {
			return nil
		}
		ps, err := r.store.Profiles(ctx)
		if err != nil {
			return fmt.Errorf("credentials: reading profiles: %w", err)
		}
		profiles, loaded = ps, true
		return nil
	}
	if r.uses(Runtime) {
		e, ok, err := r.store.Runtime(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("credentials: reading the runtime profile for %s: %w", hostKey(host), err)
		}
		rt, haveRT = e, ok && e.technology() == r.tech
	}

	var out []Candidate
	seen := map[fingerprint]bool{}
	add := func(c Candidate) {
		fp := fingerprintOf(r.tech, c.Credential)
		if seen[fp] {
			return
		}
		seen[fp] = true
		out = append(out, c)
	}
	addProfile := func(o Origin, p Profile) {
		if c, ok := p.Entries[r.tech]; ok {
			add(Candidate{Origin: o, Profile: p.Name, Credential: c.clone()})
		}
	}
	runtimeCand := Candidate{Origin: Runtime, Profile: rt.Profile, Credential: rt.Credential}
	// A named profile is what the caller asked for: it keeps its place
	// before the runtime entry.
	promote := haveRT && !rt.Stale && r.runtimeFirst && r.profile == ""

	// The task credential always leads; a fresh runtime entry comes right
	// after it.
	if task != nil && r.uses(Task) {
		add(Candidate{Origin: Task, Credential: task.clone()})
	}
	if promote {
		add(runtimeCand)
	}
	for _, o := range r.order {
		switch o {
		case Task:
			// Already placed.
		case Named:
			if r.profile != "" {
				if err := loadProfiles(); err != nil {
					return nil, err
				}
				p, ok := findProfile(profiles, r.profile)
				if !ok {
					return nil, fmt.Errorf("credentials: %w", notFound("profile", r.profile))
				}
				addProfile(Named, p)
				continue
			}
			fallthrough
		case Default:
			if err := loadProfiles(); err != nil {
				return nil, err
			}
			for _, p := range profiles {
				if p.Default {
					addProfile(Default, p)
				}
			}
		case Runtime:
			if haveRT && !promote {
				add(runtimeCand)
			}
		case Other:
			if !r.allowOthers {
				continue
			}
			if err := loadProfiles(); err != nil {
				return nil, err
			}
			for _, p := range profiles {
				if p.Name != r.profile && !p.Default {
					addProfile(Other, p)
				}
			}
		}
	}
	return out, nil
}

func (r *Resolver) uses(o Origin) bool {
	for _, x := range r.order {
		if x == o {
			return true
		}
	}
	return false
}

func findProfile(ps []Profile, name string) (Profile, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// Resolve implements Source with the task credential given by WithTask, if
// any.
func (r *Resolver) Resolve(ctx context.Context, host string, try func(context.Context, Credential) error) (Candidate, []Attempt, error) {
	return r.ResolveTask(ctx, host, r.task, try)
}

// For returns a Source that resolves with task as the task credential (nil
// for none), for handing to a device client.
func (r *Resolver) For(task *Credential) Source {
	var t *Credential
	if task != nil {
		c := task.clone()
		t = &c
	}
	return boundSource{r: r, task: t}
}

type boundSource struct {
	r    *Resolver
	task *Credential
}

// Guard returns the resolver's guard, so that logins made outside the
// resolution (the redirection port's) go through it.
func (b boundSource) Guard() *Guard { return b.r.guard }

func (b boundSource) Resolve(ctx context.Context, host string, try func(context.Context, Credential) error) (Candidate, []Attempt, error) {
	return b.r.ResolveTask(ctx, host, b.task, try)
}

// ResolveTask tries the candidates for host in order, task first (nil for
// none), calling try with each until one works.
//
// It waits for the host's turn with the guard, so resolutions of one host
// take turns. An authentication failure (as WithAuthFailure recognises it)
// moves on to the next candidate; any other error stops, as does the end of
// ctx. A candidate that already failed on the host within the guard's window
// is Skipped; once the guard's budget is spent, the rest are NotTried and the
// error is a *BudgetError. A success is recorded in the runtime profile; an
// authentication failure of the runtime entry marks it stale. When ctx ends
// while try runs, the error names the candidate and matches both try's
// error and ctx's.
//
// The attempts list one Attempt per candidate, in order, whatever the result.
// On success the error is nil and the Candidate is the one that worked.
func (r *Resolver) ResolveTask(ctx context.Context, host string, task *Credential, try func(context.Context, Credential) error) (Candidate, []Attempt, error) {
	if try == nil {
		return Candidate{}, nil, fmt.Errorf("credentials: Resolve needs a login function")
	}
	key := hostKey(host)
	if key == "" {
		return Candidate{}, nil, fmt.Errorf("credentials: no host given")
	}
	turn, err := r.guard.acquire(ctx, key)
	if err != nil {
		return Candidate{}, nil, fmt.Errorf("credentials: %s: waiting for the lockout guard: %w", key, err)
	}
	defer turn.release()

	// Candidates are read inside the turn, so that a resolution that waited
	// sees what the one before it learned.
	cands, err := r.Candidates(ctx, key, task)
	if err != nil {
		return Candidate{}, nil, err
	}
	if len(cands) == 0 {
		return Candidate{}, nil, fmt.Errorf("credentials: %s: %w (no task credential, no usable %s entry in the profiles)", key, ErrNoCandidates, r.tech)
	}

	attempts := make([]Attempt, len(cands))
	for i, c := range cands {
		attempts[i] = Attempt{Origin: c.Origin, Profile: c.Profile, Outcome: NotTried}
	}
	var (
		lastAuth        error
		rejected, skips int
		denied          int
		lastDenied      error
		skipRetry       time.Time
	)
	for i, c := range cands {
		if err := ctx.Err(); err != nil {
			return Candidate{}, attempts, fmt.Errorf("credentials: %s: %w", key, err)
		}
		fp := fingerprintOf(r.tech, c.Credential)
		res, err := turn.reserve(ctx, fp)
		if err != nil {
			return Candidate{}, attempts, err
		}
		if res, err = turn.awaitPending(ctx, fp, res); err != nil {
			return Candidate{}, attempts, err
		}
		switch res.Decision {
		case GuardSkip:
			attempts[i].Outcome, attempts[i].Err = Skipped, ErrRecentlyFailed
			if skips == 0 || res.RetryAt.Before(skipRetry) {
				skipRetry = res.RetryAt
			}
			skips++
			continue
		case GuardSpent:
			return Candidate{}, attempts, &BudgetError{
				Host: key, Untried: len(cands) - i,
				MaxFailures: r.guard.max, Window: r.guard.window, RetryAt: res.RetryAt,
			}
		}

		err = r.attempt(ctx, c.Credential, try)
		// The device counted a failure even if ctx ended meanwhile.
		serr := turn.settle(ctx, res.ID, err != nil && r.isAuth(err))
		if err == nil {
			attempts[i].Outcome = Succeeded
			attempts[i].Err = errors.Join(serr, r.learn(ctx, key, c))
			return c, attempts, nil
		}
		attempts[i].Err = err
		if r.isDenied(err) && !r.isAuth(err) {
			// Logged in, but refused the operation: the next candidate
			// may be allowed. Not a failed login, and nothing learned.
			attempts[i].Outcome = Denied
			if serr != nil {
				attempts[i].Err = errors.Join(err, serr)
			}
			denied++
			lastDenied = err
			continue
		}
		if r.isAuth(err) {
			attempts[i].Outcome = AuthFailed
			if serr != nil {
				attempts[i].Err = errors.Join(err, serr)
			}
			rejected++
			lastAuth = err
			if c.Origin == Runtime {
				if serr := r.store.MarkRuntimeStale(context.WithoutCancel(ctx), key, c.Credential, r.now()); serr != nil {
					attempts[i].Err = errors.Join(err, fmt.Errorf("credentials: marking the runtime entry stale: %w", serr))
				}
			}
			continue
		}
		attempts[i].Outcome = Failed
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			// The caller's context ended during the attempt. What the
			// attempt met is the more precise cause (a sent change whose
			// answer was lost, a refused connection); the error matches
			// both it and the context's end.
			return Candidate{}, attempts, fmt.Errorf("credentials: %s: %s: %w (%w)", key, describe(c.Origin, c.Profile), err, cerr)
		}
		return Candidate{}, attempts, fmt.Errorf("credentials: %s: %s: %w", key, describe(c.Origin, c.Profile), err)
	}
	if denied > 0 && rejected == 0 {
		// Every candidate that logged in was refused the operation.
		return Candidate{}, attempts, fmt.Errorf("credentials: %s: %d candidate(s) logged in but were refused the operation (%d skipped as recently failed): %w",
			key, denied, skips, lastDenied)
	}
	if rejected == 0 && skips > 0 {
		// Nothing was sent: every candidate already failed here.
		return Candidate{}, attempts, &BudgetError{
			Host: key, Skipped: skips, MaxFailures: r.guard.max, Window: r.guard.window, RetryAt: skipRetry,
		}
	}
	if lastAuth == nil {
		lastAuth = ErrRecentlyFailed
	}
	return Candidate{}, attempts, fmt.Errorf("credentials: %s: %w (%d rejected, %d refused the operation, %d skipped as recently failed): %w",
		key, ErrExhausted, rejected, denied, skips, lastAuth)
}

// attempt runs try under the per-attempt timeout.
func (r *Resolver) attempt(ctx context.Context, c Credential, try func(context.Context, Credential) error) error {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if r.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, r.timeout)
	}
	defer cancel()
	return try(actx, c.clone())
}

// learn records a success in the runtime profile. The write outlives the
// caller's context: a login that worked is worth remembering.
func (r *Resolver) learn(ctx context.Context, host string, c Candidate) error {
	if c.Origin == Task && !r.learnTask {
		return nil
	}
	e := RuntimeEntry{
		Host:       host,
		Technology: r.tech,
		Credential: c.Credential,
		Profile:    c.Profile,
		Origin:     c.Origin,
		LearnedAt:  r.now(),
		Changes:    isChange(ctx),
	}
	old, haveOld, err := r.store.Runtime(context.WithoutCancel(ctx), host)
	if err != nil {
		return fmt.Errorf("credentials: reading the runtime entry for %s: %w", host, err)
	}
	same := haveOld && old.technology() == r.tech && fingerprintOf(r.tech, old.Credential) == fingerprintOf(r.tech, c.Credential)
	switch {
	case same:
		// Keep what the entry has done, and, when it was the runtime
		// candidate that worked, where it first came from.
		if c.Origin == Runtime {
			e.Profile, e.Origin = old.Profile, old.Origin
		}
		e.Changes = e.Changes || old.Changes
	case haveOld && !old.Stale && old.Changes && !e.Changes && old.technology() == r.tech:
		// A credential that has only read does not displace one that
		// has made changes and still works.
		return nil
	}
	if err := r.store.PutRuntime(context.WithoutCancel(ctx), host, e); err != nil {
		return fmt.Errorf("credentials: recording the credential that worked on %s: %w", host, err)
	}
	return nil
}
