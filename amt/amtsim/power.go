package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/host"
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"errors"
	"slices"
	"strconv"
	"time"
)

// The host's power state machine is internal/host; these are its names
// here, the public ones and the device's side of it.

// DMTF PowerState values (DSP1027) the simulated host can be in or be asked
// for.
const (
	powerOn          = host.On
	powerSleep       = host.Sleep
	powerCycle       = host.Cycle
	powerHibernate   = host.Hibernate
	powerOff         = host.Off
	powerReset       = host.Reset
	powerNMI         = host.NMI
	powerSoftOff     = host.SoftOff
	powerSoftReset   = host.SoftReset
	osSavingNone     = host.SavingNone
	osSavingFull     = host.SavingFull
	osSavingSaving   = host.SavingSaved
	agentMinMajor    = host.AgentMinMajor
	osSavingMinMajor = 10 // first firmware with IPS_PowerManagementService
)

// DMTF method return values used by the power and boot methods.
const (
	rvOK                = host.RVOK
	rvNotSupported      = host.RVNotSupported
	rvUnknownError      = host.RVUnknownError
	rvInvalidReference  = 4 // ChangeBootOrder, SetBootConfigRole
	rvInvalidParameter  = host.RVInvalidParameter
	rvInvalidTransition = host.RVInvalidTransition
)

// Boot causes reported in BootRecord.Cause.
const (
	CausePowerOn    = host.CausePowerOn
	CauseReset      = host.CauseReset
	CausePowerCycle = host.CausePowerCycle
	CauseSoftReset  = host.CauseSoftReset
	CauseOSReboot   = "os-reboot" // Device.RebootFromOS
)

// PowerEvent is a completed power change of the simulated host.
type PowerEvent = host.Event

// newHost builds the device's simulated host. Call before the device
// serves anything.
func (d *Device) newHost(o *profile) *host.Machine {
	s := d.srv
	return host.New(host.Config{
		Major:           d.major,
		PowerState:      o.powerState,
		NoOSAgent:       o.noOSAgent,
		NoOSPowerSaving: o.noOSPowerSaving,
		Lost:            o.powerStateLost,
		TransitionTime:  s.opts.TransitionTime,
		Lock:            &d.mu,
		StartTimer: func() bool {
			s.timerMu.Lock()
			defer s.timerMu.Unlock()
			if s.timersClosed {
				return false
			}
			s.wg.Add(1)
			return true
		},
		TimerDone: s.wg.Done,
		Changed:   func() { powerFamily.unit(d).sync() },
		Booted:    d.boot,
		Logged: func(ev host.Event) {
			s.log.Info("amtsim power", "device", d.ip, "event", ev.Kind, "power_state", ev.PowerState)
		},
		SessionOpen: d.redirectionOpenLocked,
	})
}

// stopSettleLocked cancels the host's settle timer, for Close. Call with
// d.mu held.
func (d *Device) stopSettleLocked() { d.power.StopTimer() }

// requestedPowerState maps a PowerState request to the shifted value map of
// RequestedPowerState (12 is "Not Applicable" there).
func requestedPowerState(ps int) int {
	if ps >= 12 {
		return ps + 1
	}
	return ps
}

// powerUnit is the device's power family: the power classes over the
// simulated host (internal/host), whose instances it rebuilds in the
// instance store whenever the host's state changes. A view of the device
// (its state is the host's and the store's); called with the device lock
// held, which also guards the host.
type powerUnit struct {
	host  *host.Machine
	major int
	store *instanceStore
}

var powerFamily = family[powerUnit]{unit: func(d *Device) powerUnit {
	return powerUnit{host: d.power, major: d.major, store: &d.store}
}}

// sync rebuilds the instances that report the power state: the host's
// Changed callback.
func (u powerUnit) sync() {
	if u.host == nil { // the host is being built
		return
	}
	apms := buildAssociatedPowerManagementService(u)
	u.store.replace("CIM_AssociatedPowerManagementService", apms)
	u.store.replace("CIM_ServiceAvailableToElement", apms)
	if u.major >= osSavingMinMajor {
		u.store.replace("IPS_PowerManagementService", buildIPSPowerManagementService(u))
	}
}

