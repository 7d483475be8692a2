package redirect

// The AMT side of the redirection protocol, written for these tests from
// protocol.md §3.7 and sharing no code with the client: session start,
// digest login, IDE-R as a BIOS drives it, SOL echo. It is deliberately
// small; the simulator in amt/amtsim will carry the full device.

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/amtkit/amtkit/internal/testiso"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
)

const (
	testUser     = "admin"
	testPassword = "P@ssw0rd1"
	testRealm    = "Digest:0123456789ABCDEF0123456789ABCDEF"
	testNonce    = "Xk3pL9aQ0b1c2d3e4f5g6h"
)

var testCred = credentials.Credential{User: testUser, Password: testPassword}

// fakeAMT listens on loopback and runs handler on each connection after
// the session start and login it is configured for.
type fakeAMT struct {
	t        testing.TB
	ln       net.Listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	logins   int // final digest messages received
	failures int

	authTypes     []byte // offered; default 3 and 4
	startStatus   byte
	startOEM      int
	authHostile   bool // announce a huge authentication data length
	authQueryLen  int  // pad the answer to the query to this many bytes of types
	silent        bool // accept and say nothing
	closeAfterTag bool // close right after reading the session start
	handler       func(p *peer) error
	errs          chan error
}

func newFakeAMT(t testing.TB, handler func(p *peer) error, configure ...func(f *fakeAMT)) *fakeAMT {
	f := &fakeAMT{t: t, authTypes: []byte{3, 4}, handler: handler, errs: make(chan error, 16)}
	for _, c := range configure {
		c(f)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f.ln = ln
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *fakeAMT) addr() string { return f.ln.Addr().String() }

func (f *fakeAMT) close() {
	_ = f.ln.Close()
	f.wg.Wait()
	close(f.errs)
	for err := range f.errs {
		f.t.Errorf("fake AMT: %v", err)
	}
}

func (f *fakeAMT) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			p := &peer{t: f.t, conn: c, r: bufio.NewReader(c)}
			if err := f.serve(p); err != nil {
				f.errs <- err
			}
		}()
	}
}

func (f *fakeAMT) serve(p *peer) error {
	if f.silent {
		_, _ = io.Copy(io.Discard, p.r)
		return nil
	}
	var start [8]byte
	if _, err := io.ReadFull(p.r, start[:]); err != nil {
		return nil
	}
	if f.closeAfterTag {
		return nil
	}
	if start[0] != 0x10 {
		return fmt.Errorf("session start: command 0x%02x", start[0])
	}
	p.kind = string(start[4:8])
	reply := make([]byte, 13+f.startOEM)
	reply[0], reply[1], reply[12] = 0x11, f.startStatus, byte(f.startOEM)
	p.write(reply)
	if f.startStatus != 0 {
		return nil
	}
	ok, err := f.login(p)
	if err != nil || !ok {
		return err
	}
	if f.handler == nil {
		_, _ = io.Copy(io.Discard, p.r)
		return nil
	}
	return f.handler(p)
}

// login runs the AMT side of the digest exchange.
func (f *fakeAMT) login(p *peer) (bool, error) {
	typ, data, err := p.readAuth()
	if err != nil {
		return false, nil // the client gave up
	}
	if typ != 0 || len(data) != 0 {
		return false, fmt.Errorf("auth query: type %d, %d bytes", typ, len(data))
	}
	if f.authHostile {
		msg := []byte{0x14, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F}
		p.write(msg)
		return false, nil
	}
	types := f.authTypes
	if f.authQueryLen > len(types) {
		types = append(make([]byte, f.authQueryLen-len(types)), types...)
	}
	p.writeAuth(0, 0, types)
	typ, data, err = p.readAuth()
	if err != nil {
		return false, nil
	}
	fields := splitFields(data)
	if (typ != 3 && typ != 4) || len(fields) < 4 || string(fields[0]) == "" || string(fields[3]) != "/RedirectionService" {
		return false, fmt.Errorf("empty digest request: type %d fields %q", typ, fields)
	}
	challenge := [][]byte{[]byte(testRealm), []byte(testNonce)}
	if typ == 4 {
		challenge = append(challenge, []byte("auth"))
	}
	p.writeAuth(1, typ, joinFields(challenge))
	typ2, data, err := p.readAuth()
	if err != nil {
		return false, nil
	}
	fields = splitFields(data)
	want := 7
	if typ2 == 4 {
		want = 8
	}
	if typ2 != typ || len(fields) != want {
		return false, fmt.Errorf("digest response: type %d with %d fields", typ2, len(fields))
	}
	user, realm, nonce, uri, cnonce, nc, resp := string(fields[0]), string(fields[1]), string(fields[2]), string(fields[3]), string(fields[4]), string(fields[5]), string(fields[6])
	h := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	ha1, ha2 := h(user+":"+realm+":"+testPassword), h("POST:"+uri)
	expected := h(ha1 + ":" + nonce + ":" + ha2)
	if typ == 4 {
		expected = h(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + string(fields[7]) + ":" + ha2)
	}
	f.mu.Lock()
	f.logins++
	good := user == testUser && realm == testRealm && nonce == testNonce && resp == expected
	if !good {
		f.failures++
	}
	f.mu.Unlock()
	if !good {
		p.writeAuth(1, typ, nil)
		return false, nil
	}
	p.writeAuth(0, typ, nil)
	return true, nil
}

