package redir

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/digest"
)

// floppy is a console's IDE-R side serving a floppy image: it answers each
// message the BIOS sends at once, the way a well-behaved console would.
type floppy struct {
	img      []byte
	queue    []Msg
	commands int
	reads    []BlockRead
	bytes    int64
	image    string
}

func (f *floppy) Send(m []byte) error {
	switch m[0] {
	case IDERReset:
		f.queue = append(f.queue, Msg{ID: IDERResetReply, Body: IDERMsg(IDERResetReply, IDERHdrLen)})
	case IDERCommand:
		drive := m[14]
		c := m[16:28]
		switch c[0] {
		case scsiTestUnitReady:
			f.end(drive, senseGood)
		case scsiReadCapacity:
			d := make([]byte, 8)
			binary.BigEndian.PutUint32(d[0:4], uint32(len(f.img)/floppyBlock-1))
			binary.BigEndian.PutUint32(d[4:8], floppyBlock)
			f.data(drive, d)
		case scsiReadFormatCaps:
			d := make([]byte, 12)
			d[3], d[8], d[10] = 8, 0x02, 0x02 // 0x000200 = 512
			f.data(drive, d)
		case scsiRead10, scsiRead12:
			lba := binary.BigEndian.Uint32(c[2:6])
			n := int(binary.BigEndian.Uint16(c[7:9]))
			if c[0] == scsiRead12 {
				n = int(binary.BigEndian.Uint32(c[6:10]))
			}
			f.data(drive, f.img[int(lba)*floppyBlock:(int(lba)+n)*floppyBlock])
		default:
			f.end(drive, senseInvalidOpcode)
		}
	}
	return nil
}

func (f *floppy) end(drive byte, sn sense) {
	b := IDERMsg(IDERCommandEnd, IDERCommandEndLen)
	b[26] = drive
	if sn != senseGood {
		b[27] = 0x01
	}
	copy(b[28:31], sn[:])
	f.queue = append(f.queue, Msg{ID: IDERCommandEnd, Attr: IDERAttrCompleted, Body: b})
}

func (f *floppy) data(drive byte, p []byte) {
	b := IDERMsg(IDERDataToHost, IDERDataToHostLen+len(p))
	binary.LittleEndian.PutUint16(b[9:11], uint16(len(p)))
	binary.LittleEndian.PutUint16(b[16:18], uint16(len(p)))
	b[18], b[26] = drive, drive
	copy(b[IDERDataToHostLen:], p)
	f.queue = append(f.queue, Msg{ID: IDERDataToHost, Attr: IDERAttrCompleted, Body: b})
}

func (f *floppy) Wait(time.Duration) (Msg, error) {
	if len(f.queue) == 0 {
		return Msg{}, ErrTimeout
	}
	m := f.queue[0]
	f.queue = f.queue[1:]
	return m, nil
}

func (f *floppy) InjectReset() bool                 { return false }
func (f *floppy) Commands(n int)                    { f.commands = n }
func (f *floppy) Read(r BlockRead, bytesRead int64) { f.reads, f.bytes = append(f.reads, r), bytesRead }
func (f *floppy) BootImage(sum string)              { f.image = sum }

func floppyImage(blocks int) []byte {
	img := make([]byte, blocks*floppyBlock)
	for i := range img {
		img[i] = byte(i * 7)
	}
	img[510], img[511] = 0x55, 0xAA
	return img
}

func TestBootFloppy(t *testing.T) {
	f := &floppy{img: floppyImage(8)}
	if err := Boot(f, false, 0); err != nil {
		t.Fatalf("Boot: %v", err)
	}
	sum := sha256.Sum256(f.img[:floppyBlock])
	if f.image != hex.EncodeToString(sum[:]) {
		t.Errorf("boot image %s, want the boot sector's SHA-256", f.image)
	}
	// TEST UNIT READY, READ CAPACITY, READ FORMAT CAPACITIES, the boot
	// sector, opcode FF, then the whole 8-block medium in one READ(10).
	if f.commands != 6 {
		t.Errorf("%d commands, want 6", f.commands)
	}
	all := sha256.Sum256(f.img)
	want := []BlockRead{{LBA: 0, Blocks: 1, SHA256: hex.EncodeToString(sum[:])}, {LBA: 0, Blocks: 8, SHA256: hex.EncodeToString(all[:])}}
	if len(f.reads) != len(want) || f.reads[0] != want[0] || f.reads[1] != want[1] {
		t.Errorf("reads %+v, want %+v", f.reads, want)
	}
	if f.bytes != int64(9*floppyBlock) {
		t.Errorf("%d bytes read, want %d", f.bytes, 9*floppyBlock)
	}
}

