package fleet

import (
	"context"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/credentials"
)

// Options tune a run. The zero value is usable: defaults in the comments.
type Options struct {
	// Concurrency bounds the machines worked on at once (default 100).
	// Operations on one machine (one address, whatever the port) never
	// overlap.
	Concurrency int
	// IDERConcurrency bounds IDE-R boots at once (default 4): each streams
	// an image.
	IDERConcurrency int
	// Retries is how often a machine is tried again after a transient
	// failure (unreachable, timeout, busy), RetryDelay the wait before each
	// retry (default 5s). Authentication failures, refusals and changes
	// whose outcome is unknown are never retried.
	Retries    int
	RetryDelay time.Duration
	// Timeout bounds one attempt on one machine (default 30s; IDE-R boots
	// and wake-first waits get their own limits).
	Timeout time.Duration
	// Expire, when set, is the time after which untried machines (and
	// machines waiting for a retry) are reported Expired.
	Expire time.Time
	// BatchSize and BatchInterval stagger the roll-out: at most BatchSize
	// machines are started per BatchInterval (0: no batches).
	BatchSize     int
	BatchInterval time.Duration
	// Credentials resolves the credentials of each machine (for example a
	// credentials.Resolver with its lockout guard). Required unless
	// ClientOptions carry credentials.
	Credentials credentials.Source
	// ClientOptions are passed to amt.New for every machine (TLS, ports,
	// timeouts); the activity log is Options.ActivityLog.
	ClientOptions []amt.Option
	// Worker names this process in results (default: host name and pid).
	Worker string
	// ActivityLog, when set, receives one entry per attempt on each
	// machine (and the clients' logins), under Actor and Job.
	ActivityLog amt.ActivityLog
	Actor       string
	// Job names the job the run belongs to, in activity entries.
	Job string
	// IDERTimeout bounds one IDE-R boot, serving included (default 15m).
	IDERTimeout time.Duration
	// Hooks let a caller (the durable job layer) act around each attempt.
	Hooks Hooks
}

// Hooks are called from the goroutine working on a machine.
type Hooks struct {
	// BeforeSend is called just before the first request that changes
	// the machine is written. An error stops the machine's work with
	// nothing sent (the durable layer commits its marker here; it may
	// batch concurrent calls into one commit).
	BeforeSend func(ctx context.Context, host string) error
	// AfterAttempt is called after each attempt with its result so far.
	AfterAttempt func(ctx context.Context, r Result)
}
