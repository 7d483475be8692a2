package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
	"github.com/amtkit/amtkit/wsman"
)

// StateUnknownName is Result.ReturnCodeName of a machine whose management
// engine lost its power state (power.ErrStateUnknown): its outcome is
// DeviceError, and reports count it under this name.
const StateUnknownName = "power state unknown"

// fill sets the outcome, return code, message and data of an attempt.
// A success's message is msg when the attempt's read made one (a power
// status read does, from its record: readOn), else one read from data.
func (r *Runner) fill(res *Result, data json.RawMessage, msg string, err error, sent bool) {
	res.Err, res.Data, res.ReturnCode, res.ReturnCodeName = err, nil, nil, nil
	if err == nil {
		res.Outcome, res.Data = Succeeded, data
		if msg == "" {
			msg = r.success(data)
		}
		res.Message = msg
		return
	}
	res.Outcome = outcomeOf(err, sent)
	if sent && (res.Outcome == Unreachable || res.Outcome == Cancelled) && !errors.Is(err, ErrHook) {
		// A change was handed to the connection and no answer came back:
		// whether the device acted is unknown.
		res.Outcome = OutcomeUnknown
	}
	if code, ok := amt.ReturnCode(err); ok {
		name := codeName(err, code)
		res.ReturnCode, res.ReturnCodeName = &code, &name
	}
	if errors.Is(err, power.ErrStateUnknown) {
		name := StateUnknownName
		res.ReturnCodeName = &name
	}
	res.Message = message(res.Outcome, err, sent)
}

func codeName(err error, code int) string {
	var rv *wsman.ReturnValueError
	if errors.As(err, &rv) {
		return wsman.ReturnCodeName(rv.Class, rv.Code)
	}
	return wsman.PTStatusName(code)
}

// outcomeOf classifies the error of an attempt.
func outcomeOf(err error, sent bool) Outcome {
	switch {
	case errors.Is(err, ErrHook), errors.Is(err, wsman.ErrNotSent):
		return Cancelled
	case errors.Is(err, amt.ErrOutcomeUnknown):
		return OutcomeUnknown
	case errors.Is(err, power.ErrStateUnknown):
		return DeviceError
	case errors.Is(err, context.Canceled):
		return Cancelled
	case errors.Is(err, amt.ErrLockedOut), errors.Is(err, credentials.ErrLockoutRisk):
		return LockedOut
	case errors.Is(err, amt.ErrAuthFailed), errors.Is(err, credentials.ErrExhausted), errors.Is(err, credentials.ErrNoCandidates),
		errors.Is(err, credentials.ErrAccessDenied), errors.Is(err, wsman.ErrAccessDenied):
		return AuthFailed
	case errors.Is(err, amt.ErrTLS):
		return TLS
	case errors.Is(err, amt.ErrNotDetected):
		return NotDetected
	case errors.Is(err, amt.ErrNotProvisioned):
		return NotProvisioned
	case errors.Is(err, power.ErrNotAvailable), errors.Is(err, power.ErrTransitioning), errors.Is(err, power.ErrUnsupported),
		errors.Is(err, amt.ErrInvalidArgument), errors.Is(err, redirect.ErrConsentRequired):
		return Refused
	case errors.Is(err, amt.ErrDevice), errors.Is(err, power.ErrNotReached):
		return DeviceError
	case errors.Is(err, amt.ErrUnreachable), errors.Is(err, context.DeadlineExceeded):
		return Unreachable
	case errors.Is(err, wsman.ErrMalformedResponse), errors.Is(err, wsman.ErrNoProperty):
		return DeviceError
	}
	return DeviceError
}

