// Package host is the simulated host of an amtsim device: its power state
// machine (DMTF PowerState, the changes RequestPowerStateChange asks for,
// their transition time, the boots they cause), the OS agent that
// graceful changes, sleep and hibernate need, and the OS power saving
// state. It knows nothing of WS-Management: the power classes read it and
// call Request and RequestOSSaving.
//
// A Machine is guarded by the lock its Config names (the device's); call
// every method with it held. Its settle timer takes the lock itself.
package host

import (
	"slices"
	"sync"
	"time"
)

// DMTF PowerState values (DSP1027) the host can be in or be asked for.
const (
	On          = 2
	Sleep       = 4  // Sleep - Deep (S3)
	Cycle       = 5  // Power Cycle (Off - Soft)
	Hibernate   = 7  // Hibernate (Off - Soft, S4)
	Off         = 8  // Off - Soft (S5)
	Reset       = 10 // Master Bus Reset
	NMI         = 11 // Diagnostic Interrupt (NMI)
	SoftOff     = 12 // Off - Soft Graceful (needs the OS agent)
	SoftReset   = 14 // Master Bus Reset Graceful (needs the OS agent)
	SavingNone  = 1  // OSPowerSavingState: unsupported
	SavingFull  = 2  // full power
	SavingSaved = 3  // OS power saving (e.g. Modern Standby)
	// AgentMinMajor is the first firmware with sleep, hibernate and the
	// graceful changes.
	AgentMinMajor = 9
)

// DMTF method return values of the power methods.
const (
	RVOK                = 0
	RVNotSupported      = 1
	RVUnknownError      = 2
	RVInvalidParameter  = 5
	RVInvalidTransition = 4097
)

// Boot causes.
const (
	CausePowerOn    = "power-on"
	CauseReset      = "reset"
	CausePowerCycle = "power-cycle"
	CauseSoftReset  = "soft-reset"
)

// Event is a completed power change of the host.
type Event struct {
	Seq  int
	Time time.Time
	// Request is the RequestPowerStateChange value that caused the event,
	// or 0 for OS power saving changes.
	Request int
	// Kind is "reset", "power-cycle", "off", "nmi", "soft-off",
	// "soft-reset", "sleep", "hibernate", "power-on", "resume",
	// "os-power-saving" or "os-full-power".
	Kind string
	// PowerState is the DMTF PowerState after the event.
	PowerState int
}

// Config is what a Machine needs of its device.
type Config struct {
	Major           int // firmware major version
	PowerState      int // initial state
	NoOSAgent       bool
	NoOSPowerSaving bool
	Lost            bool // the ME starts with the power state lost
	// TransitionTime is how long a change takes; 0 or less: at once.
	TransitionTime time.Duration
	// Lock guards the machine; the settle timer takes it.
	Lock sync.Locker
	// StartTimer is asked before a settle timer is armed: false when the
	// device is closing (the change then completes when next asked). A
	// true answer counts the timer until TimerDone.
	StartTimer func() bool
	TimerDone  func()
	// Changed is called after every change of what the power classes
	// show; Booted for each boot a change causes; Logged for each event.
	Changed func()
	Booted  func(at time.Time, cause string)
	Logged  func(ev Event)
	// SessionOpen reports whether a redirection session is open: power
	// cycle and off are refused then.
	SessionOpen func() bool
}

// transition is a power change in progress.
type transition struct {
	request int // the accepted RequestPowerStateChange value
	target  int // PowerState once done
	done    time.Time
}

// Machine is the host's power state machine.
type Machine struct {
	cfg         Config
	state       int // DMTF PowerState
	osSaving    int // OSPowerSavingState while on
	osSavingOK  bool
	agent       bool
	lastRequest int // last accepted request (0: none since start)
	pending     *transition
	lost        bool // the ME lost the power state: PowerState 0, changes fail
	settle      *time.Timer
	requests    []int
	events      []Event
}

// New returns a machine in the configured state.
func New(cfg Config) *Machine {
	m := &Machine{
		cfg:        cfg,
		state:      cfg.PowerState,
		osSaving:   SavingFull,
		osSavingOK: !cfg.NoOSPowerSaving,
		lost:       cfg.Lost,
		agent:      !cfg.NoOSAgent,
	}
	if !m.osSavingOK {
		m.osSaving = SavingNone
	}
	return m
}

