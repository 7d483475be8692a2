package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"fmt"
	"net"
	"slices"
	"strconv"
	"time"
)

// IPS_OptInService: user consent. When OptInRequired is "all", a console
// asks the device to show a six-digit code on the host's screen
// (StartOptIn), the user reads it to the operator, and the console sends it
// back (SendOptInCode). Until then the redirection port refuses IDE-R and
// SOL sessions and AMT_BootSettingData refuses the redirection and BIOS
// options.

const (
	uriOptInService = soap.PrefixIPS + "IPS_OptInService"
	optInName       = "Intel(r) AMT OptIn Service"
	optInMinMajor   = 6 // first firmware with user consent

	optInNone     = 0          // OptInRequired: no consent needed
	optInKVM      = 1          // for KVM only
	optInAll      = 4294967295 // for KVM, IDE-R, SOL and boot options
	provModeCCM   = 4
	optInAttempts = 3 // wrong codes before the code is dropped [assumption]

	// OptInState values.
	optInNotStarted = 0
	optInRequested  = 1
	optInDisplayed  = 2
	optInReceived   = 3
	optInInSession  = 4

	defaultOptInCodeTimeout    = 120 // seconds, as the captures show
	defaultOptInDisplayTimeout = 300

	ptNotReady           = 2    // PT_STATUS NOT_READY: nothing to send or cancel
	ptNotPermitted       = 16   // PT_STATUS NOT_PERMITTED
	ptUnsupported        = 2066 // PT_STATUS UNSUPPORTED: wrong consent code [assumption]
	ptUserConsentMissing = 2081 // PT_STATUS USER_CONSENT_REQUIRED
)

// optInModel is the consent state of a device. Guarded by Device.mu.
type optInModel struct {
	state    int
	code     string // the code on the host's screen, "" when none
	codes    uint64 // codes generated so far
	wrong    int    // wrong codes sent for the current one
	deadline time.Time
}

// consentOptions are the AMT_BootSettingData options that need consent.
var consentOptions = []string{"UseIDER", "UseSOL", "BIOSSetup", "BIOSPause", "ReflashBIOS"}

var classOptInService = &classDef{
	name:      "IPS_OptInService",
	uri:       uriOptInService,
	commonNS:  true,
	singleton: true,
	keys:      []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
	put:       putOptInService,
	methods: map[string]methodFunc{
		"StartOptIn":    methodStartOptIn,
		"SendOptInCode": methodSendOptInCode,
		"CancelOptIn":   methodCancelOptIn,
	},
	build:    buildOptInService,
	minMajor: optInMinMajor,
}

func buildOptInService(d *Device) []*instance {
	canModify := "1"
	if d.prof.provMode == provModeCCM {
		canModify = "0"
	}
	return []*instance{newInstance().
		set("CanModifyOptInPolicy", canModify).
		set("CreationClassName", "IPS_OptInService").
		set("ElementName", optInName).
		set("Name", optInName).
		set("OptInCodeTimeout", strconv.Itoa(defaultOptInCodeTimeout)).
		set("OptInDisplayTimeout", strconv.Itoa(defaultOptInDisplayTimeout)).
		set("OptInRequired", strconv.FormatInt(d.prof.optInRequired, 10)).
		set("OptInState", strconv.Itoa(d.optIn.state)).
		set("SystemCreationClassName", "CIM_ComputerSystem").
		set("SystemName", "Intel(r) AMT")}
}

// optInInstanceLocked returns the IPS_OptInService instance, nil on
// firmware without it. Call with d.mu held.
func (d *Device) optInInstanceLocked() *instance { return d.singleInstance("IPS_OptInService") }