// retryable reports a transient cause: nothing answered, the attempt timed
// out, or the device was busy (HTTP 503, still changing power state, or
// the DMTF Busy code). The caller never retries once a change was sent.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, amt.ErrOutcomeUnknown) || errors.Is(err, ErrHook) {
		return false
	}
	if errors.Is(err, amt.ErrAuthFailed) || errors.Is(err, amt.ErrLockedOut) || errors.Is(err, credentials.ErrLockoutRisk) ||
		errors.Is(err, credentials.ErrExhausted) || errors.Is(err, amt.ErrTLS) || errors.Is(err, amt.ErrNotDetected) ||
		errors.Is(err, amt.ErrNotProvisioned) || errors.Is(err, power.ErrStateUnknown) {
		return false
	}
	if errors.Is(err, amt.ErrUnreachable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, power.ErrTransitioning) {
		return true
	}
	var he *wsman.HTTPError
	if errors.As(err, &he) && he.StatusCode == http.StatusServiceUnavailable {
		return true
	}
	var rv *wsman.ReturnValueError
	return errors.As(err, &rv) && strings.HasPrefix(rv.Class, "CIM_") && rv.Code == 4099
}

// message says in one line why a machine ended as it did.
func message(o Outcome, err error, sent bool) string {
	switch o {
	case Unreachable:
		return "no answer: " + netCause(err)
	case NotDetected:
		return "something answered, but not Intel AMT"
	case AuthFailed:
		switch {
		case errors.Is(err, credentials.ErrNoCandidates):
			return "no credentials for this machine"
		case errors.Is(err, credentials.ErrAccessDenied), errors.Is(err, wsman.ErrAccessDenied):
			return "logged in, but the account may not do this"
		}
		return "the device rejected every credential tried"
	case LockedOut:
		var be *credentials.BudgetError
		if errors.As(err, &be) && !be.RetryAt.IsZero() {
			return fmt.Sprintf("not tried: another failed login could lock the account out; next login allowed at %s", be.RetryAt.UTC().Format("15:04:05Z"))
		}
		return "not tried: another failed login could lock the account out"
	case NotProvisioned:
		return "AMT is not provisioned (activated) on this machine"
	case TLS:
		return "the TLS certificate could not be verified, or the handshake failed"
	case OutcomeUnknown:
		return "the change was sent but its answer was lost; read the state before trying again"
	case Cancelled:
		if errors.Is(err, ErrHook) || errors.Is(err, wsman.ErrNotSent) {
			return "nothing sent: " + clean(err)
		}
		if sent {
			return "cancelled after a change was sent; read the state"
		}
		return "cancelled before anything was changed"
	case DeviceError:
		if errors.Is(err, power.ErrStateUnknown) {
			return "power state unknown: the management engine lost it and fails power changes; reboot the machine once from its operating system"
		}
		if code, ok := amt.ReturnCode(err); ok {
			return fmt.Sprintf("the device answered %d (%s)", code, codeName(err, code))
		}
		return "device error: " + clean(err)
	case Refused:
		return clean(err)
	}
	return clean(err)
}

// netCause names a connection failure.
func netCause(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to the machine"
	}
	var he *wsman.HTTPError
	if errors.As(err, &he) {
		return "the device is busy (HTTP " + fmt.Sprint(he.StatusCode) + ")"
	}
	return clean(err)
}

// clean makes an error one line for a person: the package prefixes and
// the machine's address (the result names it) go.
func clean(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	for _, p := range []string{"fleet: ", "amt: ", "wsman: ", "credentials: ", "power: ", "redirect: ", "defense: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	if len(s) > 240 {
		s = s[:237] + "..."
	}
	return s
}

// success says what was done.
func (r *Runner) success(data json.RawMessage) string {
	switch r.task.Action {
	case PowerOn, PowerOff, PowerCycle, PowerSoftOff, PowerSoftReset, PowerReset, Boot:
		var c changeRecord
		if json.Unmarshal(data, &c) == nil {
			if !c.Sent {
				s := "nothing sent"
				if c.Before != nil {
					s = "already " + c.Before.PowerStateName + "; nothing sent"
				}
				return s
			}
			if c.PowerAction != nil {
				return *c.PowerAction + " sent and accepted"
			}
		}
	}
	return strings.ReplaceAll(string(r.task.Action), "-", " ") + " done"
}

// powerMessage is the message of a power-status read (the success
// message readOn gives it).
func powerMessage(p PowerRecord) string {
	if !power.State(p.PowerState).Known() {
		return fmt.Sprintf("power state unknown: the management engine reports %d and fails power changes; reboot the machine once from its operating system", p.PowerState)
	}
	return "power " + p.PowerStateName
}
