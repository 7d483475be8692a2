package statedb

import "testing"

func TestSQLiteParams(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT $1, $2 FROM t WHERE a = $10", "SELECT ?1, ?2 FROM t WHERE a = ?10"},
		{"SELECT '$1', \"a$1\", $3", "SELECT '$1', \"a$1\", ?3"},
		{"SELECT 'it''s $1', $2", "SELECT 'it''s $1', ?2"},
		{"SELECT $1 -- $2\n, $3", "SELECT ?1 -- $2\n, ?3"},
		{"SELECT /* $1 */ $2", "SELECT /* $1 */ ?2"},
		{"SELECT a$1, $x, $", "SELECT a$1, $x, $"},
		{"SELECT '$1", "SELECT '$1"},
		{"SELECT /* $1", "SELECT /* $1"},
		{"($1, $2),($3,$4)", "(?1, ?2),(?3,?4)"},
	} {
		if got := sqliteParams(c.in); got != c.want {
			t.Errorf("sqliteParams(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
