package statedb

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// writeGate queues the writers of one SQLite file, in this process and
// across processes, before their transaction asks SQLite for the write
// lock. SQLite's own busy handler polls with growing sleeps, so that with
// many processes writing at once a waiter keeps missing the lock to
// others that arrive later, and some wait past any busy timeout (seen
// with 50 processes built with the race detector). Waiters of the gate
// sleep in the kernel (flock, LockFileEx) and one of them gets the lock
// the moment it is released; a process that dies releases it with its
// file descriptors. Transactions stay short, so the queue moves quickly;
// the wait is bounded by the busy timeout all the same.
type writeGate struct {
	path    string
	timeout time.Duration
	sem     chan struct{} // one writer of this process at a time

	mu       sync.Mutex
	f        *os.File // opened on first use
	inflight int      // lock goroutines running
	closing  bool     // close waits for them: they use f
}

func newWriteGate(path string, timeout time.Duration) *writeGate {
	return &writeGate{path: path, timeout: timeout, sem: make(chan struct{}, 1)}
}

func (g *writeGate) file() (*os.File, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.f == nil {
		f, err := os.OpenFile(g.path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("statedb: write lock: %w", err)
		}
		g.f = f
	}
	return g.f, nil
}

// enter waits for the gate and returns how to leave it.
func (g *writeGate) enter(ctx context.Context) (func(), error) {
	wait, cancel := ctx, context.CancelFunc(func() {})
	if g.timeout > 0 {
		wait, cancel = context.WithTimeout(ctx, g.timeout)
	}
	defer cancel()
	select {
	case g.sem <- struct{}{}:
	case <-wait.Done():
		return nil, g.waitErr(ctx, wait)
	}
	f, err := g.file()
	if err != nil {
		<-g.sem
		return nil, err
	}
	// The lock is taken in a goroutine, which cannot be interrupted; when
	// the wait ends first, it releases what it gets.
	var (
		mu        sync.Mutex
		abandoned bool
		got       = make(chan error, 1)
	)
	g.mu.Lock()
	g.inflight++
	g.mu.Unlock()
	go func() {
		err := lockFile(f)
		defer g.done()
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			if err == nil {
				_ = unlockFile(f)
			}
			<-g.sem
			return
		}
		got <- err
	}()
	leave := func() {
		_ = unlockFile(f)
		<-g.sem
	}
	select {
	case err := <-got:
		if err != nil {
			<-g.sem
			return nil, fmt.Errorf("statedb: write lock: %w", err)
		}
		return leave, nil
	case <-wait.Done():
		mu.Lock()
		select {
		case err := <-got:
			// Taken just now: keep it after all.
			mu.Unlock()
			if err != nil {
				<-g.sem
				return nil, fmt.Errorf("statedb: write lock: %w", err)
			}
			return leave, nil
		default:
		}
		abandoned = true
		mu.Unlock()
		return nil, g.waitErr(ctx, wait)
	}
}

func (g *writeGate) waitErr(ctx, wait context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%w: another process held the write lock for more than %v (%v)", ErrUnavailable, g.timeout, wait.Err())
}

// done ends a lock goroutine, closing the file if the gate was closed
// while it waited.
func (g *writeGate) done() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight--
	if g.closing && g.inflight == 0 && g.f != nil {
		_ = g.f.Close()
		g.f = nil
	}
}

// close closes the lock file, or leaves that to the last lock goroutine
// still waiting on it.
func (g *writeGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closing = true
	if g.inflight == 0 && g.f != nil {
		_ = g.f.Close()
		g.f = nil
	}
}
