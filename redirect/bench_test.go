package redirect

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
	"time"
)

// leanReader reads the whole CD through the console in READ(10)s of
// blocksPerRead blocks, reusing its buffers so that the benchmark's
// allocations are the console's.
func leanReader(size int64, blocksPerRead int) func(p *peer) error {
	return func(p *peer) error {
		if _, err := p.open(8192, 0, 1); err != nil {
			return err
		}
		blocks := size / 2048
		cmd := make([]byte, 28)
		cmd[0], cmd[14], cmd[15] = 0x50, 0xB0, 0xA0
		hdr := make([]byte, 34)
		buf := make([]byte, 65536)
		var got int64
		for lba := int64(0); lba < blocks; lba += int64(blocksPerRead) {
			n := min(int64(blocksPerRead), blocks-lba)
			binary.LittleEndian.PutUint32(cmd[4:], p.seq)
			p.seq++
			cmd[16] = 0x28
			binary.BigEndian.PutUint32(cmd[18:], uint32(lba))
			binary.BigEndian.PutUint16(cmd[23:], uint16(n))
			if _, err := p.conn.Write(cmd); err != nil {
				return err
			}
			for {
				if _, err := io.ReadFull(p.r, hdr[:8]); err != nil {
					return err
				}
				if hdr[0] != 0x54 {
					return fmt.Errorf("0x%02x during a read", hdr[0])
				}
				if binary.LittleEndian.Uint32(hdr[4:]) != p.expect {
					return fmt.Errorf("sequence")
				}
				p.expect++
				if _, err := io.ReadFull(p.r, hdr[8:]); err != nil {
					return err
				}
				l := int(binary.LittleEndian.Uint16(hdr[9:]))
				if _, err := io.ReadFull(p.r, buf[:l]); err != nil {
					return err
				}
				got += int64(l)
				if hdr[3]&0x02 != 0 {
					break
				}
			}
		}
		if got != size {
			return fmt.Errorf("read %d of %d bytes", got, size)
		}
		return p.closeSession()
	}
}

// BenchmarkIDERServe serves an in-memory image to a peer on loopback that
// reads all of it; one op is the whole image. B/op and allocs/op stay the
// same whatever the image size: the image is streamed, not buffered.
func BenchmarkIDERServe(b *testing.B) {
	for _, size := range []int64{16 << 20, 64 << 20} {
		img := make([]byte, size)
		for i := range img {
			img[i] = byte(i)
		}
		for _, perRead := range []int{4, 32} { // 8 KiB (one max-buffer message), 64 KiB
			b.Run(fmt.Sprintf("image=%dMiB/read=%dKiB", size>>20, perRead*2), func(b *testing.B) {
				f := newFakeAMT(b, leanReader(size, perRead))
				media := IDERMedia{CD: &Medium{Reader: bytes.NewReader(img), Size: size}}
				b.SetBytes(size)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					s, err := Dial(ctx, f.addr(), IDER, testCred, Options{})
					if err != nil {
						b.Fatal(err)
					}
					stats, err := ServeIDER(ctx, s, media, IDEROptions{StopAfterBytes: size})
					cancel()
					if err != nil || stats.BytesServed != size {
						b.Fatal(err, stats.BytesServed)
					}
				}
			})
		}
	}
}
