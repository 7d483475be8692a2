package redirport

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/redir"
	"github.com/amtkit/amtkit/amt/amtsim/internal/redirsvc"
)

// Limits of a redirection connection.
const (
	// busyGrace is how long a new session waits for a slot held by a
	// session being torn down before it is refused as busy.
	busyGrace = 250 * time.Millisecond

	maxAuthRounds = 4 // authentication messages per connection
	handshake     = 30 * time.Second
	writeLimit    = 30 * time.Second
)

// errClosed ends a redirection connection without further answer.
var errClosed = redir.ErrClosed

// Fault is a kind of injected fault of the redirection port.
type Fault int

const (
	// FaultBadSequence: the next IDE-R message sent carries a wrong
	// sequence number (the expected one plus 7).
	FaultBadSequence Fault = iota + 1
	// FaultReset: the connection is reset at the first data answering a
	// READ of the simulated BIOS.
	FaultReset
	// FaultSilent: the session stops sending and answering.
	FaultSilent
)

func (f Fault) String() string {
	switch f {
	case FaultBadSequence:
		return "redir-bad-sequence"
	case FaultReset:
		return "redir-reset"
	case FaultSilent:
		return "redir-silent"
	}
	return "unknown"
}

// Device is what a port needs of the rest of its device. Every method is
// called with the device lock held and must not take it.
type Device interface {
	// CheckDigest verifies a digest AuthenticateSession of type 3 or 4
	// against the device's accounts, nonces and anti-hammering state
	// (shared with WS-Man): nil accepts the login, an error refuses it.
	CheckDigest(f redir.AuthFields, typ byte) error
	// Challenge returns the digest realm and a fresh nonce.
	Challenge() (realm, nonce string)
	// TakeFault consumes one use of a queued injected fault of the kind
	// and reports whether there was one.
	TakeFault(Fault) bool
	// SOLBanner is what an SOL session shows first: the host's name and,
	// when the last boot had UseSOL, the BIOS.
	SOLBanner() string
	// IDERBooted records that the host's boot bootSeq (BootRecord.Seq)
	// booted from the IDE-R CD (cd) or floppy.
	IDERBooted(bootSeq int, cd bool)
}

// Config is what a Port is made of.
type Config struct {
	Lock    *sync.Mutex // the device lock
	Device  Device
	Service *redirsvc.Service // the listener and feature switches, the KVM access point
	Consent *redirsvc.Consent
	Log     *slog.Logger
	IP      string // the device's address, for logs
	// The firmware version the replies report.
	Major, Minor, Hotfix, Build int
	// KeepAlive is the IDE-R keep-alive interval: 0 the console's
	// heartbeat (or 20 s), negative none.
	KeepAlive time.Duration
	// ReadLimit is how much of an IDE-R medium the BIOS reads after the
	// boot image (redir.Boot).
	ReadLimit int64
}

// Port is the redirection port of one device.
type Port struct {
	cfg Config

	// Guarded by cfg.Lock.
	ider        *iderSession // the IDE-R session slot
	sol         *conn        // the SOL session slot
	kvm         *conn        // the KVM session slot
	open        int          // authenticated sessions
	solSessions int
	runs        []*run
	runDone     chan struct{} // closed and replaced when an IDE-R boot finishes
	slotFreed   chan struct{} // closed and replaced when a session slot is released
}

// New returns the port of a device; it serves connections once a Server
// hands them to it.
func New(cfg Config) *Port {
	return &Port{cfg: cfg, runDone: make(chan struct{}), slotFreed: make(chan struct{})}
}

func (p *Port) mustHold() { redirsvc.MustHold(p.cfg.Lock) }

// A device may make its Port only when it first needs one (a connection,
// an IDE-R boot, a wait for one): the methods below that only read or end
// sessions answer for a nil *Port as for a port that has none.

// SessionOpen reports whether an authenticated session is open. Call with
// the device lock held.
func (p *Port) SessionOpen() bool {
	if p == nil {
		return false
	}
	p.mustHold()
	return p.open > 0
}

// SOLSessions returns how many SOL sessions have started. Call with the
// device lock held.
func (p *Port) SOLSessions() int {
	if p == nil {
		return 0
	}
	p.mustHold()
	return p.solSessions
}

// KVMOpen reports whether a KVM session holds the KVM slot. Call with the
// device lock held.
func (p *Port) KVMOpen() bool {
	if p == nil {
		return false
	}
	p.mustHold()
	return p.kvm != nil
}

// TerminateIDER resets the open IDE-R session, if any
// (AMT_RedirectionService.TerminateSession, a cancelled consent). Call
// with the device lock held.
func (p *Port) TerminateIDER() {
	if p == nil {
		return
	}
	p.mustHold()
	if s := p.ider; s != nil {
		s.c.abortLocked()
	}
}

