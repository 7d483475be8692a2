package redirect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveTest dials the fake, serves media with opts and returns the result.
func serveTest(t *testing.T, handler func(p *peer) error, media IDERMedia, opts IDEROptions) (*IDERStats, error) {
	t.Helper()
	f := newFakeAMT(t, handler)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Dial(ctx, f.addr(), IDER, testCred, Options{})
	require.NoError(t, err)
	return ServeIDER(ctx, s, media, opts)
}

func cdMedium(img []byte) IDERMedia {
	return IDERMedia{CD: &Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}}
}

func TestServeIDERBiosBoot(t *testing.T) {
	t.Parallel()
	const blocks = 200 // 400 KiB
	img := makeISO(blocks, 8)
	var readBack []byte
	var modeSeen uint32
	handler := func(p *peer) error {
		mode, err := p.open(8192, 16, 1)
		if err != nil {
			return err
		}
		modeSeen = mode
		p.send(0x46, []byte{0x01}) // the reset that starts the boot
		if _, err := p.expectID(0x47); err != nil {
			return err
		}
		got, err := biosBoot(p, blocks)
		if err != nil {
			return err
		}
		// A keep-alive, then the rest of the medium in 64 KiB reads.
		p.send(0x44, nil)
		if _, err := p.expectID(0x45); err != nil {
			return err
		}
		var rest bytes.Buffer
		for lba := 0; lba < blocks; lba += 32 {
			n := min(32, blocks-lba)
			a, err := p.do(senseGood, true, lba%64 == 0, cdb10(0x28, uint32(lba), uint16(n))...)
			if err != nil {
				return err
			}
			if a.chunks != (n*2048+8191)/8192 {
				return fmt.Errorf("READ of %d blocks in %d chunks", n, a.chunks)
			}
			rest.Write(a.data)
		}
		if sha256.Sum256(rest.Bytes()) != sha256.Sum256(img) {
			return errors.New("the medium read back differs from the image")
		}
		readBack = got
		return p.closeSession()
	}
	var progress []Progress
	var mu sync.Mutex
	enabled := false
	stats, err := serveTest(t, handler, cdMedium(img), IDEROptions{
		Start:       StartNow,
		IdleTimeout: 300 * time.Millisecond,
		Progress: func(p Progress) {
			mu.Lock()
			progress = append(progress, p)
			mu.Unlock()
		},
		ProgressInterval: time.Nanosecond,
		OnEnabled:        func() { enabled = true },
	})
	require.NoError(t, err)
	assert.True(t, enabled)
	assert.Equal(t, uint32(0x19), modeSeen, "enable | start now")
	assert.Equal(t, StopIdle, stats.Stop)
	assert.True(t, stats.ClosedCleanly)
	assert.True(t, stats.Enabled)
	assert.Equal(t, 8192, stats.MaxReadBuffer)
	assert.Equal(t, 1, stats.Resets)
	assert.Equal(t, int64(4*2048+blocks*2048), stats.BytesServed)
	assert.Equal(t, 10+(blocks+31)/32, stats.Commands)
	assert.Positive(t, stats.Rate)
	boot := append(append(append([]byte{}, img[17*2048:18*2048]...), img[19*2048:20*2048]...), img[20*2048:22*2048]...)
	assert.Equal(t, sha256.Sum256(boot), sha256.Sum256(readBack))
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, progress)
	assert.Equal(t, stats.BytesServed, progress[len(progress)-1].BytesServed)
}

func TestServeIDERFloppy(t *testing.T) {
	t.Parallel()
	img := make([]byte, 1440*1024)
	for i := range img {
		img[i] = byte(i / 512)
	}
	handler := func(p *peer) error {
		if _, err := p.open(4096, 0, 1); err != nil {
			return err
		}
		if _, err := p.do(senseMediumChanged, false, false, make([]byte, 12)...); err != nil {
			return err
		}
		// The CD is not there.
		if _, err := p.do(senseNoMedium, true, false, make([]byte, 12)...); err != nil {
			return err
		}
		a, err := p.do(senseGood, false, false, 0x23, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0)
		if err != nil || binary.BigEndian.Uint32(a.data[4:]) != 2880 || a.data[8] != 2 || a.data[11] != 0 || a.data[10] != 2 {
			return fmt.Errorf("READ FORMAT CAPACITIES % x: %v", a.data, err)
		}
		a, err = p.do(senseGood, false, false, 0x5A, 0, 0x05, 0, 0, 0, 0, 0, 255, 0, 0, 0)
		if err != nil || a.data[2] != 0x24 || a.data[8] != 0x05 || a.data[13] != 18 {
			return fmt.Errorf("MODE SENSE(10) flexible disk % x: %v", a.data, err)
		}
		a, err = p.do(senseGood, false, false, cdb10(0x28, 0, 18)...)
		if err != nil || !bytes.Equal(a.data, img[:18*512]) {
			return fmt.Errorf("READ(10) of the first track: %v", err)
		}
		// READ(6) with count 0 reads 256 blocks.
		a, err = p.do(senseGood, false, false, 0x08, 0, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0)
		if err != nil || !bytes.Equal(a.data, img[256*512:512*512]) {
			return fmt.Errorf("READ(6): %d bytes: %v", len(a.data), err)
		}
		if _, err := p.do(senseWriteProtect, false, false, cdb10(0x2A, 0, 1)...); err != nil {
			return err
		}
		return p.closeSession()
	}
	stats, err := serveTest(t, handler, IDERMedia{Floppy: &Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}},
		IDEROptions{IdleTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, int64(18*512+256*512), stats.BytesServed)
}

