package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/digest"

	"bufio"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Redirection protocol (TCP 16994, TLS 16995): session manager messages.
const (
	redirStart      = 0x10 // StartRedirectionSession
	redirStartReply = 0x11
	redirEnd        = 0x12 // EndRedirectionSession
	redirAuth       = 0x13 // AuthenticateSession
	redirAuthReply  = 0x14

	redirStartLen      = 8
	redirStartReplyLen = 13
	redirEndLen        = 4
	redirAuthHdrLen    = 9

	authQuery     = 0 // list the supported authentication types
	authDigest    = 3 // digest without qop (RFC 2069)
	authDigestQop = 4 // digest with qop=auth (RFC 2617)

	// Reply statuses. Only 0 is documented; the refusal codes are the
	// simulator's choice.
	redirStatusOK      = 0x00
	redirStatusFail    = 0x01 // authentication failed, or a challenge (with data)
	redirStatusRefused = 0x01 // session type not available (KVM), or disabled in AMT_RedirectionService
	redirStatusBusy    = 0x02 // a session of that type is already open
	redirStatusConsent = 0x03 // user consent required and not given

	// redirBusyGrace is how long a new session waits for a slot held by a
	// session being torn down before it is refused as busy.
	redirBusyGrace = 250 * time.Millisecond

	redirURI        = "/RedirectionService"
	redirMethod     = "POST"
	maxAuthData     = 4096
	maxAuthName     = 64 // user and realm
	maxAuthRounds   = 4  // authentication messages per connection
	maxRedirConns   = 16 // concurrent redirection connections per device
	redirHandshake  = 30 * time.Second
	redirWriteLimit = 30 * time.Second
)

// Session tags of StartRedirectionSession.
const (
	tagIDER = "IDER"
	tagSOL  = "SOL "
	tagKVM  = "KVMR"
)

// errRedirClosed ends a redirection connection without further answer.
var errRedirClosed = errors.New("redirection connection closed")

// redirectListeners binds the redirection ports; called by New.
func (s *Server) listenRedirect(plainIPs, ips []net.IP) (plain, secure []net.Listener, err error) {
	if s.opts.RedirectPort != -1 && len(plainIPs) > 0 {
		if plain, s.redirPort, err = listenAll(plainIPs, s.opts.RedirectPort); err != nil {
			return nil, nil, err
		}
	}
	if s.opts.RedirectTLSPort != -1 {
		if secure, s.redirTLSPort, err = listenAll(ips, s.opts.RedirectTLSPort); err != nil {
			closeListeners(plain)
			return nil, nil, err
		}
	}
	return plain, secure, nil
}

// serveRedirect accepts redirection connections on every listener.
func (s *Server) serveRedirect(ls []net.Listener, tlsConf *tls.Config) {
	for _, l := range ls {
		s.redirLs = append(s.redirLs, l)
		s.wg.Add(1)
		go s.acceptRedirect(l, tlsConf)
	}
}

func (s *Server) acceptRedirect(l net.Listener, tlsConf *tls.Config) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		var d *Device
		if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
			d = s.byIP[normalizeIP(a.IP)]
		}
		if d == nil || !s.trackRedirConn(c, d) {
			_ = c.Close()
			continue
		}
		if tlsConf != nil {
			c = tls.Server(c, tlsConf)
		}
		s.wg.Add(1)
		go s.handleRedirect(c, d, tlsConf != nil)
	}
}

// trackRedirConn registers a connection so that Close can end it; it
// refuses connections beyond the per-device limit and after Close.
func (s *Server) trackRedirConn(c net.Conn, d *Device) bool {
	s.redirMu.Lock()
	defer s.redirMu.Unlock()
	if s.redirClosed || s.redirPerDev[d] >= maxRedirConns {
		return false
	}
	if s.redirConns == nil {
		s.redirConns = map[net.Conn]struct{}{}
		s.redirPerDev = map[*Device]int{}
	}
	s.redirConns[c] = struct{}{}
	s.redirPerDev[d]++
	return true
}

func (s *Server) untrackRedirConn(c net.Conn, d *Device) {
	s.redirMu.Lock()
	defer s.redirMu.Unlock()
	delete(s.redirConns, c)
	if s.redirPerDev[d]--; s.redirPerDev[d] <= 0 {
		delete(s.redirPerDev, d)
	}
}

// closeRedirect stops the redirection listeners and ends every
// redirection connection.
func (s *Server) closeRedirect() {
	s.redirMu.Lock()
	s.redirClosed = true
	conns := make([]net.Conn, 0, len(s.redirConns))
	for c := range s.redirConns {
		conns = append(conns, c)
	}
	s.redirMu.Unlock()
	closeListeners(s.redirLs)
	for _, c := range conns {
		_ = c.Close()
	}
}

