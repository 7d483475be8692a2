// Package wire is amtsim's HTTP layer: it serves HTTP/1.1 on the WS-Man
// ports the way the firmware's web server does and frames the answers as
// the captures of the recordings' _http directory show them per firmware
// version: the fields in the firmware's order, SOAP bodies chunked from
// one buffer with the header (four upper-case hex digits per size, cut
// wherever the buffer ends), the HTML pages and the 401 challenge.
//
// It knows nothing of devices, SOAP or digest state: a Server calls its
// Handler with each Request (method, target, Authorization, body, the
// connection and what ServeValue or the Accept hook attached to it) and
// writes the Response it returns; Firmware builds the responses of one
// firmware version. Connections are served by workers that, done with one,
// wait for the next (up to maxIdleWorkers of them), so that a connection
// does not start on a fresh goroutine's stack; a connection's Request and
// body buffer are reused for its next request. It depends on the standard
// library only.
package wire
