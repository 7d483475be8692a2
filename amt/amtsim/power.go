package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"errors"
	"slices"
	"strconv"
	"time"
)

// DMTF PowerState values (DSP1027) the simulated host can be in or be asked
// for.
const (
	powerOn          = 2
	powerSleep       = 4  // Sleep - Deep (S3)
	powerCycle       = 5  // Power Cycle (Off - Soft)
	powerHibernate   = 7  // Hibernate (Off - Soft, S4)
	powerOff         = 8  // Off - Soft (S5)
	powerReset       = 10 // Master Bus Reset
	powerNMI         = 11 // Diagnostic Interrupt (NMI)
	powerSoftOff     = 12 // Off - Soft Graceful (needs the OS agent)
	powerSoftReset   = 14 // Master Bus Reset Graceful (needs the OS agent)
	osSavingNone     = 1  // OSPowerSavingState: unsupported
	osSavingFull     = 2  // full power
	osSavingSaving   = 3  // OS power saving (e.g. Modern Standby)
	agentMinMajor    = 9  // first firmware with sleep, hibernate and graceful actions
	osSavingMinMajor = 10 // first firmware with IPS_PowerManagementService
)

// DMTF method return values used by the power and boot methods.
const (
	rvOK                = 0
	rvNotSupported      = 1
	rvUnknownError      = 2
	rvInvalidReference  = 4 // ChangeBootOrder, SetBootConfigRole
	rvInvalidParameter  = 5
	rvInvalidTransition = 4097
)

// Boot causes reported in BootRecord.Cause.
const (
	CausePowerOn    = "power-on"
	CauseReset      = "reset"
	CausePowerCycle = "power-cycle"
	CauseSoftReset  = "soft-reset"
	CauseOSReboot   = "os-reboot" // Device.RebootFromOS
)