func TestBootFloppyWithoutSignature(t *testing.T) {
	img := floppyImage(4)
	img[511] = 0
	err := Boot(&floppy{img: img}, false, 0)
	if err == nil || !strings.Contains(err.Error(), "0x55AA") {
		t.Fatalf("Boot of an unbootable floppy: %v, want the missing signature", err)
	}
}

func TestBootSilentConsole(t *testing.T) {
	f := &floppy{img: floppyImage(4)}
	f.queue = nil
	// A console that answers RESET_OCCURRED but nothing else.
	m := &silentAfterReset{floppy: f}
	if err := Boot(m, true, 0); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Boot with a silent console: %v, want ErrTimeout", err)
	}
}

type silentAfterReset struct{ *floppy }

func (s *silentAfterReset) Send(m []byte) error {
	if m[0] == IDERReset {
		return s.floppy.Send(m)
	}
	return nil
}

func TestParseAuthFields(t *testing.T) {
	var data []byte
	vals := []string{"admin", "Digest:1", "n0", URI, "c0", "00000001", "r0", "auth"}
	for _, v := range vals {
		data = append(data, byte(len(v)))
		data = append(data, v...)
	}
	f, ok := ParseAuthFields(data, AuthDigestQop)
	if !ok || f.User != "admin" || f.QOP != "auth" || f.NC != "00000001" {
		t.Fatalf("ParseAuthFields = %+v, %v", f, ok)
	}
	if _, ok := ParseAuthFields(data[:len(data)-5], AuthDigestQop); ok {
		t.Error("seven fields accepted for type 4")
	}
	if _, ok := ParseAuthFields(data[:len(data)-1], AuthDigestQop); ok {
		t.Error("truncated field accepted")
	}
	seven := data[:len(data)-5]
	if _, ok := ParseAuthFields(seven, AuthDigest); !ok {
		t.Error("type 3 without qop refused")
	}
	long := append([]byte{MaxAuthName + 1}, strings.Repeat("u", MaxAuthName+1)...)
	if _, ok := ParseAuthFields(append(long, data[6:]...), AuthDigestQop); ok {
		t.Error("user longer than MaxAuthName accepted")
	}
}

func TestDigestValid(t *testing.T) {
	const realm, user, pw = "Digest:1", "admin", "P@ssw0rd1"
	f := AuthFields{User: user, Realm: realm, Nonce: "n0", URI: URI, CNonce: "c0", NC: "00000001", QOP: "auth"}
	f.Response = digest.ResponseAuth(user, realm, pw, Method, URI, f.Nonce, f.NC, f.CNonce)
	if !DigestValid(f, AuthDigestQop, realm, user, pw) {
		t.Fatal("correct qop=auth response refused")
	}
	f.Response = strings.ToUpper(f.Response)
	if !DigestValid(f, AuthDigestQop, realm, user, pw) {
		t.Error("upper-case response refused")
	}
	if DigestValid(f, AuthDigestQop, realm, user, "wrong") {
		t.Error("wrong password accepted")
	}
	bad := f
	bad.URI = "/wsman"
	if DigestValid(bad, AuthDigestQop, realm, user, pw) {
		t.Error("wrong uri accepted")
	}
	bad = f
	bad.NC = "1"
	if DigestValid(bad, AuthDigestQop, realm, user, pw) {
		t.Error("nc of one digit accepted")
	}
	g := AuthFields{User: user, Realm: realm, Nonce: "n1", URI: URI}
	g.Response = digest.ResponseNoQop(user, realm, pw, Method, URI, g.Nonce)
	if !DigestValid(g, AuthDigest, realm, user, pw) {
		t.Error("correct type 3 response refused")
	}
}