// TerminateSOL resets the open SOL session, if any. Call with the device
// lock held.
func (p *Port) TerminateSOL() {
	if p == nil {
		return
	}
	p.mustHold()
	if c := p.sol; c != nil {
		c.abortLocked()
	}
}

func (p *Port) freedLocked() {
	close(p.slotFreed)
	p.slotFreed = make(chan struct{})
}

// sessionEndedLocked lets consent lapse once the last session it was
// given for has ended, after the slot is released.
func (p *Port) sessionEndedLocked() {
	if p.ider == nil && p.sol == nil && p.kvm == nil {
		p.cfg.Consent.SessionsEnded()
	}
}

// conn is one connection on a redirection port.
type conn struct {
	srv *Server
	p   *Port
	c   net.Conn // the TLS connection when over TLS
	raw net.Conn // the TCP connection
	br  *bufio.Reader
	tls bool

	wmu    sync.Mutex // serialises writes and IDE-R sequence numbers
	silent atomic.Bool

	user    string
	authed  bool         // guarded by the device lock
	ider    *iderSession // the IDE-R session slot this connection holds
	solSlot bool         // the connection holds the SOL session slot
	// released is set once the session slot and the open-session mark are
	// given back; guarded by the device lock.
	released bool
}

// release gives back the session slot and the open-session mark, once.
// The device releases before anything that lets the console see the
// session end (the final reply, a refusal, a reset or close of the
// connection it decides itself), so that a console may start the next
// session at once; otherwise when the connection ends.
func (c *conn) release() {
	c.p.cfg.Lock.Lock()
	defer c.p.cfg.Lock.Unlock()
	c.releaseLocked()
}

// releaseLocked is release with the device lock held.
func (c *conn) releaseLocked() {
	p := c.p
	if c.released {
		return
	}
	c.released = true
	if c.authed {
		p.open--
	}
	if c.ider != nil {
		p.endIDERSessionLocked(c.ider)
	}
	if p.sol == c {
		p.sol = nil
	}
	c.releaseKVMLocked()
	if c.ider != nil || c.solSlot {
		p.sessionEndedLocked()
		p.freedLocked()
	}
}

// releaseKVMLocked gives back the KVM slot.
func (c *conn) releaseKVMLocked() {
	p := c.p
	if p.kvm != c {
		return
	}
	p.kvm = nil
	p.cfg.Service.KVMSessionEnded()
	p.sessionEndedLocked()
	p.freedLocked()
}

// abortLocked releases the session and resets its connection at once: the
// device ends the session. Call with the device lock held.
func (c *conn) abortLocked() {
	c.releaseLocked()
	resetConn(c.raw)
}

// resetConn closes a connection with a TCP reset.
func resetConn(nc net.Conn) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = nc.Close()
}

func (p *Port) serve(srv *Server, nc net.Conn, isTLS bool) {
	raw := nc
	if tc, ok := nc.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	defer srv.untrack(raw, p)
	defer nc.Close()
	c := &conn{srv: srv, p: p, c: nc, raw: raw, br: bufio.NewReaderSize(nc, 16<<10), tls: isTLS}
	_ = nc.SetReadDeadline(time.Now().Add(handshake))
	if tc, ok := nc.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			p.cfg.Log.Debug("redirection: TLS handshake failed", "device", p.cfg.IP, "remote", nc.RemoteAddr(), "err", err)
			return
		}
	}
	err := c.serve()
	p.cfg.Log.Debug("redirection: connection closed", "device", p.cfg.IP, "remote", nc.RemoteAddr(), "tls", isTLS, "reason", err)
}

// takeFault consumes an injected fault of the kind.
func (p *Port) takeFault(f Fault) bool {
	p.cfg.Lock.Lock()
	defer p.cfg.Lock.Unlock()
	return p.cfg.Device.TakeFault(f)
}

// write sends one message. Call with c.wmu held. A silenced session drops
// everything.
func (c *conn) write(msg []byte) error {
	if c.silent.Load() {
		return nil
	}
	_ = c.c.SetWriteDeadline(time.Now().Add(writeLimit))
	_, err := c.c.Write(msg)
	return err
}

// send writes a message that carries no IDE-R sequence number, applying a
// queued FaultSilent.
func (c *conn) send(msg []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.checkSilentLocked()
	return c.write(msg)
}

// checkSilentLocked turns the session silent when a FaultSilent is
// queued. Call with c.wmu held (and not the device lock).
func (c *conn) checkSilentLocked() {
	if c.silent.Load() {
		return
	}
	if c.p.takeFault(FaultSilent) {
		c.silent.Store(true)
		c.p.cfg.Log.Debug("redirection: injecting fault", "device", c.p.cfg.IP, "kind", FaultSilent.String())
	}
}

