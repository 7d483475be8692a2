// Package wsman is a WS-Management client for one endpoint, speaking the
// protocol the way Intel AMT implements it: SOAP 1.2 envelopes over HTTP
// POST to /wsman, HTTP digest authentication, and the DMTF and Intel CIM
// classes addressed by resource URI. It knows nothing of AMT's classes
// beyond their wire form; package amt builds on it.
//
// # Operations
//
// Identify (sent without credentials), Get, Put, Create, Delete, Enumerate
// with Pull paging (an iterator; breaking out of the loop releases the
// enumeration on the device) and Invoke of methods with plain and endpoint
// reference parameters. Instances are decoded into Instance values that
// keep every property in document order, so a Put of an instance read with
// Get preserves properties this package does not know.
//
// Envelopes are built with etree and decoded by namespace URI and local
// name: AMT writes generated prefixes (a:, b:, c:, ...).
//
// # Transport
//
// Digest authentication keeps the device's nonce and counts up the nonce
// count, so that after the first exchange each operation is one round
// trip; a stale nonce is renewed transparently. Firmware may also drop a
// nonce at any time and refuse the next request with stale="false": a 401
// to a request that reused a nonce (nonce count above 1) is tried once more
// on the fresh challenge. Only a 401 to a request on a fresh nonce is a
// rejection of the credentials: it is never retried, and the client then
// refuses to send further authenticated requests, since repeated failed
// logins lock AMT accounts. With WithMaxConcurrency above 1, requests in
// flight together each use a nonce of their own, so the counts of each
// nonce reach the device strictly in increasing order.
//
// Identify, Get and Enumerate are retried after a refused or reset
// connection or an HTTP 503. Put is retried only while it cannot have
// reached the device. Invoke, Create, Delete, Pull and Release are never
// retried. Once a request that changes the device (Invoke, Create, Delete,
// Put) was written, any failure to read its answer (the deadline, a
// cancellation, a reset, an early end, a malformed or oversized answer)
// matches ErrOutcomeUnknown and, through OutcomeUnknownError, the cause.
//
// The timeout of WithTimeout counts from when a request may be sent: time
// spent waiting for a slot of WithMaxConcurrency counts only against the
// caller's context.
//
// TLS verifies the certificate chain by default; TLSConfig adds private
// roots, SHA-256 pinning, client certificates and an explicit legacy profile
// for old firmware.
//
// # Errors
//
// SOAP faults are *Fault values that match sentinels such as
// ErrAccessDenied with errors.Is. A method whose ReturnValue is not zero
// gives a *ReturnValueError naming the PT_STATUS or DMTF code. Unexpected
// HTTP statuses are *HTTPError; undecodable responses match
// ErrMalformedResponse; responses over the size limit ErrResponseTooLarge.
//
// # Concurrency
//
// A Client is safe for concurrent use. By default it sends one request at
// a time, as AMT's embedded web server expects; see WithMaxConcurrency.
package wsman
