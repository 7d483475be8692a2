package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"strconv"
)

// capturedState is the state of the KVM access point
// (CIM_KVMRedirectionSAP, kvmsap.go), which the KVM session (kvm.go)
// shares. Guarded by Device.mu.
type capturedState struct {
	kvmEnabled int // CIM_KVMRedirectionSAP EnabledState
	kvmReq     int // CIM_KVMRedirectionSAP RequestedState
	started    bool
}

// ext returns the KVM access point's state, initialising it on first use.
// Call with d.mu held.
func (d *Device) ext() *capturedState {
	s := &d.captured
	if !s.started {
		s.started = true
		// CIM_KVMRedirectionSAP/GetResponse__gwm__1: enabled, no session.
		s.kvmEnabled, s.kvmReq = 6, 2
	}
	return s
}

func paramText(input *soap.Node, ns, name string) (string, bool) {
	v := input.Child(ns, name)
	if v == nil {
		return "", false
	}
	return v.Value(), true
}

func u32Param(input *soap.Node, ns, name string) (uint64, bool) {
	v, ok := paramText(input, ns, name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	return n, err == nil
}