// PowerStateLost reports whether the management engine has lost the
// host's power state (Options.PowerStateLost).
func (d *Device) PowerStateLost() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.power.Lost()
}

// SetPowerStateLost makes the management engine lose the host's power
// state, or find it again.
func (d *Device) SetPowerStateLost(lost bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.SetLost(lost)
}

// RebootFromOS simulates the operating system restarting the host: a
// boot (cause "os-reboot") that also lets the management engine learn the
// power state again. The host must be on.
func (d *Device) RebootFromOS() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.Settle(time.Now())
	if d.power.State() != powerOn {
		return errors.New("amtsim: RebootFromOS: the host is not on")
	}
	d.boot(time.Now(), CauseOSReboot)
	d.power.SetLost(false)
	return nil
}

// PowerState returns the host's DMTF PowerState: 2 on, 4 sleep, 7
// hibernate, 8 off. During a transition it is the state before it.
func (d *Device) PowerState() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.Settle(time.Now())
	return d.power.State()
}

// SetPowerState puts the host into a state at once, cancelling any
// transition in progress and without a boot: a test hook. It panics on a
// state other than 2, 4, 7 or 8.
func (d *Device) SetPowerState(state int) {
	switch state {
	case powerOn, powerSleep, powerHibernate, powerOff:
	default:
		panic("amtsim: SetPowerState(" + strconv.Itoa(state) + "): want 2, 4, 7 or 8")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.SetState(state)
}

// OSPowerSavingState returns IPS_PowerManagementService.OSPowerSavingState:
// 1 unsupported, 2 full power, 3 OS power saving.
func (d *Device) OSPowerSavingState() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.Settle(time.Now())
	return d.power.OSSaving()
}

// SetOSAgent sets whether the host runs the OS agent that graceful actions,
// sleep, hibernate and OS power saving need.
func (d *Device) SetOSAgent(present bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.SetAgent(present)
}

// SetOSPowerSavingSupported sets whether the platform supports OS power
// saving; unsupported platforms report OSPowerSavingState 1.
func (d *Device) SetOSPowerSavingSupported(supported bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.SetOSSavingSupported(supported)
}

// SetRedirectionSession marks a redirection session (SOL, storage, KVM) as
// open or closed, besides the sessions really open on the redirection
// port. While one is open, power cycle and power off are refused.
func (d *Device) SetRedirectionSession(open bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.redirMarked = open
}

// RedirectionSessionOpen reports whether a redirection session is open:
// an authenticated session on the redirection port, or one marked by
// SetRedirectionSession.
func (d *Device) RedirectionSessionOpen() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.redirectionOpenLocked()
}

func (d *Device) redirectionOpenLocked() bool { return d.redirMarked || d.redir.SessionOpen() }

// PowerRequests returns every accepted RequestPowerStateChange value, in
// order.
func (d *Device) PowerRequests() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.power.Requests()
}

// PowerEvents returns the completed power changes, in order.
func (d *Device) PowerEvents() []PowerEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.Settle(time.Now())
	return d.power.Events()
}

// Boots returns every simulated boot, in order.
func (d *Device) Boots() []BootRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.Settle(time.Now())
	return slices.Clone(d.boots)
}

// Power classes. Their instances are rebuilt from the power model whenever
// it changes.

