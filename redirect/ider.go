package redirect

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/amtkit/amtkit/wsman"
)

// IDERMedia are the images presented to the machine; at least one is
// needed. The CD is the slave device of the emulated IDE channel, the
// floppy the master (a USB CD and floppy on AMT 11 and later).
type IDERMedia struct {
	CD     *Medium
	Floppy *Medium
}

// StartMode says when the device attaches the emulated drives to the host
// (DISABLE_ENABLE_FEATURES SET_REGISTER_STATE, protocol.md §3.7.3).
type StartMode int

// Start modes. The zero value is StartOnReboot.
const (
	StartOnReboot StartMode = 0x08 // at the next host reset or power-on: what a boot from an image needs
	StartGraceful StartMode = 0x10 // when the host is not using the bus
	StartNow      StartMode = 0x18 // immediately
)

func (m StartMode) String() string {
	switch m {
	case StartOnReboot, 0:
		return "reboot"
	case StartGraceful:
		return "graceful"
	case StartNow:
		return "now"
	}
	return fmt.Sprintf("start mode 0x%02x", int(m))
}

// ParseStartMode reads "now", "graceful" or "reboot".
func ParseStartMode(s string) (StartMode, error) {
	for _, m := range []StartMode{StartNow, StartGraceful, StartOnReboot} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, wsman.InvalidArgument("redirect: unknown start mode %q (want now, graceful or reboot)", s)
}

// IDEROptions configure ServeIDER. The zero value attaches the drives at
// the next reboot and serves until the context ends.
type IDEROptions struct {
	Start StartMode
	// Progress, when set, is called from the serving goroutine at most
	// every ProgressInterval (default 250ms) while commands arrive, and
	// once at the end. It must not block.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// IdleTimeout ends the session after this long without a command from
	// the machine, counted from its first command (a machine takes a while
	// to reach its BIOS after a reset; bound that with ctx). Zero waits
	// forever.
	IdleTimeout time.Duration
	// StopAfterBytes ends the session once this many bytes were served.
	// Zero means no limit.
	StopAfterBytes int64
	// Until ends the session when it returns true; it is called after
	// every command with the progress so far.
	Until func(Progress) bool
	// OnEnabled is called once, from the serving goroutine, when the
	// device has confirmed that the drives are enabled: the moment to
	// reset or power on the machine.
	OnEnabled func()
	// Heartbeat is how often the client sends a heartbeat when it has sent
	// nothing else, and the interval it announces in OPEN_SESSION. Zero
	// means 20s; negative sends none (20s is still announced).
	Heartbeat time.Duration
}

// Progress is a snapshot of an IDE-R session.
type Progress struct {
	BytesServed int64 // image bytes sent to the machine
	Commands    int   // commands answered
	Reads       int   // read commands answered with data
	Resets      int   // bus resets the device reported
	Elapsed     time.Duration
	Rate        float64 // BytesServed per second of Elapsed
}

// StopReason says why ServeIDER returned.
type StopReason int

// Stop reasons.
const (
	StopContext    StopReason = iota + 1 // the context ended
	StopBytes                            // StopAfterBytes reached
	StopIdle                             // IdleTimeout passed without a command
	StopUntil                            // Until returned true
	StopPeerClosed                       // the device closed the session or the connection
	StopError                            // a protocol violation or a network error
)

func (r StopReason) String() string {
	switch r {
	case StopContext:
		return "context ended"
	case StopBytes:
		return "byte limit reached"
	case StopIdle:
		return "idle"
	case StopUntil:
		return "stop condition met"
	case StopPeerClosed:
		return "closed by the device"
	case StopError:
		return "error"
	}
	return fmt.Sprintf("stop reason %d", int(r))
}

// IDERStats reports a finished IDE-R session.
type IDERStats struct {
	Progress
	Stop StopReason
	// MaxReadBuffer is the largest data message the device accepts, from
	// OPEN_SESSION_REPLY; reads are split into messages of this size.
	MaxReadBuffer int
	// Enabled is true once the device confirmed the drives enabled.
	Enabled bool
	// ReadErrors counts reads of the image that failed (answered with a
	// medium error, 03/11/00); LastReadError is the last of them.
	ReadErrors    int
	LastReadError error
	// ClosedCleanly is true when the device acknowledged CLOSE_SESSION.
	ClosedCleanly bool
}

