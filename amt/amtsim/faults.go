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

	// The redirection faults disturb the redirection port instead of
	// WS-Man requests; Action does not apply to them (every session
	// matches) and WS-Man requests never take them.

	// FaultRedirBadSequence makes the next IDE-R message the device sends
	// carry a wrong sequence number (the expected one plus 7); the console
	// must abort.
	FaultRedirBadSequence
	// FaultRedirReset resets the TCP connection in the middle of the next
	// DATA_TO_HOST exchange: when the first chunk answering a READ of the
	// simulated BIOS arrives.
	FaultRedirReset
	// FaultRedirSilent makes the next redirection session (or the current
	// one, from the next message the device would send) stop sending and
	// answering anything; the connection stays open until the console ends
	// it.
	FaultRedirSilent

	// FaultInternalError answers wsman:InternalError with detail
	// "AMT-STATUS PTStatus" without executing the request, as firmware
	// refuses an intrinsic operation (a Create over a limit, for one).
	FaultInternalError
	// FaultDelayAnswer executes the request (state changes, Stats counts
	// it) and then waits Delay before answering, so that a client whose
	// deadline is shorter gives up on a request the device has acted on.
	FaultDelayAnswer
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
	case FaultRedirBadSequence:
		return "redir-bad-sequence"
	case FaultRedirReset:
		return "redir-reset"
	case FaultRedirSilent:
		return "redir-silent"
	case FaultDelayAnswer:
		return "delay-answer"
	case FaultInternalError:
		return "internal-error"
	}
	return "unknown"
}

// Fault is an injected misbehaviour. WS-Man faults apply only to requests
// that passed authentication (Identify included), in queue order; the
// first matching fault affects a request. Redirection faults apply to the
// redirection port, by kind.
type Fault struct {
	Kind FaultKind
	// Action matches the request's wsa:Action: the full URI, or a suffix
	// after a '/' such as "Get" or "RequestPowerStateChange". Identify is
	// matched by "Identify". Empty matches every authenticated request.
	// Ignored by the redirection faults.
	Action string
	// Times is the number of matching requests to affect; 0 affects every
	// matching request until ClearFaults.
	Times int
	// Delay is the wait of FaultDelay and FaultDelayAnswer.
	Delay time.Duration
	// Status is the HTTP status of FaultStatus (default 500).
	Status int
	// ResourceURI, if set, narrows the match to requests for that
	// resource: the full URI, or a suffix after a '/' such as
	// "AMT_SystemDefensePolicy". Ignored by the redirection faults.
	ResourceURI string
	// Skip lets that many matching requests through untouched before the
	// fault takes effect: Action "Create" with Skip 2 fails the third
	// Create. A request let through takes no other fault.
	Skip int
	// PTStatus is the PT_STATUS of FaultInternalError (default 1,
	// INTERNAL_ERROR).
	PTStatus int
}

type queuedFault struct {
	Fault
	remaining int // meaningful when Times > 0
	skipped   int
}

// InjectFault queues a fault.
func (d *Device) InjectFault(f Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f.Kind == FaultStatus && f.Status == 0 {
		f.Status = 500
	}
	if f.Kind == FaultInternalError && f.PTStatus == 0 {
		f.PTStatus = 1
	}
	d.faults = append(d.faults, &queuedFault{Fault: f, remaining: f.Times})
}

// ClearFaults removes every queued fault.
func (d *Device) ClearFaults() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults = nil
}

func (f *Fault) matches(action, resourceURI string) bool {
	if f.ResourceURI != "" && f.ResourceURI != resourceURI && !strings.HasSuffix(resourceURI, "/"+f.ResourceURI) {
		return false
	}
	if f.Action == "" || f.Action == action {
		return true
	}
	return strings.HasSuffix(action, "/"+f.Action)
}

// takeFault returns the first queued fault matching action and resource,
// consuming one use of it; nil when none matches or the first match is
// still letting requests through. Call with d.mu held.
func (d *Device) takeFault(action, resourceURI string) *Fault {
	for i, q := range d.faults {
		if q.Kind.redirect() || !q.matches(action, resourceURI) {
			continue
		}
		if q.skipped < q.Skip {
			q.skipped++
			return nil
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

func (k FaultKind) redirect() bool {
	return k == FaultRedirBadSequence || k == FaultRedirReset || k == FaultRedirSilent
}
