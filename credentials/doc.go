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
//  3. the runtime profile's entry for the host;
//  4. every other profile, in name order, only with AllowOtherProfiles(true).
//
// WithOrder changes the order or leaves origins out. Only the entry for the
// resolver's technology (WithTechnology, default AMT) of each profile is a
// candidate; a profile without one is passed over. A candidate that is the
// same login as an earlier one (same technology, user, password, Kerberos
// flag and client certificate) is dropped, so the first place wins.
//
// One rule reconciles the order with learning: a fresh runtime entry (one not
// marked stale) is tried right after the task credential, ahead of the
// profiles, so that a host whose credential is known costs exactly one login.
// The task credential always comes first, because the operator asked for it.
// A stale runtime entry keeps its configured place. WithRuntimeFirst(false)
// turns the rule off.
//
// # Fallback and learning
//
// Only an authentication failure moves on to the next candidate; the caller
// says how to recognise one with WithAuthFailure (default: errors.Is(err,
// ErrAuthFailed)). Any other error (network, TLS, the per-attempt timeout of
// WithAttemptTimeout, cancellation) stops the resolution and is returned.
// Every resolution returns one Attempt per candidate, in order, saying what
// became of it (Succeeded, AuthFailed, Failed, Skipped, NotTried); the
// resolver keeps no record of them.
//
// A success is written to the store's runtime profile with its time. An
// authentication failure of the runtime entry marks it stale; a later success
// replaces it.
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
// allowed. Resolvers that reach the same hosts should share one guard
// (WithGuard).
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
// them in memory; Open opens the embedded default, a bbolt database file
// (DefaultStatePath: amtkit.db in the per-user state directory, or in
// $AMTKIT_STATE). Every record is sealed with AES-256-GCM under a 32-byte
// key in a key file (amtkit.key beside the database, or $AMTKIT_KEY_FILE)
// created with mode 0600, in a directory created with mode 0700; the record's
// bucket and key are bound in as associated data. Nothing secret is written
// in clear text. Host names and profile names are not secret and are stored
// as keys. The store keeps to its own buckets, so other state may share the
// file.
//
// # Concurrency
//
// A Resolver, a Guard and both stores are safe for concurrent use by many
// goroutines. Resolutions of the same host take turns through the guard, so
// that concurrent resolutions cannot together exceed its budget, and a
// resolution that waited sees what the previous one learned. The database
// file is locked by the process that has it open: another process's Open
// waits up to the lock timeout (WithLockTimeout, default 5s) and then fails
// with ErrLocked. Every write is a transaction.
//
// # Errors
//
// Errors match with errors.Is: ErrAuthFailed, ErrLockoutRisk (a
// *BudgetError), ErrRecentlyFailed, ErrExhausted (which also wraps the last
// authentication failure), ErrNoCandidates, ErrNotFound, ErrClosed, and for
// Open: ErrLocked, ErrWrongKey, ErrKeyMissing, ErrNewerSchema and ErrCorrupt.
// Open never resets, rewrites or replaces a file it cannot read, and never
// makes a new key for an existing store. No error, String, fmt verb, slog
// value or JSON encoding of this package's types contains a password or a
// client key.
package credentials
