package power

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; the typed errors below match them with errors.Is.
var (
	// ErrNotAvailable: the device does not offer the action in its current
	// state. Nothing was sent.
	ErrNotAvailable = errors.New("power action not available")
	// ErrTransitioning: the device is still carrying out an earlier power
	// change. Nothing was sent; WaitFor the target state and try again.
	ErrTransitioning = errors.New("device is changing power state")
	// ErrUnsupported: the firmware cannot do the boot target or option, per
	// AMT_BootCapabilities, or lacks the OS power-saving service. Nothing
	// was changed.
	ErrUnsupported = errors.New("not supported by the device")
	// ErrNotReached: WaitFor's context ended before the machine reached the
	// state.
	ErrNotReached = errors.New("power state not reached")
)

// NotAvailableError is returned when an action is not among the actions the
// device advertises for its current state.
type NotAvailableError struct {
	Action    Action
	State     State
	Available []Action
}

func (e *NotAvailableError) Error() string {
	offered := "nothing"
	if len(e.Available) > 0 {
		offered = joinActions(e.Available)
	}
	return fmt.Sprintf("%s is not available while the machine is %s; the device offers: %s", e.Action, e.State, offered)
}

// Is matches ErrNotAvailable.
func (e *NotAvailableError) Is(target error) bool { return target == ErrNotAvailable }

// TransitioningError is returned when a power change is asked for while the
// device reports an earlier one in progress.
type TransitioningError struct {
	State State // the state it reports now
	To    State // the state it is changing to
}

func (e *TransitioningError) Error() string {
	return fmt.Sprintf("the machine is changing from %s to %s; wait for it before asking another power change", e.State, e.To)
}

// Is matches ErrTransitioning.
func (e *TransitioningError) Is(target error) bool { return target == ErrTransitioning }

// UnsupportedError names what the firmware cannot do.
type UnsupportedError struct {
	What []string // e.g. "boot target pxe", "option lock-keyboard"
}

func (e *UnsupportedError) Error() string {
	return "the device does not support " + strings.Join(e.What, ", ")
}

// Is matches ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }
