// Package wire is amtsim's HTTP layer: it serves HTTP/1.1 on the WS-Man
// ports the way the firmware's web server does and frames the answers as
// the captures of the recordings' _http directory show them per firmware
// version: the fields in the firmware's order, SOAP bodies chunked from
// one buffer with the header (four upper-case hex digits per size, cut
// wherever the buffer ends), the HTML pages and the 401 challenge.
//
// It knows nothing of devices, SOAP or digest state: a Server calls its
// Handler with each Request (method, target, Authorization, body, the
// connection and what the Accept hook attached to it) and writes the
// Response it returns; Firmware builds the responses of one firmware
// version. It depends on the standard library only.
package wire