func splitFields(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := int(b[0])
		if 1+n > len(b) {
			return out
		}
		out = append(out, b[1:1+n])
		b = b[1+n:]
	}
	return out
}

func joinFields(fields [][]byte) []byte {
	var b []byte
	for _, f := range fields {
		b = append(append(b, byte(len(f))), f...)
	}
	return b
}

// peer is one connection on the AMT side.
type peer struct {
	t      testing.TB
	conn   net.Conn
	r      *bufio.Reader
	kind   string
	mu     sync.Mutex
	seq    uint32 // next sequence number AMT sends
	expect uint32 // next sequence number expected from the console
	max    int    // max read buffer announced
}

func (p *peer) write(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.conn.Write(b)
}

func (p *peer) readAuth() (byte, []byte, error) {
	var h [9]byte
	if _, err := io.ReadFull(p.r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0] != 0x13 {
		return 0, nil, fmt.Errorf("auth: command 0x%02x", h[0])
	}
	n := binary.LittleEndian.Uint32(h[5:])
	if n > 4096 {
		return 0, nil, fmt.Errorf("auth: length %d", n)
	}
	data := make([]byte, n)
	_, err := io.ReadFull(p.r, data)
	return h[4], data, err
}

func (p *peer) writeAuth(status, typ byte, data []byte) {
	b := make([]byte, 9+len(data))
	b[0], b[1], b[4] = 0x14, status, typ
	binary.LittleEndian.PutUint32(b[5:], uint32(len(data)))
	copy(b[9:], data)
	p.write(b)
}

// send writes an IDE-R message with the next sequence number.
func (p *peer) send(id byte, body []byte) {
	b := make([]byte, 8+len(body))
	b[0] = id
	binary.LittleEndian.PutUint32(b[4:], p.seq)
	p.seq++
	copy(b[8:], body)
	p.write(b)
}

// consoleMsg is a message from the console, checked for its sequence.
type consoleMsg struct {
	id   byte
	attr byte
	seq  uint32
	raw  []byte // the whole message
}

// read reads the next IDE-R message from the console, skipping heartbeats.
func (p *peer) read() (consoleMsg, error) {
	for {
		var h [8]byte
		if _, err := io.ReadFull(p.r, h[:]); err != nil {
			return consoleMsg{}, err
		}
		m := consoleMsg{id: h[0], attr: h[3], seq: binary.LittleEndian.Uint32(h[4:])}
		var rest int
		switch m.id {
		case 0x40:
			rest = 10
		case 0x42, 0x44, 0x45, 0x47, 0x4B:
		case 0x48:
			rest = 1
		case 0x51, 0x52:
			rest = 23
		case 0x54:
			rest = 26
		default:
			return m, fmt.Errorf("console sent unknown command 0x%02x", m.id)
		}
		body := make([]byte, rest)
		if _, err := io.ReadFull(p.r, body); err != nil {
			return m, err
		}
		if m.id == 0x48 && body[0] == 3 {
			extra := make([]byte, 4)
			if _, err := io.ReadFull(p.r, extra); err != nil {
				return m, err
			}
			body = append(body, extra...)
		}
		if m.id == 0x54 {
			n := int(binary.LittleEndian.Uint16(body[1:3]))
			payload := make([]byte, n)
			if _, err := io.ReadFull(p.r, payload); err != nil {
				return m, err
			}
			body = append(body, payload...)
		}
		m.raw = append(h[:], body...)
		if m.seq != p.expect {
			return m, fmt.Errorf("console sequence %d on 0x%02x, expected %d", m.seq, m.id, p.expect)
		}
		p.expect++
		if m.id == 0x4B {
			continue
		}
		return m, nil
	}
}

func (p *peer) expectID(id byte) (consoleMsg, error) {
	m, err := p.read()
	if err != nil {
		return m, err
	}
	if m.id != id {
		return m, fmt.Errorf("expected 0x%02x from the console, got 0x%02x", id, m.id)
	}
	return m, nil
}