// Read, Send, Silent and Release make a conn the redir.Conn of the SOL
// and KVM sessions.

func (c *conn) Read(b []byte) (int, error) { return c.br.Read(b) }

func (c *conn) Send(build func() []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.checkSilentLocked()
	return c.write(build())
}

func (c *conn) Silent() bool { return c.silent.Load() }

func (c *conn) Release() { c.release() }

// readFull reads exactly len(b) bytes.
func (c *conn) readFull(b []byte) error {
	_, err := io.ReadFull(c.br, b)
	return err
}

// serve runs the session manager: StartRedirectionSession, then
// authentication, then the IDE-R, SOL or KVM session.
func (c *conn) serve() error {
	cfg := &c.p.cfg
	var start [redir.StartLen]byte
	if err := c.readFull(start[:]); err != nil {
		return err
	}
	if start[0] != redir.Start || start[1] > 1 || start[2] != 0 || start[3] != 0 {
		return errors.New("malformed StartRedirectionSession")
	}
	tag := string(start[4:8])
	reply := func(status byte) error {
		var r [redir.StartReplyLen]byte
		r[0] = redir.StartReply
		r[1] = status
		// [4..11]: protocol version 1.0, then the firmware version.
		r[4], r[5] = 1, 0
		r[6], r[7] = byte(cfg.Major), byte(cfg.Minor)
		binary.LittleEndian.PutUint16(r[8:10], uint16(cfg.Hotfix))
		binary.LittleEndian.PutUint16(r[10:12], uint16(cfg.Build))
		r[12] = 0 // no OEM data
		return c.send(r[:])
	}
	var ider *iderSession
	switch tag {
	case redir.TagIDER, redir.TagSOL:
		if tag == redir.TagIDER {
			ider = newIDERSession(c)
		}
		status, err := c.takeSlot(ider)
		if err != nil {
			_ = reply(status)
			return err
		}
	case redir.TagKVM:
		status, err := c.takeKVMSlot()
		if err != nil {
			_ = reply(status)
			return err
		}
	default:
		return errors.New("unknown session type")
	}
	defer c.release()
	if err := reply(redir.StatusOK); err != nil {
		return err
	}
	if err := c.authenticate(); err != nil {
		return err
	}
	cfg.Log.Debug("redirection: session authenticated", "device", cfg.IP, "remote", c.c.RemoteAddr(),
		"type", strings.TrimSpace(tag), "user", c.user, "tls", c.tls)
	_ = c.c.SetReadDeadline(time.Time{})
	switch {
	case ider != nil:
		return ider.serve()
	case tag == redir.TagKVM:
		return c.serveKVM()
	}
	return c.serveSOL()
}

// refusalLocked says whether the port must refuse a session of the
// feature (redirsvc.FeatureIDER or FeatureSOL): the listener or the
// feature disabled in AMT_RedirectionService (status 01), or user consent
// required and not given (status 03).
func (p *Port) refusalLocked(feature int, name string) (byte, error) {
	svc := p.cfg.Service
	if !svc.Listener() {
		return redir.StatusRefused, errors.New("redirection listener disabled")
	}
	if !svc.FeatureEnabled(feature) {
		return redir.StatusRefused, errors.New(name + " disabled in AMT_RedirectionService")
	}
	if p.cfg.Consent.Missing(time.Now()) {
		return redir.StatusConsent, errors.New(name + ": user consent required")
	}
	return redir.StatusOK, nil
}

// takeSlot takes the IDE-R slot (ider not nil) or the SOL slot for the
// connection. It refuses the session as refusalLocked says; it waits up
// to busyGrace for a slot held by a session that is ending (its console
// gone, the device not yet done tearing it down) before answering busy.
// It returns the reply status of a refusal.
func (c *conn) takeSlot(ider *iderSession) (byte, error) {
	p := c.p
	feature, name := redirsvc.FeatureSOL, "SOL"
	if ider != nil {
		feature, name = redirsvc.FeatureIDER, "IDE-R"
	}
	var grace *time.Timer
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	for {
		p.cfg.Lock.Lock()
		if st, err := p.refusalLocked(feature, name); err != nil {
			p.cfg.Lock.Unlock()
			return st, err
		}
		busy := p.sol != nil
		if ider != nil {
			busy = p.ider != nil
		}
		if !busy {
			if ider != nil {
				p.ider = ider
				c.ider = ider
			} else {
				p.sol = c
				c.solSlot = true
			}
			p.cfg.Lock.Unlock()
			return redir.StatusOK, nil
		}
		freed := p.slotFreed
		p.cfg.Lock.Unlock()
		if grace == nil {
			grace = time.NewTimer(busyGrace)
		}
		select {
		case <-freed:
		case <-grace.C:
			return redir.StatusBusy, errors.New(name + " session busy")
		case <-c.srv.Done:
			return redir.StatusBusy, errClosed
		}
	}
}

