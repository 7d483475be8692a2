package amtsim

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/wire"
)

const wsmanPath = "/wsman"

// firmware is what the device's HTTP framing follows.
func (d *Device) firmware() wire.Firmware {
	return wire.Firmware{Version: d.prof.version, Major: d.major}
}

// serveWire answers one request on a WS-Man port (wire.Server's handler).
func (s *Server) serveWire(r *wire.Request) wire.Response {
	start := time.Now()
	d, _ := r.Conn.Value.(*Device)
	if d == nil {
		return wire.Response{Reset: true}
	}
	d.mu.Lock()
	d.stats.HTTPRequests++
	d.mu.Unlock()
	if n := d.prof.resetAfter; n >= 0 && r.Conn.Requests > n {
		s.log.Debug("request", "device", d.ip, "remote", r.Conn.RemoteAddr().String(), "tls", r.Conn.TLS, "reset_after_requests", n)
		return wire.Response{Reset: true}
	}
	if lat := d.prof.delay(); lat > 0 {
		if err := s.sleepConn(lat, r.Conn); err != nil {
			if err == errClientGone {
				s.log.Debug("client gave up during the latency", "device", d.ip, "remote", r.Conn.RemoteAddr().String())
			}
			return wire.Response{Reset: true}
		}
	}
	if d.prof.noAMT {
		return notAMT()
	}
	resp, op := s.handle(r, d)
	if !s.log.Enabled(context.Background(), slog.LevelDebug) {
		return resp // the arguments below would allocate even unlogged
	}
	s.log.Debug("request", "device", d.ip, "remote", r.Conn.RemoteAddr().String(), "tls", r.Conn.TLS,
		"method", r.Method, "path", r.Path, "action", op, "status", resp.Status, "reset", resp.Reset,
		"duration", time.Since(start))
	return resp
}

// handle answers one request and returns the response and the operation
// name for the log.
func (s *Server) handle(r *wire.Request, d *Device) (wire.Response, string) {
	fw := d.firmware()
	switch {
	case errors.Is(r.BodyErr, wire.ErrTooLarge):
		return fw.Page(http.StatusBadRequest, wire.MsgTooLarge, true), ""
	case r.BodyErr != nil: // a malformed request or body [modelled: the page of the 400 capture]
		return fw.Page(http.StatusBadRequest, wire.MsgBadRequest, true), ""
	}
	var req *request
	var parseErr error
	parse := func() {
		if len(r.Body) == 0 {
			parseErr = errNoRoot
		} else {
			req, parseErr = decodeRequest(r.Body)
		}
	}
	// Only Identify is answered without credentials. A body without the
	// name cannot be Identify, so it is parsed after authentication: a
	// request the device challenges is not parsed at all.
	mayIdentify := bytes.Contains(r.Body, identifyName)
	if mayIdentify {
		parse()
	}
	isIdentify := mayIdentify && parseErr == nil && req.identify && r.Method == http.MethodPost && r.Path == wsmanPath

	var acct Account
	if !isIdentify {
		var res authResult
		acct, res = d.authenticate(r.Method, r.Target, r.Authorization)
		if res != authOK {
			return fw.Challenge(d.realm, d.issueNonce(), res == authStale), "auth"
		}
	}
	if !mayIdentify {
		parse()
	}
	d.mu.Lock()
	d.stats.Authenticated++
	d.mu.Unlock()

	if r.Path != wsmanPath {
		return fw.Page(http.StatusNotFound, wire.MsgNotFound, false), ""
	}
	if r.Method != http.MethodPost {
		return fw.Page(http.StatusMethodNotAllowed, wire.MsgNotAllowed, false, wire.Field{Name: "Allow", Value: http.MethodPost}), ""
	}
	if parseErr != nil {
		return fw.Page(http.StatusBadRequest, wire.MsgBadRequest, true), ""
	}

	op := req.opName()
	exec := func() (int, []byte) {
		if req.identify {
			d.mu.Lock()
			d.stats.Actions[identifyAction]++
			d.mu.Unlock()
			return http.StatusOK, identifyEnvelope(fmt.Sprintf("AMT %d.%d", d.major, d.minor), r.Conn.TLS)
		}
		return d.execute(req, acct)
	}

	d.mu.Lock()
	f := d.takeFault(op, req.resourceURI)
	d.mu.Unlock()
	if f == nil {
		return fw.SOAP(exec()), op
	}
	s.log.Debug("injecting fault", "device", d.ip, "kind", f.Kind.String(), "action", op)
	switch f.Kind {
	case FaultDelay:
		if err := s.sleepConn(f.Delay, r.Conn); err != nil {
			// Shutting down or the client gone: drop the connection.
			return wire.Response{Reset: true}, op
		}
		return fw.SOAP(exec()), op
	case FaultDelayAnswer:
		status, out := exec()
		if err := s.sleepConn(f.Delay, r.Conn); err != nil {
			return wire.Response{Reset: true}, op // the request was executed
		}
		return fw.SOAP(status, out), op
	case FaultStatus:
		return fw.Page(f.Status, wire.MsgServiceError, false), op
	case FaultResetAfterRequest:
		exec()
		return wire.Response{Reset: true}, op
	case FaultResetMidResponse:
		resp := fw.SOAP(exec())
		resp.Reset, resp.ResetAfter = true, max(len(resp.Body)/2, 1)
		return resp, op
	case FaultMalformedBody:
		status, out := exec()
		return fw.SOAP(status, out[:len(out)/2]), op
	case FaultInternalError:
		d.mu.Lock()
		relatesTo := cmp.Or(req.messageID, "0")
		out := faultEnvelope(relatesTo, d.nextMessageID(), faultInternalError(f.PTStatus))
		d.mu.Unlock()
		return fw.SOAP(http.StatusBadRequest, out), op
	}
	return fw.SOAP(exec()), op
}

// identifyName is in every Identify request, as its element's name.
var identifyName = []byte("Identify")

var (
	errShuttingDown = errors.New("amtsim: shutting down")
	errClientGone   = errors.New("amtsim: the client closed the connection")
)

// peerCheck is how often a long wait checks whether the client is gone.
const peerCheck = 50 * time.Millisecond

// sleepConn waits for d, or returns errShuttingDown when the server closes
// first, or errClientGone when the client closes or resets the connection
// meanwhile (checked every peerCheck), so that a slow device lets go of a
// client that gave up.
func (s *Server) sleepConn(d time.Duration, c *wire.Conn) error {
	t := time.NewTimer(d)
	defer t.Stop()
	var tick <-chan time.Time
	if d > peerCheck {
		tk := time.NewTicker(peerCheck)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		select {
		case <-t.C:
			return nil
		case <-s.done:
			return errShuttingDown
		case <-tick:
			if c.PeerClosed() {
				return errClientGone
			}
		}
	}
}

// notAMTPage is what a machine without AMT answers on the WS-Man port: an
// ordinary web server's 404.
const notAMTPage = "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"

func notAMT() wire.Response {
	return wire.Response{
		Status: http.StatusNotFound,
		Fields: []wire.Field{{Name: "Content-Type", Value: "text/html"}, {Name: "Content-Length", Value: strconv.Itoa(len(notAMTPage))}},
		Body:   []byte(notAMTPage),
	}
}