// open answers OPEN_SESSION and the enable request.
func (p *peer) open(maxRead int, oem int, enableStatus uint32) (mode uint32, err error) {
	m, err := p.expectID(0x40)
	if err != nil {
		return 0, err
	}
	if len(m.raw) != 18 || binary.LittleEndian.Uint32(m.raw[14:18]) != 1 {
		return 0, fmt.Errorf("OPEN_SESSION % x", m.raw)
	}
	p.max = maxRead
	body := make([]byte, 22+oem)
	body[0], body[1] = 1, 0
	binary.LittleEndian.PutUint16(body[8:], uint16(maxRead))
	binary.LittleEndian.PutUint16(body[10:], 8192)
	binary.LittleEndian.PutUint32(body[17:], 343) // IANA number
	body[21] = byte(oem)
	p.send(0x41, body)
	m, err = p.expectID(0x48)
	if err != nil {
		return 0, err
	}
	if len(m.raw) != 13 || m.raw[8] != 3 {
		return 0, fmt.Errorf("DISABLE_ENABLE_FEATURES % x", m.raw)
	}
	mode = binary.LittleEndian.Uint32(m.raw[9:13])
	reply := make([]byte, 5)
	reply[0] = 3
	binary.LittleEndian.PutUint32(reply[1:], enableStatus)
	p.send(0x49, reply)
	return mode, nil
}

// errConsoleClosed: the console closed the session during a command.
var errConsoleClosed = errors.New("the console closed the session")

// answer is what the console returned for one command.
type answer struct {
	data   []byte
	sense  sense
	regs   [8]byte // output registers of the completion: mask, error, count, number, bc lo, bc hi, drive, status
	chunks int
}

// command sends COMMAND_WRITTEN and collects the answer, checking every
// message's layout.
func (p *peer) command(cd, dma bool, cdb ...byte) (answer, error) {
	var a answer
	body := make([]byte, 20)
	if dma {
		body[1] = 0x01
	}
	binary.LittleEndian.PutUint16(body[4:], 0xFFFE)
	body[6] = 0xA0
	if cd {
		body[6] = 0xB0
	}
	body[7] = 0xA0 // PACKET
	copy(body[8:], cdb)
	p.send(0x50, body)
	drive := body[6]
	for {
		m, err := p.read()
		if err != nil {
			return a, err
		}
		switch m.id {
		case 0x44:
			p.send(0x45, nil)
			continue
		case 0x42:
			p.send(0x43, nil)
			return a, errConsoleClosed
		case 0x51:
			if m.attr != 0x02 || len(m.raw) != 31 {
				return a, fmt.Errorf("COMMAND_END attr %x len %d", m.attr, len(m.raw))
			}
			copy(a.regs[:], m.raw[20:28])
			a.sense = sense{m.raw[28], m.raw[29], m.raw[30]}
			if a.regs[6] != drive {
				return a, fmt.Errorf("COMMAND_END drive 0x%02x, want 0x%02x", a.regs[6], drive)
			}
			return a, nil
		case 0x54:
			n := int(binary.LittleEndian.Uint16(m.raw[9:11]))
			if n > p.max || n == 0 {
				return a, fmt.Errorf("DATA_TO_HOST of %d bytes, max %d", n, p.max)
			}
			if (m.attr&0x01 != 0) != dma {
				return a, fmt.Errorf("DATA_TO_HOST DMA attribute %x for dma=%v", m.attr, dma)
			}
			wantMask, wantBC := byte(0xB5), n
			if dma {
				wantMask, wantBC = 0xB4, 0
			}
			if m.raw[12] != wantMask || m.raw[14] != 0x02 || int(binary.LittleEndian.Uint16(m.raw[16:18])) != wantBC || m.raw[18] != drive || m.raw[19] != 0x58 {
				return a, fmt.Errorf("DATA_TO_HOST input registers % x", m.raw[12:20])
			}
			a.data = append(a.data, m.raw[34:]...)
			a.chunks++
			if m.attr&0x02 != 0 {
				copy(a.regs[:], m.raw[20:28])
				if !bytes.Equal(a.regs[:], []byte{0x85, 0, 3, 0, 0, 0, drive, 0x50}) {
					return a, fmt.Errorf("completion registers % x", a.regs)
				}
				return a, nil
			}
			if !bytes.Equal(m.raw[20:28], make([]byte, 8)) {
				return a, fmt.Errorf("intermediate chunk carries output registers % x", m.raw[20:28])
			}
		default:
			return a, fmt.Errorf("unexpected 0x%02x during a command", m.id)
		}
	}
}

// closeSession waits for CLOSE_SESSION and answers it.
func (p *peer) closeSession() error {
	for {
		m, err := p.read()
		if err != nil {
			return err
		}
		switch m.id {
		case 0x42:
			p.send(0x43, nil)
			return nil
		case 0x44:
			p.send(0x45, nil)
		default:
			return fmt.Errorf("expected CLOSE_SESSION, got 0x%02x", m.id)
		}
	}
}

