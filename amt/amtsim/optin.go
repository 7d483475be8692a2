package amtsim

import (
	"slices"
	"strconv"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/redirsvc"
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
)

// IPS_OptInService: user consent, held by the consent unit
// (internal/redirsvc). When OptInRequired is "all", a console asks the
// device to show a six-digit code on the host's screen (StartOptIn), the
// user reads it to the operator, and the console sends it back
// (SendOptInCode). Until then the redirection port refuses IDE-R and SOL
// sessions and AMT_BootSettingData refuses the redirection and BIOS
// options. The class's instance is a view of the unit, refreshed before
// every request; Puts and methods change the unit.

const (
	uriOptInService = soap.PrefixIPS + "IPS_OptInService"
	optInName       = "Intel(r) AMT OptIn Service"
	optInMinMajor   = 6 // first firmware with user consent

	optInNone     = redirsvc.OptInNone // OptInRequired: no consent needed
	optInKVM      = redirsvc.OptInKVM  // for KVM only
	optInAll      = redirsvc.OptInAll  // for KVM, IDE-R, SOL and boot options
	provModeCCM   = 4
	optInAttempts = redirsvc.Attempts // wrong codes before the code is dropped [assumption]

	// OptInState values.
	optInNotStarted = redirsvc.StateNotStarted
	optInDisplayed  = redirsvc.StateDisplayed
	optInReceived   = redirsvc.StateReceived
	optInInSession  = redirsvc.StateInSession

	ptNotReady           = redirsvc.StatusNotReady     // PT_STATUS NOT_READY: nothing to send or cancel
	ptNotPermitted       = redirsvc.StatusNotPermitted // PT_STATUS NOT_PERMITTED
	ptUnsupported        = redirsvc.StatusUnsupported  // PT_STATUS UNSUPPORTED: wrong consent code [assumption]
	ptUserConsentMissing = 2081                        // PT_STATUS USER_CONSENT_REQUIRED
)

// consentOptions are the AMT_BootSettingData options that need consent.
var consentOptions = []string{"UseIDER", "UseSOL", "BIOSSetup", "BIOSPause", "ReflashBIOS"}

var classOptInService = redirection.class(&unitClass[redirUnit]{
	name:      "IPS_OptInService",
	uri:       uriOptInService,
	commonNS:  true,
	singleton: true,
	keys:      []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
	put:       putOptInService,
	methods: map[string]func(redirUnit, *instance, *soap.Node) ([]outParam, *soap.Fault){
		"StartOptIn":    methodStartOptIn,
		"SendOptInCode": methodSendOptInCode,
		"CancelOptIn":   methodCancelOptIn,
	},
	build:    buildOptInService,
	live:     liveOptInService,
	minMajor: optInMinMajor,
})

func buildOptInService(u redirUnit) []*instance {
	c := u.consent
	canModify := "0"
	if c.CanModify() {
		canModify = "1"
	}
	return []*instance{newInstance().
		set("CanModifyOptInPolicy", canModify).
		set("CreationClassName", "IPS_OptInService").
		set("ElementName", optInName).
		set("Name", optInName).
		set("OptInCodeTimeout", c.CodeTimeout()).
		set("OptInDisplayTimeout", c.DisplayTimeout()).
		set("OptInRequired", strconv.FormatInt(c.Required(), 10)).
		set("OptInState", strconv.Itoa(c.State())).
		set("SystemCreationClassName", "CIM_ComputerSystem").
		set("SystemName", "Intel(r) AMT")}
}

// liveOptInService brings the instance up to date with the unit. The
// request has settled the unit's timers (Device.execute).
func liveOptInService(u redirUnit) {
	if in := u.store.single("IPS_OptInService"); in != nil {
		c := u.consent
		in.set("OptInDisplayTimeout", c.DisplayTimeout())
		in.set("OptInRequired", strconv.FormatInt(c.Required(), 10))
		in.set("OptInState", strconv.Itoa(c.State()))
	}
}