// StatesSupported is PowerStatesSupported and RequestedPowerStatesSupported
// of CIM_PowerManagementCapabilities, in the order of the firmware
// capture. It depends on the firmware version only.
func (m *Machine) StatesSupported() []int {
	if m.cfg.Major >= AgentMinMajor {
		return []int{Cycle, Off, On, Reset, NMI, SoftOff, SoftReset}
	}
	return []int{Cycle, Off, On, Reset, NMI}
}

// statesAccepted is what Request accepts at all. The firmware capture
// offers sleep and hibernate in AvailableRequestedPowerStates without
// listing them in PowerStatesSupported; they are accepted from the same
// firmware versions.
func (m *Machine) statesAccepted() []int {
	s := m.StatesSupported()
	if m.cfg.Major >= AgentMinMajor {
		s = append(s, Sleep, Hibernate)
	}
	return s
}

// AvailableStates is AvailableRequestedPowerStates in the current state,
// in the order the firmware capture shows.
func (m *Machine) AvailableStates() []int {
	if m.state != On {
		return []int{On}
	}
	s := []int{Reset, Off, Cycle, NMI}
	if m.agent && m.cfg.Major >= AgentMinMajor {
		s = append(s, Sleep, Hibernate, SoftReset, SoftOff)
	}
	return s
}

// Settle completes a transition whose time has come. Call before reading
// or changing the power state.
func (m *Machine) Settle(now time.Time) {
	t := m.pending
	if t == nil || now.Before(t.done) {
		return
	}
	m.pending = nil
	m.complete(t)
}

// complete applies a transition: the new state and, for the requests that
// restart the host, exactly one boot.
func (m *Machine) complete(t *transition) {
	from := m.state
	m.state = t.target
	if t.target != On && m.osSavingOK {
		m.osSaving = SavingFull // the OS is not running
	}
	var kind, cause string
	switch t.request {
	case Reset:
		kind, cause = "reset", CauseReset
	case Cycle:
		kind, cause = "power-cycle", CausePowerCycle
	case SoftReset:
		kind, cause = "soft-reset", CauseSoftReset
	case Off:
		kind = "off"
	case SoftOff:
		kind = "soft-off"
	case NMI:
		kind = "nmi"
	case Sleep:
		kind = "sleep"
	case Hibernate:
		kind = "hibernate"
	case On:
		if from == Sleep {
			kind = "resume"
		} else {
			kind, cause = "power-on", CausePowerOn
		}
	}
	m.record(t.done, t.request, kind)
	if cause != "" {
		m.cfg.Booted(t.done, cause)
	}
}

func (m *Machine) record(at time.Time, request int, kind string) {
	ev := Event{Seq: len(m.events) + 1, Time: at, Request: request, Kind: kind, PowerState: m.state}
	m.events = append(m.events, ev)
	m.cfg.Logged(ev)
	m.cfg.Changed()
}

// Request implements RequestPowerStateChange and returns its ReturnValue.
func (m *Machine) Request(ps int) int {
	if m.lost {
		return RVUnknownError // [modelled] the change fails from an unknown state
	}
	if !slices.Contains(m.statesAccepted(), ps) {
		return RVUnknownError // DSP1027: outside PowerStatesSupported
	}
	m.settleNow()
	if ps == On && m.state == On {
		// protocol.md §2.2: power on is accepted, and a no-op, on a host
		// that is already on.
		m.requests = append(m.requests, ps)
		m.lastRequest = ps
		m.cfg.Changed()
		return RVOK
	}
	if !slices.Contains(m.AvailableStates(), ps) {
		return RVInvalidTransition
	}
	if m.cfg.SessionOpen() && (ps == Cycle || ps == Off) {
		return RVInvalidTransition
	}
	m.requests = append(m.requests, ps)
	m.lastRequest = ps
	target := m.state
	switch ps {
	case Reset, Cycle, SoftReset, On:
		target = On
	case Off, SoftOff:
		target = Off
	case Sleep, Hibernate:
		target = ps
	}
	now := time.Now()
	t := &transition{request: ps, target: target, done: now.Add(m.cfg.TransitionTime)}
	if m.cfg.TransitionTime <= 0 || ps == NMI {
		m.complete(t)
	} else {
		m.pending = t
		m.schedule(t)
		m.cfg.Changed()
	}
	return RVOK
}

