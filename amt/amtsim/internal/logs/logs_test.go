package logs

import (
	"sync"
	"testing"
)

func rec(b byte) []byte { return []byte{b} }

func TestEventsPaging(t *testing.T) {
	var u Unit
	u.Init([][]byte{rec(3), rec(2), rec(1)}, nil)
	p, st := u.Events(1, 2)
	if st != StatusOK || len(p.Records) != 2 || p.Records[0][0] != 3 || p.Next != 3 || p.Done {
		t.Fatalf("first page: %+v %d", p, st)
	}
	p, st = u.Events(3, 2)
	if st != StatusOK || len(p.Records) != 1 || p.Records[0][0] != 1 || p.Next != 3 || !p.Done {
		t.Fatalf("last page: %+v %d", p, st)
	}
	if p, st = u.Events(4, 1); st != StatusOK || len(p.Records) != 0 || !p.Done {
		t.Fatalf("past the end: %+v %d", p, st)
	}
	if _, st = u.Events(5, 1); st != StatusInvalidIndex {
		t.Fatalf("beyond: %d", st)
	}
	if _, st = u.Events(0, 1); st != StatusInvalidParameter {
		t.Fatalf("start 0: %d", st)
	}
	if _, st = u.Events(1, 0); st != StatusInvalidParameter {
		t.Fatalf("max 0: %d", st)
	}
}

func TestEventCapacityKeepsNewest(t *testing.T) {
	var u Unit
	for i := range EventCapacity + 5 {
		u.AppendEvents([]byte{byte(i), byte(i >> 8)})
	}
	n, _ := u.Counts()
	if n != EventCapacity {
		t.Fatalf("kept %d", n)
	}
	p, _ := u.Events(1, 1)
	if last := EventCapacity + 4; p.Records[0][0] != byte(last) || p.Records[0][1] != byte(last>>8) {
		t.Fatalf("newest first: %v", p.Records[0])
	}
}

func TestAuditReadsAtMostAPage(t *testing.T) {
	var u Unit
	for i := range 25 {
		u.AppendAudit(rec(byte(i)))
	}
	recs, total, st := u.Audit(21)
	if st != StatusOK || total != 25 || len(recs) != 5 || recs[0][0] != 20 {
		t.Fatalf("%v %d %d", recs, total, st)
	}
	if recs, _, _ = u.Audit(1); len(recs) != AuditPerRead {
		t.Fatalf("page of %d", len(recs))
	}
	if _, _, st = u.Audit(27); st != StatusInvalidIndex {
		t.Fatalf("beyond: %d", st)
	}
	if _, _, st = u.Audit(0); st != StatusInvalidParameter {
		t.Fatalf("start 0: %d", st)
	}
}

// Units started from the same records change only their own logs, even
// concurrently (run with -race).
func TestSharedInitialRecords(t *testing.T) {
	events := make([][]byte, 2, 8)
	events[0], events[1] = rec(2), rec(1)
	audit := make([][]byte, 1, 8)
	audit[0] = rec(9)
	units := make([]Unit, 4)
	var wg sync.WaitGroup
	for i := range units {
		units[i].Init(events, audit)
		wg.Add(1)
		go func(u *Unit, b byte) {
			defer wg.Done()
			u.AppendAudit(rec(b))
			u.AppendEvents(rec(b))
			u.Audit(1)
			u.Events(1, 10)
		}(&units[i], byte(10+i))
	}
	wg.Wait()
	for i := range units {
		recs, total, _ := units[i].Audit(1)
		if total != 2 || recs[1][0] != byte(10+i) {
			t.Fatalf("unit %d audit %v", i, recs)
		}
	}
	if len(audit) != 1 || audit[0][0] != 9 || len(events) != 2 || events[0][0] != 2 {
		t.Fatal("initial records changed")
	}
}
