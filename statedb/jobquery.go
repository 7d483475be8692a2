package statedb

import (
	"context"
	"strconv"
	"time"
)

// Rows are the rows of a query, on either engine.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is one row of a query; Scan returns ErrNoRows when there is none.
type Row interface{ Scan(dest ...any) error }

// ErrNoRows is what Row.Scan returns when the query found nothing, on
// either engine.
var ErrNoRows = errNoRows

// Exec runs a statement outside a transaction and returns the rows it
// affected. Statements use $1, $2, ... placeholders, which both engines
// accept; the packages that keep their own tables in the state database
// (the durable fleet jobs) write through it.
func (d *DB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if d.isClosed() {
		return 0, ErrClosed
	}
	n, err := d.q.exec(ctx, q, args...)
	return n, d.fail("", err)
}

// Query runs a query outside a transaction.
func (d *DB) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	if d.isClosed() {
		return nil, ErrClosed
	}
	r, err := d.q.query(ctx, q, args...)
	if err != nil {
		return nil, d.fail("", err)
	}
	return r, nil
}

// QueryRow runs a query that returns at most one row.
func (d *DB) QueryRow(ctx context.Context, q string, args ...any) Row {
	return d.q.queryRow(ctx, q, args...)
}

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	n, err := t.q.exec(ctx, q, args...)
	return n, t.db.fail("", err)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	r, err := t.q.query(ctx, q, args...)
	if err != nil {
		return nil, t.db.fail("", err)
	}
	return r, nil
}

// QueryRow runs a query in the transaction that returns at most one row.
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) Row {
	return t.q.queryRow(ctx, q, args...)
}

// Meta reads a value of amtkit_meta ("" when it is not set).
func (d *DB) Meta(ctx context.Context, name string) (string, error) {
	var v []byte
	err := d.q.queryRow(ctx, "SELECT value FROM amtkit_meta WHERE name = $1", name).Scan(&v)
	if err == errNoRows {
		return "", nil
	}
	if err != nil {
		return "", d.fail("reading "+name, err)
	}
	return string(v), nil
}

// SetMeta writes a value of amtkit_meta in the transaction.
func (t *Tx) SetMeta(ctx context.Context, name, value string) error {
	_, err := t.q.exec(ctx, `INSERT INTO amtkit_meta (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, []byte(value))
	return t.db.fail("writing "+name, err)
}

// Micros is how the state database stores a time: microseconds since the
// Unix epoch.
func Micros(t time.Time) int64 { return micros(t) }

// FromMicros reads a stored time (UTC).
func FromMicros(us int64) time.Time { return fromMicros(us) }

// Placeholders returns "$first, $first+1, ..." for n parameters.
func Placeholders(first, n int) string {
	b := make([]byte, 0, n*5)
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(first+i), 10)
	}
	return string(b)
}
