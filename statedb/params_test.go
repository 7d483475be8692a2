package statedb

import "testing"

func TestSQLiteParams(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT $1, $2 FROM t WHERE a = $10", "SELECT ?1, ?2 FROM t WHERE a = ?10"},
		{"SELECT $1, $2 FROM t WHERE a = $3", "SELECT ?, ? FROM t WHERE a = ?"},
		{"SELECT $1 WHERE $1 = 2", "SELECT ?1 WHERE ?1 = 2"},
		{"SELECT $2, $1", "SELECT ?2, ?1"},
		{"SELECT '$1', \"a$1\", $1", "SELECT '$1', \"a$1\", ?"},
		{"SELECT 'it''s $1', $1", "SELECT 'it''s $1', ?"},
		{"SELECT $1 -- $2\n, $2", "SELECT ? -- $2\n, ?"},
		{"SELECT /* $1 */ $1", "SELECT /* $1 */ ?"},
		{"SELECT a$1, $x, $", "SELECT a$1, $x, $"},
		{"SELECT '$1", "SELECT '$1"},
		{"SELECT /* $1", "SELECT /* $1"},
		{"($1, $2),($3,$4)", "(?, ?),(?,?)"},
		{"VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8), ($9, $10), ($11, $12)", "VALUES (?, ?), (?, ?), (?, ?), (?, ?), (?, ?), (?, ?)"},
	} {
		if got := sqliteParams(c.in); got != c.want {
			t.Errorf("sqliteParams(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