// takeKVMSlot takes the KVM slot for the connection. It refuses the
// session when the listener or the KVM access point is disabled, when
// user consent is required for KVM (OptInRequired 1 or all) and not
// given, and when a KVM session is open. It returns the reply status of
// a refusal.
func (c *conn) takeKVMSlot() (byte, error) {
	p := c.p
	p.cfg.Lock.Lock()
	defer p.cfg.Lock.Unlock()
	if !p.cfg.Service.Listener() {
		return redir.StatusRefused, errors.New("redirection listener disabled")
	}
	if p.cfg.Service.KVMDisabled() {
		return redir.StatusRefused, errors.New("KVM disabled in CIM_KVMRedirectionSAP")
	}
	if p.cfg.Consent.KVMMissing(time.Now()) {
		return redir.StatusConsent, errors.New("KVM: user consent required")
	}
	if p.kvm != nil {
		return redir.StatusBusy, errors.New("KVM session busy")
	}
	p.kvm = c
	return redir.StatusOK, nil
}

// authenticate runs AuthenticateSession until the console is
// authenticated; anything else closes the connection.
func (c *conn) authenticate() error {
	p := c.p
	var hdr [redir.AuthHdrLen]byte
	var data [redir.MaxAuthData]byte
	for round := 0; round < maxAuthRounds; round++ {
		if err := c.readFull(hdr[:1]); err != nil {
			return err
		}
		switch hdr[0] {
		case redir.Auth:
		case redir.End:
			var rest [redir.EndLen - 1]byte
			_ = c.readFull(rest[:])
			return errClosed
		default:
			return errors.New("command before authentication")
		}
		if err := c.readFull(hdr[1:]); err != nil {
			return err
		}
		typ := hdr[4]
		n := binary.LittleEndian.Uint32(hdr[5:9])
		if n > redir.MaxAuthData {
			return errors.New("authentication data too long")
		}
		if err := c.readFull(data[:n]); err != nil {
			return err
		}
		switch typ {
		case redir.AuthQuery:
			if err := c.send(redir.AuthReplyMsg(redir.StatusOK, redir.AuthQuery, redir.AuthDigest, redir.AuthDigestQop)); err != nil {
				return err
			}
			continue
		case redir.AuthDigest, redir.AuthDigestQop:
		default:
			c.release()
			_ = c.send(redir.AuthReplyMsg(redir.StatusFail, typ))
			return errors.New("unsupported authentication type " + strconv.Itoa(int(typ)))
		}
		f, ok := redir.ParseAuthFields(data[:n], typ)
		if !ok {
			return errors.New("malformed digest authentication")
		}
		if f.Nonce == "" || f.Response == "" {
			// The first, "empty" request: answer the challenge.
			if err := c.send(c.challenge(typ)); err != nil {
				return err
			}
			continue
		}
		p.cfg.Lock.Lock()
		err := p.cfg.Device.CheckDigest(f, typ)
		p.cfg.Lock.Unlock()
		if err != nil {
			c.release()
			_ = c.send(redir.AuthReplyMsg(redir.StatusFail, typ))
			return err
		}
		// The session is open before the console learns it.
		c.user = f.User
		p.cfg.Lock.Lock()
		c.authed = true
		p.open++
		p.cfg.Consent.SessionStarted()
		p.cfg.Lock.Unlock()
		return c.send(redir.AuthReplyMsg(redir.StatusOK, typ))
	}
	return errors.New("too many authentication messages")
}

// challenge is the digest challenge: realm, a fresh nonce and qop "auth".
func (c *conn) challenge(typ byte) []byte {
	c.p.cfg.Lock.Lock()
	realm, nonce := c.p.cfg.Device.Challenge()
	c.p.cfg.Lock.Unlock()
	var data []byte
	for _, f := range []string{realm, nonce, "auth"} {
		data = append(data, byte(len(f)))
		data = append(data, f...)
	}
	return redir.AuthReplyMsg(redir.StatusFail, typ, data...)
}

// serveSOL runs an authenticated SOL session (redir.ServeSOL).
func (c *conn) serveSOL() error {
	p := c.p
	return redir.ServeSOL(c, func() string {
		p.cfg.Lock.Lock()
		defer p.cfg.Lock.Unlock()
		p.solSessions++
		return p.cfg.Device.SOLBanner()
	})
}

// serveKVM runs an authenticated KVM session (redir.ServeKVM);
// CIM_KVMRedirectionSAP shows the session while it lasts.
func (c *conn) serveKVM() error {
	p := c.p
	return redir.ServeKVM(c, func() {
		p.cfg.Lock.Lock()
		p.cfg.Service.KVMSessionStarted()
		p.cfg.Lock.Unlock()
	})
}
