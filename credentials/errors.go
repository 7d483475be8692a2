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
	// ErrAccessDenied is the refusal the resolver recognises by default
	// when a credential logs in but may not do the operation (the device's
	// AccessDenied); WithAccessDenied replaces the test.
	ErrAccessDenied = errors.New("access denied")
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
)

// BudgetError is returned when the lockout guard refuses to send a login to a
// device: its budget of failed logins is spent while candidates remain, or
// every candidate already failed there within the window. Nothing was sent
// for the candidates it counts. It matches ErrLockoutRisk, and also
// ErrRecentlyFailed and ErrExhausted when every candidate was skipped.
type BudgetError struct {
	Host string
	// Untried is the number of candidates left untried because the budget
	// is spent; the resolution's attempts mark them NotTried.
	Untried int
	// Skipped is the number of candidates skipped because they already
	// failed on the device within the window. When Untried is 0, every
	// candidate was skipped.
	Skipped int
	// MaxFailures and Window are the guard's limit.
	MaxFailures int
	Window      time.Duration
	// RetryAt is when a login is allowed again: when the oldest counted
	// failure leaves the window (budget spent), or when the first skipped
	// candidate's failure does (every candidate skipped).
	RetryAt time.Time
}

func (e *BudgetError) Error() string {
	when := e.RetryAt.Format(time.RFC3339)
	if d := time.Until(e.RetryAt).Round(time.Second); d > 0 {
		when += " (in " + d.String() + ")"
	}
	if e.Untried == 0 && e.Skipped > 0 {
		return fmt.Sprintf("credentials: %s: lockout guard: nothing sent: %s already failed on this device within %v; the window frees up at %s",
			e.Host, plural(e.Skipped, "the candidate", "all %d candidates"), e.Window, when)
	}
	return fmt.Sprintf("credentials: %s: lockout guard: nothing sent: %d failed login(s) on this device within %v already, and another could lock the account; %d candidate(s) left untried; the window frees up at %s",
		e.Host, e.MaxFailures, e.Window, e.Untried, when)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf(many, n)
}

// Is matches ErrLockoutRisk, and ErrRecentlyFailed and ErrExhausted when
// every candidate was skipped.
func (e *BudgetError) Is(target error) bool {
	allSkipped := e.Untried == 0 && e.Skipped > 0
	return target == ErrLockoutRisk || (allSkipped && (target == ErrRecentlyFailed || target == ErrExhausted))
}