// settleNow completes a change still in progress at once, as if its time
// had passed, before another change is considered: firmware answers no
// Busy in any capture, and protocol.md asks consoles not to overlap
// changes [modelled].
func (m *Machine) settleNow() {
	t := m.pending
	if t == nil {
		return
	}
	m.StopTimer()
	m.pending = nil
	t.done = time.Now()
	m.complete(t)
}

// schedule arms a timer that completes the transition at its time, so
// that the boot it causes starts on its own: a console serving IDE-R need
// not poll the device for the reset to happen.
func (m *Machine) schedule(t *transition) {
	m.StopTimer()
	if !m.cfg.StartTimer() {
		return // completes lazily, if anyone still asks
	}
	var tm *time.Timer
	tm = time.AfterFunc(time.Until(t.done), func() {
		defer m.cfg.TimerDone()
		m.cfg.Lock.Lock()
		defer m.cfg.Lock.Unlock()
		if m.settle == tm {
			m.settle = nil
		}
		m.Settle(time.Now())
	})
	m.settle = tm
}

// StopTimer cancels the settle timer (the change then completes when next
// asked).
func (m *Machine) StopTimer() {
	if tm := m.settle; tm != nil {
		m.settle = nil
		if tm.Stop() {
			m.cfg.TimerDone() // its callback will not run
		}
	}
}

// RequestOSSaving implements RequestOSPowerSavingStateChange and returns
// its ReturnValue.
func (m *Machine) RequestOSSaving(state int) int {
	if !m.osSavingOK {
		return RVNotSupported
	}
	m.settleNow()
	switch {
	case state != SavingFull && state != SavingSaved:
		return RVInvalidParameter
	case m.state != On, m.osSaving == state:
		return RVInvalidTransition
	case state == SavingSaved && !m.agent:
		return RVInvalidTransition
	}
	m.osSaving = state
	kind := "os-full-power"
	if state == SavingSaved {
		kind = "os-power-saving"
	}
	m.record(time.Now(), 0, kind)
	return RVOK
}

// State is the DMTF PowerState (the state before a transition in
// progress).
func (m *Machine) State() int { return m.state }

// SetState puts the host into a state at once, cancelling any transition
// in progress and without a boot.
func (m *Machine) SetState(state int) {
	m.StopTimer()
	m.pending = nil
	m.state = state
	if state != On && m.osSavingOK {
		m.osSaving = SavingFull
	}
	m.cfg.Changed()
}

// Pending reports whether a transition is in progress.
func (m *Machine) Pending() bool { return m.pending != nil }

// OSSaving is OSPowerSavingState.
func (m *Machine) OSSaving() int { return m.osSaving }

// Agent reports whether the OS agent runs.
func (m *Machine) Agent() bool { return m.agent }

// SetAgent sets whether the OS agent runs.
func (m *Machine) SetAgent(on bool) { m.agent = on; m.cfg.Changed() }

// SetOSSavingSupported sets whether the platform supports OS power saving.
func (m *Machine) SetOSSavingSupported(ok bool) {
	m.osSavingOK = ok
	switch {
	case !ok:
		m.osSaving = SavingNone
	case m.osSaving == SavingNone:
		m.osSaving = SavingFull
	}
	m.cfg.Changed()
}

// Lost reports whether the ME lost the power state.
func (m *Machine) Lost() bool { return m.lost }

// SetLost makes the ME lose the power state, or find it again.
func (m *Machine) SetLost(lost bool) { m.lost = lost; m.cfg.Changed() }

// LastRequest is the last accepted request (0: none).
func (m *Machine) LastRequest() int { return m.lastRequest }

// Requests are every accepted request, in order.
func (m *Machine) Requests() []int { return slices.Clone(m.requests) }

// Events are the completed changes, in order.
func (m *Machine) Events() []Event { return slices.Clone(m.events) }

// OSSavingSupported reports whether the platform supports OS power saving.
func (m *Machine) OSSavingSupported() bool { return m.osSavingOK }
