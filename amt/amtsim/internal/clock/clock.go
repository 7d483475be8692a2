// Package clock is the time family of an amtsim device: the device's
// clock, which AMT_TimeSynchronizationService reads
// (GetLowAccuracyTimeSynch) and sets (SetHighAccuracyTimeSynch). The
// clock is the host's plus an offset; a new device's offset is 0.
//
// A Unit has its own lock and never calls out, so it is safe for
// concurrent use and may be called with or without the device's lock.
package clock

import (
	"sync"
	"time"
)

// Unit is the clock of one device. The zero Unit runs on the host's time.
type Unit struct {
	mu     sync.Mutex
	offset time.Duration // device clock minus the host's
}

// Offset reports how far the device clock is from the host's.
func (u *Unit) Offset() time.Duration {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.offset
}

// SetOffset sets how far the device clock is from the host's (positive:
// ahead).
func (u *Unit) SetOffset(off time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.offset = off
}

// Now is the device's time.
func (u *Unit) Now() time.Time { return time.Now().Add(u.Offset()) }

// Set sets the device clock so that the current second of the host is
// the given one, as SetHighAccuracyTimeSynch does with Tm2 [modelled].
func (u *Unit) Set(now time.Time) {
	u.SetOffset(now.Sub(time.Now().Truncate(time.Second)))
}
