// Package redirsvc is the redirection service and user consent family of
// a simulated device: the state behind AMT_RedirectionService (which
// redirection features are enabled, whether the listener is open),
// CIM_KVMRedirectionSAP (the KVM access point) and IPS_OptInService (user
// consent: the policy, the code on the host's screen, consent given and in
// use).
//
// A Service and a Consent hold typed state and the rules that change it;
// they know nothing of SOAP, instances or connections. amtsim's class
// table renders them as instances and calls their methods; the
// redirection port (internal/redirport) asks them whether a session may
// start and tells them when sessions start and end.
//
// # Locking
//
// Neither type has a lock of its own: each is part of its device's state
// and guarded by the device lock, the *sync.Mutex given in its Config.
// Every method must be called with that lock held; each checks it and
// panics when the lock is free (MustHold), so that a caller that forgot
// the lock fails at once in tests. Neither calls out of the package, so
// no method can take the lock again.
package redirsvc

import "sync"

// MustHold panics unless mu is locked. It cannot tell which goroutine
// holds the lock: it catches a caller that holds none.
func MustHold(mu *sync.Mutex) {
	if mu.TryLock() {
		mu.Unlock()
		panic("amtsim: redirection state used without the device lock")
	}
}
