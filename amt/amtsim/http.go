package amtsim

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

const (
	contentTypeSOAP = "application/soap+xml; charset=UTF-8"
	wsmanPath       = "/wsman"
)

// HTML pages in the style of the firmware's built-in web server.
const (
	htmlHead = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" ><html lang="en"><head>` +
		`<meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>Intel&reg; Active Management Technology</title></head>` +
		`<body><h1>Intel<sup>&reg;</sup> Active Management Technology</h1><h2 class=warn>`
	htmlTail        = `</h2></body></html>`
	msgLogonFailed  = "Log on failed. Incorrect user name or password, or user account temporarily locked."
	msgBadRequest   = "Bad Request. The request could not be understood."
	msgTooLarge     = "Bad Request. The request is too large."
	msgNotFound     = "Not Found. The requested page does not exist."
	msgNotAllowed   = "Method Not Allowed."
	msgServiceError = "The service is temporarily unavailable."
)

func (d *Device) serverHeader() string {
	return "Intel(R) Active Management Technology " + d.prof.version
}

// ServeHTTP implements the device side of WS-Management over HTTP.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ci, _ := r.Context().Value(connKey{}).(*connInfo)
	if ci == nil || ci.dev == nil {
		http.Error(w, "no device", http.StatusMisdirectedRequest)
		return
	}
	d := ci.dev
	d.mu.Lock()
	d.stats.HTTPRequests++
	d.mu.Unlock()
	ci.requests++
	if n := d.prof.resetAfter; n >= 0 && ci.requests > n {
		resetConnection(w)
		s.log.Debug("request", "device", d.ip, "remote", r.RemoteAddr, "tls", ci.tls, "reset_after_requests", n)
		return
	}
	if lat := d.prof.delay(); lat > 0 {
		if err := s.sleep(r.Context(), lat); err != nil {
			if err == errShuttingDown {
				resetConnection(w)
			}
			return
		}
	}
	if d.prof.noAMT {
		writeNotAMT(w)
		return
	}
	w.Header()["Server"] = []string{d.serverHeader()}

	status, op := s.handle(w, r, d, ci.tls)
	s.log.Debug("request", "device", d.ip, "remote", r.RemoteAddr, "tls", ci.tls,
		"method", r.Method, "path", r.URL.Path, "action", op, "status", status,
		"duration", time.Since(start))
}

// handle answers one request and returns the status written (0 for a
// reset connection) and the operation name for the log.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, d *Device, isTLS bool) (int, string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodySize+1))
	if err != nil {
		return writeHTML(w, http.StatusBadRequest, msgBadRequest, true), ""
	}
	if len(body) > maxBodySize {
		return writeHTML(w, http.StatusBadRequest, msgTooLarge, true), ""
	}
	var req *request
	var parseErr error
	if len(body) == 0 {
		parseErr = errNoRoot
	} else {
		req, parseErr = decodeRequest(body)
	}
	isIdentify := parseErr == nil && req.identify && r.Method == http.MethodPost && r.URL.Path == wsmanPath

	var acct Account
	if !isIdentify {
		var res authResult
		acct, res = d.authenticate(r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"))
		if res != authOK {
			return s.writeChallenge(w, d, res == authStale), "auth"
		}
	}
	d.mu.Lock()
	d.stats.Authenticated++
	d.mu.Unlock()

	if r.URL.Path != wsmanPath {
		return writeHTML(w, http.StatusNotFound, msgNotFound, false), ""
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return writeHTML(w, http.StatusMethodNotAllowed, msgNotAllowed, false), ""
	}
	if parseErr != nil {
		return writeHTML(w, http.StatusBadRequest, msgBadRequest, true), ""
	}

	op := req.opName()
	exec := func() (int, []byte) {
		if req.identify {
			d.mu.Lock()
			d.stats.Actions[identifyAction]++
			d.mu.Unlock()
			return http.StatusOK, identifyEnvelope(fmt.Sprintf("AMT %d.%d", d.major, d.minor), isTLS)
		}
		return d.execute(req, acct)
	}

	d.mu.Lock()
	f := d.takeFault(op, req.resourceURI)
	d.mu.Unlock()
	if f == nil {
		status, out := exec()
		return writeSOAP(w, status, out), op
	}
	s.log.Debug("injecting fault", "device", d.ip, "kind", f.Kind.String(), "action", op)
	switch f.Kind {
	case FaultDelay:
		if err := s.sleep(r.Context(), f.Delay); err != nil {
			if err == errShuttingDown {
				// Shutting down: drop the connection rather than answer.
				resetConnection(w)
			}
			return 0, op
		}
		status, out := exec()
		return writeSOAP(w, status, out), op
	case FaultDelayAnswer:
		status, out := exec()
		if err := s.sleep(r.Context(), f.Delay); err != nil {
			if err == errShuttingDown {
				resetConnection(w)
			}
			return 0, op // the client gave up; the request was executed
		}
		return writeSOAP(w, status, out), op
	case FaultStatus:
		return writeHTML(w, f.Status, msgServiceError, false), op
	case FaultResetAfterRequest:
		exec()
		resetConnection(w)
		return 0, op
	case FaultResetMidResponse:
		status, out := exec()
		s.resetMidResponse(w, d, status, out)
		return 0, op
	case FaultMalformedBody:
		status, out := exec()
		return writeSOAP(w, status, out[:len(out)/2]), op
	case FaultInternalError:
		d.mu.Lock()
		relatesTo := cmp.Or(req.messageID, "0")
		out := faultEnvelope(relatesTo, d.nextMessageID(), faultInternalError(f.PTStatus))
		d.mu.Unlock()
		return writeSOAP(w, http.StatusBadRequest, out), op
	}
	status, out := exec()
	return writeSOAP(w, status, out), op
}

var errShuttingDown = errors.New("amtsim: shutting down")

// sleep waits for d, and returns early with ctx's error when the client
// goes away or errShuttingDown when the server closes.
func (s *Server) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.done:
		return errShuttingDown
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notAMTPage is what a machine without AMT answers on the WS-Man port: an
// ordinary web server's 404.
const notAMTPage = "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"

func writeNotAMT(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = []string{"text/html"}
	h["Content-Length"] = []string{fmt.Sprint(len(notAMTPage))}
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, notAMTPage)
}

// writeSOAP sends an envelope chunked, without Content-Length, as the
// firmware does.
func writeSOAP(w http.ResponseWriter, status int, body []byte) int {
	h := w.Header()
	h["Content-Type"] = []string{contentTypeSOAP}
	h["X-Frame-Options"] = []string{"DENY"}
	w.WriteHeader(status)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush() // headers go out now, so the body is chunked
	}
	_, _ = w.Write(body)
	return status
}

func writeHTML(w http.ResponseWriter, status int, msg string, closeConn bool) int {
	h := w.Header()
	h["Content-Type"] = []string{"text/html"}
	if closeConn {
		h["Connection"] = []string{"close"}
	}
	page := htmlHead + msg + htmlTail
	h["Content-Length"] = []string{fmt.Sprint(len(page))}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, page)
	return status
}

// writeChallenge sends the digest challenge with a fresh nonce. The header
// name and parameter layout (no space before stale) follow the firmware.
func (s *Server) writeChallenge(w http.ResponseWriter, d *Device, stale bool) int {
	h := w.Header()
	h["WWW-Authenticate"] = []string{fmt.Sprintf(`Digest realm="%s", nonce="%s",stale="%t",qop="auth"`,
		d.realm, d.issueNonce(), stale)}
	return writeHTML(w, http.StatusUnauthorized, msgLogonFailed, true)
}

// rawConn hijacks the connection and returns the TCP connection under any
// TLS layer.
func rawConn(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil
	}
	return c, brw
}

// abort closes c with SO_LINGER 0 so that the peer sees a reset. For TLS the
// TCP connection is closed directly, without a close_notify alert.
func abort(c net.Conn) {
	inner := c
	if tc, ok := c.(*tls.Conn); ok {
		inner = tc.NetConn()
	}
	if tcp, ok := inner.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = inner.Close()
}

func resetConnection(w http.ResponseWriter) {
	if c, _ := rawConn(w); c != nil {
		abort(c)
	}
}

// resetMidResponse writes the status line, the headers and part of the
// first chunk of the body, then resets the connection.
func (s *Server) resetMidResponse(w http.ResponseWriter, d *Device, status int, body []byte) {
	c, brw := rawConn(w)
	if c == nil {
		return
	}
	part := body[:len(body)/2]
	fmt.Fprintf(brw, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	fmt.Fprintf(brw, "Date: %s\r\n", time.Now().UTC().Format(http.TimeFormat))
	fmt.Fprintf(brw, "Server: %s\r\n", d.serverHeader())
	fmt.Fprintf(brw, "X-Frame-Options: DENY\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n", contentTypeSOAP)
	fmt.Fprintf(brw, "%X\r\n", len(body))
	_, _ = brw.Write(part)
	_ = brw.Flush()
	abort(c)
}
