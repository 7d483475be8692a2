package redirport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/redir"
)

const (
	defaultKeepAlive  = 20 * time.Second
	minPongTimeout    = 5 * time.Second        // keep-alive asked by the console
	minPongTimeoutOpt = 200 * time.Millisecond // keep-alive set by Config
)

// Boot is one simulated BIOS boot from IDE-R: what the BIOS read from the
// console's medium and whether it could boot from it.
type Boot struct {
	Seq int
	// BootSeq is the Seq of the BootRecord of this boot.
	BootSeq int
	Medium  string // "cd" or "floppy"
	// OK reports that the BIOS found a bootable medium and read all it
	// wanted; the BootRecord's Source is then ider-cd or ider-floppy.
	OK  bool
	Err string // why it failed; "" when OK
	// BootImageSHA256 is the hex SHA-256 of the boot image as loaded: for
	// a CD the El Torito initial entry's sector count × 512 bytes from its
	// load RBA (one 2048-byte block when the count is 0), for a floppy the
	// 512-byte boot sector.
	BootImageSHA256 string
	// BytesRead is the sum of the data of every READ.
	BytesRead int64
	// Commands is the number of ATAPI commands the BIOS issued.
	Commands int
	// Reads lists every READ the BIOS issued, in order.
	Reads []redir.BlockRead
}

func (b Boot) clone() Boot {
	b.Reads = slices.Clone(b.Reads)
	return b
}

// run is an IDE-R boot, attempted or in progress. Guarded by the device
// lock.
type run struct {
	rec  Boot
	cd   bool
	sess *iderSession // nil when no session could serve it
	done bool
}

// iderSession is an open IDE-R session.
type iderSession struct {
	c *conn
	p *Port

	// Guarded by the device lock.
	opened       bool
	enabled      bool
	mode         byte // start mode bits of SET_REGISTER_STATE
	next, active *run

	in   chan redir.Msg // console answers for the BIOS
	kick chan struct{}  // a boot asks for the BIOS
	done chan struct{}  // closed when the connection ends

	sendSeq   uint32 // guarded by c.wmu
	recvSeq   uint32 // reader only
	keepAlive time.Duration
	pongWait  time.Duration // how long a ping may stay unanswered
	pingsSent atomic.Int64
	pongs     atomic.Int64
}