// redirConn is one connection on a redirection port.
type redirConn struct {
	s   *Server
	d   *Device
	c   net.Conn // the TLS connection when over TLS
	raw net.Conn // the TCP connection
	br  *bufio.Reader
	tls bool

	wmu    sync.Mutex // serialises writes and IDE-R sequence numbers
	silent atomic.Bool

	user    string
	authed  bool         // guarded by d.mu
	ider    *iderSession // the IDE-R session slot this connection holds
	solSlot bool         // the connection holds the SOL session slot
	// released is set once the session slot and the open-session mark are
	// given back; guarded by d.mu.
	released bool
}

// release gives back the device's session slot and the open-session mark,
// once. The device releases before anything that lets the console see the
// session end (the final reply, a refusal, a reset or close of the
// connection it decides itself), so that a console may start the next
// session at once; otherwise when the connection ends.
func (rc *redirConn) release() {
	rc.d.mu.Lock()
	defer rc.d.mu.Unlock()
	rc.releaseLocked()
}

// releaseLocked is release with d.mu held.
func (rc *redirConn) releaseLocked() {
	d := rc.d
	if rc.released {
		return
	}
	rc.released = true
	if rc.authed {
		d.redirOpen--
	}
	if rc.ider != nil {
		d.endIDERSessionLocked(rc.ider)
	}
	if d.sol == rc {
		d.sol = nil
	}
	rc.releaseKVMLocked()
	if rc.ider != nil || rc.solSlot {
		d.sessionEndedLocked()
		close(d.slotFreed)
		d.slotFreed = make(chan struct{})
	}
}

// abortLocked releases the session and resets its connection at once: the
// device ends the session (TerminateSession, a cancelled consent). Call
// with d.mu held.
func (rc *redirConn) abortLocked() {
	rc.releaseLocked()
	abort(rc.raw)
}

func (s *Server) handleRedirect(c net.Conn, d *Device, isTLS bool) {
	defer s.wg.Done()
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	defer s.untrackRedirConn(raw, d)
	defer c.Close()
	rc := &redirConn{s: s, d: d, c: c, raw: raw, br: bufio.NewReaderSize(c, 16<<10), tls: isTLS}
	_ = c.SetReadDeadline(time.Now().Add(redirHandshake))
	if tc, ok := c.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			s.log.Debug("redirection: TLS handshake failed", "device", d.ip, "remote", c.RemoteAddr(), "err", err)
			return
		}
	}
	err := rc.serve()
	s.log.Debug("redirection: connection closed", "device", d.ip, "remote", c.RemoteAddr(), "tls", isTLS, "reason", err)
}

// write sends one message. Call with rc.wmu held. A silenced session
// drops everything.
func (rc *redirConn) write(msg []byte) error {
	if rc.silent.Load() {
		return nil
	}
	_ = rc.c.SetWriteDeadline(time.Now().Add(redirWriteLimit))
	_, err := rc.c.Write(msg)
	return err
}

// send writes a message that carries no IDE-R sequence number, applying a
// queued FaultRedirSilent.
func (rc *redirConn) send(msg []byte) error {
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	rc.checkSilentLocked()
	return rc.write(msg)
}

// checkSilentLocked turns the session silent when a FaultRedirSilent is
// queued. Call with rc.wmu held.
func (rc *redirConn) checkSilentLocked() {
	if rc.silent.Load() {
		return
	}
	if rc.d.takeRedirFault(FaultRedirSilent) {
		rc.silent.Store(true)
		rc.s.log.Debug("redirection: injecting fault", "device", rc.d.ip, "kind", FaultRedirSilent.String())
	}
}

// readFull reads exactly len(p) bytes.
func (rc *redirConn) readFull(p []byte) error {
	_, err := io.ReadFull(rc.br, p)
	return err
}

