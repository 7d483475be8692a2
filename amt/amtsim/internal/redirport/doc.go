// Package redirport is the redirection port of a simulated device (TCP
// 16994, TLS 16995): the listeners and their connection limits, the
// session manager (StartRedirectionSession, the session slots, consent
// and the service's switches, AuthenticateSession), the IDE-R session
// loop with its keep-alives and the boots the simulated BIOS runs over
// it, and the SOL and KVM sessions. The messages, the BIOS and the SOL and
// KVM protocols are internal/redir's; whether a session may start is
// internal/redirsvc's (the service and consent).
//
// A Server accepts on the listeners and hands each connection to the Port
// of its device; a Port holds the device's session slots, open sessions
// and IDE-R boots. It reaches the rest of the device only through the
// Device interface (the digest accounts check and challenge, injected
// faults, the SOL banner and the boot records of the host) and the
// redirsvc Service and Consent it is given.
//
// # Locking
//
// A Port has no lock of its own: its state is guarded by the device lock
// (Config.Lock), like the Service and Consent it consults and the rest of
// the device. The rule:
//
//   - the methods of Port other than Serve (called by Server) are called
//     with the device lock held; each checks it (redirsvc.MustHold panics
//     when the lock is free);
//   - the port's own goroutines (one per connection, one per open IDE-R
//     session) take the device lock themselves around every use of the
//     port's state, and call the Device interface, the Service and the
//     Consent only with it held;
//   - the methods of Device are called with the device lock held and must
//     not take it;
//   - a connection's write lock is taken before the device lock, never
//     while holding it: nothing done under the device lock writes to a
//     connection (ending a session resets or closes it without writing).
package redirport
