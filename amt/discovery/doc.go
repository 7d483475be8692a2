// Package discovery finds Intel AMT (vPro) machines on a network without
// credentials, and optionally inventories them with credentials: the
// "out-of-band discovery" a console runs before anything can be managed.
//
//	targets, err := discovery.ParseTargets("10.1.0.0/16", "10.2.0.10-50", "@more.txt")
//	for r, err := range discovery.Scan(ctx, targets, discovery.Options{}) {
//		if err != nil { ... } // the scan as a whole stopped
//		fmt.Println(r.Address, r.Classification, r.Version)
//	}
//
// # Stages
//
// Stage 1 sends two ASF RMCP presence pings per address from one UDP socket
// (port 623), paced by a token bucket at Options.Rate packets per second,
// and decodes the pongs (ParsePong): Intel's enterprise number 343 means
// AMT; the pong names the WS-Management port (16992 plain, 16993 TLS, 0 for
// AMT present but not set up), the firmware's major.minor and the
// provisioning state. A pong is matched to its address by its source
// address; the ping's tag byte carries a per-scan nonce and the attempt,
// so pongs to another scan are ignored, and a second pong of an address is
// counted as a duplicate. An address that answered is not pinged again.
//
// Stage 2 connects, without credentials, to the port the pong names or,
// for an address that did not answer (RMCP can be disabled), to the plain
// port and then the TLS port: an empty POST /wsman gives the 401 answer
// whose Server header names the full firmware version and whose
// WWW-Authenticate header names the digest realm; then WS-Man Identify
// (product version, DASH). Over TLS the certificate's SHA-256 fingerprint
// is recorded. The certificate is not verified: discovery is
// unauthenticated and sends nothing secret, so the fingerprint says what
// answered, not that it is genuine. Without a pong, a mostly-zero realm
// tells an unprovisioned device.
//
// Stage 3, with Options.Inventory and a credentials.Source, logs in to
// every provisioned device (amt.New with amt.WithCredentialSource) and
// reads the "OOB capability" record (Capability): firmware version, build
// and SKU (full AMT or Standard Manageability), provisioning state and
// mode, names and platform UUID, boot capabilities, redirection listener
// state, user-consent policy, System Defense limits and power state. Over
// TLS the certificate seen in stage 2 is pinned: trust on first use, which
// guards against a different machine answering between probe and login,
// not against one that was already in the path when the scan began; give
// amt.WithRootCAs or amt.WithPinnedCertificate in Options.ClientOptions
// together with Options.NoTOFU where that matters. A class the firmware
// does not serve leaves its part of the record unknown and is named in
// Capability.Unavailable; it never fails the record.
//
// Every result is classified: NoAMT, NotProvisioned, Provisioned,
// AuthFailed (stage 3) or Error (with Result.Err).
//
// # Targets
//
// ParseTargets reads IPv4 CIDRs, IPv4 ranges ("a.b.c.d-a.b.c.e",
// "a.b.c.d-e"), single IPv4 or IPv6 addresses, host names and "@file"
// lists. Expansion is lazy: a range is never materialised. Scan refuses
// more than Options.MaxAddresses (DefaultMaxAddresses, a /12) with
// ErrTooManyAddresses.
//
// # Resources
//
// Memory and sockets are bounded whatever the range: the addresses in
// flight in stage 1 by Rate × (RMCPRetry + RMCPWait), those in stages 2
// and 3 by Options.Concurrency, each holding at most one socket, plus the
// one UDP socket. Cancelling the context stops the scan promptly; results
// already yielded are complete, and no result is yielded after it.
//
// # Errors
//
// Per-address failures are in Result.Err and match the amt package's
// classes (amt.ErrAuthFailed, amt.ErrUnreachable, ...) with errors.Is.
// Scan itself yields an error only when the scan as a whole cannot go on:
// invalid options, ErrTooManyAddresses, no UDP socket, or the end of the
// context. ParsePong's errors match ErrMalformedPong.
//
// # Concurrency
//
// Scan may be called from several goroutines at once; each scan has its
// own sockets. Options.Progress is called from one goroutine at a time.
package discovery