// serve runs the session manager: StartRedirectionSession, then
// authentication, then the IDE-R or SOL session.
func (rc *redirConn) serve() error {
	d := rc.d
	var start [redirStartLen]byte
	if err := rc.readFull(start[:]); err != nil {
		return err
	}
	if start[0] != redirStart || start[1] > 1 || start[2] != 0 || start[3] != 0 {
		return errors.New("malformed StartRedirectionSession")
	}
	tag := string(start[4:8])
	reply := func(status byte) error {
		var r [redirStartReplyLen]byte
		r[0] = redirStartReply
		r[1] = status
		// [4..11]: protocol version 1.0, then the firmware version.
		r[4], r[5] = 1, 0
		r[6], r[7] = byte(d.major), byte(d.minor)
		binary.LittleEndian.PutUint16(r[8:10], uint16(d.hotfix))
		binary.LittleEndian.PutUint16(r[10:12], uint16(d.build))
		r[12] = 0 // no OEM data
		return rc.send(r[:])
	}
	var ider *iderSession
	switch tag {
	case tagIDER, tagSOL:
		if tag == tagIDER {
			ider = newIDERSession(rc)
		}
		status, err := rc.takeSlot(ider)
		if err != nil {
			_ = reply(status)
			return err
		}
	case tagKVM:
		status, err := rc.takeKVMSlot()
		if err != nil {
			_ = reply(status)
			return err
		}
	default:
		return errors.New("unknown session type")
	}
	defer rc.release()
	if err := reply(redirStatusOK); err != nil {
		return err
	}
	if err := rc.authenticate(); err != nil {
		return err
	}
	rc.s.log.Debug("redirection: session authenticated", "device", d.ip, "remote", rc.c.RemoteAddr(),
		"type", strings.TrimSpace(tag), "user", rc.user, "tls", rc.tls)
	_ = rc.c.SetReadDeadline(time.Time{})
	switch {
	case ider != nil:
		return ider.serve()
	case tag == tagKVM:
		return rc.serveKVM()
	}
	return rc.serveSOL()
}

// takeSlot takes the device's IDE-R slot (ider not nil) or SOL slot for
// the connection. It refuses the session when AMT_RedirectionService has
// the listener or the feature disabled, or when user consent is required
// and not given; it waits up to redirBusyGrace for a slot held by a
// session that is ending (its console gone, the device not yet done
// tearing it down) before answering busy. It returns the reply status of
// a refusal.
func (rc *redirConn) takeSlot(ider *iderSession) (byte, error) {
	d := rc.d
	feature, name := redirFeatureSOL, "SOL"
	if ider != nil {
		feature, name = redirFeatureIDER, "IDE-R"
	}
	var grace *time.Timer
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	for {
		d.mu.Lock()
		if st, err := d.redirectionRefusalLocked(feature, name); err != nil {
			d.mu.Unlock()
			return st, err
		}
		busy := d.sol != nil
		if ider != nil {
			busy = d.ider != nil
		}
		if !busy {
			if ider != nil {
				d.ider = ider
				rc.ider = ider
			} else {
				d.sol = rc
				rc.solSlot = true
			}
			d.mu.Unlock()
			return redirStatusOK, nil
		}
		freed := d.slotFreed
		d.mu.Unlock()
		if grace == nil {
			grace = time.NewTimer(redirBusyGrace)
		}
		select {
		case <-freed:
		case <-grace.C:
			return redirStatusBusy, errors.New(name + " session busy")
		case <-rc.s.done:
			return redirStatusBusy, errRedirClosed
		}
	}
}

// authenticate runs AuthenticateSession until the console is
// authenticated; anything else closes the connection.
func (rc *redirConn) authenticate() error {
	var hdr [redirAuthHdrLen]byte
	var data [maxAuthData]byte
	for round := 0; round < maxAuthRounds; round++ {
		if err := rc.readFull(hdr[:1]); err != nil {
			return err
		}
		switch hdr[0] {
		case redirAuth:
		case redirEnd:
			var rest [redirEndLen - 1]byte
			_ = rc.readFull(rest[:])
			return errRedirClosed
		default:
			return errors.New("command before authentication")
		}
		if err := rc.readFull(hdr[1:]); err != nil {
			return err
		}
		typ := hdr[4]
		n := binary.LittleEndian.Uint32(hdr[5:9])
		if n > maxAuthData {
			return errors.New("authentication data too long")
		}
		if err := rc.readFull(data[:n]); err != nil {
			return err
		}
		switch typ {
		case authQuery:
			if err := rc.send(authReply(redirStatusOK, authQuery, authDigest, authDigestQop)); err != nil {
				return err
			}
			continue
		case authDigest, authDigestQop:
		default:
			rc.release()
			_ = rc.send(authReply(redirStatusFail, typ))
			return errors.New("unsupported authentication type " + strconv.Itoa(int(typ)))
		}
		f, ok := parseAuthFields(data[:n], typ)
		if !ok {
			return errors.New("malformed digest authentication")
		}
		if f.nonce == "" || f.response == "" {
			// The first, "empty" request: answer the challenge.
			if err := rc.send(rc.challenge(typ)); err != nil {
				return err
			}
			continue
		}
		if err := rc.d.checkRedirDigest(f, typ); err != nil {
			rc.release()
			_ = rc.send(authReply(redirStatusFail, typ))
			return err
		}
		// The session is open before the console learns it.
		rc.user = f.user
		rc.d.mu.Lock()
		rc.authed = true
		rc.d.redirOpen++
		rc.d.sessionStartedLocked(rc)
		rc.d.mu.Unlock()
		return rc.send(authReply(redirStatusOK, typ))
	}
	return errors.New("too many authentication messages")
}