var (
	// The association reports the host's power state; enumerated
	// through its parent class CIM_ServiceAvailableToElement it answers
	// the same instances under its own name.
	classAssociatedPowerManagementService = powerFamily.class(&unitClass[powerUnit]{
		name:      "CIM_AssociatedPowerManagementService",
		uri:       soap.PrefixCIM + "CIM_AssociatedPowerManagementService",
		commonNS:  true,
		singleton: true,
		keys:      []string{"ServiceProvided", "UserOfService"},
		build:     buildAssociatedPowerManagementService,
	})
	classServiceAvailableToElement = powerFamily.class(&unitClass[powerUnit]{
		name:      "CIM_ServiceAvailableToElement",
		uri:       soap.PrefixCIM + "CIM_ServiceAvailableToElement",
		commonNS:  true,
		singleton: true,
		keys:      []string{"ServiceProvided", "UserOfService"},
		build:     buildAssociatedPowerManagementService,
		inst:      classAssociatedPowerManagementService,
	})
	classPowerManagementService = powerFamily.class(&unitClass[powerUnit]{
		name:      "CIM_PowerManagementService",
		uri:       uriPowerService,
		commonNS:  true,
		singleton: true,
		keys:      []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
		methods:   map[string]func(powerUnit, *instance, *soap.Node) ([]outParam, *soap.Fault){"RequestPowerStateChange": powerUnit.requestPowerStateChange},
		build:     buildPowerManagementService,
	})
	classPowerManagementCapabilities = powerFamily.class(&unitClass[powerUnit]{
		name:      "CIM_PowerManagementCapabilities",
		uri:       soap.PrefixCIM + "CIM_PowerManagementCapabilities",
		singleton: true,
		keys:      []string{"InstanceID"},
		build:     buildPowerManagementCapabilities,
	})
	classIPSPowerManagementService = powerFamily.class(&unitClass[powerUnit]{
		name:      "IPS_PowerManagementService",
		uri:       uriIPSPowerService,
		commonNS:  true,
		singleton: true,
		keys:      []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
		methods:   map[string]func(powerUnit, *instance, *soap.Node) ([]outParam, *soap.Fault){"RequestOSPowerSavingStateChange": powerUnit.requestOSPowerSavingStateChange},
		build:     buildIPSPowerManagementService,
		minMajor:  osSavingMinMajor,
	})
)

const (
	powerServiceName   = "Intel(r) AMT Power Management Service"
	uriPowerService    = soap.PrefixCIM + "CIM_PowerManagementService"
	uriIPSPowerService = soap.PrefixIPS + "IPS_PowerManagementService"
)

var (
	eprPowerService = eprValue{
		address:     soap.URIAnon,
		resourceURI: uriPowerService,
		selectors: []attr{
			{"CreationClassName", "CIM_PowerManagementService"},
			{"Name", powerServiceName},
			{"SystemCreationClassName", "CIM_ComputerSystem"},
			{"SystemName", "Intel(r) AMT"},
		},
	}
	eprManagedSystem = eprValue{
		address:     soap.URIAnon,
		resourceURI: soap.PrefixCIM + "CIM_ComputerSystem",
		selectors:   []attr{{"CreationClassName", "CIM_ComputerSystem"}, {"Name", "ManagedSystem"}},
	}
)

func itoas(vals []int) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strconv.Itoa(v)
	}
	return out
}

// buildAssociatedPowerManagementService reports the power state in the
// property combinations the captures show: from AMT 9 PowerState with
// AvailableRequestedPowerStates and no RequestedPowerState (the go-wsman
// captures); before AMT 9 PowerState with RequestedPowerState and no
// AvailableRequestedPowerStates (the AMT 8 capture of the mps tests), where
// RequestedPowerState is the last request in its shifted value map, 2 (On)
// before any [modelled: the capture shows 2 on a host that is on]. No
// capture shows TransitioningToPowerState: PowerState keeps the state
// before a change until the change is applied.
func buildAssociatedPowerManagementService(u powerUnit) []*instance {
	state := u.host.State()
	if u.host.Lost() {
		state = 0 // Unknown
	}
	in := newInstance().
		set("PowerState", strconv.Itoa(state)).
		setEPR("ServiceProvided", eprPowerService).
		setEPR("UserOfService", eprManagedSystem)
	if u.major >= agentMinMajor {
		in.set("AvailableRequestedPowerStates", itoas(u.host.AvailableStates())...)
	} else {
		rps := powerOn
		if u.host.LastRequest() != 0 {
			rps = requestedPowerState(u.host.LastRequest())
		}
		in.set("RequestedPowerState", strconv.Itoa(rps))
	}
	return []*instance{in}
}