// PowerEvent is a completed power change of the simulated host.
type PowerEvent struct {
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

// transition is a power change in progress.
type transition struct {
	request int // the accepted RequestPowerStateChange value
	target  int // PowerState once done
	done    time.Time
}

// powerModel is the host side of a device: its power state machine. It is
// guarded by Device.mu.
type powerModel struct {
	state       int // DMTF PowerState
	osSaving    int // OSPowerSavingState while on
	osSavingOK  bool
	agent       bool
	redirection bool
	lastRequest int // last accepted request (0: none since start)
	pending     *transition
	lost        bool // the ME lost the power state: PowerState 0, changes fail
	// settle completes pending at its time without waiting for a request
	// or inspection (nil when nothing is pending or the server closes).
	settle   *time.Timer
	requests []int
	events   []PowerEvent
	boots    []BootRecord
}

func newPowerModel(o *profile) powerModel {
	p := powerModel{
		state:      o.powerState,
		osSaving:   osSavingFull,
		osSavingOK: !o.noOSPowerSaving,
		lost:       o.powerStateLost,
		agent:      !o.noOSAgent,
	}
	if !p.osSavingOK {
		p.osSaving = osSavingNone
	}
	return p
}

// powerStatesSupported is PowerStatesSupported and
// RequestedPowerStatesSupported of CIM_PowerManagementCapabilities, in the
// order of the firmware capture. It depends on the firmware version only.
func (d *Device) powerStatesSupported() []int {
	if d.major >= agentMinMajor {
		return []int{powerCycle, powerOff, powerOn, powerReset, powerNMI, powerSoftOff, powerSoftReset}
	}
	return []int{powerCycle, powerOff, powerOn, powerReset, powerNMI}
}

// powerStatesAccepted is what RequestPowerStateChange accepts at all. The
// firmware capture offers sleep and hibernate in AvailableRequestedPowerStates
// without listing them in PowerStatesSupported; the simulator accepts them
// from the same firmware versions.
func (d *Device) powerStatesAccepted() []int {
	s := d.powerStatesSupported()
	if d.major >= agentMinMajor {
		s = append(s, powerSleep, powerHibernate)
	}
	return s
}

// availablePowerStates is AvailableRequestedPowerStates in the current
// state, in the order the firmware capture shows. Call with d.mu held.
func (d *Device) availablePowerStates() []int {
	if d.power.state != powerOn {
		return []int{powerOn}
	}
	s := []int{powerReset, powerOff, powerCycle, powerNMI}
	if d.power.agent && d.major >= agentMinMajor {
		s = append(s, powerSleep, powerHibernate, powerSoftReset, powerSoftOff)
	}
	return s
}

// requestedPowerState maps a PowerState request to the shifted value map of
// RequestedPowerState (12 is "Not Applicable" there).
func requestedPowerState(ps int) int {
	if ps >= 12 {
		return ps + 1
	}
	return ps
}

// settlePower completes a transition whose time has come. Call with d.mu
// held, before reading or changing the power state.
func (d *Device) settlePower(now time.Time) {
	t := d.power.pending
	if t == nil || now.Before(t.done) {
		return
	}
	d.power.pending = nil
	d.completePower(t)
}

// completePower applies a transition: the new state and, for the requests
// that restart the host, exactly one boot.
func (d *Device) completePower(t *transition) {
	from := d.power.state
	d.power.state = t.target
	if t.target != powerOn && d.power.osSavingOK {
		d.power.osSaving = osSavingFull // the OS is not running
	}
	var kind, cause string
	switch t.request {
	case powerReset:
		kind, cause = "reset", CauseReset
	case powerCycle:
		kind, cause = "power-cycle", CausePowerCycle
	case powerSoftReset:
		kind, cause = "soft-reset", CauseSoftReset
	case powerOff:
		kind = "off"
	case powerSoftOff:
		kind = "soft-off"
	case powerNMI:
		kind = "nmi"
	case powerSleep:
		kind = "sleep"
	case powerHibernate:
		kind = "hibernate"
	case powerOn:
		if from == powerSleep {
			kind = "resume"
		} else {
			kind, cause = "power-on", CausePowerOn
		}
	}
	d.recordPowerEvent(t.done, t.request, kind)
	if cause != "" {
		d.boot(t.done, cause)
	}
}

func (d *Device) recordPowerEvent(at time.Time, request int, kind string) {
	ev := PowerEvent{Seq: len(d.power.events) + 1, Time: at, Request: request, Kind: kind, PowerState: d.power.state}
	d.power.events = append(d.power.events, ev)
	d.srv.log.Info("amtsim power", "device", d.ip, "event", kind, "power_state", d.power.state)
	d.syncPowerInstances()
}

// requestPowerChange implements RequestPowerStateChange. Call with d.mu
// held.
func (d *Device) requestPowerChange(ps int) int {
	if d.power.lost {
		return rvUnknownError // [modelled] the change fails from an unknown state
	}
	if !slices.Contains(d.powerStatesAccepted(), ps) {
		return rvUnknownError // DSP1027: outside PowerStatesSupported
	}
	d.settlePendingNowLocked()
	if ps == powerOn && d.power.state == powerOn {
		// protocol.md §2.2: power on is accepted, and a no-op, on a host
		// that is already on.
		d.power.requests = append(d.power.requests, ps)
		d.power.lastRequest = ps
		d.syncPowerInstances()
		return rvOK
	}
	if !slices.Contains(d.availablePowerStates(), ps) {
		return rvInvalidTransition
	}
	if d.redirectionOpenLocked() && (ps == powerCycle || ps == powerOff) {
		return rvInvalidTransition
	}
	d.power.requests = append(d.power.requests, ps)
	d.power.lastRequest = ps
	target := d.power.state
	switch ps {
	case powerReset, powerCycle, powerSoftReset, powerOn:
		target = powerOn
	case powerOff, powerSoftOff:
		target = powerOff
	case powerSleep, powerHibernate:
		target = ps
	}
	now := time.Now()
	t := &transition{request: ps, target: target, done: now.Add(d.srv.opts.TransitionTime)}
	if d.srv.opts.TransitionTime <= 0 || ps == powerNMI {
		d.completePower(t)
	} else {
		d.power.pending = t
		d.scheduleSettleLocked(t)
		d.syncPowerInstances()
	}
	return rvOK
}

// settlePendingNowLocked completes a change still in progress at once, as
// if its time had passed, before another change is considered: firmware
// answers no Busy in any capture, and protocol.md asks consoles not to
// overlap changes [modelled]. It reports false, for use in a switch. Call
// with d.mu held.
func (d *Device) settlePendingNowLocked() bool {
	t := d.power.pending
	if t == nil {
		return false
	}
	d.stopSettleLocked()
	d.power.pending = nil
	t.done = time.Now()
	d.completePower(t)
	return false
}

// scheduleSettleLocked arms a timer that completes the transition at its
// time, so that the boot it causes starts on its own: a console serving
// IDE-R need not poll the device for the reset to happen. Close stops the
// timer (or waits for its callback). Call with d.mu held.
func (d *Device) scheduleSettleLocked(t *transition) {
	d.stopSettleLocked()
	s := d.srv
	s.timerMu.Lock()
	defer s.timerMu.Unlock()
	if s.timersClosed {
		return // completes lazily, if anyone still asks
	}
	s.wg.Add(1)
	var tm *time.Timer
	tm = time.AfterFunc(time.Until(t.done), func() {
		defer s.wg.Done()
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.power.settle == tm {
			d.power.settle = nil
		}
		d.settlePower(time.Now())
	})
	d.power.settle = tm
}

// stopSettleLocked cancels the settle timer. Call with d.mu held.
func (d *Device) stopSettleLocked() {
	if tm := d.power.settle; tm != nil {
		d.power.settle = nil
		if tm.Stop() {
			d.srv.wg.Done() // its callback will not run
		}
	}
}

// requestOSPowerSaving implements RequestOSPowerSavingStateChange. Call
// with d.mu held.
func (d *Device) requestOSPowerSaving(state int) int {
	switch {
	case !d.power.osSavingOK:
		return rvNotSupported
	case d.settlePendingNowLocked():
	case state != osSavingFull && state != osSavingSaving:
		return rvInvalidParameter
	case d.power.state != powerOn, d.power.osSaving == state:
		return rvInvalidTransition
	case state == osSavingSaving && !d.power.agent:
		return rvInvalidTransition
	}
	d.power.osSaving = state
	kind := "os-full-power"
	if state == osSavingSaving {
		kind = "os-power-saving"
	}
	d.recordPowerEvent(time.Now(), 0, kind)
	return rvOK
}

// syncPowerInstances rebuilds the instances that report the power state.
// Call with d.mu held.
func (d *Device) syncPowerInstances() {
	if d.instances == nil {
		return
	}
	apms := buildAssociatedPowerManagementService(d)
	d.instances["CIM_AssociatedPowerManagementService"] = apms
	d.instances["CIM_ServiceAvailableToElement"] = apms
	if d.major >= osSavingMinMajor {
		d.instances["IPS_PowerManagementService"] = buildIPSPowerManagementService(d)
	}
}

// PowerStateLost reports whether the management engine has lost the
// host's power state (Options.PowerStateLost).
func (d *Device) PowerStateLost() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.power.lost
}

