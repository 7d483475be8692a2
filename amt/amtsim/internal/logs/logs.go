// Package logs is the log family of an amtsim device: the event log that
// AMT_MessageLog pages through (PositionToFirstRecord, GetRecords) and the
// audit log AMT_AuditLog reads (ReadRecords). It holds raw records and
// knows nothing of WS-Management: the simulator decodes the method
// parameters and encodes the answers.
//
// A Unit has its own lock and never calls out, so it is safe for
// concurrent use and may be called with or without the device's lock.
package logs

import (
	"slices"
	"sync"
)

const (
	// EventCapacity is how many event records the log keeps
	// (AMT_MessageLog.MaxNumberOfRecords in the captures).
	EventCapacity = 390
	// AuditPerRead is how many audit records one ReadRecords answers
	// [modelled: the captured answer held the whole two-record log].
	AuditPerRead = 10
)

// PT_STATUS codes the log methods answer (protocol.md §1.8).
const (
	StatusOK               = 0
	StatusInvalidIndex     = 35
	StatusInvalidParameter = 36
)

// Unit is the event and audit log of one device. The zero Unit holds
// empty logs.
type Unit struct {
	mu     sync.Mutex
	events [][]byte // newest first
	audit  [][]byte // oldest first
}

// Init sets the records a new device's logs start with. The slices are
// shared, not copied: the unit never changes a record or a slice it was
// given in place.
func (u *Unit) Init(events, audit [][]byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.events, u.audit = slices.Clip(events), slices.Clip(audit)
}

// AppendEvents adds raw records to the event log, as the newest. The log
// keeps its EventCapacity newest records.
func (u *Unit) AppendEvents(records ...[]byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range records {
		u.events = append([][]byte{slices.Clone(r)}, u.events...)
	}
	if len(u.events) > EventCapacity {
		u.events = u.events[:EventCapacity:EventCapacity]
	}
}

// AppendAudit adds raw records to the audit log, as the newest.
func (u *Unit) AppendAudit(records ...[]byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range records {
		u.audit = append(u.audit, slices.Clone(r))
	}
}

// Clear empties both logs.
func (u *Unit) Clear() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.events, u.audit = nil, nil
}

// Counts returns the number of event and audit records.
func (u *Unit) Counts() (events, audit int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.events), len(u.audit)
}

// EventPage is one GetRecords answer.
type EventPage struct {
	Records [][]byte // newest first
	// Next is the 1-based index of the next record to read; on the page
	// that ends the log, the index of the last record, as the capture
	// shows (3 after 3 records) [modelled].
	Next int
	Done bool // NoMoreRecords
}

// Events reads at most max records from the 1-based index start, newest
// first. A start or max below 1 answers StatusInvalidParameter, a start
// beyond the log StatusInvalidIndex [modelled].
func (u *Unit) Events(start, max uint64) (EventPage, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if start < 1 || max < 1 {
		return EventPage{}, StatusInvalidParameter
	}
	if start > uint64(len(u.events))+1 {
		return EventPage{}, StatusInvalidIndex
	}
	from := int(start) - 1
	to := from + int(min(max, uint64(len(u.events)-from)))
	p := EventPage{Records: slices.Clone(u.events[from:to]), Next: to + 1, Done: to == len(u.events)}
	if p.Done {
		p.Next = to
	}
	return p, StatusOK
}

// Audit reads at most AuditPerRead records from the 1-based index start,
// oldest first, and the number of records in the log. A start below 1
// answers StatusInvalidParameter, one beyond the log StatusInvalidIndex
// [modelled].
func (u *Unit) Audit(start uint64) (records [][]byte, total, status int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if start < 1 {
		return nil, 0, StatusInvalidParameter
	}
	if start > uint64(len(u.audit))+1 {
		return nil, 0, StatusInvalidIndex
	}
	from := int(start) - 1
	to := min(len(u.audit), from+AuditPerRead)
	return slices.Clone(u.audit[from:to]), len(u.audit), StatusOK
}
