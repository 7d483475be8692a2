package redirect

import (
	"bytes"
	"testing"
)

// FuzzDecodeIDER feeds arbitrary bytes to the IDE-R message decoder as if
// the device sent them: it must return messages or a typed error, never
// panic, and never read past a bounded buffer.
func FuzzDecodeIDER(f *testing.F) {
	f.Add([]byte{0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3})
	f.Add([]byte{0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFE, 0xFF, 0xB0, 0xA0, 0x28, 0, 0, 0, 0, 17, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{0x53, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0})
	f.Add([]byte{0x46, 0, 0, 0, 0, 0, 0, 0, 1, 0x44, 0, 0, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Session{rd: newFrameReader(bytes.NewReader(data), 4096)}
		var expect uint32
		for i := 0; i < 1000; i++ {
			m, err := s.readIDEMessage(expect)
			if err != nil {
				return
			}
			expect++
			if m.id == iderCommandWritten {
				d := newDrive(m.body[14-8]&0x10 != 0, &Medium{Reader: bytes.NewReader(data), Size: int64(len(data)) + 1})
				var scratch [scratchSize]byte
				r := d.execute(m.body[16-8:28-8], scratch[:])
				if len(r.data) > scratchSize {
					t.Fatalf("inline answer of %d bytes", len(r.data))
				}
				if r.read && (r.lba < 0 || r.lba+r.count > d.blocks) {
					t.Fatalf("read outside the medium: %+v", r)
				}
			}
		}
	})
}

// FuzzDecodeSOL does the same for SOL messages.
func FuzzDecodeSOL(f *testing.F) {
	f.Add([]byte{0x2A, 0, 0, 0, 0, 0, 0, 0, 3, 0, 'a', 'b', 'c'})
	f.Add([]byte{0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x24, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &SOLConn{s: &Session{rd: newFrameReader(bytes.NewReader(data), 4096)}}
		for i := 0; i < 1000; i++ {
			if _, _, _, err := c.readMessage("fuzz"); err != nil {
				return
			}
		}
	})
}

// FuzzATAPI runs arbitrary CDBs against both drives.
func FuzzATAPI(f *testing.F) {
	f.Add([]byte{0x43, 2, 0, 0, 0, 0, 0xAA, 0xFF, 0xFF, 0xC0, 0, 0}, true)
	f.Add([]byte{0x46, 1, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0}, true)
	f.Add([]byte{0x5A, 0, 0x3F, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, cdb []byte, cd bool) {
		if len(cdb) < 12 {
			cdb = append(cdb, make([]byte, 12-len(cdb))...)
		}
		for _, m := range []*Medium{nil, {Reader: bytes.NewReader(nil), Size: 5000 * 512}} {
			d := newDrive(cd, m)
			var scratch [scratchSize]byte
			r := d.execute(cdb[:12], scratch[:])
			if r.read && (m == nil || r.lba+r.count > d.blocks || r.count <= 0) {
				t.Fatalf("bad read %+v", r)
			}
		}
	})
}
