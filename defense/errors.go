package defense

import (
	"errors"
	"fmt"
	"strings"

	"github.com/amtkit/amtkit/wsman"
)

// Sentinel errors. A *RefusedError matches each of the kinds of problem it
// lists; device errors match ErrLimit or ErrInUse.
var (
	// ErrUnsafe: the policy would drop a flow the machine needs, or it has
	// no timeout and the caller did not say that none is wanted.
	ErrUnsafe = errors.New("policy is unsafe")
	// ErrUnsupported: the device cannot run System Defense as asked (Client
	// Control Mode, no anti-spoofing, no such port).
	ErrUnsupported = errors.New("not supported by the device")
	// ErrTooLarge: the policy does not fit the device's limits.
	ErrTooLarge = errors.New("policy does not fit the device")
	// ErrLimit: the device refused a creation because a limit was reached
	// (PT_STATUS 23 MAX_LIMIT_REACHED or 11 NOT_ENOUGH_STORAGE).
	ErrLimit = errors.New("device limit reached")
	// ErrInUse: the device refused to delete a filter or policy still in use.
	ErrInUse = errors.New("in use on the device")
	// ErrBusy: another operation on the same device's System Defense
	// bindings is in progress in this process.
	ErrBusy = errors.New("another System Defense operation is in progress on the device")
)

// Problem is one reason for a refusal.
type Problem struct {
	Kind    error  // ErrUnsafe, ErrUnsupported or ErrTooLarge
	Message string // what is wrong, naming the flow, filter or limit
}

// RefusedError is returned when Apply refuses a policy before sending
// anything. It lists every problem found, not only the first.
type RefusedError struct {
	Policy   string
	Problems []Problem
	// Report is the reachability check, when it ran.
	Report *Report
}

func (e *RefusedError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	return fmt.Sprintf("defense: policy %q refused, nothing sent: %s", e.Policy, strings.Join(msgs, "; "))
}

// Is matches the sentinel of every kind of problem listed.
func (e *RefusedError) Is(target error) bool {
	for _, p := range e.Problems {
		if p.Kind == target {
			return true
		}
	}
	return false
}

func (e *RefusedError) add(kind error, format string, args ...any) {
	e.Problems = append(e.Problems, Problem{Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// DeviceError is a device failure mapped to a System Defense meaning
// (limits reached, object in use). It wraps the device's error.
type DeviceError struct {
	Op   string // e.g. "Create AMT_IPHeadersFilter srv1-tx"
	Kind error  // ErrLimit or ErrInUse
	Err  error
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("defense: %s: %v: %v", e.Op, e.Kind, e.Err)
}

func (e *DeviceError) Unwrap() []error { return []error{e.Kind, e.Err} }

// PT_STATUS codes the device returns for System Defense limits
// (protocol.md §4.7; exact code [U]).
const (
	ptNotEnoughStorage = 11
	ptMaxLimitReached  = 23
)

// ptStatus extracts a PT_STATUS from a fault or a ReturnValue error.
func ptStatus(err error) (int, bool) {
	var f *wsman.Fault
	if errors.As(err, &f) {
		if f.HasPTStatus {
			return f.PTStatus, true
		}
	}
	var rv *wsman.ReturnValueError
	if errors.As(err, &rv) {
		return rv.PTStatus()
	}
	return 0, false
}

// mapDeviceError gives limit and in-use failures their typed error.
func mapDeviceError(op string, err error) error {
	if err == nil {
		return nil
	}
	code, ok := ptStatus(err)
	switch {
	case ok && (code == ptMaxLimitReached || code == ptNotEnoughStorage):
		return &DeviceError{Op: op, Kind: ErrLimit, Err: err}
	case errors.Is(err, wsman.ErrQuotaLimit):
		return &DeviceError{Op: op, Kind: ErrLimit, Err: err}
	}
	return err
}