// optInRequiredLocked returns OptInRequired (0 without the service).
func (d *Device) optInRequiredLocked() int64 {
	in := d.optInInstanceLocked()
	if in == nil {
		return optInNone
	}
	v, _ := in.get("OptInRequired")
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func (d *Device) setOptInStateLocked(state int) {
	d.optIn.state = state
	if in := d.optInInstanceLocked(); in != nil {
		in.set("OptInState", strconv.Itoa(state))
	}
}

// resetOptInLocked drops the code and any consent.
func (d *Device) resetOptInLocked(why string) {
	if d.optIn.state == optInNotStarted {
		return
	}
	d.optIn.code, d.optIn.wrong, d.optIn.deadline = "", 0, time.Time{}
	d.setOptInStateLocked(optInNotStarted)
	d.srv.log.Info("amtsim user consent", "device", d.ip, "state", optInNotStarted, "reason", why)
}

// timeoutLocked reads a timeout property of the instance in seconds.
func (d *Device) optInTimeoutLocked(name string, def int) time.Duration {
	sec := def
	if in := d.optInInstanceLocked(); in != nil {
		if v, ok := in.get(name); ok {
			if n, err := strconv.Atoi(v); err == nil {
				sec = n
			}
		}
	}
	return time.Duration(sec) * time.Second
}

// settleOptInLocked lets a displayed code expire after OptInDisplayTimeout
// and a received consent not yet used by a session after
// OptInCodeTimeout. Call with d.mu held.
func (d *Device) settleOptInLocked(now time.Time) {
	switch d.optIn.state {
	case optInDisplayed, optInReceived:
		if !d.optIn.deadline.IsZero() && !now.Before(d.optIn.deadline) {
			d.resetOptInLocked("timeout")
		}
	}
}

// consentMissingLocked reports whether redirection and the boot options
// need consent that has not been given. Call with d.mu held.
func (d *Device) consentMissingLocked(now time.Time) bool {
	if d.optInRequiredLocked() != optInAll {
		return false
	}
	d.settleOptInLocked(now)
	return d.optIn.state != optInReceived && d.optIn.state != optInInSession
}

// nextOptInCode derives the next code from the seed and the device
// address, so that runs are reproducible.
func (d *Device) nextOptInCode() string {
	d.optIn.codes++
	k := seededKey(d.srv.opts.Seed, keyOptIn, ipUint32(net.ParseIP(d.ip)))
	return fmt.Sprintf("%06d", mix64(k+d.optIn.codes)%1000000)
}

// methodStartOptIn shows a new code on the host's screen (OptInState 2,
// displayed) and returns 0. While a code is displayed it shows the same
// code again; once consent is received or in use nothing changes. Both
// return 0.
func methodStartOptIn(d *Device, _ *instance, _ *soap.Node) ([]outParam, *soap.Fault) {
	now := time.Now()
	d.settleOptInLocked(now)
	switch d.optIn.state {
	case optInNotStarted, optInRequested:
		d.optIn.code = d.nextOptInCode()
		d.optIn.wrong = 0
		d.optIn.deadline = now.Add(d.optInTimeoutLocked("OptInDisplayTimeout", defaultOptInDisplayTimeout))
		d.setOptInStateLocked(optInDisplayed)
		// What the machine's screen shows.
		d.srv.log.Info("amtsim user consent code", "device", d.ip, "code", d.optIn.code)
	}
	return returnValue(rvOK), nil
}

// methodSendOptInCode checks the code: right, consent is received (state
// 3) and 0 is returned; wrong, PT_STATUS 2066, and after three wrong codes
// the code is dropped (state 0). Without a displayed code it returns
// PT_STATUS 2 (NOT_READY, as firmware answers a code sent out of turn); a
// missing or non-numeric OptInCode PT_STATUS 36.
func methodSendOptInCode(d *Device, _ *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	now := time.Now()
	d.settleOptInLocked(now)
	v := input.Child(uriOptInService, "OptInCode")
	if v == nil {
		return returnValue(ptInvalidParameter), nil
	}
	code, err := strconv.ParseUint(v.Value(), 10, 32)
	if err != nil {
		return returnValue(ptInvalidParameter), nil
	}
	if d.optIn.state != optInDisplayed {
		return returnValue(ptNotReady), nil
	}
	want, _ := strconv.ParseUint(d.optIn.code, 10, 32)
	if code != want {
		d.optIn.wrong++
		d.srv.log.Info("amtsim user consent: wrong code", "device", d.ip, "attempt", d.optIn.wrong)
		if d.optIn.wrong >= optInAttempts {
			d.resetOptInLocked("too many wrong codes")
		}
		return returnValue(ptUnsupported), nil
	}
	d.optIn.code, d.optIn.wrong = "", 0
	d.optIn.deadline = now.Add(d.optInTimeoutLocked("OptInCodeTimeout", defaultOptInCodeTimeout))
	d.setOptInStateLocked(optInReceived)
	d.srv.log.Info("amtsim user consent", "device", d.ip, "state", optInReceived)
	return returnValue(rvOK), nil
}

// methodCancelOptIn drops the code or the consent (state 0) and ends the
// IDE-R and SOL sessions the consent was given for; with nothing started
// it returns PT_STATUS 2 (NOT_READY), as the capture shows.
func methodCancelOptIn(d *Device, _ *instance, _ *soap.Node) ([]outParam, *soap.Fault) {
	d.settleOptInLocked(time.Now())
	if d.optIn.state == optInNotStarted {
		return returnValue(ptNotReady), nil
	}
	inSession := d.optIn.state == optInInSession
	d.resetOptInLocked("cancelled")
	if inSession && d.optInRequiredLocked() == optInAll {
		if s := d.ider; s != nil {
			s.rc.abortLocked()
		}
		if rc := d.sol; rc != nil {
			rc.abortLocked()
		}
	}
	return returnValue(rvOK), nil
}

// putOptInService accepts OptInRequired (0, 1 or 4294967295) and
// OptInDisplayTimeout; other properties may be echoed unchanged. A device
// that cannot modify the policy (CanModifyOptInPolicy 0: client control
// mode, which always requires consent for everything) refuses a change of
// OptInRequired with AMT-STATUS 16 (NOT_PERMITTED); an invalid value is
// AMT-STATUS 36.
func putOptInService(d *Device, inst *instance, body *soap.Node) *soap.Fault {
	if !body.Is(uriOptInService, "IPS_OptInService") {
		return soap.FaultSchemaValidation()
	}
	next := inst.clone()
	seen := map[string]bool{}
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
			if cur, _ := inst.get("OptInRequired"); cur != v && inst.number("CanModifyOptInPolicy") == 0 {
				return soap.FaultInternalError(ptNotPermitted)
			}
			if n != optInNone && n != optInKVM && n != optInAll {
				return soap.FaultInternalError(ptInvalidParameter)
			}
			next.set("OptInRequired", strconv.FormatInt(n, 10))
		case "OptInDisplayTimeout":
			if !typeUint.valid(v) {
				return soap.FaultSchemaValidation()
			}
			next.set("OptInDisplayTimeout", v)
		default:
			cur, ok := inst.props[ch.Local]
			if !ok || cur.epr != nil || !slices.Equal(cur.values, []string{v}) {
				return soap.FaultInvalidRepresentation()
			}
		}
	}
	inst.props = next.props
	return nil
}

// OptInCode returns the user consent code the host's screen shows, or ""
// when none is displayed.
func (d *Device) OptInCode() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.settleOptInLocked(time.Now())
	if d.optIn.state != optInDisplayed {
		return ""
	}
	return d.optIn.code
}

// OptInState returns IPS_OptInService.OptInState: 0 not started, 2 code
// displayed, 3 consent received, 4 consent in use by a session.
func (d *Device) OptInState() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.settleOptInLocked(time.Now())
	return d.optIn.state
}

// OptInRequired returns IPS_OptInService.OptInRequired: 0 none, 1 KVM
// only, 4294967295 everything (always in client control mode); 0 on
// firmware without the service.
func (d *Device) OptInRequired() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.optInRequiredLocked()
}