// SetPowerStateLost makes the management engine lose the host's power
// state, or find it again.
func (d *Device) SetPowerStateLost(lost bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.lost = lost
	d.syncPowerInstances()
}

// RebootFromOS simulates the operating system restarting the host: a
// boot (cause "os-reboot") that also lets the management engine learn the
// power state again. The host must be on.
func (d *Device) RebootFromOS() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.settlePower(time.Now())
	if d.power.state != powerOn {
		return errors.New("amtsim: RebootFromOS: the host is not on")
	}
	d.power.lost = false
	d.boot(time.Now(), CauseOSReboot)
	d.syncPowerInstances()
	return nil
}

// PowerState returns the host's DMTF PowerState: 2 on, 4 sleep, 7
// hibernate, 8 off. During a transition it is the state before it.
func (d *Device) PowerState() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.settlePower(time.Now())
	return d.power.state
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
	d.stopSettleLocked()
	d.power.pending = nil
	d.power.state = state
	if state != powerOn && d.power.osSavingOK {
		d.power.osSaving = osSavingFull
	}
	d.syncPowerInstances()
}

// OSPowerSavingState returns IPS_PowerManagementService.OSPowerSavingState:
// 1 unsupported, 2 full power, 3 OS power saving.
func (d *Device) OSPowerSavingState() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.settlePower(time.Now())
	return d.power.osSaving
}

// SetOSAgent sets whether the host runs the OS agent that graceful actions,
// sleep, hibernate and OS power saving need.
func (d *Device) SetOSAgent(present bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.agent = present
	d.syncPowerInstances()
}

// SetOSPowerSavingSupported sets whether the platform supports OS power
// saving; unsupported platforms report OSPowerSavingState 1.
func (d *Device) SetOSPowerSavingSupported(supported bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.osSavingOK = supported
	switch {
	case !supported:
		d.power.osSaving = osSavingNone
	case d.power.osSaving == osSavingNone:
		d.power.osSaving = osSavingFull
	}
	d.syncPowerInstances()
}

// SetRedirectionSession marks a redirection session (SOL, storage, KVM) as
// open or closed, besides the sessions really open on the redirection
// port. While one is open, power cycle and power off are refused.
func (d *Device) SetRedirectionSession(open bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.redirection = open
}

// RedirectionSessionOpen reports whether a redirection session is open:
// an authenticated session on the redirection port, or one marked by
// SetRedirectionSession.
func (d *Device) RedirectionSessionOpen() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.redirectionOpenLocked()
}

func (d *Device) redirectionOpenLocked() bool { return d.power.redirection || d.redirOpen > 0 }

// PowerRequests returns every accepted RequestPowerStateChange value, in
// order.
func (d *Device) PowerRequests() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.power.requests)
}

// PowerEvents returns the completed power changes, in order.
func (d *Device) PowerEvents() []PowerEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.settlePower(time.Now())
	return slices.Clone(d.power.events)
}

// Boots returns every simulated boot, in order.
func (d *Device) Boots() []BootRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.settlePower(time.Now())
	return slices.Clone(d.power.boots)
}

// Power classes. Their instances are rebuilt from the power model whenever
// it changes.

