package statedb

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// Stmt is a statement prepared once and run by many transactions: SQLite
// parses it once per connection rather than once per run. With Postgres
// it is its text (pgx prepares and caches statements by their text on its
// own). Make one with DB.Prepare and run it with Tx.ExecStmt or
// Tx.QueryRowStmt; it lives as long as the database.
//
// A transaction never waits for a connection of the pool to prepare a
// statement: it holds SQLite's write lock, and the connections it would
// wait for may be waiting for that lock. The first transaction to run a
// statement prepares it on its own connection, for itself; the statement
// of the database is prepared once that transaction has ended, and the
// transactions after it reuse it (database/sql prepares it again only on
// a connection it has not met).
type Stmt struct {
	db *DB
	q  string

	mu sync.Mutex
	s  *sql.Stmt // SQLite, once prepared outside a transaction
}

// Prepare returns the statement q (with $1, $2, ... placeholders), prepared
// once a transaction has run it.
func (d *DB) Prepare(q string) *Stmt { return &Stmt{db: d, q: q} }

func (s *Stmt) prepared() *sql.Stmt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.s
}

// prepare prepares the database's statement, outside any transaction.
// Failing, it stays unprepared: the next transaction prepares it for
// itself again.
func (s *Stmt) prepare(ctx context.Context) {
	if s.prepared() != nil {
		return
	}
	ps, err := s.db.sql.PrepareContext(ctx, sqliteParams(s.q))
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s != nil {
		_ = ps.Close() // another transaction's end prepared it first
		return
	}
	s.s = ps
}

// ExecStmt runs a prepared statement in the transaction and returns the
// rows it affected.
func (t *Tx) ExecStmt(ctx context.Context, s *Stmt, args ...any) (int64, error) {
	if t.sqlTx == nil {
		return t.Exec(ctx, s.q, args...)
	}
	ts, err := t.stmt(ctx, s)
	if err != nil {
		return 0, err
	}
	res, err := ts.ExecContext(ctx, args...)
	if err != nil {
		return 0, t.db.fail("", err)
	}
	n, err := res.RowsAffected()
	return n, t.db.fail("", err)
}

// QueryRowStmt runs a prepared statement that returns at most one row in
// the transaction.
func (t *Tx) QueryRowStmt(ctx context.Context, s *Stmt, args ...any) Row {
	if t.sqlTx == nil {
		return t.QueryRow(ctx, s.q, args...)
	}
	ts, err := t.stmt(ctx, s)
	if err != nil {
		return errRow{err}
	}
	return ts.QueryRowContext(ctx, args...)
}

// errRow is a Row whose Scan fails with the error that kept its statement
// from running.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// stmt returns the statement s on the transaction's connection (SQLite),
// preparing it for the transaction when the database's is not prepared
// yet.
func (t *Tx) stmt(ctx context.Context, s *Stmt) (*sql.Stmt, error) {
	if ts, ok := t.stmts[s]; ok {
		return ts, nil
	}
	var ts *sql.Stmt
	if ps := s.prepared(); ps != nil {
		ts = t.sqlTx.StmtContext(ctx, ps) // on the transaction's connection
	} else {
		var err error
		if ts, err = t.sqlTx.PrepareContext(ctx, sqliteParams(s.q)); err != nil {
			return nil, t.db.fail("", err)
		}
		t.unprepared = append(t.unprepared, s)
	}
	if t.stmts == nil {
		t.stmts = map[*Stmt]*sql.Stmt{}
	}
	t.stmts[s] = ts
	return ts, nil
}

// ended prepares, now that the transaction has given its connection and
// SQLite's lock back, the statements it had to prepare for itself.
func (t *Tx) ended(ctx context.Context) {
	if len(t.unprepared) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range t.unprepared {
		s.prepare(ctx)
	}
}