// IDE-R messages (protocol.md §3.7.3).
const (
	iderOpen           = 0x40
	iderOpenReply      = 0x41
	iderClose          = 0x42
	iderCloseReply     = 0x43
	iderPing           = 0x44
	iderPong           = 0x45
	iderReset          = 0x46
	iderResetReply     = 0x47
	iderFeatures       = 0x48
	iderFeaturesReply  = 0x49
	iderError          = 0x4A
	iderHeartbeat      = 0x4B
	iderCommandWritten = 0x50
	iderCommandEnd     = 0x51
	iderDataFromHost   = 0x53
	iderDataToHost     = 0x54

	featureSetRegisterState = 3
	ataPacket               = 0xA0
	attrDMA                 = 0x01
	attrCompleted           = 0x02
	dataHeaderSize          = 34
	maxOEMBytes             = 255
)

// Defaults.
const (
	defaultHeartbeat        = 20 * time.Second
	defaultProgressInterval = 250 * time.Millisecond
	closeWait               = 2 * time.Second
	rxTimeoutMillis         = 30000
	batchBytes              = 256 << 10 // data messages written per system call
)

// chunkPool holds the buffers reads are framed in, so that memory does not
// grow with the image or the number of sessions served one after another.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, batchBytes); return &b }}

// ideMsg is one message from the device. body holds bytes 8..31 of the
// fixed part.
type ideMsg struct {
	id   byte
	attr byte
	seq  uint32
	body [24]byte
	err  error
}

// readIDEMessage reads and checks the next message from the device.
func (s *Session) readIDEMessage(expect uint32) (ideMsg, error) {
	const op = "IDE-R"
	var m ideMsg
	h, err := s.rd.need(op, 8)
	if err != nil {
		return m, err
	}
	m.id, m.attr, m.seq = h[0], h[3], binary.LittleEndian.Uint32(h[4:8])
	var size int
	switch m.id {
	case iderCloseReply, iderPing, iderPong, iderHeartbeat:
		size = 8
	case iderReset:
		size = 9
	case iderError:
		size = 11
	case iderFeaturesReply:
		size = 13
	case iderCommandWritten:
		size = 28
	case iderOpenReply:
		b, err := s.rd.need(op, 30)
		if err != nil {
			return m, err
		}
		copy(m.body[:], b[8:30])
		oem := int(b[29]) // one byte: at most 255, never a large allocation
		s.rd.consume(30)
		if m.seq != expect {
			return m, seqErr(expect, m)
		}
		return m, s.rd.skip(op, oem)
	case iderDataFromHost:
		return m, protoErr(op, "no DATA_FROM_HOST (no write was asked for)", "DATA_FROM_HOST (0x53)")
	default:
		return m, protoErr(op, "an IDE-R message from the device", "command 0x%02x", m.id)
	}
	b, err := s.rd.need(op, size)
	if err != nil {
		return m, err
	}
	copy(m.body[:], b[8:size])
	s.rd.consume(size)
	if m.seq != expect {
		return m, seqErr(expect, m)
	}
	return m, nil
}

func seqErr(expect uint32, m ideMsg) error {
	return protoErr("IDE-R", fmt.Sprintf("sequence number %d", expect), "%d on command 0x%02x", m.seq, m.id)
}

// iderServer is the state of one ServeIDER call.
type iderServer struct {
	s       *Session
	opts    IDEROptions
	cd, fd  *drive
	seq     uint32 // next sequence number to send
	maxRead int
	ctl     [64]byte // control messages are built here
	scratch [scratchSize]byte
	batch   []byte
	msgs    chan ideMsg
	pending []ideMsg
	stats   IDERStats
	start   time.Time
	lastOut time.Time
	lastRep time.Time
	log     *slog.Logger
}