var (
	classAssociatedPowerManagementService = &classDef{
		name:      "CIM_AssociatedPowerManagementService",
		uri:       soap.PrefixCIM + "CIM_AssociatedPowerManagementService",
		commonNS:  true,
		singleton: true,
		keys:      []string{"ServiceProvided", "UserOfService"},
		build:     buildAssociatedPowerManagementService,
	}
	classServiceAvailableToElement = &classDef{
		name:      "CIM_ServiceAvailableToElement",
		uri:       soap.PrefixCIM + "CIM_ServiceAvailableToElement",
		commonNS:  true,
		singleton: true,
		keys:      []string{"ServiceProvided", "UserOfService"},
		build:     buildAssociatedPowerManagementService,
		inst:      classAssociatedPowerManagementService,
	}
	classPowerManagementService = &classDef{
		name:      "CIM_PowerManagementService",
		uri:       uriPowerService,
		commonNS:  true,
		singleton: true,
		keys:      []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
		methods:   map[string]methodFunc{"RequestPowerStateChange": methodRequestPowerStateChange},
		build:     buildPowerManagementService,
	}
	classPowerManagementCapabilities = &classDef{
		name:      "CIM_PowerManagementCapabilities",
		uri:       soap.PrefixCIM + "CIM_PowerManagementCapabilities",
		singleton: true,
		keys:      []string{"InstanceID"},
		build:     buildPowerManagementCapabilities,
	}
	classIPSPowerManagementService = &classDef{
		name:      "IPS_PowerManagementService",
		uri:       uriIPSPowerService,
		commonNS:  true,
		singleton: true,
		keys:      []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
		methods:   map[string]methodFunc{"RequestOSPowerSavingStateChange": methodRequestOSPowerSavingStateChange},
		build:     buildIPSPowerManagementService,
		minMajor:  osSavingMinMajor,
	}
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
func buildAssociatedPowerManagementService(d *Device) []*instance {
	state := d.power.state
	if d.power.lost {
		state = 0 // Unknown
	}
	in := newInstance().
		set("PowerState", strconv.Itoa(state)).
		setEPR("ServiceProvided", eprPowerService).
		setEPR("UserOfService", eprManagedSystem)
	if d.major >= agentMinMajor {
		in.set("AvailableRequestedPowerStates", itoas(d.availablePowerStates())...)
	} else {
		rps := powerOn
		if d.power.lastRequest != 0 {
			rps = requestedPowerState(d.power.lastRequest)
		}
		in.set("RequestedPowerState", strconv.Itoa(rps))
	}
	return []*instance{in}
}

func buildPowerManagementService(*Device) []*instance {
	return []*instance{newInstance().
		set("CreationClassName", "CIM_PowerManagementService").
		set("ElementName", powerServiceName).
		set("EnabledState", "5").
		set("Name", powerServiceName).
		set("RequestedState", "12").
		set("SystemCreationClassName", "CIM_ComputerSystem").
		set("SystemName", "Intel(r) AMT")}
}

func buildPowerManagementCapabilities(d *Device) []*instance {
	supported := itoas(d.powerStatesSupported())
	return []*instance{newInstance().
		set("ElementName", "Power Management Capabilities").
		set("InstanceID", "Intel(r) AMT:PowerManagementCapabilities 0").
		set("OtherPowerChangeCapabilities", "").
		set("PowerChangeCapabilities", "2", "3", "4", "7", "8").
		set("PowerStatesSupported", supported...).
		set("RequestedPowerStatesSupported", supported...)}
}

func buildIPSPowerManagementService(d *Device) []*instance {
	return []*instance{newInstance().
		set("CreationClassName", "IPS_PowerManagementService").
		set("ElementName", powerServiceName).
		set("EnabledState", "5").
		set("Name", powerServiceName).
		set("OSPowerSavingState", strconv.Itoa(d.power.osSaving)).
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
	return []outParam{{"ReturnValue", []string{strconv.Itoa(rv)}}}
}

func methodRequestPowerStateChange(d *Device, _ *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	ns := uriPowerService
	ps, ok := uintParam(input, ns, "PowerState")
	if !ok || !managedElementOK(input.Child(ns, "ManagedElement")) {
		return returnValue(rvInvalidParameter), nil
	}
	return returnValue(d.requestPowerChange(ps)), nil
}

func methodRequestOSPowerSavingStateChange(d *Device, _ *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	ns := uriIPSPowerService
	if !d.power.osSavingOK {
		return returnValue(rvNotSupported), nil
	}
	st, ok := uintParam(input, ns, "OSPowerSavingState")
	if !ok || !managedElementOK(input.Child(ns, "ManagedElement")) {
		return returnValue(rvInvalidParameter), nil
	}
	return returnValue(d.requestOSPowerSaving(st)), nil
}
