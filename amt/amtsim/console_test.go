package amtsim

// A minimal redirection console written from the protocol description,
// independent of the device code: it drives the device's side of the
// protocol in tests.

import (
	"bufio"
	"crypto/md5"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type testConsole struct {
	t   *testing.T
	c   net.Conn
	br  *bufio.Reader
	wmu sync.Mutex
	seq uint32 // next outbound IDE-R sequence number
	in  uint32 // next expected inbound IDE-R sequence number

	maxRead int // from OPEN_SESSION_REPLY

	realm, nonce string // of the last challenge login answered

	// Observations of the IDE-R serve loop.
	pings, heartbeats, resets atomic.Int32
	opcodes                   sync.Map // opcode -> count
	reads                     atomic.Int32
	// onRead, if set, is called before answering a READ; returning false
	// stops the console.
	onRead func(lba uint64, blocks int) bool
}

func dialConsole(t *testing.T, addr string, tc *tls.Config) *testConsole {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	if tc != nil {
		c = tls.Client(c, tc)
	}
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	return &testConsole{t: t, c: c, br: bufio.NewReader(c)}
}

func (tc *testConsole) write(p []byte) error {
	tc.wmu.Lock()
	defer tc.wmu.Unlock()
	_, err := tc.c.Write(p)
	return err
}

func (tc *testConsole) read(n int) ([]byte, error) {
	p := make([]byte, n)
	_, err := io.ReadFull(tc.br, p)
	return p, err
}

// start sends StartRedirectionSession and returns the reply status.
func (tc *testConsole) start(tag string) (byte, error) {
	if err := tc.write(append([]byte{0x10, 0, 0, 0}, tag...)); err != nil {
		return 0, err
	}
	r, err := tc.read(13)
	if err != nil {
		return 0, err
	}
	if r[0] != 0x11 {
		return 0, fmt.Errorf("reply id 0x%02X", r[0])
	}
	if _, err := tc.read(int(r[12])); err != nil {
		return 0, err
	}
	return r[1], nil
}

func lp(fields ...string) []byte {
	var b []byte
	for _, f := range fields {
		b = append(b, byte(len(f)))
		b = append(b, f...)
	}
	return b
}

func authMsg(typ byte, data []byte) []byte {
	m := []byte{0x13, 0, 0, 0, typ, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(m[5:9], uint32(len(data)))
	return append(m, data...)
}

func (tc *testConsole) authReply() (status, typ byte, data []byte, err error) {
	h, err := tc.read(9)
	if err != nil {
		return 0, 0, nil, err
	}
	if h[0] != 0x14 {
		return 0, 0, nil, fmt.Errorf("auth reply id 0x%02X", h[0])
	}
	n := binary.LittleEndian.Uint32(h[5:9])
	if n > 4096 {
		return 0, 0, nil, errors.New("auth reply too long")
	}
	data, err = tc.read(int(n))
	return h[1], h[4], data, err
}

func md5s(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// login queries the authentication types and runs digest type 4 or 3. It
// returns the final reply status.
func (tc *testConsole) login(typ byte, user, pass string) (byte, error) {
	if err := tc.write(authMsg(0, nil)); err != nil {
		return 0, err
	}
	st, _, types, err := tc.authReply()
	if err != nil {
		return 0, err
	}
	if st != 0 || string(types) != "\x03\x04" {
		return 0, fmt.Errorf("query: status %d types % X", st, types)
	}
	const uri = "/RedirectionService"
	empty := lp(user, "", "", uri, "", "", "", "")
	if typ == 3 {
		empty = lp(user, "", "", uri, "", "", "")
	}
	if err := tc.write(authMsg(typ, empty)); err != nil {
		return 0, err
	}
	st, rtyp, ch, err := tc.authReply()
	if err != nil {
		return 0, err
	}
	if st != 1 || rtyp != typ {
		return 0, fmt.Errorf("challenge: status %d type %d", st, rtyp)
	}
	var f []string
	for pos := 0; pos < len(ch); {
		l := int(ch[pos])
		f = append(f, string(ch[pos+1:pos+1+l]))
		pos += 1 + l
	}
	if len(f) != 3 || f[2] != "auth" {
		return 0, fmt.Errorf("challenge fields %q", f)
	}
	tc.realm, tc.nonce = f[0], f[1]
	data := digestAnswer(typ, user, pass, tc.realm, tc.nonce, "00000002")
	if err := tc.write(authMsg(typ, data)); err != nil {
		return 0, err
	}
	st, _, _, err = tc.authReply()
	return st, err
}

// digestAnswer is the data of an AuthenticateSession of type 3 or 4 that
// answers the challenge (realm, nonce) with nonce count nc.
func digestAnswer(typ byte, user, pass, realm, nonce, nc string) []byte {
	const uri, cnonce = "/RedirectionService", "0a4f113b9c1d2e3f"
	ha1, ha2 := md5s(user+":"+realm+":"+pass), md5s("POST:"+uri)
	if typ == 4 {
		resp := md5s(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
		return lp(user, realm, nonce, uri, cnonce, nc, resp, "auth")
	}
	resp := md5s(ha1 + ":" + nonce + ":" + ha2)
	return lp(user, realm, nonce, uri, cnonce, nc, resp)
}

// session starts and authenticates a session, failing the test otherwise.
func (tc *testConsole) session(tag string, typ byte) {
	tc.t.Helper()
	st, err := tc.start(tag)
	require.NoError(tc.t, err)
	require.Equal(tc.t, byte(0), st, "StartRedirectionSession status")
	st, err = tc.login(typ, testUser, testPass)
	require.NoError(tc.t, err)
	require.Equal(tc.t, byte(0), st, "authentication status")
}

// sendIDER sends an IDE-R message with the next sequence number.
func (tc *testConsole) sendIDER(id, attr byte, body []byte) error {
	tc.wmu.Lock()
	defer tc.wmu.Unlock()
	m := make([]byte, 8+len(body))
	m[0], m[3] = id, attr
	binary.LittleEndian.PutUint32(m[4:8], tc.seq)
	tc.seq++
	copy(m[8:], body)
	_, err := tc.c.Write(m)
	return err
}

var errBadSeq = errors.New("console: wrong IDE-R sequence number from the device")

// readIDER reads one message from the device and checks its sequence
// number.
func (tc *testConsole) readIDER() ([]byte, error) {
	h, err := tc.read(8)
	if err != nil {
		return nil, err
	}
	var n int
	switch h[0] {
	case 0x41:
		n = 30
	case 0x43, 0x44, 0x45, 0x4B:
		n = 8
	case 0x46:
		n = 9
	case 0x49:
		n = 13
	case 0x4A:
		n = 11
	case 0x50:
		n = 28
	default:
		return nil, fmt.Errorf("console: unknown message 0x%02X", h[0])
	}
	rest, err := tc.read(n - 8)
	if err != nil {
		return nil, err
	}
	m := append(h, rest...)
	if h[0] == 0x41 {
		oem, err := tc.read(int(m[29]))
		if err != nil {
			return nil, err
		}
		m = append(m, oem...)
	}
	if seq := binary.LittleEndian.Uint32(m[4:8]); seq != tc.in {
		return m, errBadSeq
	}
	tc.in++
	return m, nil
}

// openIDER opens the IDE-R session and enables the device with mode.
func (tc *testConsole) openIDER(mode uint32) {
	tc.t.Helper()
	body := make([]byte, 10)
	binary.LittleEndian.PutUint16(body[0:2], 30000)
	binary.LittleEndian.PutUint16(body[4:6], 20000)
	binary.LittleEndian.PutUint32(body[6:10], 1)
	require.NoError(tc.t, tc.sendIDER(0x40, 0, body))
	r, err := tc.readIDER()
	require.NoError(tc.t, err)
	require.Equal(tc.t, byte(0x41), r[0])
	require.Len(tc.t, r, 30)
	tc.maxRead = int(binary.LittleEndian.Uint16(r[16:18]))
	require.Equal(tc.t, 8192, tc.maxRead)
	require.Equal(tc.t, 8192, int(binary.LittleEndian.Uint16(r[18:20])))
	require.Equal(tc.t, byte(0), r[21])
	if mode == 0 {
		return
	}
	set := []byte{3, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(set[1:5], mode)
	require.NoError(tc.t, tc.sendIDER(0x48, 0, set))
	for {
		r, err = tc.readIDER()
		require.NoError(tc.t, err)
		if r[0] == 0x49 {
			break
		}
		require.Contains(tc.t, []byte{0x44, 0x4B}, r[0])
		if r[0] == 0x44 {
			require.NoError(tc.t, tc.sendIDER(0x45, 0, nil))
		}
	}
	require.Equal(tc.t, byte(3), r[8])
	require.Equal(tc.t, uint32(1), binary.LittleEndian.Uint32(r[9:13]))
}

// media are the console's images.
type media struct {
	cd, floppy []byte
}

// serve answers the device until it closes the session, the connection
// ends or a check fails. It returns nil after CLOSE_SESSION_REPLY.
func (tc *testConsole) serve(m media) error {
	attention := map[byte]bool{0xB0: m.cd != nil, 0xA0: m.floppy != nil}
	for {
		msg, err := tc.readIDER()
		if err != nil {
			return err
		}
		switch msg[0] {
		case 0x43:
			return nil
		case 0x44:
			tc.pings.Add(1)
			if err := tc.sendIDER(0x45, 0, nil); err != nil {
				return err
			}
		case 0x45, 0x49:
		case 0x4B:
			tc.heartbeats.Add(1)
		case 0x46:
			tc.resets.Add(1)
			if err := tc.sendIDER(0x47, 0, nil); err != nil {
				return err
			}
		case 0x4A:
			return fmt.Errorf("console: ERROR_OCCURRED %d", msg[8])
		case 0x50:
			if msg[15] != 0xA0 || msg[9]&1 != 0 || msg[3]&1 != 0 {
				return fmt.Errorf("console: unexpected COMMAND_WRITTEN % X", msg)
			}
			if err := tc.command(m, msg[14], msg[16:28], attention); err != nil {
				return err
			}
		}
	}
}

type senseT [3]byte

func (tc *testConsole) end(drive byte, s senseT) error {
	b := make([]byte, 23)
	if s == (senseT{}) {
		b[12], b[14], b[18], b[19] = 0xC5, 0x03, drive, 0x50
	} else {
		b[12], b[13], b[14], b[18], b[19] = 0x87, s[0]<<4, 0x03, drive, 0x51
		b[20], b[21], b[22] = s[0], s[1], s[2]
	}
	return tc.sendIDER(0x51, 0x02, b)
}

// data sends device-to-host data in chunks of the negotiated size, the
// last one carrying the completion.
func (tc *testConsole) data(drive byte, p []byte) error {
	for first := true; first || len(p) > 0; first = false {
		n := min(len(p), tc.maxRead)
		last := n == len(p)
		b := make([]byte, 26+n)
		binary.LittleEndian.PutUint16(b[1:3], uint16(n))
		b[4], b[6] = 0xB5, 0x02
		binary.LittleEndian.PutUint16(b[8:10], uint16(n))
		b[10], b[11] = drive, 0x58
		attr := byte(0)
		if last {
			copy(b[12:20], []byte{0x85, 0, 0x03, 0, 0, 0, drive, 0x50})
			attr = 0x02
		}
		copy(b[26:], p[:n])
		if err := tc.sendIDER(0x54, attr, b); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func truncate(p []byte, alloc int) []byte { return p[:min(len(p), alloc)] }

func (tc *testConsole) command(m media, drive byte, cdb []byte, attention map[byte]bool) error {
	img, bs := m.floppy, 512
	if drive == 0xB0 {
		img, bs = m.cd, 2048
	}
	op := cdb[0]
	v, _ := tc.opcodes.LoadOrStore(op, new(atomic.Int32))
	v.(*atomic.Int32).Add(1)
	alloc := int(binary.BigEndian.Uint16(cdb[7:9]))
	if img == nil && op != 0x00 {
		return tc.end(drive, senseT{0x02, 0x3A, 0})
	}
	switch op {
	case 0x00:
		switch {
		case img == nil:
			return tc.end(drive, senseT{0x02, 0x3A, 0})
		case attention[drive]:
			attention[drive] = false
			return tc.end(drive, senseT{0x06, 0x28, 0})
		}
		return tc.end(drive, senseT{})
	case 0x25:
		r := make([]byte, 8)
		binary.BigEndian.PutUint32(r[0:4], uint32(len(img)/bs-1))
		binary.BigEndian.PutUint32(r[4:8], uint32(bs))
		return tc.data(drive, r)
	case 0x23:
		r := make([]byte, 12)
		r[3] = 8
		binary.BigEndian.PutUint32(r[4:8], uint32(len(img)/bs))
		r[8], r[10] = 0x02, 0x02 // formatted, 512 = 0x000200
		return tc.data(drive, truncate(r, alloc))
	case 0x43:
		r := []byte{0, 0x12, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0, 0, 0x14, 0xAA, 0}
		r = binary.BigEndian.AppendUint32(r, uint32(len(img)/bs))
		return tc.data(drive, truncate(r, alloc))
	case 0x5A:
		if cdb[2]&0x3F != 0x2A {
			return tc.end(drive, senseT{0x05, 0x24, 0})
		}
		page := make([]byte, 20)
		page[0], page[1] = 0x2A, 18
		r := append([]byte{0, 26, 0x01, 0x80, 0, 0, 0, 0}, page...)
		return tc.data(drive, truncate(r, alloc))
	case 0x46:
		r := []byte{0, 0, 0, 12, 0, 0, 0, 0x08, 0, 0, 0x03, 4, 0, 0x08, 1, 0}
		return tc.data(drive, truncate(r, alloc))
	case 0x28, 0xA8:
		lba := uint64(binary.BigEndian.Uint32(cdb[2:6]))
		n := int(binary.BigEndian.Uint16(cdb[7:9]))
		if op == 0xA8 {
			n = int(binary.BigEndian.Uint32(cdb[6:10]))
		}
		if tc.onRead != nil && !tc.onRead(lba, n) {
			return errors.New("console: stopped")
		}
		tc.reads.Add(1)
		if lba+uint64(n) > uint64(len(img)/bs) {
			return tc.end(drive, senseT{0x05, 0x21, 0})
		}
		if n == 0 {
			return tc.end(drive, senseT{})
		}
		return tc.data(drive, img[lba*uint64(bs):(lba+uint64(n))*uint64(bs)])
	case 0x2A:
		if drive == 0xB0 {
			return tc.end(drive, senseT{0x07, 0x27, 0})
		}
		return tc.end(drive, senseT{0x05, 0x20, 0})
	}
	return tc.end(drive, senseT{0x05, 0x20, 0})
}

// fill writes deterministic pseudo-random bytes.
func fill(p []byte, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	for i := range p {
		p[i] = byte(r.Uint32())
	}
}

// isoImage builds a CD image of blocks 2048-byte blocks with an El Torito
// boot record at sector 17, the boot catalog at 19 and a boot image of
// sectors × 512 bytes at 20.
func isoImage(blocks, sectors int) []byte {
	img := make([]byte, blocks*2048)
	fill(img, uint64(blocks))
	blk := func(n int) []byte { return img[n*2048 : (n+1)*2048] }
	pvd := blk(16)
	clear(pvd)
	pvd[0], pvd[6] = 1, 1
	copy(pvd[1:], "CD001")
	br := blk(17)
	clear(br)
	copy(br[1:], "CD001")
	br[6] = 1
	copy(br[7:], "EL TORITO SPECIFICATION")
	binary.LittleEndian.PutUint32(br[0x47:], 19)
	term := blk(18)
	clear(term)
	term[0], term[6] = 0xFF, 1
	copy(term[1:], "CD001")
	cat := blk(19)
	clear(cat)
	cat[0] = 0x01
	cat[0x1E], cat[0x1F] = 0x55, 0xAA
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(cat[i:])
	}
	binary.LittleEndian.PutUint16(cat[0x1C:], -sum)
	cat[32] = 0x88
	binary.LittleEndian.PutUint16(cat[32+6:], uint16(sectors))
	binary.LittleEndian.PutUint32(cat[32+8:], 20)
	return img
}

// floppyImage builds a 1.44 MB floppy with a boot sector.
func floppyImage() []byte {
	img := make([]byte, 2880*512)
	fill(img, 1440)
	img[510], img[511] = 0x55, 0xAA
	return img
}
