package amtsim

import (
	"errors"
	"io"
	"time"
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
	kvmStart      = 0x40
	kvmStartReply = 0x41
	kvmMsgLen     = 8
	rfbGreeting   = "RFB 003.008\n"

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
		return redirStatusRefused, errors.New("redirection listener disabled")
	}
	if d.ext().kvmEnabled == kvmDisabled {
		return redirStatusRefused, errors.New("KVM disabled in CIM_KVMRedirectionSAP")
	}
	if d.kvmConsentMissingLocked(time.Now()) {
		return redirStatusConsent, errors.New("KVM: user consent required")
	}
	if d.kvm != nil {
		return redirStatusBusy, errors.New("KVM session busy")
	}
	d.kvm = rc
	return redirStatusOK, nil
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

// serveKVM runs an authenticated KVM session.
func (rc *redirConn) serveKVM() error {
	var msg [kvmMsgLen]byte
	if err := rc.readFull(msg[:]); err != nil {
		return err
	}
	if msg[0] != kvmStart {
		return errors.New("KVM: expected 0x40")
	}
	d := rc.d
	d.mu.Lock()
	if s := d.ext(); s.kvmEnabled == kvmEnabledOffline {
		s.kvmEnabled = kvmEnabledSession
	}
	d.mu.Unlock()
	reply := [kvmMsgLen]byte{kvmStartReply}
	if err := rc.send(reply[:]); err != nil {
		return err
	}
	if err := rc.send([]byte(rfbGreeting)); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, rc.br)
	return err
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
