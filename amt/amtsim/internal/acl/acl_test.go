package acl

import (
	"slices"
	"testing"
)

func TestTable(t *testing.T) {
	if (Table{}).Admin() != "" {
		t.Fatal("admin of no accounts")
	}
	tb := Table{{User: "admin"}, {User: "ops"}, {User: "viewer", ReadOnly: true}}
	if tb.Admin() != "admin" {
		t.Fatal(tb.Admin())
	}
	total, hs := tb.Users(1)
	if total != 2 || !slices.Equal(hs, []int{1, 2}) {
		t.Fatal(total, hs)
	}
	if total, hs = tb.Users(0); total != 2 || len(hs) != 2 {
		t.Fatal("start 0 reads from 1", total, hs)
	}
	if _, hs = tb.Users(3); len(hs) != 0 {
		t.Fatal(hs)
	}
	if e, realm, ok := tb.User(2); !ok || e.User != "viewer" || realm != RealmGeneralInfo {
		t.Fatal(e, realm, ok)
	}
	if e, realm, ok := tb.User(1); !ok || e.User != "ops" || realm != RealmAdmin {
		t.Fatal(e, realm, ok)
	}
	for _, h := range []uint64{0, 3, 1 << 40} {
		if _, _, ok := tb.User(h); ok {
			t.Fatal("handle", h)
		}
	}
	many := make(Table, MaxHandles+10)
	if total, hs = many.Users(1); total != MaxHandles+9 || len(hs) != MaxHandles {
		t.Fatal(total, len(hs))
	}
}