func newIDERSession(c *conn) *iderSession {
	return &iderSession{
		c:    c,
		p:    c.p,
		in:   make(chan redir.Msg, 16),
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
}

// Boots returns copies of the finished IDE-R boots, in order. Call with
// the device lock held.
func (p *Port) Boots() []Boot {
	if p == nil {
		return nil
	}
	p.mustHold()
	var out []Boot
	for _, r := range p.runs {
		if r.done {
			out = append(out, r.rec.clone())
		}
	}
	return out
}

// Boot returns the n-th (1-based) IDE-R boot once it has finished; until
// then ok is false and changed is closed when a boot finishes. Call with
// the device lock held.
func (p *Port) Boot(n int) (b Boot, ok bool, changed <-chan struct{}) {
	p.mustHold()
	if n >= 1 && n <= len(p.runs) && p.runs[n-1].done {
		return p.runs[n-1].rec.clone(), true, nil
	}
	return Boot{}, false, p.runDone
}

// StartIDERBoot starts the IDE-R part of the host's boot bootSeq, whose
// one-time settings ask for it, from a CD (cd) or floppy, and returns the
// IDE-R boot's Seq. Without an open IDE-R session whose device is enabled
// it fails at once. Call with the device lock held.
func (p *Port) StartIDERBoot(bootSeq int, cd bool) int {
	p.mustHold()
	r := &run{rec: Boot{Seq: len(p.runs) + 1, BootSeq: bootSeq, Medium: "floppy"}, cd: cd}
	if cd {
		r.rec.Medium = "cd"
	}
	p.runs = append(p.runs, r)
	s := p.ider
	switch {
	case s == nil || !s.opened:
		p.finishLocked(r, errors.New("no IDE-R session open"))
	case !s.enabled:
		p.finishLocked(r, errors.New("IDE-R device not enabled"))
	default:
		if s.active != nil {
			p.finishLocked(s.active, errors.New("host reset during the IDE-R boot"))
		}
		if s.next != nil {
			p.finishLocked(s.next, errors.New("host reset before the IDE-R boot started"))
		}
		r.sess = s
		s.next = r
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return r.rec.Seq
}

// finishLocked records the outcome of an IDE-R boot once.
func (p *Port) finishLocked(r *run, err error) {
	if r.done {
		return
	}
	r.done = true
	if s := r.sess; s != nil {
		if s.active == r {
			s.active = nil
		}
		if s.next == r {
			s.next = nil
		}
	}
	if err == nil {
		r.rec.OK = true
		p.cfg.Device.IDERBooted(r.rec.BootSeq, r.cd)
	} else {
		r.rec.Err = err.Error()
	}
	p.cfg.Log.Info("amtsim ider boot", "device", p.cfg.IP, "seq", r.rec.Seq, "boot_seq", r.rec.BootSeq,
		"medium", r.rec.Medium, "ok", r.rec.OK, "bytes", r.rec.BytesRead, "commands", r.rec.Commands,
		"boot_image_sha256", r.rec.BootImageSHA256, "err", r.rec.Err)
	close(p.runDone)
	p.runDone = make(chan struct{})
}

// endIDERSessionLocked releases the IDE-R slot and ends the boot the
// session was about to serve.
func (p *Port) endIDERSessionLocked(s *iderSession) {
	if p.ider == s {
		p.ider = nil
	}
	// The BIOS goroutine ends and records the active boot itself.
	if s.next != nil {
		p.finishLocked(s.next, errors.New("IDE-R session ended"))
	}
}

// sendIDER fills in the next sequence number and sends an IDE-R message,
// applying queued FaultSilent and FaultBadSequence faults.
func (s *iderSession) sendIDER(msg []byte) error {
	c := s.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.checkSilentLocked()
	if c.silent.Load() {
		return nil
	}
	seq := s.sendSeq
	s.sendSeq++
	if s.p.takeFault(FaultBadSequence) {
		seq += 7
		s.p.cfg.Log.Debug("redirection: injecting fault", "device", s.p.cfg.IP, "kind", FaultBadSequence.String())
	}
	binary.LittleEndian.PutUint32(msg[4:8], seq)
	return c.write(msg)
}

// serve runs an authenticated IDE-R session: OPEN_SESSION, then the
// console's messages until it closes, and the device side (keep-alives and
// the simulated BIOS) in a second goroutine.
func (s *iderSession) serve() error {
	c, p := s.c, s.p
	defer close(s.done)
	var hdr [redir.IDERDataToHostLen]byte
	if err := c.readFull(hdr[:1]); err != nil {
		return err
	}
	if hdr[0] != redir.IDEROpen {
		return errors.New("IDE-R: expected OPEN_SESSION")
	}
	if err := c.readFull(hdr[1:redir.IDEROpenLen]); err != nil {
		return err
	}
	if seq := binary.LittleEndian.Uint32(hdr[4:8]); seq != 0 {
		c.release()
		_ = s.sendError(redir.IDERErrSequence)
		return fmt.Errorf("IDE-R: OPEN_SESSION sequence %d, want 0", seq)
	}
	s.recvSeq = 1
	heartbeat := time.Duration(binary.LittleEndian.Uint16(hdr[12:14])) * time.Millisecond
	switch ka := p.cfg.KeepAlive; {
	case ka > 0:
		s.keepAlive = ka
		s.pongWait = max(4*ka, minPongTimeoutOpt)
	case ka < 0:
	case heartbeat > 0:
		s.keepAlive = heartbeat
		s.pongWait = max(4*heartbeat, minPongTimeout)
	default:
		s.keepAlive = defaultKeepAlive
		s.pongWait = 4 * defaultKeepAlive
	}
	reply := redir.IDERMsg(redir.IDEROpenReply, redir.IDEROpenReplyLen)
	reply[8], reply[9] = 1, 0                                   // protocol 1.0
	reply[10], reply[11] = byte(p.cfg.Major), byte(p.cfg.Minor) // firmware version
	binary.LittleEndian.PutUint16(reply[16:18], redir.IDERMaxBuffer)
	binary.LittleEndian.PutUint16(reply[18:20], redir.IDERMaxBuffer)
	binary.LittleEndian.PutUint32(reply[25:29], 343) // IANA: Intel
	if err := s.sendIDER(reply); err != nil {
		return err
	}
	p.cfg.Lock.Lock()
	s.opened = true
	p.cfg.Lock.Unlock()
	c.srv.WG.Add(1)
	go s.deviceLoop()

	for {
		m, owned, err := redir.ReadIDER(c.br, &hdr)
		if err != nil {
			return err
		}
		id := m[0]
		var payload []byte
		if owned {
			payload = m
		}
		if seq := binary.LittleEndian.Uint32(m[4:8]); seq != s.recvSeq {
			c.release()
			_ = s.sendError(redir.IDERErrSequence)
			return fmt.Errorf("IDE-R: message 0x%02X with sequence %d, want %d", id, seq, s.recvSeq)
		}
		s.recvSeq++
		if c.silent.Load() {
			continue
		}
		switch id {
		case redir.IDERClose:
			c.release()
			_ = s.sendIDER(redir.IDERMsg(redir.IDERCloseReply, redir.IDERHdrLen))
			return errClosed
		case redir.IDERPing:
			if err := s.sendIDER(redir.IDERMsg(redir.IDERPong, redir.IDERHdrLen)); err != nil {
				return err
			}
		case redir.IDERPong:
			for {
				n := s.pongs.Load()
				if n >= s.pingsSent.Load() || s.pongs.CompareAndSwap(n, n+1) {
					break
				}
			}
		case redir.IDERHeartbeat:
		case redir.IDERFeatures:
			if err := s.features(m); err != nil {
				return err
			}
		default: // answers to the BIOS
			if payload == nil {
				payload = slices.Clone(m)
			}
			select {
			case s.in <- redir.Msg{ID: id, Attr: m[3], Body: payload}:
			case <-c.srv.Done:
				return errClosed
			}
		}
	}
}

// sendError sends ERROR_OCCURRED.
func (s *iderSession) sendError(code byte) error {
	m := redir.IDERMsg(redir.IDERError, redir.IDERErrorLen)
	m[8] = code
	return s.sendIDER(m)
}

// features answers DISABLE_ENABLE_FEATURES.
func (s *iderSession) features(m []byte) error {
	p := s.p
	typ := m[8]
	var value uint32
	switch typ {
	case redir.FeatGetSupported:
		value = 0x01 // the register toggle is available
	case redir.FeatGetState:
		p.cfg.Lock.Lock()
		if s.enabled {
			value = 0x02
		}
		p.cfg.Lock.Unlock()
	case redir.FeatSetState:
		v := binary.LittleEndian.Uint32(m[9:13])
		if v&^uint32(redir.RegEnable|redir.RegModeMask) == 0 {
			p.cfg.Lock.Lock()
			s.enabled = v&redir.RegEnable != 0
			s.mode = byte(v & redir.RegModeMask)
			p.cfg.Lock.Unlock()
			value = 1
			p.cfg.Log.Debug("redirection: IDE-R device", "device", p.cfg.IP, "enabled", v&redir.RegEnable != 0, "mode", startModeName(byte(v&redir.RegModeMask)))
		}
	default:
		return fmt.Errorf("IDE-R: DISABLE_ENABLE_FEATURES type %d", typ)
	}
	r := redir.IDERMsg(redir.IDERFeaturesReply, redir.IDERFeaturesReplyLn)
	r[8] = typ
	binary.LittleEndian.PutUint32(r[9:13], value)
	return s.sendIDER(r)
}

func startModeName(mode byte) string {
	switch mode {
	case 0x08:
		return "next-reboot"
	case 0x10:
		return "graceful"
	case 0x18:
		return "now"
	}
	return "unspecified"
}

// deviceLoop is the device side of the session: keep-alive pings and
// heartbeats, and the simulated BIOS when the host boots from IDE-R.
func (s *iderSession) deviceLoop() {
	defer s.c.srv.WG.Done()
	w := s.newWaiter()
	defer w.stop()
	for {
		if r := s.takeRun(); r != nil {
			s.runBIOS(r, w)
			continue
		}
		select {
		case <-s.done:
			return
		case <-s.c.srv.Done:
			return
		case <-s.kick:
		case <-s.in: // a late answer to an abandoned command
		case <-w.tick:
			if !s.keepAliveTick(w) {
				return
			}
		}
	}
}

// takeRun moves the next requested boot to active.
func (s *iderSession) takeRun() *run {
	s.p.cfg.Lock.Lock()
	defer s.p.cfg.Lock.Unlock()
	r := s.next
	if r != nil {
		s.next = nil
		s.active = r
	}
	return r
}

// waiter holds the keep-alive ticker of the device loop.
type waiter struct {
	t       *time.Ticker
	tick    <-chan time.Time
	n       int
	pingAt  time.Time // when the oldest unanswered ping was sent
	timeout time.Duration
}

func (s *iderSession) newWaiter() *waiter {
	w := &waiter{}
	if s.keepAlive > 0 {
		w.t = time.NewTicker(s.keepAlive)
		w.tick = w.t.C
		w.timeout = s.pongWait
	}
	return w
}

func (w *waiter) stop() {
	if w.t != nil {
		w.t.Stop()
	}
}

// keepAliveTick sends a HEARTBEAT, or every other tick a KEEPALIVE_PING; it
// ends the session when pings stay unanswered too long.
func (s *iderSession) keepAliveTick(w *waiter) bool {
	if s.c.silent.Load() {
		return true
	}
	w.n++
	if w.n%2 == 1 {
		return s.sendIDER(redir.IDERMsg(redir.IDERHeartbeat, redir.IDERHdrLen)) == nil
	}
	now := time.Now()
	if s.pongs.Load() < s.pingsSent.Load() {
		if now.Sub(w.pingAt) > w.timeout {
			s.p.cfg.Log.Info("amtsim redirection: keep-alive unanswered, closing the IDE-R session", "device", s.p.cfg.IP)
			s.c.release()
			_ = s.c.c.Close()
			return false
		}
	} else {
		w.pingAt = now
	}
	s.pingsSent.Add(1)
	return s.sendIDER(redir.IDERMsg(redir.IDERPing, redir.IDERHdrLen)) == nil
}

// medium is the simulated BIOS's view of an IDE-R session (redir.Medium):
// the session's messages and keep-alives, and the boot it records under
// the device lock.
type medium struct {
	s *iderSession
	w *waiter
	r *run
}

// runBIOS boots from the session's medium and records the outcome.
func (s *iderSession) runBIOS(r *run, w *waiter) {
	err := redir.Boot(&medium{s: s, w: w, r: r}, r.cd, s.p.cfg.ReadLimit)
	if err != nil {
		err = fmt.Errorf("%s: %w", r.rec.Medium, err)
	}
	injected := errors.Is(err, redir.ErrInjectedReset)
	s.p.cfg.Lock.Lock()
	s.p.finishLocked(r, err)
	if injected {
		// The boot is recorded and the slot free before the console sees
		// the reset, so that it may start a new session at once.
		s.c.releaseLocked()
	}
	s.p.cfg.Lock.Unlock()
	if injected {
		resetConn(s.c.c)
	}
}

func (m *medium) Send(msg []byte) error { return m.s.sendIDER(msg) }

func (m *medium) Wait(timeout time.Duration) (redir.Msg, error) {
	s := m.s
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case msg := <-s.in:
			return msg, nil
		case <-s.done:
			return redir.Msg{}, redir.ErrSessionEnded
		case <-s.c.srv.Done:
			return redir.Msg{}, redir.ErrSessionEnded
		case <-s.kick:
			s.p.cfg.Lock.Lock()
			reset := s.next != nil || m.r.done
			s.p.cfg.Lock.Unlock()
			if reset {
				return redir.Msg{}, redir.ErrHostReset
			}
		case <-m.w.tick:
			if !s.keepAliveTick(m.w) {
				return redir.Msg{}, redir.ErrSessionEnded
			}
		case <-t.C:
			return redir.Msg{}, redir.ErrTimeout
		}
	}
}

func (m *medium) InjectReset() bool {
	p := m.s.p
	if !p.takeFault(FaultReset) {
		return false
	}
	p.cfg.Log.Debug("redirection: injecting fault", "device", p.cfg.IP, "kind", FaultReset.String())
	return true
}

// record applies f to the boot's record unless the boot has ended.
func (m *medium) record(f func(*Boot)) {
	p := m.s.p
	p.cfg.Lock.Lock()
	defer p.cfg.Lock.Unlock()
	if !m.r.done {
		f(&m.r.rec)
	}
}

func (m *medium) Commands(n int) { m.record(func(r *Boot) { r.Commands = n }) }

func (m *medium) Read(r redir.BlockRead, bytesRead int64) {
	m.record(func(b *Boot) {
		b.Reads = append(b.Reads, r)
		b.BytesRead = bytesRead
	})
}

func (m *medium) BootImage(sum string) {
	m.record(func(b *Boot) { b.BootImageSHA256 = sum })
}
