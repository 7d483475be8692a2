package amtsim

import (
	"strings"
	"time"
)

// FaultKind selects how an injected fault disturbs a request.
type FaultKind int

const (
	// FaultDelay waits Delay before answering normally.
	FaultDelay FaultKind = iota + 1
	// FaultStatus answers with HTTP Status without executing the request.
	FaultStatus
	// FaultResetAfterRequest executes the request (state changes, Stats
	// counts it) and then resets the TCP connection without any response.
	FaultResetAfterRequest
	// FaultResetMidResponse executes the request, writes the status line,
	// the headers and part of the body, then resets the connection.
	FaultResetMidResponse
	// FaultMalformedBody executes the request and answers 200 with a
	// truncated, malformed XML body.
	FaultMalformedBody
)

func (k FaultKind) String() string {
	switch k {
	case FaultDelay:
		return "delay"
	case FaultStatus:
		return "status"
	case FaultResetAfterRequest:
		return "reset-after-request"
	case FaultResetMidResponse:
		return "reset-mid-response"
	case FaultMalformedBody:
		return "malformed-body"
	}
	return "unknown"
}

// Fault is an injected misbehaviour. Faults apply only to requests that
// passed authentication (Identify included), in queue order; the first
// matching fault affects a request.
type Fault struct {
	Kind FaultKind
	// Action matches the request's wsa:Action: the full URI, or a suffix
	// after a '/' such as "Get" or "RequestPowerStateChange". Identify is
	// matched by "Identify". Empty matches every authenticated request.
	Action string
	// Times is the number of matching requests to affect; 0 affects every
	// matching request until ClearFaults.
	Times int
	// Delay is the wait of FaultDelay.
	Delay time.Duration
	// Status is the HTTP status of FaultStatus (default 500).
	Status int
}

type queuedFault struct {
	Fault
	remaining int // meaningful when Times > 0
}

// InjectFault queues a fault.
func (d *Device) InjectFault(f Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f.Kind == FaultStatus && f.Status == 0 {
		f.Status = 500
	}
	d.faults = append(d.faults, &queuedFault{Fault: f, remaining: f.Times})
}

// ClearFaults removes every queued fault.
func (d *Device) ClearFaults() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults = nil
}

func (f *Fault) matches(action string) bool {
	if f.Action == "" || f.Action == action {
		return true
	}
	return strings.HasSuffix(action, "/"+f.Action)
}

// takeFault returns the first queued fault matching action, consuming one
// use of it. Call with d.mu held.
func (d *Device) takeFault(action string) *Fault {
	for i, q := range d.faults {
		if !q.matches(action) {
			continue
		}
		f := q.Fault
		if q.Times > 0 {
			q.remaining--
			if q.remaining <= 0 {
				d.faults = append(d.faults[:i:i], d.faults[i+1:]...)
			}
		}
		return &f
	}
	return nil
}
