package amtsim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// IDE-R messages. Every one starts with an 8-byte header: command id, two
// zero bytes, attributes, and a little-endian u32 sequence number counted
// from 0 in each direction.
const (
	iderOpen          = 0x40 // OPEN_SESSION
	iderOpenReply     = 0x41
	iderClose         = 0x42
	iderCloseReply    = 0x43
	iderPing          = 0x44
	iderPong          = 0x45
	iderReset         = 0x46 // RESET_OCCURRED
	iderResetReply    = 0x47
	iderFeatures      = 0x48 // DISABLE_ENABLE_FEATURES
	iderFeaturesReply = 0x49
	iderError         = 0x4A // ERROR_OCCURRED
	iderHeartbeat     = 0x4B
	iderCommand       = 0x50 // COMMAND_WRITTEN
	iderCommandEnd    = 0x51 // COMMAND_END_RESPONSE
	iderGetData       = 0x52 // GET_DATA_FROM_HOST
	iderDataFromHost  = 0x53
	iderDataToHost    = 0x54

	iderHdrLen          = 8
	iderOpenLen         = 18
	iderOpenReplyLen    = 30
	iderResetLen        = 9
	iderFeaturesLen     = 9
	iderFeaturesSetLen  = 13
	iderFeaturesReplyLn = 13
	iderErrorLen        = 11
	iderCommandLen      = 28
	iderCommandEndLen   = 31
	iderGetDataLen      = 31
	iderDataToHostLen   = 34

	iderAttrDMA       = 0x01
	iderAttrCompleted = 0x02

	iderMaxBuffer = 8192 // max read and write buffer offered in OPEN_SESSION_REPLY

	featGetSupported = 1
	featGetState     = 2
	featSetState     = 3
	regEnable        = 0x01
	regModeMask      = 0x18 // 0x08 next reboot, 0x10 graceful, 0x18 now

	// ERROR_OCCURRED code for a console message with a wrong sequence
	// number (the simulator's choice).
	iderErrSequence = 0x01

	defaultIDERKeepAlive = 20 * time.Second
	minPongTimeout       = 5 * time.Second        // keep-alive asked by the console
	minPongTimeoutOpt    = 200 * time.Millisecond // keep-alive set by Options
)

// IDERBoot is one simulated BIOS boot from IDE-R: what the BIOS read from
// the console's medium and whether it could boot from it.
type IDERBoot struct {
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
	Reads []BlockRead
}

// BlockRead is one READ(10) or READ(12) of the simulated BIOS.
type BlockRead struct {
	LBA    uint64
	Blocks int
	SHA256 string // hex SHA-256 of the data returned
}

// iderRun is an IDE-R boot, attempted or in progress. Guarded by Device.mu.
type iderRun struct {
	rec  IDERBoot
	cd   bool
	sess *iderSession // nil when no session could serve it
	done bool
}

// iderSession is an open IDE-R session of a device.
type iderSession struct {
	rc *redirConn
	d  *Device

	// Guarded by d.mu.
	opened       bool
	enabled      bool
	mode         byte // start mode bits of SET_REGISTER_STATE
	next, active *iderRun

	in   chan iderMsg  // console answers for the BIOS
	kick chan struct{} // a boot asks for the BIOS
	done chan struct{} // closed when the connection ends

	sendSeq   uint32 // guarded by rc.wmu
	recvSeq   uint32 // reader only
	keepAlive time.Duration
	pongWait  time.Duration // how long a ping may stay unanswered
	pingsSent atomic.Int64
	pongs     atomic.Int64
}

// iderMsg is a message from the console, with its payload copied.
type iderMsg struct {
	id   byte
	attr byte
	body []byte // the whole message, header included
}

