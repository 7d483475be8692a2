package amtsim

import (
	"errors"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/redir"
)

// KVM sessions on the redirection port. protocol.md §3.7: the console
// starts a "KVMR" session (StartRedirectionSession, b1 = 0x01), the port
// answers 0x11 with status 0, the console authenticates as for SOL and
// IDE-R, then sends 40 00 00 00 00 00 00 00 and waits for 0x41, after
// which the stream is RFB. CIM_KVMRedirectionSAP shows EnabledState 2
// (enabled, with a session) while the session lasts and 6 (enabled,
// offline) before and after (protocol.md §3.6).
//
// The simulator does not draw a screen: after the 0x41 it sends the RFB
// ProtocolVersion greeting a VNC server starts with and then reads and
// drops what the console sends until it closes [modelled: no capture
// shows 0x41's layout, taken as eight bytes like the request, nor the
// firmware's RFB; a console can check the session opens, authenticates
// and reaches RFB].
const (
	kvmEnabledOffline = 6 // CIM_KVMRedirectionSAP: enabled, no session
	kvmEnabledSession = 2 // enabled, a session open
	kvmDisabled       = 3
)

// takeKVMSlot takes the device's KVM slot for the connection. It refuses
// the session when the redirection listener or the KVM access point is
// disabled, when user consent is required for KVM (OptInRequired 1 or
// all) and not given, and when a KVM session is open. It returns the
// reply status of a refusal.
func (rc *redirConn) takeKVMSlot() (byte, error) {
	d := rc.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if svc := d.singleInstance("AMT_RedirectionService"); svc != nil && !svc.flag("ListenerEnabled") {
		return redir.StatusRefused, errors.New("redirection listener disabled")
	}
	if d.ext().kvmEnabled == kvmDisabled {
		return redir.StatusRefused, errors.New("KVM disabled in CIM_KVMRedirectionSAP")
	}
	if d.kvmConsentMissingLocked(time.Now()) {
		return redir.StatusConsent, errors.New("KVM: user consent required")
	}
	if d.kvm != nil {
		return redir.StatusBusy, errors.New("KVM session busy")
	}
	d.kvm = rc
	return redir.StatusOK, nil
}

// kvmConsentMissingLocked reports whether KVM needs consent that has not
// been given: OptInRequired 1 (KVM only) or all.
func (d *Device) kvmConsentMissingLocked(now time.Time) bool {
	if d.optInRequiredLocked() == optInNone {
		return false
	}
	d.settleOptInLocked(now)
	return d.optIn.state != optInReceived && d.optIn.state != optInInSession
}

// serveKVM runs an authenticated KVM session (redir.ServeKVM);
// CIM_KVMRedirectionSAP shows the session while it lasts.
func (rc *redirConn) serveKVM() error {
	d := rc.d
	return redir.ServeKVM(rc, func() {
		d.mu.Lock()
		if s := d.ext(); s.kvmEnabled == kvmEnabledOffline {
			s.kvmEnabled = kvmEnabledSession
		}
		d.mu.Unlock()
	})
}

// releaseKVMLocked gives back the KVM slot. Call with d.mu held.
func (rc *redirConn) releaseKVMLocked() {
	d := rc.d
	if d.kvm != rc {
		return
	}
	d.kvm = nil
	if s := d.ext(); s.kvmEnabled == kvmEnabledSession {
		s.kvmEnabled = kvmEnabledOffline
	}
	d.sessionEndedLocked()
	close(d.slotFreed)
	d.slotFreed = make(chan struct{})
}

// KVMSessionOpen reports whether a KVM session holds the device's KVM
// slot.
func (d *Device) KVMSessionOpen() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.kvm != nil
}
