// Package redirect speaks Intel AMT's redirection protocol on TCP 16994
// (TLS 16995): it serves a CD or floppy image to a machine over IDE-R
// (storage redirection, presented as USB storage on AMT 11 and later) and
// attaches to its serial console over serial-over-LAN (SOL). BootFromImage
// does the whole "boot this machine from an ISO once" sequence over
// WS-Management and the redirection port, and puts every setting back
// afterwards.
//
//	s, err := redirect.Dial(ctx, "192.0.2.10:16994", redirect.IDER, cred, redirect.Options{})
//	stats, err := redirect.ServeIDER(ctx, s, redirect.IDERMedia{CD: &redirect.Medium{Reader: f, Size: size}},
//		redirect.IDEROptions{Start: redirect.StartNow, IdleTimeout: 30 * time.Second})
//
// # Sessions
//
// Dial connects, sends StartRedirectionSession with the kind's tag ("IDER"
// or "SOL ") and logs in with HTTP digest (type 4, or type 3 when the
// device does not offer 4). A session then serves one purpose: ServeIDER
// for an IDER session, OpenSOL for a SOL session; each takes ownership of
// the session and closes it.
//
// # IDE-R
//
// ServeIDER emulates an ATAPI CD-ROM (2048-byte blocks) and a floppy
// (512-byte blocks) from io.ReaderAt images. The images are read-only:
// writes are refused as write-protected. Reads are split into messages of
// the device's maximum read buffer and written in batches from a pooled
// buffer, so memory stays flat whatever the image size; throughput is
// bounded by the device, not by this package.
//
// # Errors
//
// A refused session is a *RefusedError (ErrRefused); rejected credentials
// an *AuthError (ErrAuthFailed), never retried because AMT locks accounts
// after repeated failures, counting WS-Management and redirection logins
// together; a protocol violation by the device a *ProtocolError
// (ErrProtocol), with what was expected and what came; a connection the
// device closed a *PeerClosedError (ErrPeerClosed). Every blocking read
// ends when the context does, and the context's error is returned.
// Lengths sent by the device are bounded before anything is allocated.
//
// # Concurrency
//
// A Session is used by one goroutine (Close excepted). A SOLConn may be
// read, written and closed from different goroutines. Package-level
// functions are safe for concurrent use on different sessions.
package redirect