// errAbandoned ends a read that a bus reset interrupted.
var errAbandoned = errors.New("transfer abandoned after a reset")

// ServeIDER presents media to the machine over an IDE-R session and answers
// its commands until a stop condition: it opens IDE-R on the session,
// checks the device's reply, enables the drives with opts.Start, then
// answers every ATAPI command of protocol.md §3.7.4 from the media (writes
// are refused as write-protected), answers keep-alives and bus resets, and
// checks that the device's sequence numbers follow each other exactly.
// Image data is streamed from the ReaderAt through a pooled buffer: memory
// does not grow with the image.
//
// It returns when ctx ends (the error is ctx's), the device closes the
// session or the connection (ErrPeerClosed), the device breaks the protocol
// (ErrProtocol) or refuses the drives (ErrRefused), or, with a nil error,
// when StopAfterBytes, IdleTimeout or Until says so. It closes the IDE-R
// session with CLOSE_SESSION where the connection still allows it, and
// always closes s. The stats are returned in every case once the session
// was taken.
func ServeIDER(ctx context.Context, s *Session, media IDERMedia, opts IDEROptions) (*IDERStats, error) {
	if media.CD == nil && media.Floppy == nil {
		return nil, wsman.InvalidArgument("redirect: ServeIDER: no medium")
	}
	for _, m := range []*Medium{media.CD, media.Floppy} {
		if m != nil && (m.Reader == nil || m.Size <= 0 || m.Size > 1<<40) {
			return nil, wsman.InvalidArgument("redirect: ServeIDER: a medium needs a reader and a size between 1 byte and 1 TiB")
		}
	}
	if err := s.take(IDER, "ServeIDER"); err != nil {
		return nil, err
	}
	if opts.Start == 0 {
		opts.Start = StartOnReboot
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = defaultProgressInterval
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = defaultHeartbeat
	}
	srv := &iderServer{
		s: s, opts: opts, log: s.log,
		cd: newDrive(true, media.CD), fd: newDrive(false, media.Floppy),
		msgs: make(chan ideMsg, 16),
	}
	bp := chunkPool.Get().(*[]byte)
	srv.batch = *bp
	defer chunkPool.Put(bp)
	return srv.run(ctx)
}

func (v *iderServer) run(ctx context.Context) (*IDERStats, error) {
	v.start = time.Now()
	v.lastRep = v.start
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = v.s.conn.SetWriteDeadline(time.Now())
		close(fired)
	})
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var expect uint32
		for {
			m, err := v.s.readIDEMessage(expect)
			expect++
			m.err = err
			select {
			case v.msgs <- m:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	reason, err := v.loop(ctx)
	v.stats.Stop = reason

	// Let the context's deadline setter finish, then give the goodbye its
	// own short deadline.
	if !stop() {
		<-fired
	}
	if reason != StopPeerClosed && reason != StopError {
		_ = v.s.conn.SetDeadline(time.Now().Add(closeWait))
		v.closeSession()
	}
	close(done)
	_ = v.s.Close()
	wg.Wait()
	v.stats.Progress = v.progress()
	if v.opts.Progress != nil {
		v.opts.Progress(v.stats.Progress)
	}
	v.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelDebug, "IDE-R session ended",
		slog.String("reason", reason.String()), slog.Int64("bytes", v.stats.BytesServed), slog.Int("commands", v.stats.Commands))
	return &v.stats, err
}

