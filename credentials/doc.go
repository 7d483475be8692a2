// Package credentials chooses which credentials to log in to a device with,
// falls back from one to the next without locking accounts, and remembers
// what worked.
//
// A Credential is one login (a digest user or Kerberos principal, its
// password, and optionally a client certificate for mutual TLS). A Profile is
// a named set of credentials, one per Technology (AMT, and WMI, ASF and SNMP
// entries that are stored but not used yet); one profile may be the default.
// The runtime profile holds, per device (the address without the port), the
// credential that last worked there.
//
// Device clients take a Source: Static for one credential, or a Resolver,
// which tries candidates in order through a function the caller supplies:
//
//	r, err := credentials.NewResolver(store,
//		credentials.WithProfile("branch-offices"),
//		credentials.WithAuthFailure(func(err error) bool { return errors.Is(err, amt.ErrAuthFailed) }))
//	cand, attempts, err := r.ResolveTask(ctx, host, task, func(ctx context.Context, c credentials.Credential) error {
//		return login(ctx, host, c)
//	})
//
// # Order
//
// The candidates for a host are, by default:
//
//  1. the task credential, given for one job or command;
//  2. the named profile (WithProfile), or the default profile when none is named;
//  3. the runtime profile's entry for the device;
//  4. every other profile, in name order, only with AllowOtherProfiles(true).
//
// WithOrder changes the order or leaves origins out (WithOrder(Task) makes a
// task credential exclusive, as amtctl does unless --fallback). Only the
// entry for the resolver's technology (WithTechnology, default AMT) of each
// profile is a candidate; a profile without one is passed over. A candidate
// that is the same login as an earlier one (same technology, user, password,
// Kerberos flag and client certificate) is dropped, so the first place wins.
//
// One rule reconciles the order with learning: when no profile is named, a
// fresh runtime entry (one not marked stale) is tried right after the task
// credential, ahead of the default profile, so that a device whose
// credential is known costs exactly one login. A named profile is what the
// caller asked for and keeps its place before the runtime entry; the task
// credential always comes first. A stale runtime entry keeps its configured
// place. WithRuntimeFirst(false) turns the rule off.
//
// # Fallback and learning
//
// Only an authentication failure moves on to the next candidate; the caller
// says how to recognise one with WithAuthFailure (default: errors.Is(err,
// ErrAuthFailed)). A candidate that logs in but is refused the operation
// (WithAccessDenied, default ErrAccessDenied) is Denied: the resolution
// moves on too, at no cost to the guard's budget, and learns nothing from
// it. Any other error (network, TLS, the per-attempt timeout of
// WithAttemptTimeout, cancellation) stops the resolution and is returned.
// Every resolution returns one Attempt per candidate, in order, saying what
// became of it (Succeeded, AuthFailed, Denied, Failed, Skipped, NotTried);
// the resolver keeps no record of them.
//
// A success is written to the store's runtime profile with its time (a task
// credential only with RememberTask, on by default). A resolution for a
// change (ForChange) marks what it learns as having made changes, and a
// resolution that only read does not replace such an entry, while it still
// works, with another credential: a read-only account never displaces the
// administrator's. An authentication failure of the runtime entry marks it
// stale; a later success replaces it.
//
// # Lockout guard
//
// Intel AMT locks an account after repeated failed logins, so a Guard limits
// failures per device (DeviceKey: the address without the port, so WS-Man
// over HTTP and TLS and the redirection ports share one count): at most
// MaxFailures (default 2) within a sliding Window (default 5 minutes), and
// never the same failed credential twice within the window (it is Skipped).
// MaxFailures must stay below the device's lockout threshold. When the
// budget is spent the remaining candidates are NotTried and the error is a
// *BudgetError, which says how many were left and when the next login is
// allowed.
//
// By default every Static source and every Resolver without WithGuard (or
// WithClock) in a process shares ProcessGuard, an in-memory guard keyed per
// device, and so does an amt.Client given fixed credentials: a program that
// makes one client per call with a wrong password sends that password to a
// device once, and at most the budget of different ones, however many
// clients it makes. It does not outlive the process; programs run many
// times, or on several machines, give a guard kept in shared storage
// (GuardStorage over the state database), as amtctl does.
//
// The guard keeps its records in a GuardStore: in memory by default, or in
// the state (GuardStorage) so that separate processes share the count. A
// login is reserved in the store before it is sent and counts as a failure
// until its answer says otherwise. A record holds the device, a keyed hash
// of the candidate (HMAC-SHA256 under the store's key, see KeyedHash), the
// time and the end of its window; never a password. Guard.Login puts one
// login outside a resolution (the redirection port's) under the same guard.
//
// # Store
//
// Store is where profiles and the runtime profile live. NewMemoryStore keeps
// them in memory. The state database (package statedb: a SQLite file in the
// per-user state directory, DefaultStateDir, or a shared Postgres database)
// keeps them, with the lockout guard's records, for amtctl and for programs
// that opt in; this package links no database. Stores seal secrets; no
// password is ever written in clear text. GuardStore is where the lockout
// guard's records live; the suite in package credtest checks any
// implementation of the store interfaces.
//
// # Concurrency
//
// A Resolver, a Guard and the stores are safe for concurrent use by many
// goroutines. Resolutions of the same host take turns through the guard, so
// that concurrent resolutions cannot together exceed its budget, and a
// resolution that waited sees what the previous one learned.
//
// # Errors
//
// Errors match with errors.Is: ErrAuthFailed, ErrLockoutRisk (a
// *BudgetError), ErrRecentlyFailed, ErrExhausted (which also wraps the last
// authentication failure), ErrNoCandidates, ErrNotFound and ErrClosed. No
// error, String, fmt verb, slog
// value or JSON encoding of this package's types contains a password or a
// client key.
package credentials
