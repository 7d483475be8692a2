package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"strconv"
)

// The KVM classes served from their captures. Their state, the access
// point's EnabledState and RequestedState, is shared with the KVM session
// on the redirection port (kvm.go), so they are bound to the device
// (onDevice) until the KVM machinery has a unit of its own.

// kvmRedirectionSAP: RequestStateChange 2 enables the access point
// (EnabledState 6, enabled with no session, as captured), 3 disables it;
// other values answer 5 Invalid Parameter [modelled].
var kvmRedirectionSAP = &unitClass[*Device]{
	methods: map[string]func(*Device, *instance, *soap.Node) ([]outParam, *soap.Fault){
		"RequestStateChange": func(d *Device, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			v, ok := u32Param(in, capturedURI("CIM_KVMRedirectionSAP"), "RequestedState")
			s := d.ext()
			switch {
			case ok && v == 2:
				s.kvmEnabled, s.kvmReq = 6, 2
			case ok && v == 3:
				s.kvmEnabled, s.kvmReq = 3, 3
			default:
				return returnValue(5), nil
			}
			return returnValue(0), nil
		},
	},
	live: func(d *Device) {
		s := d.ext()
		for _, in := range d.instancesOf("CIM_KVMRedirectionSAP") {
			in.set("EnabledState", strconv.Itoa(s.kvmEnabled))
			in.set("RequestedState", strconv.Itoa(s.kvmReq))
		}
	},
}

// kvmRedirectionSettingData takes Puts of the properties consoles write
// [modelled].
var kvmRedirectionSettingData = &unitClass[*Device]{writable: map[string]propType{
	"Is5900PortEnabled":  typeBool,
	"OptInPolicy":        typeBool,
	"OptInPolicyTimeout": typeUint,
	"SessionTimeout":     typeUint,
	"RFBPassword":        typeString,
	"DefaultScreen":      typeUint,
}}
