// Package statedb is amtkit's state database: credential profiles and the
// runtime profile (secrets sealed with AES-256-GCM), the lockout guard's
// records per device, the restore journal, the activity log, and River's job
// tables, in one database on one of two engines:
//
//   - SQLite (the default): a file, amtkit.sqlite in the per-user state
//     directory, through the pure-Go modernc.org/sqlite driver in WAL mode
//     with a busy timeout and transactions that take the write lock when
//     they begin, so that any number of processes use it at once and none
//     holds a lock between statements;
//   - Postgres, shared by processes on several machines: a postgres:// URL,
//     through pgx (sslmode and the other libpq parameters honoured).
//
// Open never falls back from one engine to the other.
//
// # Schema and migrations
//
// amtkit's tables are created and upgraded by goose from the SQL files
// embedded in migrations/sqlite and migrations/postgres (the same versions,
// tables and columns on each engine; times are microseconds since the Unix
// epoch), recorded in amtkit_schema_version. River's tables are created and
// upgraded by River's own migrator (river_migration). Both live in the same
// database, so that one transaction (DB.InTx; Tx.SQL or Tx.Pgx for River's
// InsertTx) writes both. Open checks both versions first, without writing: a
// database newer than this build gives ErrNewerSchema; pending migrations
// run under a lock that only migrations take (a file lock beside the SQLite
// file, an advisory lock in Postgres), so that processes opening a new
// database at once lay it out once.
//
//	amtkit_meta(name PK, value)                    the key check (sealed), the last purge
//	amtkit_profile(name PK, is_default, sealed, updated_at)
//	amtkit_runtime(device PK, technology, profile, origin, learned_at, stale_at, sealed)
//	amtkit_guard(id PK, device, candidate, at, until_at, pending, port)
//	amtkit_restore(host PK, reason, started_at, record)
//	amtkit_activity(id PK, at, actor, host, operation, params, technology, profile, outcome,
//	                return_code, return_code_name, auth_step, job, duration_us, message)
//
// # Secrets
//
// Only sealed columns hold secrets: AES-256-GCM with a random nonce per
// sealing, the table and row bound in as associated data, under a 32-byte
// key in a key file (WithKeyFile, $AMTKIT_KEY_FILE, or amtkit.key beside the
// SQLite file or in the state directory). A key check sealed in amtkit_meta
// tells a wrong key (ErrWrongKey) from a missing one (ErrKeyMissing); a key
// is made only for a database that holds none. The guard keeps a keyed hash
// of each candidate, never the password. The state directory is created
// 0700 and the files 0600; ones others can read are refused (ErrInsecure)
// with the chmod that fixes them. A Postgres password in the URL never
// appears in an error.
//
// # Activity log
//
// DB.Activity returns a writer (an amt.ActivityLog) that batches entries in
// a goroutine of its own, written with multi-row inserts; DB.Close writes
// what is left. Entries older than the retention (WithRetention, default 180
// days) are purged automatically, at most once a day; PurgeActivity does it
// on demand, and ActivityStats says when it last ran.
package statedb
