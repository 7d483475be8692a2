package clock

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	var u Unit
	if u.Offset() != 0 {
		t.Fatal("new clock is off")
	}
	u.SetOffset(-time.Hour)
	if d := time.Until(u.Now()); d > -59*time.Minute || d < -61*time.Minute {
		t.Fatalf("an hour behind: %v", d)
	}
	u.Set(time.Now().Add(48 * time.Hour).Truncate(time.Second))
	if off := u.Offset(); off < 48*time.Hour-time.Second || off > 48*time.Hour+time.Second {
		t.Fatalf("set two days ahead: %v", off)
	}
}
