package statedb

import (
	"context"
	"database/sql"
	"sync"
)

// Stmt is a statement prepared once and run by many transactions: SQLite
// parses it once per connection rather than once per run. With Postgres
// it is its text (pgx prepares and caches statements by their text on its
// own). Make one with DB.Prepare and run it with Tx.ExecStmt; it lives as
// long as the database.
type Stmt struct {
	db *DB
	q  string

	mu sync.Mutex
	s  *sql.Stmt // SQLite, once prepared
}

// Prepare returns the statement q (with $1, $2, ... placeholders), prepared
// on first use.
func (d *DB) Prepare(q string) *Stmt { return &Stmt{db: d, q: q} }

func (s *Stmt) prepared(ctx context.Context) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s == nil {
		ps, err := s.db.sql.PrepareContext(ctx, sqliteParams(s.q))
		if err != nil {
			return nil, err
		}
		s.s = ps
	}
	return s.s, nil
}

// ExecStmt runs a prepared statement in the transaction and returns the
// rows it affected.
func (t *Tx) ExecStmt(ctx context.Context, s *Stmt, args ...any) (int64, error) {
	if t.sqlTx == nil {
		return t.Exec(ctx, s.q, args...)
	}
	ts, ok := t.stmts[s]
	if !ok {
		ps, err := s.prepared(ctx)
		if err != nil {
			return 0, t.db.fail("", err)
		}
		ts = t.sqlTx.StmtContext(ctx, ps)
		if t.stmts == nil {
			t.stmts = map[*Stmt]*sql.Stmt{}
		}
		t.stmts[s] = ts
	}
	res, err := ts.ExecContext(ctx, args...)
	if err != nil {
		return 0, t.db.fail("", err)
	}
	n, err := res.RowsAffected()
	return n, t.db.fail("", err)
}
