package statedb

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what the store's queries run on: the database or a
// transaction, of either engine. Queries use $1, $2, ... placeholders, which
// both engines accept.
type querier interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rows, error)
	queryRow(ctx context.Context, q string, args ...any) row
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type row interface{ Scan(dest ...any) error }

// errNoRows is what a row's Scan returns when the query found nothing, on
// either engine.
var errNoRows = sql.ErrNoRows

// sqlQ runs queries through database/sql (SQLite).
type sqlQ struct {
	c interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}
}

func (q sqlQ) exec(ctx context.Context, s string, args ...any) (int64, error) {
	res, err := q.c.ExecContext(ctx, sqliteParams(s), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQ) query(ctx context.Context, s string, args ...any) (rows, error) {
	r, err := q.c.QueryContext(ctx, sqliteParams(s), args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (q sqlQ) queryRow(ctx context.Context, s string, args ...any) row {
	return q.c.QueryRowContext(ctx, sqliteParams(s), args...)
}

// sqliteParams spells the statement's $N parameters for SQLite: plain ?
// when they come in order, each once ($1, $2, ... as multi-row INSERTs
// and IN lists have them), else ?N. All three bind the Nth argument, but
// SQLite looks each $N up by name among the statement's parameters when
// it parses the statement, and each ?N when the driver binds it, so that a
// statement of a few thousand parameters spends most of its time
// searching; plain ? is numbered as it is read. Quoted strings,
// identifiers and comments are left as they are.
func sqliteParams(s string) string {
	if strings.IndexByte(s, '$') < 0 {
		return s
	}
	b := []byte(s)
	var at []int // where each $ of a parameter is
	inOrder := true
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\'' || c == '"':
			for i++; i < len(b) && b[i] != c; i++ {
			}
		case c == '-' && i+1 < len(b) && b[i+1] == '-':
			for i += 2; i < len(b) && b[i] != '\n'; i++ {
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			for i += 2; i+1 < len(b) && (b[i] != '*' || b[i+1] != '/'); i++ {
			}
			i++
		case c == '$' && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9' && (i == 0 || !identByte(b[i-1])):
			at = append(at, i)
			n, j := 0, i+1
			for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
				n = n*10 + int(b[j]-'0')
			}
			inOrder = inOrder && n == len(at)
			i = j - 1
		}
	}
	if len(at) == 0 {
		return s
	}
	if !inOrder {
		for _, i := range at {
			b[i] = '?'
		}
		return string(b)
	}
	out := make([]byte, 0, len(b))
	last := 0
	for _, i := range at {
		out = append(out, b[last:i]...)
		out = append(out, '?')
		last = i + 1
		for last < len(b) && b[last] >= '0' && b[last] <= '9' {
			last++
		}
	}
	return string(append(out, b[last:]...))
}

// identByte reports whether c may be part of an SQL identifier.
func identByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// pgxQ runs queries through pgx (Postgres).
type pgxQ struct {
	c interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
		Query(context.Context, string, ...any) (pgx.Rows, error)
		QueryRow(context.Context, string, ...any) pgx.Row
	}
}

func (q pgxQ) exec(ctx context.Context, s string, args ...any) (int64, error) {
	tag, err := q.c.Exec(ctx, s, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q pgxQ) query(ctx context.Context, s string, args ...any) (rows, error) {
	r, err := q.c.Query(ctx, s, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (q pgxQ) queryRow(ctx context.Context, s string, args ...any) row {
	return pgxRow{q.c.QueryRow(ctx, s, args...)}
}

type pgxRow struct{ pgx.Row }

func (r pgxRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	return err
}

// Tx is a transaction of the state database. Through it, amtkit's tables and
// River's are written together: hand Tx.SQL (SQLite) or Tx.Pgx (Postgres)
// to River's InsertTx.
type Tx struct {
	db         *DB
	q          querier
	sqlTx      *sql.Tx
	pgxTx      pgx.Tx
	stmts      map[*Stmt]*sql.Stmt // SQLite: prepared statements in this transaction
	unprepared []*Stmt             // SQLite: statements it prepared for itself (Tx.ended)
}

// SQL returns the database/sql transaction of a SQLite database, for
// riversqlite; nil with Postgres.
func (t *Tx) SQL() *sql.Tx { return t.sqlTx }

// Pgx returns the pgx transaction of a Postgres database, for riverpgxv5;
// nil with SQLite.
func (t *Tx) Pgx() pgx.Tx { return t.pgxTx }
