package amtsim

import (
	"strconv"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
)

// The KVM classes, served from their captures and bound to the
// redirection family (redirUnit), whose service (internal/redirsvc) holds
// the access point's state: CIM_KVMRedirectionSAP.RequestStateChange 2
// enables the access point (EnabledState 6, enabled with no session, as
// captured), 3 disables it; other values answer 5 Invalid Parameter
// [modelled]. The redirection port (internal/redirport) shows a KVM
// session on it (EnabledState 2) while one lasts and refuses sessions
// while it is disabled. IPS_KVMRedirectionSettingData takes Puts of the
// properties consoles write [modelled].
//
// KVM sessions themselves (protocol.md §3.7) are the port's: the console
// starts a "KVMR" session, authenticates as for SOL and IDE-R, sends 40 00
// 00 00 00 00 00 00 and gets 0x41, after which the stream is RFB; the
// simulator sends the RFB ProtocolVersion greeting and then reads and
// drops what the console sends until it closes [modelled: no capture
// shows 0x41's layout, taken as eight bytes like the request, nor the
// firmware's RFB].

var kvmRedirectionSAP = &unitClass[redirUnit]{
	methods: map[string]func(redirUnit, *instance, *soap.Node) ([]outParam, *soap.Fault){
		"RequestStateChange": func(u redirUnit, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			v, ok := u32Param(in, capturedURI("CIM_KVMRedirectionSAP"), "RequestedState")
			return returnValue(u.svc.KVMRequestStateChange(v, ok)), nil
		},
	},
	live: func(u redirUnit) {
		enabled, requested := u.svc.KVMState()
		for _, in := range u.store.of("CIM_KVMRedirectionSAP") {
			in.set("EnabledState", strconv.Itoa(enabled))
			in.set("RequestedState", strconv.Itoa(requested))
		}
	},
}

var kvmRedirectionSettingData = &unitClass[redirUnit]{writable: map[string]propType{
	"Is5900PortEnabled":  typeBool,
	"OptInPolicy":        typeBool,
	"OptInPolicyTimeout": typeUint,
	"SessionTimeout":     typeUint,
	"RFBPassword":        typeString,
	"DefaultScreen":      typeUint,
}}