func cdb10(op byte, lba uint32, count uint16) []byte {
	b := make([]byte, 12)
	b[0] = op
	binary.BigEndian.PutUint32(b[2:], lba)
	binary.BigEndian.PutUint16(b[7:], count)
	return b
}

func cdb12(op byte, lba, count uint32) []byte {
	b := make([]byte, 12)
	b[0] = op
	binary.BigEndian.PutUint32(b[2:], lba)
	binary.BigEndian.PutUint32(b[6:], count)
	return b
}

// makeISO builds a bootable CD image of blocks 2048-byte blocks with a
// boot image of bootSectors 512-byte sectors at sector 20.
func makeISO(blocks int, bootSectors int) []byte { return testiso.Make(blocks, bootSectors) }

// do sends a command and checks the sense of the answer.
func (p *peer) do(want sense, cd, dma bool, cdb ...byte) (answer, error) {
	a, err := p.command(cd, dma, cdb...)
	if err != nil {
		return a, err
	}
	if a.sense != want {
		return a, fmt.Errorf("command 0x%02x: sense %v, want %v", cdb[0], a.sense, want)
	}
	return a, nil
}

// biosBoot drives the console like a BIOS booting from the CD and returns
// every byte it read, in the order read.
func biosBoot(p *peer, blocks int) ([]byte, error) {
	var read bytes.Buffer
	tur := make([]byte, 12)
	if _, err := p.do(senseMediumChanged, true, false, tur...); err != nil {
		return nil, fmt.Errorf("first TEST UNIT READY: %w", err)
	}
	if _, err := p.do(senseGood, true, false, tur...); err != nil {
		return nil, fmt.Errorf("second TEST UNIT READY: %w", err)
	}
	a, err := p.do(senseGood, true, false, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	if err != nil || len(a.data) != 8 || binary.BigEndian.Uint32(a.data) != uint32(blocks-1) || binary.BigEndian.Uint32(a.data[4:]) != 2048 {
		return nil, fmt.Errorf("READ CAPACITY % x: %w", a.data, err)
	}
	a, err = p.do(senseGood, true, false, 0x43, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0)
	if err != nil || len(a.data) != 20 || a.data[2] != 1 || a.data[3] != 1 || a.data[14] != 0xAA {
		return nil, fmt.Errorf("READ TOC % x: %w", a.data, err)
	}
	a, err = p.do(senseGood, true, false, 0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 255, 0, 0, 0)
	if err != nil || len(a.data) < 8+26 || a.data[8] != 0x2A || a.data[3] != 0x80 {
		return nil, fmt.Errorf("MODE SENSE(10) % x: %w", a.data, err)
	}
	a, err = p.do(senseGood, true, false, 0x1A, 0, 0x3F, 0, 255, 0, 0, 0, 0, 0, 0, 0)
	if err != nil || len(a.data) != 4 || a.data[2] != 0x80 {
		return nil, fmt.Errorf("MODE SENSE(6) % x: %w", a.data, err)
	}
	a, err = p.do(senseGood, true, false, 0x46, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0)
	if err != nil || len(a.data) < 8 || binary.BigEndian.Uint16(a.data[6:]) != 0x0008 {
		return nil, fmt.Errorf("GET CONFIGURATION % x: %w", a.data, err)
	}
	// The boot record volume descriptor, by READ(10) with DMA.
	a, err = p.do(senseGood, true, true, cdb10(0x28, 17, 1)...)
	if err != nil || len(a.data) != 2048 || string(a.data[1:6]) != "CD001" || !strings.HasPrefix(string(a.data[7:]), "EL TORITO SPECIFICATION") {
		return nil, fmt.Errorf("boot record: %w", err)
	}
	read.Write(a.data)
	catalog := binary.LittleEndian.Uint32(a.data[0x47:])
	a, err = p.do(senseGood, true, false, cdb10(0x28, catalog, 1)...)
	if err != nil || len(a.data) != 2048 || a.data[0x1E] != 0x55 || a.data[0x1F] != 0xAA || a.data[32] != 0x88 {
		return nil, fmt.Errorf("boot catalog: %w", err)
	}
	read.Write(a.data)
	sectors := binary.LittleEndian.Uint16(a.data[32+6:])
	start := binary.LittleEndian.Uint32(a.data[32+8:])
	count := (uint32(sectors)*512 + 2047) / 2048
	// The boot image, by READ(12).
	a, err = p.do(senseGood, true, true, cdb12(0xA8, start, count)...)
	if err != nil || len(a.data) != int(count)*2048 {
		return nil, fmt.Errorf("boot image: %d bytes: %w", len(a.data), err)
	}
	read.Write(a.data)
	return read.Bytes(), nil
}
