package fleet

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amtkit/amtkit/credentials"
)

// Run runs task on every target and yields one Result per machine as each
// finishes, in no fixed order. Targets are addresses with an optional
// port, as amt.New takes them; duplicates (the same address, whatever the
// port) are worked once, under the first spelling. Cancelling ctx stops
// new work: machines not started, and machines waiting for a retry, are
// reported Cancelled. A task or options that cannot run return an error
// before anything is sent.
//
// The work starts when the sequence is ranged over, and the sequence can
// be ranged over once; breaking out of the loop cancels the machines not
// yet finished and waits for those in flight to stop.
func Run(ctx context.Context, targets []string, task Task, opts Options) (iter.Seq[Result], error) {
	r, err := NewRunner(task, opts)
	if err != nil {
		return nil, err
	}
	machines, err := Targets(targets)
	if err != nil {
		return nil, err
	}
	var used atomic.Bool
	return func(yield func(Result) bool) {
		if used.Swap(true) {
			return
		}
		defer r.Close()
		r.run(ctx, machines, yield)
	}, nil
}

// Targets checks targets and drops duplicates: two targets naming the same
// address (with or without a port, or as a URL) are one machine. It returns
// the targets kept, in their first order.
func Targets(targets []string) ([]string, error) {
	seen := make(map[string]bool, len(targets))
	out := make([]string, 0, len(targets))
	for _, t := range targets {
		t = strings.TrimSpace(t)
		if t == "" {
			return nil, errors.New("fleet: empty target")
		}
		key, err := machineKey(t)
		if err != nil {
			return nil, err
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, t)
	}
	return out, nil
}

// machineKey is the address of a target without its port: operations on
// one key never overlap.
func machineKey(target string) (string, error) {
	host := target
	if strings.Contains(target, "://") {
		u, err := url.Parse(target)
		if err != nil || u.Hostname() == "" {
			return "", fmt.Errorf("fleet: target %q is not an address or URL", target)
		}
		host = u.Hostname()
	} else if h, _, err := net.SplitHostPort(target); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if host == "" || strings.ContainsAny(host, "/?#@ \t") {
		return "", fmt.Errorf("fleet: target %q has no valid address", target)
	}
	return credentials.DeviceKey(host), nil
}

// hostLocks serialises work on one machine across every run of the
// process: at most one operation per address at a time.
var hostLocks = struct {
	mu sync.Mutex
	m  map[string]*hostLock
}{m: map[string]*hostLock{}}

type hostLock struct {
	ch   chan struct{}
	refs int
}

// lockHost takes key's turn, waiting for another run's operation on the
// same machine to end; unlock gives it back.
func lockHost(ctx context.Context, key string) (unlock func(), err error) {
	hostLocks.mu.Lock()
	l := hostLocks.m[key]
	if l == nil {
		l = &hostLock{ch: make(chan struct{}, 1)}
		hostLocks.m[key] = l
	}
	l.refs++
	hostLocks.mu.Unlock()
	drop := func() {
		hostLocks.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(hostLocks.m, key)
		}
		hostLocks.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; drop() }, nil
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
}

// limits are what machines of one run wait for: a slot of the run's
// concurrency, and the run's expiry.
type limits struct {
	slots  chan struct{}
	expire time.Time
	expC   <-chan time.Time // closed or fires at the expiry; nil without
}

// acquire waits for a slot. It returns errExpired once the expiry passed
// and ctx's error once it ended.
func (l *limits) acquire(ctx context.Context) error {
	if l.expired() {
		return errExpired
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-l.expC:
		return errExpired
	}
}

func (l *limits) release() { <-l.slots }

func (l *limits) expired() bool { return !l.expire.IsZero() && !time.Now().Before(l.expire) }

// wait sleeps d, or until ctx ends or the expiry passes.
func (l *limits) wait(ctx context.Context, d time.Duration) error {
	if !l.expire.IsZero() && time.Now().Add(d).After(l.expire) {
		return errExpired
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-l.expC:
		return errExpired
	}
}

var errExpired = errors.New("expired")

// run works machines and yields their results.
func (r *Runner) run(ctx context.Context, machines []string, yield func(Result) bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := &limits{slots: make(chan struct{}, r.opts.Concurrency), expire: r.opts.Expire}
	if !l.expire.IsZero() {
		t := time.NewTimer(time.Until(l.expire))
		defer t.Stop()
		// A fired timer's value is taken once; every waiter needs to see
		// the expiry, so it closes a channel of its own.
		ch := make(chan time.Time)
		go func() {
			select {
			case <-t.C:
				close(ch)
			case <-ctx.Done():
			}
		}()
		l.expC = ch
	}
	results := make(chan Result, min(r.opts.Concurrency, len(machines)+1))
	var wg sync.WaitGroup
	go func() {
		r.dispatch(ctx, l, machines, results, &wg)
		wg.Wait()
		close(results)
	}()
	for res := range results {
		if !yield(res) {
			cancel()
			for range results {
			}
			return
		}
	}
}

// dispatch starts each machine when a slot (and its batch) allows, and
// reports the machines it never starts.
//
// Goroutines are reused from one machine to the next: a fresh one per
// machine would grow its stack again through the deep call chain of an
// exchange every time.
func (r *Runner) dispatch(ctx context.Context, l *limits, machines []string, results chan<- Result, wg *sync.WaitGroup) {
	work := make(chan string)
	defer close(work)
	batchStart := time.Now()
	inBatch := 0
	for i, target := range machines {
		if r.opts.BatchSize > 0 && inBatch == r.opts.BatchSize {
			next := batchStart.Add(r.opts.BatchInterval)
			if d := time.Until(next); d > 0 {
				if err := l.wait(ctx, d); err != nil {
					r.notStarted(machines[i:], err, results)
					return
				}
			}
			batchStart, inBatch = time.Now(), 0
		}
		if err := ctx.Err(); err != nil {
			r.notStarted(machines[i:], err, results)
			return
		}
		if err := l.acquire(ctx); err != nil {
			r.notStarted(machines[i:], err, results)
			return
		}
		inBatch++
		select {
		case work <- target: // a goroutine that finished a machine takes it
		default:
			wg.Add(1)
			go func() {
				defer wg.Done()
				for t, ok := target, true; ok; t, ok = <-work {
					results <- r.machine(ctx, t, l)
				}
			}()
		}
	}
}

// notStarted reports machines that were never started: expired or
// cancelled.
func (r *Runner) notStarted(machines []string, why error, results chan<- Result) {
	for _, t := range machines {
		results <- r.untried(t, why)
	}
}

func (r *Runner) untried(target string, why error) Result {
	res := Result{Host: target, Action: r.task.Action, RetriesRemaining: r.opts.Retries, Worker: r.opts.Worker}
	if errors.Is(why, errExpired) {
		res.Outcome, res.Message = Expired, "not tried before the run expired"
		res.Err = fmt.Errorf("fleet: %s: %w", target, ErrExpired)
	} else {
		res.Outcome, res.Message = Cancelled, "not tried: the run was cancelled"
		res.Err = fmt.Errorf("fleet: %s: %w", target, why)
	}
	return res
}