// authReply builds AuthenticateSessionReply with a list of bytes as data.
func authReply(status, typ byte, data ...byte) []byte {
	r := make([]byte, redirAuthHdrLen+len(data))
	r[0] = redirAuthReply
	r[1] = status
	r[4] = typ
	binary.LittleEndian.PutUint32(r[5:9], uint32(len(data)))
	copy(r[9:], data)
	return r
}

// challenge is the digest challenge: realm, a fresh nonce and qop "auth".
func (rc *redirConn) challenge(typ byte) []byte {
	var data []byte
	for _, f := range []string{rc.d.realm, rc.d.issueNonce(), "auth"} {
		data = append(data, byte(len(f)))
		data = append(data, f...)
	}
	return authReply(redirStatusFail, typ, data...)
}

// authFields are the length-prefixed fields of a digest
// AuthenticateSession.
type authFields struct {
	user, realm, nonce, uri, cnonce, nc, response, qop string
}

// parseAuthFields splits digest data: user, realm, nonce, uri, cnonce, nc,
// response and (type 4, optional for type 3) qop, each a length byte and
// the bytes, filling the data exactly.
func parseAuthFields(data []byte, typ byte) (authFields, bool) {
	var vals [8]string
	n := 0
	for pos := 0; pos < len(data); n++ {
		if n == len(vals) {
			return authFields{}, false
		}
		l := int(data[pos])
		pos++
		if pos+l > len(data) {
			return authFields{}, false
		}
		vals[n] = string(data[pos : pos+l])
		pos += l
	}
	if n != 8 && !(typ == authDigest && n == 7) {
		return authFields{}, false
	}
	f := authFields{vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7]}
	if len(f.user) > maxAuthName || len(f.realm) > maxAuthName {
		return authFields{}, false
	}
	return f, true
}

var (
	errRedirLocked     = errors.New("login refused: anti-hammering lockout")
	errRedirNonce      = errors.New("login refused: unknown, expired or forgotten nonce")
	errRedirNonceCount = errors.New("login refused: nonce count not above the last one")
	errRedirPassword   = errors.New("login failed")
	errRedirReadOnly   = errors.New("login refused: read-only account")
)

// checkRedirDigest verifies a digest response of type 3 or 4. A wrong
// password (or user, realm or uri) is a failed login for the device's
// anti-hammering counter, the one WS-Man uses.
func (d *Device) checkRedirDigest(f authFields, typ byte) error {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Before(d.lockedTill) {
		return errRedirLocked
	}
	nonces := d.nonceTable()
	if nonces.Check(f.nonce, now) != digest.Live {
		return errRedirNonce
	}
	acct, known := d.accountMap[f.user]
	valid := known && f.realm == d.realm && f.uri == redirURI
	if valid {
		var want string
		if typ == authDigestQop {
			valid = f.qop == "auth" && digest.IsHex8(f.nc) && f.cnonce != ""
			want = digest.ResponseAuth(acct.User, d.realm, acct.Password, redirMethod, redirURI, f.nonce, f.nc, f.cnonce)
		} else {
			want = digest.ResponseNoQop(acct.User, d.realm, acct.Password, redirMethod, redirURI, f.nonce)
		}
		valid = valid && subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(f.response))) == 1
	}
	if !valid {
		d.failedLoginLocked(now)
		return errRedirPassword
	}
	nc, _ := strconv.ParseUint(f.nc, 16, 64) // type 4: checked, 8 hex digits
	if !nonces.Use(f.nonce, nc, typ == authDigestQop, now) {
		d.stats.RejectedNonceCounts++
		return errRedirNonceCount
	}
	d.failCount = 0
	if acct.ReadOnly {
		return errRedirReadOnly
	}
	return nil
}

// RedirectAddr returns host:port of the redirection listener without TLS
// ("" if disabled).
func (d *Device) RedirectAddr() string { return d.redirAddr }

// RedirectTLSAddr returns host:port of the redirection listener with TLS
// ("" if disabled).
func (d *Device) RedirectTLSAddr() string { return d.redirTLSAddr }

// SOLSessions returns how many SOL sessions the device has started.
func (d *Device) SOLSessions() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.solSessions
}

// RedirectPort returns the redirection port without TLS, or -1 when it is
// disabled.
func (s *Server) RedirectPort() int { return portOrOff(s.redirPort) }

// RedirectTLSPort returns the redirection port with TLS, or -1 when it is
// disabled.
func (s *Server) RedirectTLSPort() int { return portOrOff(s.redirTLSPort) }
