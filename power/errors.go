package power

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
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
	// state. The change was accepted; the machine may still get there.
	// Returned as *NotReachedError.
	ErrNotReached = errors.New("power state not reached")
	// ErrStateUnknown: the management engine's stored power state is
	// Unknown (PowerState 0 or a value outside the table), and firmware
	// then fails every power change. Rebooting the machine once from its
	// operating system restores it. Returned as *StateUnknownError;
	// nothing was sent.
	ErrStateUnknown = errors.New("power state unknown")
)

// NotReachedError is a WaitFor that ran out.
type NotReachedError struct {
	Want    State
	Last    *Status // the last state read, nil if none could be read
	LastErr error   // the last failure read through, if any
	Waited  time.Duration
	Err     error // the context's error
}

func (e *NotReachedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the change was accepted, but the machine did not reach %s within %s", e.Want, e.Waited.Round(time.Second))
	switch {
	case e.Last != nil:
		fmt.Fprintf(&b, " (it reports %s)", e.Last.State)
	case e.LastErr != nil:
		fmt.Fprintf(&b, " (the device did not answer: %v)", e.LastErr)
	}
	return b.String()
}

// Is matches ErrNotReached.
func (e *NotReachedError) Is(target error) bool { return target == ErrNotReached }

func (e *NotReachedError) Unwrap() error { return e.Err }

// StateUnknownError is a power change refused because the device's stored
// power state is Unknown.
type StateUnknownError struct {
	State State
	Err   error // the device's answer, when it refused the change
}

func (e *StateUnknownError) Error() string {
	return fmt.Sprintf("power state unknown: the management engine reports power state %d, outside the table, and fails power changes until the machine is rebooted once from its operating system", int(e.State))
}

// Is matches ErrStateUnknown.
func (e *StateUnknownError) Is(target error) bool { return target == ErrStateUnknown }

func (e *StateUnknownError) Unwrap() error { return e.Err }

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

// WakeNotAvailableError is a Wake refused because the machine is not on.
// Wake brings the operating system out of its power-saving mode (Modern
// Standby), which needs the machine on and its operating system in power
// saving; a machine that is off, asleep or hibernating is brought up with
// the On action instead. Nothing was sent.
type WakeNotAvailableError struct {
	State     State    // the power state the machine reports
	Available []Action // the actions the device offers in it
}

func (e *WakeNotAvailableError) Error() string {
	msg := fmt.Sprintf("wake is not available while the machine is %s: it brings the operating system out of power saving, and needs the machine on and in OS power saving", e.State)
	if slices.Contains(e.Available, On) {
		msg += "; the on action powers the machine on"
	}
	return msg
}

// Is matches ErrNotAvailable.
func (e *WakeNotAvailableError) Is(target error) bool { return target == ErrNotAvailable }

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
