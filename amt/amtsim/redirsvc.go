package amtsim

import (
	"log/slog"
	"strconv"

	"github.com/amtkit/amtkit/amt/amtsim/internal/redirport"
	"github.com/amtkit/amtkit/amt/amtsim/internal/redirsvc"
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
)

// AMT_RedirectionService: the switches of the redirection port, held by
// the redirection service unit (internal/redirsvc). Its EnabledState is
// 32768 plus bit 0 for IDE-R and bit 1 for SOL; the port serves a session
// only while ListenerEnabled is true and the session's feature bit is
// set. The class's instance is a view of the unit, refreshed before every
// request; Puts and methods change the unit.

const (
	uriRedirectionService = soap.PrefixAMT + "AMT_RedirectionService"
	redirServiceName      = "Intel(r) AMT Redirection Service"

	redirStateBase   = redirsvc.StateBase // IDE-R and SOL disabled
	redirFeatureIDER = redirsvc.FeatureIDER
	redirFeatureSOL  = redirsvc.FeatureSOL
	redirStateAll    = redirsvc.StateAll // 32771

	sessionTypeIDER = 0 // TerminateSession SessionType
	sessionTypeSOL  = 1
)

// redirUnit is the redirection service and consent family's unit as its
// classes see it: the service and consent state (internal/redirsvc), the
// redirection port whose sessions TerminateSession and a cancelled
// consent end (internal/redirport), and the instance store their views
// live in. Its classes are called with the device lock held.
type redirUnit struct {
	svc     *redirsvc.Service
	consent *redirsvc.Consent
	port    *redirport.Port
	store   *instanceStore
	log     *slog.Logger
	ip      string
}

var redirection = family[redirUnit]{unit: func(d *Device) redirUnit {
	return redirUnit{svc: d.redirSvc, consent: d.consent, port: d.redir, store: &d.store, log: d.srv.log, ip: d.ip}
}}

var classRedirectionService = redirection.class(&unitClass[redirUnit]{
	name:      "AMT_RedirectionService",
	uri:       uriRedirectionService,
	commonNS:  true,
	singleton: true,
	keys:      []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
	writable:  redirWritable,
	put:       putRedirectionService,
	methods: map[string]func(redirUnit, *instance, *soap.Node) ([]outParam, *soap.Fault){
		"RequestStateChange": methodRedirRequestStateChange,
		"TerminateSession":   methodTerminateSession,
	},
	build: buildRedirectionService,
	live:  liveRedirectionService,
})

var redirWritable = map[string]propType{"ListenerEnabled": typeBool, "EnabledState": typeUint}

// putRedirectionService applies a Put: ListenerEnabled and EnabledState
// (32768 to 32771, as RequestStateChange accepts; the amtc captures Put
// 32770) may change; other properties may be echoed unchanged.
func putRedirectionService(u redirUnit, inst *instance, body *soap.Node) *soap.Fault {
	if v := body.Child(uriRedirectionService, "EnabledState"); v != nil {
		st, err := strconv.Atoi(v.Value())
		if err != nil || !redirsvc.ValidState(st) {
			return soap.FaultInternalError(ptInvalidParameter)
		}
	}
	if f := applyPut(&classDef{name: "AMT_RedirectionService", uri: uriRedirectionService, writable: redirWritable}, inst, body); f != nil {
		return f
	}
	u.svc.SetEnabledState(inst.number("EnabledState"))
	u.svc.SetListener(inst.flag("ListenerEnabled"))
	return nil
}

func buildRedirectionService(u redirUnit) []*instance {
	return []*instance{newInstance().
		set("CreationClassName", "AMT_RedirectionService").
		set("ElementName", redirServiceName).
		set("EnabledState", strconv.Itoa(u.svc.EnabledState())).
		set("ListenerEnabled", boolString(u.svc.Listener())).
		set("Name", redirServiceName).
		set("SystemCreationClassName", "CIM_ComputerSystem").
		set("SystemName", "Intel(r) AMT")}
}

// liveRedirectionService brings the instance up to date with the unit. A
// value that already says the unit's (as a Put wrote it) is kept.
func liveRedirectionService(u redirUnit) {
	if in := u.store.single("AMT_RedirectionService"); in != nil {
		if st := u.svc.EnabledState(); in.number("EnabledState") != st {
			in.set("EnabledState", strconv.Itoa(st))
		}
		if on := u.svc.Listener(); in.flag("ListenerEnabled") != on {
			in.set("ListenerEnabled", boolString(on))
		}
	}
}

// methodRedirRequestStateChange sets EnabledState: only 32768..32771 are
// valid (0); anything else, or no RequestedState, is an Invalid Parameter
// (5), the DMTF code of CIM_EnabledLogicalElement.RequestStateChange.
// Sessions already open are not ended by disabling their feature.
func methodRedirRequestStateChange(u redirUnit, inst *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	st, ok := uintParam(input, uriRedirectionService, "RequestedState")
	if !ok || !u.svc.SetEnabledState(st) {
		return returnValue(rvInvalidParameter), nil
	}
	inst.set("EnabledState", strconv.Itoa(st))
	u.log.Info("amtsim redirection service", "device", u.ip, "enabled_state", st,
		"ider", st&redirFeatureIDER != 0, "sol", st&redirFeatureSOL != 0)
	return returnValue(rvOK), nil
}

// methodTerminateSession ends the open IDE-R (SessionType 0) or SOL (1)
// session by resetting its connection and returns 0, also when no such
// session is open; another or no SessionType returns PT_STATUS 36
// (INVALID_PARAMETER).
func methodTerminateSession(u redirUnit, _ *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	typ, ok := uintParam(input, uriRedirectionService, "SessionType")
	switch {
	case !ok:
		return returnValue(ptInvalidParameter), nil
	case typ == sessionTypeIDER:
		u.port.TerminateIDER()
	case typ == sessionTypeSOL:
		u.port.TerminateSOL()
	default:
		return returnValue(ptInvalidParameter), nil
	}
	return returnValue(rvOK), nil
}

// RedirectionState returns AMT_RedirectionService.EnabledState: 32768 plus
// 1 when IDE-R is enabled and 2 when SOL is.
func (d *Device) RedirectionState() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.redirSvc.EnabledState()
}

// ListenerEnabled returns AMT_RedirectionService.ListenerEnabled.
func (d *Device) ListenerEnabled() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.redirSvc.Listener()
}
