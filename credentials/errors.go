package credentials

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrAuthFailed is the authentication failure the resolver recognises by
	// default. A login function may return it, or an error that wraps it or
	// matches it with an Is method; WithAuthFailure replaces the test.
	ErrAuthFailed = errors.New("authentication failed")
	// ErrLockoutRisk: the lockout guard refused further logins on the host,
	// because another failure could lock the account. Returned as a
	// *BudgetError.
	ErrLockoutRisk = errors.New("further logins risk locking the account")
	// ErrRecentlyFailed is the error of a Skipped attempt: the same
	// credential already failed on this host within the guard's window.
	ErrRecentlyFailed = errors.New("this credential already failed on this host within the guard window")
	// ErrExhausted: every candidate was rejected or skipped. The error also
	// wraps the last authentication failure, so it matches that too.
	ErrExhausted = errors.New("no candidate credential was accepted")
	// ErrNoCandidates: the resolver had nothing to try for the host.
	ErrNoCandidates = errors.New("no credentials to try")

	// ErrNotFound: no such profile or runtime entry.
	ErrNotFound = errors.New("not found")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("the credential store is closed")
	// ErrLocked: another process holds the credential store and did not
	// release it within the lock timeout.
	ErrLocked = errors.New("the credential store is in use by another process")
	// ErrWrongKey: the key file does not open this store.
	ErrWrongKey = errors.New("the key file does not match the credential store")
	// ErrKeyMissing: the store exists but its key file does not. A new key
	// would make every entry unreadable, so none is made.
	ErrKeyMissing = errors.New("the key file of an existing credential store is missing")
	// ErrNewerSchema: the store was written by a newer amtkit.
	ErrNewerSchema = errors.New("the credential store was written by a newer version of amtkit")
	// ErrCorrupt: the file is not a readable credential store (damaged,
	// truncated, or not a database at all). It is left untouched.
	ErrCorrupt = errors.New("the credential store is corrupt")
)

// BudgetError is returned when the lockout guard's budget of failed logins for
// a host is spent while candidates remain. It matches ErrLockoutRisk.
type BudgetError struct {
	Host string
	// Untried is the number of candidates left untried; the resolution's
	// attempts mark them NotTried.
	Untried int
	// MaxFailures and Window are the guard's limit.
	MaxFailures int
	Window      time.Duration
	// RetryAt is when the oldest counted failure leaves the window, freeing
	// one login.
	RetryAt time.Time
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("credentials: %s: lockout guard: %d failed logins within %v already, %d candidate(s) left untried; next login allowed at %s",
		e.Host, e.MaxFailures, e.Window, e.Untried, e.RetryAt.Format(time.RFC3339))
}

// Is matches ErrLockoutRisk.
func (e *BudgetError) Is(target error) bool { return target == ErrLockoutRisk }