func newIDERSession(rc *redirConn) *iderSession {
	return &iderSession{
		rc:   rc,
		d:    rc.d,
		in:   make(chan iderMsg, 16),
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
}

// endIDERSessionLocked releases the device's IDE-R slot and ends the boot
// the session was about to serve. Call with d.mu held.
func (d *Device) endIDERSessionLocked(s *iderSession) {
	if d.ider == s {
		d.ider = nil
	}
	// The BIOS goroutine ends and records the active boot itself.
	if s.next != nil {
		d.finishIDERLocked(s.next, errors.New("IDE-R session ended"))
	}
}

// sendIDER fills in the next sequence number and sends an IDE-R message,
// applying queued FaultRedirSilent and FaultRedirBadSequence faults.
func (s *iderSession) sendIDER(msg []byte) error {
	rc := s.rc
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	rc.checkSilentLocked()
	if rc.silent.Load() {
		return nil
	}
	seq := s.sendSeq
	s.sendSeq++
	if s.d.takeRedirFault(FaultRedirBadSequence) {
		seq += 7
		rc.s.log.Debug("redirection: injecting fault", "device", s.d.ip, "kind", FaultRedirBadSequence.String())
	}
	binary.LittleEndian.PutUint32(msg[4:8], seq)
	return rc.write(msg)
}

func iderMsgOf(id byte, n int) []byte {
	m := make([]byte, n)
	m[0] = id
	return m
}

// serve runs an authenticated IDE-R session: OPEN_SESSION, then the
// console's messages until it closes, and the device side (keep-alives and
// the simulated BIOS) in a second goroutine.
func (s *iderSession) serve() error {
	rc, d := s.rc, s.d
	defer close(s.done)
	var hdr [iderDataToHostLen]byte
	if err := rc.readFull(hdr[:1]); err != nil {
		return err
	}
	if hdr[0] != iderOpen {
		return errors.New("IDE-R: expected OPEN_SESSION")
	}
	if err := rc.readFull(hdr[1:iderOpenLen]); err != nil {
		return err
	}
	if seq := binary.LittleEndian.Uint32(hdr[4:8]); seq != 0 {
		rc.release()
		_ = s.sendError(iderErrSequence)
		return fmt.Errorf("IDE-R: OPEN_SESSION sequence %d, want 0", seq)
	}
	s.recvSeq = 1
	heartbeat := time.Duration(binary.LittleEndian.Uint16(hdr[12:14])) * time.Millisecond
	switch ka := rc.s.opts.RedirectKeepAlive; {
	case ka > 0:
		s.keepAlive = ka
		s.pongWait = max(4*ka, minPongTimeoutOpt)
	case ka < 0:
	case heartbeat > 0:
		s.keepAlive = heartbeat
		s.pongWait = max(4*heartbeat, minPongTimeout)
	default:
		s.keepAlive = defaultIDERKeepAlive
		s.pongWait = 4 * defaultIDERKeepAlive
	}
	reply := iderMsgOf(iderOpenReply, iderOpenReplyLen)
	reply[8], reply[9] = 1, 0                           // protocol 1.0
	reply[10], reply[11] = byte(d.major), byte(d.minor) // firmware version
	binary.LittleEndian.PutUint16(reply[16:18], iderMaxBuffer)
	binary.LittleEndian.PutUint16(reply[18:20], iderMaxBuffer)
	binary.LittleEndian.PutUint32(reply[25:29], 343) // IANA: Intel
	if err := s.sendIDER(reply); err != nil {
		return err
	}
	d.mu.Lock()
	s.opened = true
	d.mu.Unlock()
	rc.s.wg.Add(1)
	go s.deviceLoop()

	for {
		if err := rc.readFull(hdr[:1]); err != nil {
			return err
		}
		id := hdr[0]
		var n int
		switch id {
		case redirEnd:
			var rest [redirEndLen - 1]byte
			_ = rc.readFull(rest[:])
			return errRedirClosed
		case iderClose, iderPing, iderPong, iderResetReply, iderHeartbeat:
			n = iderHdrLen
		case iderFeatures:
			n = iderFeaturesLen
		case iderCommandEnd, iderGetData:
			n = iderCommandEndLen
		case iderDataToHost:
			n = iderDataToHostLen
		default:
			return fmt.Errorf("IDE-R: unexpected message 0x%02X", id)
		}
		if err := rc.readFull(hdr[1:n]); err != nil {
			return err
		}
		if id == iderFeatures && hdr[8] == featSetState {
			if err := rc.readFull(hdr[n:iderFeaturesSetLen]); err != nil {
				return err
			}
			n = iderFeaturesSetLen
		}
		var payload []byte
		if id == iderDataToHost {
			l := int(binary.LittleEndian.Uint16(hdr[9:11]))
			if l > iderMaxBuffer {
				return fmt.Errorf("IDE-R: DATA_TO_HOST of %d bytes exceeds the read buffer", l)
			}
			payload = make([]byte, n+l)
			copy(payload, hdr[:n])
			if err := rc.readFull(payload[n:]); err != nil {
				return err
			}
		}
		if seq := binary.LittleEndian.Uint32(hdr[4:8]); seq != s.recvSeq {
			rc.release()
			_ = s.sendError(iderErrSequence)
			return fmt.Errorf("IDE-R: message 0x%02X with sequence %d, want %d", id, seq, s.recvSeq)
		}
		s.recvSeq++
		if rc.silent.Load() {
			continue
		}
		switch id {
		case iderClose:
			rc.release()
			_ = s.sendIDER(iderMsgOf(iderCloseReply, iderHdrLen))
			return errRedirClosed
		case iderPing:
			if err := s.sendIDER(iderMsgOf(iderPong, iderHdrLen)); err != nil {
				return err
			}
		case iderPong:
			for {
				p := s.pongs.Load()
				if p >= s.pingsSent.Load() || s.pongs.CompareAndSwap(p, p+1) {
					break
				}
			}
		case iderHeartbeat:
		case iderFeatures:
			if err := s.features(hdr[:n]); err != nil {
				return err
			}
		default: // answers to the BIOS
			if payload == nil {
				payload = slices.Clone(hdr[:n])
			}
			select {
			case s.in <- iderMsg{id: id, attr: hdr[3], body: payload}:
			case <-rc.s.done:
				return errRedirClosed
			}
		}
	}
}

// sendError sends ERROR_OCCURRED.
func (s *iderSession) sendError(code byte) error {
	m := iderMsgOf(iderError, iderErrorLen)
	m[8] = code
	return s.sendIDER(m)
}

// features answers DISABLE_ENABLE_FEATURES.
func (s *iderSession) features(m []byte) error {
	d := s.d
	typ := m[8]
	var value uint32
	switch typ {
	case featGetSupported:
		value = 0x01 // the register toggle is available
	case featGetState:
		d.mu.Lock()
		if s.enabled {
			value = 0x02
		}
		d.mu.Unlock()
	case featSetState:
		v := binary.LittleEndian.Uint32(m[9:13])
		if v&^uint32(regEnable|regModeMask) == 0 {
			d.mu.Lock()
			s.enabled = v&regEnable != 0
			s.mode = byte(v & regModeMask)
			d.mu.Unlock()
			value = 1
			d.srv.log.Debug("redirection: IDE-R device", "device", d.ip, "enabled", v&regEnable != 0, "mode", startModeName(byte(v&regModeMask)))
		}
	default:
		return fmt.Errorf("IDE-R: DISABLE_ENABLE_FEATURES type %d", typ)
	}
	r := iderMsgOf(iderFeaturesReply, iderFeaturesReplyLn)
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
	defer s.rc.s.wg.Done()
	w := s.newWaiter()
	defer w.stop()
	for {
		if run := s.takeRun(); run != nil {
			s.runBIOS(run, w)
			continue
		}
		select {
		case <-s.done:
			return
		case <-s.rc.s.done:
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
func (s *iderSession) takeRun() *iderRun {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	run := s.next
	if run != nil {
		s.next = nil
		s.active = run
	}
	return run
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
	if s.rc.silent.Load() {
		return true
	}
	w.n++
	if w.n%2 == 1 {
		return s.sendIDER(iderMsgOf(iderHeartbeat, iderHdrLen)) == nil
	}
	now := time.Now()
	if s.pongs.Load() < s.pingsSent.Load() {
		if now.Sub(w.pingAt) > w.timeout {
			s.rc.s.log.Info("amtsim redirection: keep-alive unanswered, closing the IDE-R session", "device", s.d.ip)
			s.rc.release()
			_ = s.rc.c.Close()
			return false
		}
	} else {
		w.pingAt = now
	}
	s.pingsSent.Add(1)
	return s.sendIDER(iderMsgOf(iderPing, iderHdrLen)) == nil
}

// startIDERBootLocked starts the IDE-R part of a boot whose one-time
// settings ask for it and returns the IDERBoot's Seq. Call with d.mu held.
func (d *Device) startIDERBootLocked(bootSeq int, cd bool) int {
	run := &iderRun{rec: IDERBoot{Seq: len(d.iderRuns) + 1, BootSeq: bootSeq, Medium: "floppy"}, cd: cd}
	if cd {
		run.rec.Medium = "cd"
	}
	d.iderRuns = append(d.iderRuns, run)
	s := d.ider
	switch {
	case s == nil || !s.opened:
		d.finishIDERLocked(run, errors.New("no IDE-R session open"))
	case !s.enabled:
		d.finishIDERLocked(run, errors.New("IDE-R device not enabled"))
	default:
		if s.active != nil {
			d.finishIDERLocked(s.active, errors.New("host reset during the IDE-R boot"))
		}
		if s.next != nil {
			d.finishIDERLocked(s.next, errors.New("host reset before the IDE-R boot started"))
		}
		run.sess = s
		s.next = run
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return run.rec.Seq
}

// finishIDERLocked records the outcome of an IDE-R boot once. Call with
// d.mu held.
func (d *Device) finishIDERLocked(run *iderRun, err error) {
	if run.done {
		return
	}
	run.done = true
	if s := run.sess; s != nil {
		if s.active == run {
			s.active = nil
		}
		if s.next == run {
			s.next = nil
		}
	}
	if err == nil {
		run.rec.OK = true
		src := BootSourceIDERFloppy
		if run.cd {
			src = BootSourceIDERCD
		}
		if i := run.rec.BootSeq - 1; i >= 0 && i < len(d.boots) {
			d.boots[i].Source = src
		}
	} else {
		run.rec.Err = err.Error()
	}
	d.srv.log.Info("amtsim ider boot", "device", d.ip, "seq", run.rec.Seq, "boot_seq", run.rec.BootSeq,
		"medium", run.rec.Medium, "ok", run.rec.OK, "bytes", run.rec.BytesRead, "commands", run.rec.Commands,
		"boot_image_sha256", run.rec.BootImageSHA256, "err", run.rec.Err)
	close(d.iderCh)
	d.iderCh = make(chan struct{})
}

func copyIDERBoot(b IDERBoot) IDERBoot {
	b.Reads = slices.Clone(b.Reads)
	return b
}

// IDERBoots returns copies of the finished IDE-R boots, in order. A boot
// from IDE-R is attempted whenever the armed one-time boot settings have
// UseIDER; it fails at once without an open, enabled IDE-R session.
func (d *Device) IDERBoots() []IDERBoot {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.Settle(time.Now())
	var out []IDERBoot
	for _, r := range d.iderRuns {
		if r.done {
			out = append(out, copyIDERBoot(r.rec))
		}
	}
	return out
}

// WaitIDERBoot waits until the n-th (1-based) IDE-R boot of the device has
// finished, successfully or not, and returns it. It returns ctx's error
// when ctx ends first, and an error when the server closes.
func (d *Device) WaitIDERBoot(ctx context.Context, n int) (IDERBoot, error) {
	if n < 1 {
		return IDERBoot{}, fmt.Errorf("amtsim: WaitIDERBoot(%d): n is 1-based", n)
	}
	for {
		d.mu.Lock()
		d.power.Settle(time.Now())
		if n <= len(d.iderRuns) && d.iderRuns[n-1].done {
			b := copyIDERBoot(d.iderRuns[n-1].rec)
			d.mu.Unlock()
			return b, nil
		}
		ch := d.iderCh
		d.mu.Unlock()
		if err := d.waitIDERChange(ctx, ch); err != nil {
			return IDERBoot{}, err
		}
	}
}

// WaitBoot waits until the host has booted at least n times (1-based) and
// returns the n-th boot. A reset leaves PowerState on throughout, as on
// firmware, so a console that must know the boot happened asks the
// simulated host, not the device.
func (d *Device) WaitBoot(ctx context.Context, n int) (BootRecord, error) {
	if n < 1 {
		return BootRecord{}, fmt.Errorf("amtsim: WaitBoot(%d): n is 1-based", n)
	}
	for {
		d.mu.Lock()
		d.power.Settle(time.Now())
		if n <= len(d.boots) {
			b := d.boots[n-1]
			d.mu.Unlock()
			return b, nil
		}
		ch := d.bootCh
		d.mu.Unlock()
		if err := d.waitIDERChange(ctx, ch); err != nil {
			return BootRecord{}, err
		}
	}
}

// waitIDERChange waits for ch to close. Power changes complete on their
// own (a timer armed by the request), so no polling is needed.
func (d *Device) waitIDERChange(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	case <-d.srv.done:
		return errors.New("amtsim: server closed")
	}
	return nil
}