func buildPowerManagementService(powerUnit) []*instance {
	return []*instance{newInstance().
		set("CreationClassName", "CIM_PowerManagementService").
		set("ElementName", powerServiceName).
		set("EnabledState", "5").
		set("Name", powerServiceName).
		set("RequestedState", "12").
		set("SystemCreationClassName", "CIM_ComputerSystem").
		set("SystemName", "Intel(r) AMT")}
}

func buildPowerManagementCapabilities(u powerUnit) []*instance {
	supported := itoas(u.host.StatesSupported())
	return []*instance{newInstance().
		set("ElementName", "Power Management Capabilities").
		set("InstanceID", "Intel(r) AMT:PowerManagementCapabilities 0").
		set("OtherPowerChangeCapabilities", "").
		set("PowerChangeCapabilities", "2", "3", "4", "7", "8").
		set("PowerStatesSupported", supported...).
		set("RequestedPowerStatesSupported", supported...)}
}

func buildIPSPowerManagementService(u powerUnit) []*instance {
	return []*instance{newInstance().
		set("CreationClassName", "IPS_PowerManagementService").
		set("ElementName", powerServiceName).
		set("EnabledState", "5").
		set("Name", powerServiceName).
		set("OSPowerSavingState", strconv.Itoa(u.host.OSSaving())).
		set("RequestedState", "12").
		set("SystemCreationClassName", "CIM_ComputerSystem").
		set("SystemName", "Intel(r) AMT")}
}

// managedElementOK checks a ManagedElement parameter: an EPR to the host
// CIM_ComputerSystem (Name=ManagedSystem; CreationClassName, if given,
// CIM_ComputerSystem).
func managedElementOK(n *soap.Node) bool {
	uri, sels, ok := eprRef(n)
	if !ok || uri != eprManagedSystem.resourceURI || sels["Name"] != "ManagedSystem" {
		return false
	}
	for k, v := range sels {
		switch {
		case k == "Name":
		case k == "CreationClassName" && v == "CIM_ComputerSystem":
		default:
			return false
		}
	}
	return true
}

// eprRef reads an EPR-valued parameter: its resource URI and selectors.
func eprRef(n *soap.Node) (uri string, sels map[string]string, ok bool) {
	rp := n.Child(soap.NSAddr, "ReferenceParameters")
	if rp == nil {
		return "", nil, false
	}
	uri = rp.Child(soap.NSWSMan, "ResourceURI").Value()
	sels = map[string]string{}
	if ss := rp.Child(soap.NSWSMan, "SelectorSet"); ss != nil {
		for _, s := range ss.Children {
			if !s.Is(soap.NSWSMan, "Selector") {
				continue
			}
			name, _ := s.Attr("Name")
			if _, dup := sels[name]; dup {
				return "", nil, false
			}
			sels[name] = s.Value()
		}
	}
	return uri, sels, uri != ""
}

// uintParam reads a scalar unsigned parameter of a method input.
func uintParam(input *soap.Node, ns, name string) (int, bool) {
	v := input.Child(ns, name)
	if v == nil {
		return 0, false
	}
	n, err := strconv.ParseUint(v.Value(), 10, 16)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

func returnValue(rv int) []outParam {
	return []outParam{{name: "ReturnValue", values: []string{strconv.Itoa(rv)}}}
}

func (u powerUnit) requestPowerStateChange(_ *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	ns := uriPowerService
	ps, ok := uintParam(input, ns, "PowerState")
	if !ok || !managedElementOK(input.Child(ns, "ManagedElement")) {
		return returnValue(rvInvalidParameter), nil
	}
	return returnValue(u.host.Request(ps)), nil
}

func (u powerUnit) requestOSPowerSavingStateChange(_ *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	ns := uriIPSPowerService
	if !u.host.OSSavingSupported() {
		return returnValue(rvNotSupported), nil
	}
	st, ok := uintParam(input, ns, "OSPowerSavingState")
	if !ok || !managedElementOK(input.Child(ns, "ManagedElement")) {
		return returnValue(rvInvalidParameter), nil
	}
	return returnValue(u.host.RequestOSSaving(st)), nil
}