// methodStartOptIn shows a code on the host's screen (redirsvc
// Consent.Start).
func methodStartOptIn(u redirUnit, _ *instance, _ *soap.Node) ([]outParam, *soap.Fault) {
	return returnValue(u.consent.Start(time.Now())), nil
}

// methodSendOptInCode checks the code (redirsvc Consent.Send); a missing
// or non-numeric OptInCode is PT_STATUS 36.
func methodSendOptInCode(u redirUnit, _ *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	var code uint64
	valid := false
	if v := input.Child(uriOptInService, "OptInCode"); v != nil {
		var err error
		code, err = strconv.ParseUint(v.Value(), 10, 32)
		valid = err == nil
	}
	return returnValue(u.consent.Send(time.Now(), code, valid)), nil
}

// methodCancelOptIn drops the code or the consent (redirsvc
// Consent.Cancel) and ends the IDE-R and SOL sessions the consent was
// given for.
func methodCancelOptIn(u redirUnit, _ *instance, _ *soap.Node) ([]outParam, *soap.Fault) {
	rv, endSessions := u.consent.Cancel(time.Now())
	if endSessions {
		u.port.TerminateIDER()
		u.port.TerminateSOL()
	}
	return returnValue(rv), nil
}

// putOptInService accepts OptInRequired (0, 1 or 4294967295) and
// OptInDisplayTimeout; other properties may be echoed unchanged. A device
// that cannot modify the policy (CanModifyOptInPolicy 0: client control
// mode, which always requires consent for everything) refuses a change of
// OptInRequired with AMT-STATUS 16 (NOT_PERMITTED); an invalid value is
// AMT-STATUS 36. Nothing changes unless the whole body is accepted.
func putOptInService(u redirUnit, inst *instance, body *soap.Node) *soap.Fault {
	if !body.Is(uriOptInService, "IPS_OptInService") {
		return soap.FaultSchemaValidation()
	}
	next := inst.clone()
	seen := map[string]bool{}
	required, display := u.consent.Required(), u.consent.DisplayTimeout()
	for _, ch := range body.Children {
		if ch.Space != uriOptInService || seen[ch.Local] {
			return soap.FaultSchemaValidation()
		}
		seen[ch.Local] = true
		v := ch.Value()
		switch ch.Local {
		case "OptInRequired":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return soap.FaultSchemaValidation()
			}
			if cur, _ := inst.get("OptInRequired"); cur != v && !u.consent.CanModify() {
				return soap.FaultInternalError(ptNotPermitted)
			}
			if !redirsvc.ValidRequired(n) {
				return soap.FaultInternalError(ptInvalidParameter)
			}
			next.set("OptInRequired", strconv.FormatInt(n, 10))
			required = n
		case "OptInDisplayTimeout":
			if !typeUint.valid(v) {
				return soap.FaultSchemaValidation()
			}
			next.set("OptInDisplayTimeout", v)
			display = v
		default:
			cur, ok := inst.props[ch.Local]
			if !ok || cur.epr != nil || !slices.Equal(cur.values, []string{v}) {
				return soap.FaultInvalidRepresentation()
			}
		}
	}
	inst.props = next.props
	u.consent.SetRequired(required)
	u.consent.SetDisplayTimeout(display)
	return nil
}

// OptInCode returns the user consent code the host's screen shows, or ""
// when none is displayed.
func (d *Device) OptInCode() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.consent.Code(time.Now())
}

// OptInState returns IPS_OptInService.OptInState: 0 not started, 2 code
// displayed, 3 consent received, 4 consent in use by a session.
func (d *Device) OptInState() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.consent.Settle(time.Now())
	return d.consent.State()
}

// OptInRequired returns IPS_OptInService.OptInRequired: 0 none, 1 KVM
// only, 4294967295 everything (always in client control mode); 0 on
// firmware without the service.
func (d *Device) OptInRequired() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.consent.Required()
}