// closeSession sends CLOSE_SESSION and waits briefly for the reply.
func (v *iderServer) closeSession() {
	if v.control(iderClose, 0, nil) != nil {
		return
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	for {
		select {
		case m := <-v.msgs:
			if m.err != nil {
				return
			}
			if m.id == iderCloseReply {
				v.stats.ClosedCleanly = true
				return
			}
		case <-t.C:
			return
		}
	}
}

const (
	stateOpening = iota
	stateEnabling
	stateServing
)

func (v *iderServer) loop(ctx context.Context) (StopReason, error) {
	announce := defaultHeartbeat
	if v.opts.Heartbeat > 0 && v.opts.Heartbeat < defaultHeartbeat {
		announce = max(v.opts.Heartbeat, time.Second)
	}
	var open [10]byte
	binary.LittleEndian.PutUint16(open[0:], rxTimeoutMillis)
	binary.LittleEndian.PutUint16(open[4:], uint16(announce.Milliseconds()))
	binary.LittleEndian.PutUint32(open[6:], 1) // protocol version
	if err := v.control(iderOpen, 0, open[:]); err != nil {
		return v.fail(ctx, err)
	}
	state := stateOpening

	var idle *time.Timer
	var idleC <-chan time.Time
	var hbC <-chan time.Time
	if v.opts.Heartbeat > 0 {
		hb := time.NewTicker(v.opts.Heartbeat)
		defer hb.Stop()
		hbC = hb.C
	}
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()

	for {
		var m ideMsg
		if len(v.pending) > 0 {
			m = v.pending[0]
			v.pending = v.pending[1:]
		} else {
			select {
			case <-ctx.Done():
				return StopContext, fmt.Errorf("redirect: IDE-R: %w", ctx.Err())
			case <-idleC:
				return StopIdle, nil
			case <-hbC:
				if time.Since(v.lastOut) >= v.opts.Heartbeat/2 {
					if err := v.control(iderHeartbeat, 0, nil); err != nil {
						return v.fail(ctx, err)
					}
				}
				continue
			case m = <-v.msgs:
			}
		}
		if m.err != nil {
			return v.fail(ctx, m.err)
		}
		switch m.id {
		case iderOpenReply:
			if state != stateOpening {
				return v.fail(ctx, protoErr("IDE-R", "no second OPEN_SESSION_REPLY", "OPEN_SESSION_REPLY"))
			}
			v.maxRead = int(binary.LittleEndian.Uint16(m.body[16-8:]))
			if v.maxRead < 512 {
				return v.fail(ctx, protoErr("IDE-R open", "a maximum read buffer of at least 512 bytes", "%d", v.maxRead))
			}
			v.stats.MaxReadBuffer = v.maxRead
			if m.body[21-8] != 0 {
				v.log.Debug("IDE-R open: device reports a non-zero feature byte", slog.Int("value", int(m.body[21-8])))
			}
			var en [5]byte
			en[0] = featureSetRegisterState
			binary.LittleEndian.PutUint32(en[1:], uint32(0x01|v.opts.Start))
			if err := v.control(iderFeatures, 0, en[:]); err != nil {
				return v.fail(ctx, err)
			}
			state = stateEnabling
		case iderFeaturesReply:
			typ, val := m.body[0], binary.LittleEndian.Uint32(m.body[1:5])
			if state != stateEnabling || typ != featureSetRegisterState {
				v.log.Debug("IDE-R: unexpected DISABLE_ENABLE_FEATURES reply", slog.Int("type", int(typ)))
				continue
			}
			if val&0x01 == 0 {
				return StopError, &RefusedError{Stage: "IDE-R enable", Status: val}
			}
			state = stateServing
			v.stats.Enabled = true
			if v.opts.OnEnabled != nil {
				v.opts.OnEnabled()
			}
		case iderPing:
			if err := v.control(iderPong, 0, nil); err != nil {
				return v.fail(ctx, err)
			}
		case iderPong, iderHeartbeat:
		case iderError:
			v.log.Debug("IDE-R: device reported an error", slog.Int("code", int(m.body[0])))
		case iderReset:
			if err := v.onReset(); err != nil {
				return v.fail(ctx, err)
			}
		case iderCloseReply:
			return StopPeerClosed, &PeerClosedError{Op: "IDE-R", Err: errors.New("the device closed the IDE-R session")}
		case iderCommandWritten:
			if state == stateOpening {
				return v.fail(ctx, protoErr("IDE-R open", "OPEN_SESSION_REPLY", "COMMAND_WRITTEN"))
			}
			if err := v.command(ctx, &m); err != nil {
				return v.fail(ctx, err)
			}
			switch {
			case idle != nil:
				idle.Reset(v.opts.IdleTimeout)
			case v.opts.IdleTimeout > 0:
				idle = time.NewTimer(v.opts.IdleTimeout)
				idleC = idle.C
			}
			p := v.progress()
			if v.opts.Progress != nil && time.Since(v.lastRep) >= v.opts.ProgressInterval {
				v.lastRep = time.Now()
				v.opts.Progress(p)
			}
			if v.opts.StopAfterBytes > 0 && v.stats.BytesServed >= v.opts.StopAfterBytes {
				return StopBytes, nil
			}
			if v.opts.Until != nil && v.opts.Until(p) {
				return StopUntil, nil
			}
		}
	}
}

// fail classifies an error that ended the loop.
func (v *iderServer) fail(ctx context.Context, err error) (StopReason, error) {
	if ctx.Err() != nil {
		return StopContext, fmt.Errorf("redirect: IDE-R: %w", ctx.Err())
	}
	if errors.Is(err, ErrPeerClosed) {
		return StopPeerClosed, err
	}
	return StopError, err
}

func (v *iderServer) onReset() error {
	v.stats.Resets++
	v.cd.reset()
	v.fd.reset()
	v.log.Debug("IDE-R: bus reset")
	return v.control(iderResetReply, 0, nil)
}

func (v *iderServer) progress() Progress {
	p := v.stats.Progress
	p.Elapsed = time.Since(v.start)
	if s := p.Elapsed.Seconds(); s > 0 {
		p.Rate = float64(p.BytesServed) / s
	}
	return p
}

// control sends a message of header plus body.
func (v *iderServer) control(id, attr byte, body []byte) error {
	b := v.ctl[:8+len(body)]
	v.header(b, id, attr)
	copy(b[8:], body)
	return v.send(b)
}

func (v *iderServer) header(b []byte, id, attr byte) {
	b[0], b[1], b[2], b[3] = id, 0, 0, attr
	binary.LittleEndian.PutUint32(b[4:8], v.seq)
	v.seq++
}

func (v *iderServer) send(b []byte) error {
	if _, err := v.s.conn.Write(b); err != nil {
		return netErr("IDE-R", err)
	}
	v.lastOut = time.Now()
	return nil
}

// command answers one COMMAND_WRITTEN.
func (v *iderServer) command(ctx context.Context, m *ideMsg) error {
	b := m.body[:] // bytes 8..27 of the message
	dma := b[9-8]&0x01 != 0
	sel := 0xA0 | b[14-8]&0x10
	d := v.fd
	if sel&0x10 != 0 {
		d = v.cd
	}
	cdb := b[16-8 : 28-8]
	v.stats.Commands++
	if b[15-8] != ataPacket {
		return v.end(sel, senseInvalidOpcode)
	}
	r := d.execute(cdb, v.scratch[:])
	switch {
	case r.sense != senseGood:
		return v.end(sel, r.sense)
	case r.read:
		v.stats.Reads++
		err := v.stream(ctx, d, sel, dma, r.lba, r.count)
		if errors.Is(err, errAbandoned) {
			return nil
		}
		return err
	case len(r.data) > 0:
		return v.sendData(sel, dma, r.data)
	}
	return v.end(sel, senseGood)
}

// end sends COMMAND_END_RESPONSE with the status and sense.
func (v *iderServer) end(sel byte, s sense) error {
	b := v.ctl[:31]
	clear(b)
	v.header(b, iderCommandEnd, attrCompleted)
	b[22], b[26] = 0x03, sel
	if s == senseGood {
		b[20], b[27] = 0xC5, 0x50
	} else {
		b[20], b[21], b[27] = 0x87, s.key<<4, 0x51
		b[28], b[29], b[30] = s.key, s.asc, s.ascq
	}
	return v.send(b)
}

// frame writes the DATA_TO_HOST header of a payload of n bytes into b.
func (v *iderServer) frame(b []byte, sel byte, dma, last bool, n int) {
	attr := byte(0)
	if dma {
		attr |= attrDMA
	}
	if last {
		attr |= attrCompleted
	}
	clear(b[:dataHeaderSize])
	v.header(b, iderDataToHost, attr)
	binary.LittleEndian.PutUint16(b[9:11], uint16(n))
	b[12] = 0xB5
	if dma {
		b[12] = 0xB4
	} else {
		binary.LittleEndian.PutUint16(b[16:18], uint16(n))
	}
	b[14], b[18], b[19] = 0x02, sel, 0x58
	if last {
		b[20], b[22], b[26], b[27] = 0x85, 0x03, sel, 0x50
	}
}

// sendData sends an inline answer in one or more data messages.
func (v *iderServer) sendData(sel byte, dma bool, data []byte) error {
	out := v.batch[:0]
	for off := 0; off < len(data); {
		n := min(v.maxRead, len(data)-off)
		f := out[len(out) : len(out)+dataHeaderSize+n]
		v.frame(f, sel, dma, off+n == len(data), n)
		copy(f[dataHeaderSize:], data[off:off+n])
		out = out[:len(out)+len(f)]
		off += n
	}
	return v.send(out)
}

// stream sends count blocks from lba, framed in messages of at most
// maxRead bytes and written in batches. Between batches it looks at what
// the device sent: a bus reset abandons the transfer.
func (v *iderServer) stream(ctx context.Context, d *drive, sel byte, dma bool, lba, count int64) error {
	total := count * d.blockSize
	base := lba * d.blockSize
	frames := max(1, len(v.batch)/(dataHeaderSize+v.maxRead))
	var pos int64
	for pos < total {
		out := v.batch[:0]
		for i := 0; i < frames && pos < total; i++ {
			n := int(min(int64(v.maxRead), total-pos))
			f := v.batch[len(out) : len(out)+dataHeaderSize+n]
			payload := f[dataHeaderSize:]
			if err := readFull(d.medium, base+pos, payload); err != nil {
				v.stats.ReadErrors++
				v.stats.LastReadError = err
				v.log.Debug("IDE-R: image read failed", slog.String("error", err.Error()))
				if len(out) > 0 {
					if err := v.send(out); err != nil {
						return err
					}
				}
				return v.end(sel, sense{0x03, 0x11, 0x00})
			}
			v.frame(f, sel, dma, pos+int64(n) == total, n)
			out = out[:len(out)+len(f)]
			pos += int64(n)
			v.stats.BytesServed += int64(n)
		}
		if err := v.send(out); err != nil {
			return err
		}
		if pos < total {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if abandoned, err := v.poll(); abandoned || err != nil {
				if err == nil {
					err = errAbandoned
				}
				return err
			}
		}
	}
	return nil
}

// poll handles what the device sent during a transfer without waiting:
// keep-alives are answered, a reset abandons the transfer, anything else
// waits until the transfer is over.
func (v *iderServer) poll() (abandoned bool, err error) {
	for {
		select {
		case m := <-v.msgs:
			switch {
			case m.err != nil:
				return false, m.err
			case m.id == iderPing:
				if err := v.control(iderPong, 0, nil); err != nil {
					return false, err
				}
			case m.id == iderReset:
				return true, v.onReset()
			case m.id == iderHeartbeat || m.id == iderPong:
			default:
				if len(v.pending) >= cap(v.msgs) {
					return false, protoErr("IDE-R", "one command at a time", "more than %d messages during a transfer", cap(v.msgs))
				}
				v.pending = append(v.pending, m)
			}
		default:
			return false, nil
		}
	}
}

// readFull reads len(p) bytes at off; the part past the end of the image
// (its last, partial block) reads as zeros.
func readFull(m *Medium, off int64, p []byte) error {
	want := len(p)
	if off >= m.Size {
		clear(p)
		return nil
	}
	if rest := m.Size - off; rest < int64(want) {
		clear(p[rest:])
		p = p[:rest]
	}
	n, err := m.Reader.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading the image at offset %d: %w", off+int64(n), err)
}
