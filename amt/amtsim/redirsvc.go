package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"errors"
	"strconv"
	"time"
)

// AMT_RedirectionService: the switches of the redirection port. Its
// EnabledState is 32768 plus bit 0 for IDE-R and bit 1 for SOL; the port
// serves a session only while ListenerEnabled is true and the session's
// feature bit is set.

const (
	uriRedirectionService = soap.PrefixAMT + "AMT_RedirectionService"
	redirServiceName      = "Intel(r) AMT Redirection Service"

	redirStateBase   = 32768 // IDE-R and SOL disabled
	redirFeatureIDER = 1
	redirFeatureSOL  = 2
	redirStateAll    = redirStateBase | redirFeatureIDER | redirFeatureSOL // 32771

	sessionTypeIDER = 0 // TerminateSession SessionType
	sessionTypeSOL  = 1
)

var classRedirectionService = &classDef{
	name:      "AMT_RedirectionService",
	uri:       uriRedirectionService,
	commonNS:  true,
	singleton: true,
	keys:      []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
	writable:  redirWritable,
	put:       putRedirectionService,
	methods: map[string]methodFunc{
		"RequestStateChange": methodRedirRequestStateChange,
		"TerminateSession":   methodTerminateSession,
	},
	build: buildRedirectionService,
}

var redirWritable = map[string]propType{"ListenerEnabled": typeBool, "EnabledState": typeUint}

// putRedirectionService applies a Put: ListenerEnabled and EnabledState
// (32768 to 32771, as RequestStateChange accepts; the amtc captures Put
// 32770) may change; other properties may be echoed unchanged.
func putRedirectionService(d *Device, inst *instance, body *soap.Node) *soap.Fault {
	if v := body.Child(uriRedirectionService, "EnabledState"); v != nil {
		st, err := strconv.Atoi(v.Value())
		if err != nil || st < redirStateBase || st > redirStateAll {
			return soap.FaultInternalError(ptInvalidParameter)
		}
	}
	return applyPut(&classDef{name: "AMT_RedirectionService", uri: uriRedirectionService, writable: redirWritable}, inst, body)
}

func buildRedirectionService(d *Device) []*instance {
	return []*instance{newInstance().
		set("CreationClassName", "AMT_RedirectionService").
		set("ElementName", redirServiceName).
		set("EnabledState", strconv.Itoa(d.prof.redirState)).
		set("ListenerEnabled", boolString(!d.prof.listenerOff)).
		set("Name", redirServiceName).
		set("SystemCreationClassName", "CIM_ComputerSystem").
		set("SystemName", "Intel(r) AMT")}
}

// methodRedirRequestStateChange sets EnabledState: only 32768..32771 are
// valid (0); anything else, or no RequestedState, is an Invalid Parameter
// (5), the DMTF code of CIM_EnabledLogicalElement.RequestStateChange.
// Sessions already open are not ended by disabling their feature.
func methodRedirRequestStateChange(d *Device, inst *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	st, ok := uintParam(input, uriRedirectionService, "RequestedState")
	if !ok || st < redirStateBase || st > redirStateAll {
		return returnValue(rvInvalidParameter), nil
	}
	inst.set("EnabledState", strconv.Itoa(st))
	d.srv.log.Info("amtsim redirection service", "device", d.ip, "enabled_state", st,
		"ider", st&redirFeatureIDER != 0, "sol", st&redirFeatureSOL != 0)
	return returnValue(rvOK), nil
}

// methodTerminateSession ends the open IDE-R (SessionType 0) or SOL (1)
// session by resetting its connection and returns 0, also when no such
// session is open; another or no SessionType returns PT_STATUS 36
// (INVALID_PARAMETER).
func methodTerminateSession(d *Device, _ *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	typ, ok := uintParam(input, uriRedirectionService, "SessionType")
	switch {
	case !ok:
		return returnValue(ptInvalidParameter), nil
	case typ == sessionTypeIDER:
		if s := d.ider; s != nil {
			s.rc.abortLocked()
		}
	case typ == sessionTypeSOL:
		if rc := d.sol; rc != nil {
			rc.abortLocked()
		}
	default:
		return returnValue(ptInvalidParameter), nil
	}
	return returnValue(rvOK), nil
}

// redirectionRefusalLocked says whether the redirection port must refuse a
// session of the feature (redirFeatureIDER or redirFeatureSOL): the
// listener or the feature disabled (status 01), or user consent required
// and not given (status 03). Call with d.mu held.
func (d *Device) redirectionRefusalLocked(feature int, name string) (byte, error) {
	if svc := d.singleInstance("AMT_RedirectionService"); svc != nil {
		if !svc.flag("ListenerEnabled") {
			return redirStatusRefused, errors.New("redirection listener disabled")
		}
		if st := svc.number("EnabledState"); st < redirStateBase || st > redirStateAll || (st-redirStateBase)&feature == 0 {
			return redirStatusRefused, errors.New(name + " disabled in AMT_RedirectionService")
		}
	}
	if d.consentMissingLocked(time.Now()) {
		return redirStatusConsent, errors.New(name + ": user consent required")
	}
	return redirStatusOK, nil
}

// sessionStartedLocked notes an authenticated redirection session: given
// consent is now in use. No AccessLog is kept: no Get or Pull capture
// shows one. Call with d.mu held.
func (d *Device) sessionStartedLocked(rc *redirConn) {
	if d.optIn.state == optInReceived {
		d.setOptInStateLocked(optInInSession)
	}
}

// sessionEndedLocked lets consent lapse once the last IDE-R or SOL session
// it was given for has ended. Call with d.mu held, after the slot is
// released.
func (d *Device) sessionEndedLocked() {
	if d.optIn.state == optInInSession && d.ider == nil && d.sol == nil && d.kvm == nil {
		d.resetOptInLocked("session ended")
	}
}

// RedirectionState returns AMT_RedirectionService.EnabledState: 32768 plus
// 1 when IDE-R is enabled and 2 when SOL is.
func (d *Device) RedirectionState() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if svc := d.singleInstance("AMT_RedirectionService"); svc != nil {
		return svc.number("EnabledState")
	}
	return 0
}

// ListenerEnabled returns AMT_RedirectionService.ListenerEnabled.
func (d *Device) ListenerEnabled() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if svc := d.singleInstance("AMT_RedirectionService"); svc != nil {
		return svc.flag("ListenerEnabled")
	}
	return false
}
