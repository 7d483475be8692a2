package power

import (
	"strconv"
	"strings"

	"github.com/amtkit/amtkit/wsman"
)

// State is the power state a device reports (CIM_AssociatedPowerManagementService
// PowerState, protocol.md §2.2). It is a different type from Action even
// where the numbers overlap: a state is what the machine is in, an action
// what is asked of it.
type State int

// Power states AMT reports (protocol.md §2.2).
const (
	StateOn        State = 2 // G0/S0
	StateSleep     State = 4 // "Sleep - Deep", S3
	StateHibernate State = 7 // "Hibernate (Off - Soft)", S4
	StateOff       State = 8 // "Off - Soft", S5
)

var dmtfStateNames = map[int]string{
	1: "Other", 2: "On", 3: "Sleep - Light", 4: "Sleep - Deep", 5: "Power Cycle (Off - Soft)", 6: "Off - Hard",
	7: "Hibernate (Off - Soft)", 8: "Off - Soft", 9: "Power Cycle (Off - Hard)", 10: "Master Bus Reset",
	11: "Diagnostic Interrupt (NMI)", 12: "Off - Soft Graceful", 13: "Off - Hard Graceful",
	14: "Master Bus Reset Graceful", 15: "Power Cycle (Off - Soft Graceful)", 16: "Power Cycle (Off - Hard Graceful)",
	17: "Diagnostic Interrupt (INIT)",
}

// String names the state: "on", "sleep", "hibernate", "off", or the DMTF
// name of another value.
func (s State) String() string {
	switch s {
	case StateOn:
		return "on"
	case StateSleep:
		return "sleep"
	case StateHibernate:
		return "hibernate"
	case StateOff:
		return "off"
	}
	if n, ok := dmtfStateNames[int(s)]; ok {
		return n
	}
	return "state " + strconv.Itoa(int(s))
}

// Known reports whether s is a power state of the table (1 to 17,
// protocol.md §2.2). 0 (Unknown) and other values are what firmware reports
// when it lost the machine's state.
func (s State) Known() bool { return s >= 1 && s <= 17 }

// ParseState reads "on", "off", "sleep" or "hibernate".
func ParseState(s string) (State, error) {
	for _, st := range []State{StateOn, StateSleep, StateHibernate, StateOff} {
		if strings.EqualFold(s, st.String()) {
			return st, nil
		}
	}
	return 0, wsman.InvalidArgument("power: unknown state %q (want on, off, sleep or hibernate)", s)
}

// Action is a power change to request (RequestPowerStateChange PowerState,
// protocol.md §2.2). The values are DMTF's numbers as AMT uses them: its
// ordinary power-off is 8 ("Off - Soft"), its power cycle 5, its reset 10;
// 6 ("Off - Hard") is not supported by AMT and has no constant here.
type Action int

// Power actions.
const (
	On         Action = 2  // power up; from off, sleep or hibernate
	Sleep      Action = 4  // S3; AMT 9 and later, needs the OS agent
	PowerCycle Action = 5  // off, then on
	Hibernate  Action = 7  // S4; AMT 9 and later, needs the OS agent
	Off        Action = 8  // immediate power-off, not graceful from the OS point of view
	Reset      Action = 10 // hardware reset ("Master Bus Reset")
	NMI        Action = 11 // diagnostic interrupt
	SoftOff    Action = 12 // graceful OS shutdown; needs the OS agent
	SoftReset  Action = 14 // graceful OS restart; needs the OS agent
)

var actionNames = []struct {
	a    Action
	name string
}{
	{On, "on"}, {Off, "off"}, {Reset, "reset"}, {PowerCycle, "cycle"}, {SoftOff, "soft-off"},
	{SoftReset, "soft-reset"}, {Sleep, "sleep"}, {Hibernate, "hibernate"}, {NMI, "nmi"},
}

// Actions lists every action, in the order amtctl shows them.
func Actions() []Action {
	out := make([]Action, len(actionNames))
	for i, n := range actionNames {
		out[i] = n.a
	}
	return out
}

// String gives the name amtctl uses: "on", "off", "reset", "cycle",
// "soft-off", "soft-reset", "sleep", "hibernate", "nmi".
func (a Action) String() string {
	for _, n := range actionNames {
		if n.a == a {
			return n.name
		}
	}
	if n, ok := dmtfStateNames[int(a)]; ok {
		return "unsupported action " + strconv.Itoa(int(a)) + " (" + n + ")"
	}
	return "action " + strconv.Itoa(int(a))
}

func (a Action) known() bool {
	for _, n := range actionNames {
		if n.a == a {
			return true
		}
	}
	return false
}

// ParseAction reads an action name as String writes it.
func ParseAction(s string) (Action, error) {
	for _, n := range actionNames {
		if strings.EqualFold(s, n.name) {
			return n.a, nil
		}
	}
	return 0, wsman.InvalidArgument("power: unknown action %q (want one of %s)", s, joinActions(Actions()))
}

func joinActions(as []Action) string {
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = a.String()
	}
	return strings.Join(names, ", ")
}

// OSPowerSaving is IPS_PowerManagementService.OSPowerSavingState
// (protocol.md §2.4): whether the operating system is in a low-power mode
// such as Modern Standby while the hardware reports on.
type OSPowerSaving int

// OS power-saving states.
const (
	OSPowerSavingUnknown     OSPowerSaving = 0
	OSPowerSavingUnsupported OSPowerSaving = 1 // also reported for firmware before AMT 10
	OSFullPower              OSPowerSaving = 2
	OSPowerSavingOn          OSPowerSaving = 3
)

func (o OSPowerSaving) String() string {
	switch o {
	case OSPowerSavingUnknown:
		return "unknown"
	case OSPowerSavingUnsupported:
		return "unsupported"
	case OSFullPower:
		return "full power"
	case OSPowerSavingOn:
		return "power saving"
	}
	return "os power saving state " + strconv.Itoa(int(o))
}