func TestServeIDERCheckConditionRegisters(t *testing.T) {
	t.Parallel()
	img := makeISO(64, 4)
	handler := func(p *peer) error {
		if _, err := p.open(8192, 0, 1); err != nil {
			return err
		}
		for _, tc := range []struct {
			cdb  []byte
			want sense
		}{
			{cdb10(0x2A, 0, 1), senseWriteProtect},
			{cdb10(0x28, 60, 5), senseLBARange},
			{[]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, senseInvalidOpcode},
		} {
			a, err := p.do(tc.want, true, false, tc.cdb...)
			if err != nil {
				return err
			}
			if want := [8]byte{0x87, tc.want.key << 4, 0x03, 0, 0, 0, 0xB0, 0x51}; a.regs != want {
				return fmt.Errorf("check condition registers % x, want % x", a.regs, want)
			}
		}
		a, err := p.do(senseGood, true, false, cdb10(0x28, 0, 0)...)
		if err != nil {
			return err
		}
		if want := [8]byte{0xC5, 0, 0x03, 0, 0, 0, 0xB0, 0x50}; a.regs != want || a.data != nil {
			return fmt.Errorf("good status registers % x", a.regs)
		}
		return p.closeSession()
	}
	_, err := serveTest(t, handler, cdMedium(img), IDEROptions{StopAfterBytes: 1, IdleTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
}

func TestServeIDERStopConditions(t *testing.T) {
	t.Parallel()
	img := makeISO(64, 4)
	t.Run("bytes", func(t *testing.T) {
		t.Parallel()
		stats, err := serveTest(t, stopAfterOne, cdMedium(img), IDEROptions{StopAfterBytes: 3 * 8192})
		require.NoError(t, err)
		assert.Equal(t, StopBytes, stats.Stop)
		assert.Equal(t, int64(3*8192), stats.BytesServed)
		assert.True(t, stats.ClosedCleanly)
	})
	t.Run("until", func(t *testing.T) {
		t.Parallel()
		stats, err := serveTest(t, stopAfterOne, cdMedium(img), IDEROptions{Until: func(p Progress) bool { return p.Commands == 2 }})
		require.NoError(t, err)
		assert.Equal(t, StopUntil, stats.Stop)
		assert.Equal(t, 2, stats.Commands)
	})
	t.Run("context", func(t *testing.T) {
		t.Parallel()
		f := newFakeAMT(t, func(p *peer) error {
			if _, err := p.open(8192, 0, 1); err != nil {
				return err
			}
			return p.closeSession()
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := Dial(ctx, f.addr(), IDER, testCred, Options{})
		require.NoError(t, err)
		sctx, scancel := context.WithCancel(ctx)
		stats, err := ServeIDER(sctx, s, cdMedium(img), IDEROptions{OnEnabled: scancel})
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, StopContext, stats.Stop)
		assert.True(t, stats.ClosedCleanly, "the session is closed with CLOSE_SESSION after cancellation")
	})
}

// stopAfterOne reads 8 KiB at a time until the console closes.
func stopAfterOne(p *peer) error {
	if _, err := p.open(8192, 0, 1); err != nil {
		return err
	}
	for lba := uint32(0); ; lba += 4 {
		p.send(0x50, func() []byte {
			b := make([]byte, 20)
			b[6], b[7] = 0xB0, 0xA0
			copy(b[8:], cdb10(0x28, lba, 4))
			return b
		}())
		for {
			m, err := p.read()
			if err != nil {
				return err
			}
			if m.id == 0x42 {
				p.send(0x43, nil)
				return nil
			}
			if m.id == 0x54 && m.attr&0x02 != 0 || m.id == 0x51 {
				break
			}
		}
	}
}

// patternReader is a medium of any size that costs no memory.
type patternReader struct{}

func (patternReader) ReadAt(b []byte, off int64) (int, error) {
	for i := range b {
		b[i] = byte((off + int64(i)) * 29)
	}
	return len(b), nil
}

func TestServeIDERResetMidTransfer(t *testing.T) {
	t.Parallel()
	// A read far larger than any socket buffer: the console is still
	// sending it when the reset arrives.
	const blocks = 64 << 10 // 128 MiB
	handler := func(p *peer) error {
		if _, err := p.open(8192, 0, 1); err != nil {
			return err
		}
		body := make([]byte, 20)
		body[6], body[7] = 0xB0, 0xA0
		copy(body[8:], cdb12(0xA8, 0, blocks))
		p.send(0x50, body)
		if m, err := p.expectID(0x54); err != nil || m.attr&0x02 != 0 {
			return fmt.Errorf("first chunk: %v", err)
		}
		p.send(0x46, []byte{1})
		for {
			m, err := p.read()
			if err != nil {
				return err
			}
			if m.id == 0x47 {
				break
			}
			if m.id != 0x54 {
				return fmt.Errorf("0x%02x during the abandoned transfer", m.id)
			}
			if m.attr&0x02 != 0 {
				return errors.New("the transfer completed although the device reset")
			}
		}
		// After the reset: unit attention again, then reads work and the
		// sequence numbers go on.
		if _, err := p.do(senseMediumChanged, true, false, make([]byte, 12)...); err != nil {
			return err
		}
		a, err := p.do(senseGood, true, false, cdb10(0x28, 17, 1)...)
		if err != nil || len(a.data) != 2048 || a.data[0] != byte(int64(17*2048)*29%256) {
			return fmt.Errorf("read after reset: %w", err)
		}
		return p.closeSession()
	}
	media := IDERMedia{CD: &Medium{Reader: patternReader{}, Size: blocks * 2048}}
	stats, err := serveTest(t, handler, media, IDEROptions{IdleTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 1, stats.Resets)
	assert.Less(t, stats.BytesServed, int64(blocks*2048/2), "the transfer was abandoned")
}

func TestServeIDERProtocolViolations(t *testing.T) {
	t.Parallel()
	img := makeISO(64, 4)
	for _, tc := range []struct {
		name    string
		handler func(p *peer) error
		want    error
		check   func(t *testing.T, err error)
	}{
		{
			name: "bad sequence",
			handler: func(p *peer) error {
				if _, err := p.open(8192, 0, 1); err != nil {
					return err
				}
				p.seq += 5
				p.send(0x44, nil)
				_, _ = p.read()
				return nil
			},
			want: ErrProtocol,
			check: func(t *testing.T, err error) {
				var pe *ProtocolError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, "sequence number 2", pe.Expected)
				assert.Contains(t, pe.Got, "7 on command 0x44")
			},
		},
		{
			name: "unknown command",
			handler: func(p *peer) error {
				if _, err := p.open(8192, 0, 1); err != nil {
					return err
				}
				p.send(0x99, make([]byte, 40))
				_, _ = p.read()
				return nil
			},
			want: ErrProtocol,
		},
		{
			name: "unsolicited host data of hostile length",
			handler: func(p *peer) error {
				if _, err := p.open(8192, 0, 1); err != nil {
					return err
				}
				body := make([]byte, 6)
				binary.LittleEndian.PutUint16(body[1:], 0xFFFF)
				p.send(0x53, body)
				_, _ = p.read()
				return nil
			},
			want: ErrProtocol,
		},
		{
			name: "truncated command",
			handler: func(p *peer) error {
				if _, err := p.open(8192, 0, 1); err != nil {
					return err
				}
				b := make([]byte, 28)
				b[0] = 0x50
				binary.LittleEndian.PutUint32(b[4:], p.seq)
				p.write(b[:15])
				return nil
			},
			want: ErrPeerClosed,
		},
		{
			name: "zero read buffer",
			handler: func(p *peer) error {
				_, err := p.open(0, 255, 1)
				if err == nil {
					return errors.New("the console enabled with no read buffer")
				}
				return nil
			},
			want: ErrProtocol,
		},
		{
			name: "enable refused",
			handler: func(p *peer) error {
				_, _ = p.open(8192, 0, 0)
				_, _ = p.read()
				return nil
			},
			want: ErrRefused,
		},
		{
			name: "device closes the session",
			handler: func(p *peer) error {
				if _, err := p.open(8192, 0, 1); err != nil {
					return err
				}
				p.send(0x43, nil)
				_, _ = p.read()
				return nil
			},
			want: ErrPeerClosed,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stats, err := serveTest(t, tc.handler, cdMedium(img), IDEROptions{})
			require.ErrorIs(t, err, tc.want)
			require.NotNil(t, stats)
			if tc.check != nil {
				tc.check(t, err)
			}
		})
	}
}

func TestServeIDERSilentPeer(t *testing.T) {
	t.Parallel()
	f := newFakeAMT(t, func(p *peer) error {
		_, _ = p.read() // OPEN_SESSION, never answered
		_, _ = p.read()
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Dial(ctx, f.addr(), IDER, testCred, Options{})
	require.NoError(t, err)
	sctx, scancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer scancel()
	start := time.Now()
	stats, err := ServeIDER(sctx, s, cdMedium(makeISO(32, 4)), IDEROptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, StopContext, stats.Stop)
	assert.Less(t, time.Since(start), closeWait+2*time.Second)
}

func TestServeIDERRejectsBadInput(t *testing.T) {
	t.Parallel()
	f := newFakeAMT(t, nil)
	ctx := context.Background()
	s, err := Dial(ctx, f.addr(), SOL, testCred, Options{})
	require.NoError(t, err)
	defer s.Close()
	_, err = ServeIDER(ctx, s, IDERMedia{}, IDEROptions{})
	require.Error(t, err)
	_, err = ServeIDER(ctx, s, cdMedium(make([]byte, 2048)), IDEROptions{})
	require.ErrorContains(t, err, "needs a session of kind IDE-R")
}
