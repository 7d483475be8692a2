package amtsim

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func shaHex(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}

func redirOpts() Options {
	o := plainOpts()
	o.RedirectKeepAlive = 15 * time.Millisecond
	return o
}

// armIDER sets the one-time boot settings for IDE-R through WS-Man.
func armIDER(t *testing.T, wc *wsClient, device int) {
	t.Helper()
	require.Equal(t, 0, wc.returnValue(changeBootOrderReq()))
	resp, data := wc.post(bootPutReq(`<r:IDERBootDevice>` + string(rune('0'+device)) + `</r:IDERBootDevice><r:UseIDER>true</r:UseIDER>`))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	require.Equal(t, 0, wc.returnValue(setRoleReq(roleIsNextSingleUse)))
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// serveAsync runs the console's serve loop in the background.
func serveAsync(tc *testConsole, m media) <-chan error {
	done := make(chan error, 1)
	go func() {
		err := tc.serve(m)
		if err != nil {
			tc.t.Logf("console: %v", err)
		}
		done <- err
	}()
	return done
}

// checkReads compares every recorded READ with the image.
func checkReads(t *testing.T, b IDERBoot, img []byte, bs int) int64 {
	t.Helper()
	var total int64
	for _, r := range b.Reads {
		lo := int(r.LBA) * bs
		hi := lo + r.Blocks*bs
		require.LessOrEqual(t, hi, len(img))
		assert.Equal(t, shaHex(img[lo:hi]), r.SHA256, "read of LBA %d", r.LBA)
		total += int64(hi - lo)
	}
	assert.Equal(t, total, b.BytesRead)
	return total
}

func TestIDERBootCD(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	opts := redirOpts()
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	img := isoImage(1536, 9) // 3 MiB; boot image 4608 bytes (3 blocks)

	tc := dialConsole(t, d.RedirectAddr(), nil)
	tc.session("IDER", 4)
	assert.True(t, d.RedirectionSessionOpen())
	tc.openIDER(0x01 | 0x08) // enable on next reboot
	done := serveAsync(tc, media{cd: img})

	armIDER(t, wc, 1)
	require.Equal(t, 0, wc.returnValue(powerReq(powerReset)), "the boot happens after the answer")
	b, err := d.WaitIDERBoot(waitCtx(t), 1)
	require.NoError(t, err)
	require.True(t, b.OK, "%+v\n%s", b, logs.String())
	assert.Equal(t, "cd", b.Medium)
	assert.Equal(t, 1, b.BootSeq)
	assert.Equal(t, shaHex(img[20*2048:20*2048+9*512]), b.BootImageSHA256)

	require.GreaterOrEqual(t, len(b.Reads), 4)
	assert.Equal(t, BlockRead{LBA: 17, Blocks: 1, SHA256: shaHex(img[17*2048 : 18*2048])}, b.Reads[0])
	assert.Equal(t, uint64(19), b.Reads[1].LBA)
	assert.Equal(t, BlockRead{LBA: 20, Blocks: 3, SHA256: shaHex(img[20*2048 : 23*2048])}, b.Reads[2])
	more := b.Reads[3:]
	require.Len(t, more, 16, "1 MiB in 64 KiB chunks")
	for i, r := range more {
		assert.Equal(t, uint64(i*32), r.LBA)
		assert.Equal(t, 32, r.Blocks)
	}
	total := checkReads(t, b, img, 2048)
	assert.Equal(t, int64(2048+2048+3*2048+1<<20), total)
	// TUR ×2, capacity, TOC, mode sense, configuration, 19 reads, write, 0xFF.
	assert.Equal(t, 2+1+1+1+1+19+1+1, b.Commands)

	boots := d.Boots()
	require.Len(t, boots, 1)
	assert.Equal(t, BootSourceIDERCD, boots[0].Source)
	assert.Equal(t, BootSourceIDERCD, boots[0].Requested)
	assert.Equal(t, 1, boots[0].IDERBoot)
	assert.Equal(t, []IDERBoot{b}, d.IDERBoots())
	assert.Contains(t, logs.String(), `msg="amtsim ider boot" device=127.0.0.1 seq=1 boot_seq=1 medium=cd ok=true bytes=1058816 commands=27`)
	assert.Contains(t, logs.String(), "boot_image_sha256="+b.BootImageSHA256)

	count := func(op byte) int32 {
		v, ok := tc.opcodes.Load(op)
		if !ok {
			return 0
		}
		return v.(*atomic.Int32).Load()
	}
	assert.Equal(t, int32(11), count(0x28), "READ(10)")
	assert.Equal(t, int32(8), count(0xA8), "READ(12)")
	assert.Equal(t, int32(1), count(0x2A), "WRITE(10)")
	assert.Equal(t, int32(1), count(0xFF))
	assert.Equal(t, int32(1), tc.resets.Load())

	// Keep-alives flow both ways; the session survives them.
	require.Eventually(t, func() bool { return tc.pings.Load() >= 2 && tc.heartbeats.Load() >= 2 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, tc.sendIDER(0x44, 0, nil)) // the console pings too

	// The next boot has no one-time settings: no IDE-R.
	require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
	assert.Equal(t, BootSourceHDD, d.Boots()[1].Source)
	assert.Equal(t, 0, d.Boots()[1].IDERBoot)

	require.NoError(t, tc.sendIDER(0x42, 0, nil))
	require.NoError(t, <-done)
	require.Eventually(t, func() bool { return !d.RedirectionSessionOpen() }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, int32(1), tc.resets.Load())
	assert.Len(t, d.IDERBoots(), 1)
}

func TestIDERBootFloppyTLS(t *testing.T) {
	t.Parallel()
	opts := redirOpts()
	opts.RedirectTLSPort = 0
	opts.RedirectPort = -1
	opts.IDERReadLimit = -1
	opts.PowerState = powerOff
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	assert.Empty(t, d.RedirectAddr())
	wc := newClient(t, sim.URL(), testUser, testPass)
	img := floppyImage()

	pool := x509.NewCertPool()
	pool.AddCert(sim.Certificate())
	tc := dialConsole(t, d.RedirectTLSAddr(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	tc.session("IDER", 3)
	tc.openIDER(0x01 | 0x18) // now
	done := serveAsync(tc, media{floppy: img})

	armIDER(t, wc, 0)
	require.Equal(t, 0, wc.returnValue(powerReq(powerOn)))
	b, err := d.WaitIDERBoot(waitCtx(t), 1)
	require.NoError(t, err)
	require.True(t, b.OK, "%s", b.Err)
	assert.Equal(t, "floppy", b.Medium)
	assert.Equal(t, shaHex(img[:512]), b.BootImageSHA256)
	assert.Equal(t, BlockRead{LBA: 0, Blocks: 1, SHA256: shaHex(img[:512])}, b.Reads[0])
	more := b.Reads[1:]
	require.Len(t, more, 23, "the whole 1.44 MB in 64 KiB chunks")
	assert.Equal(t, 2880-22*128, more[22].Blocks)
	assert.Equal(t, int64(512+len(img)), checkReads(t, b, img, 512))
	assert.Equal(t, BootSourceIDERFloppy, d.Boots()[0].Source)
	assert.Equal(t, CausePowerOn, d.Boots()[0].Cause)

	require.NoError(t, tc.sendIDER(0x42, 0, nil))
	require.NoError(t, <-done)
}

func TestIDERBootFallsBack(t *testing.T) {
	t.Parallel()
	sim := startSim(t, redirOpts())
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	img := isoImage(64, 4)

	t.Run("no settings", func(t *testing.T) {
		tc := dialConsole(t, d.RedirectAddr(), nil)
		tc.session("IDER", 4)
		tc.openIDER(0x19)
		done := serveAsync(tc, media{cd: img})
		require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
		assert.Equal(t, BootSourceHDD, d.Boots()[0].Source)
		assert.Empty(t, d.IDERBoots())
		require.NoError(t, tc.sendIDER(0x42, 0, nil))
		require.NoError(t, <-done)
		assert.Zero(t, tc.resets.Load(), "BIOS never touched IDE-R")
	})
	t.Run("not enabled", func(t *testing.T) {
		tc := dialConsole(t, d.RedirectAddr(), nil)
		tc.session("IDER", 4)
		tc.openIDER(0)
		for typ, want := range map[byte]uint32{1: 0x01, 2: 0x00} {
			require.NoError(t, tc.sendIDER(0x48, 0, []byte{typ}))
			r := readSkipping(t, tc, 0x49)
			assert.Equal(t, typ, r[8])
			assert.Equal(t, want, binary.LittleEndian.Uint32(r[9:13]), "type %d", typ)
		}
		serveAsync(tc, media{cd: img})
		armIDER(t, wc, 1)
		require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
		b, err := d.WaitIDERBoot(waitCtx(t), 1)
		require.NoError(t, err)
		assert.False(t, b.OK)
		assert.Equal(t, "IDE-R device not enabled", b.Err)
		assert.Equal(t, BootSourceHDD, d.Boots()[1].Source)
	})
	t.Run("no session", func(t *testing.T) {
		require.Eventually(t, func() bool { return !d.RedirectionSessionOpen() }, 5*time.Second, 5*time.Millisecond)
		armIDER(t, wc, 1)
		require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
		b, err := d.WaitIDERBoot(waitCtx(t), 2)
		require.NoError(t, err)
		assert.Equal(t, "no IDE-R session open", b.Err)
		assert.Equal(t, BootSourceHDD, d.Boots()[2].Source)
	})
	t.Run("no medium", func(t *testing.T) {
		floppy := floppyImage() // before the session: slow under the race detector
		tc := dialConsole(t, d.RedirectAddr(), nil)
		tc.session("IDER", 4)
		tc.openIDER(0x09)
		done := serveAsync(tc, media{floppy: floppy})
		armIDER(t, wc, 1)
		require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
		b, err := d.WaitIDERBoot(waitCtx(t), 3)
		require.NoError(t, err)
		assert.Equal(t, "cd: TEST UNIT READY: CHECK CONDITION 02/3A/00", b.Err)
		assert.Equal(t, BootSourceHDD, d.Boots()[3].Source)
		require.NoError(t, tc.sendIDER(0x42, 0, nil))
		require.NoError(t, <-done)
	})
	t.Run("not bootable", func(t *testing.T) {
		bad := isoImage(64, 4)
		bad[19*2048+32] = 0 // initial entry not bootable
		tc := dialConsole(t, d.RedirectAddr(), nil)
		tc.session("IDER", 4)
		tc.openIDER(0x09)
		done := serveAsync(tc, media{cd: bad})
		armIDER(t, wc, 1)
		require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
		b, err := d.WaitIDERBoot(waitCtx(t), 4)
		require.NoError(t, err)
		assert.Equal(t, "cd: boot catalog: initial entry is not bootable", b.Err)
		require.Len(t, b.Reads, 2)
		require.NoError(t, tc.sendIDER(0x42, 0, nil))
		require.NoError(t, <-done)
	})
	_, err := d.WaitIDERBoot(waitCtx(t), 0)
	require.Error(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = d.WaitIDERBoot(ctx, 5)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestRedirLockoutShared(t *testing.T) {
	t.Parallel()
	opts := redirOpts()
	opts.LockoutDuration = 400 * time.Millisecond
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	login := func(typ byte, pass string) byte {
		t.Helper()
		tc := dialConsole(t, d.RedirectAddr(), nil)
		st, err := tc.start("SOL ")
		require.NoError(t, err)
		require.Equal(t, byte(0), st)
		st, err = tc.login(typ, testUser, pass)
		require.NoError(t, err)
		if st == 0 {
			require.NoError(t, tc.write([]byte{0x12, 0, 0, 0})) // EndRedirectionSession
		}
		_, err = tc.read(1)
		assert.ErrorIs(t, err, io.EOF, "the device closes after a failed login or the end")
		tc.c.Close()
		return st
	}
	wsWrong := func() int {
		resp, _, err := newClient(t, sim.URL(), testUser, "wrong").tryPost(getReq(uriGeneral))
		require.NoError(t, err)
		return resp.StatusCode
	}
	assert.NotEqual(t, byte(0), login(4, "wrong"))
	assert.Equal(t, http.StatusUnauthorized, wsWrong())
	assert.False(t, d.LockedOut())
	assert.NotEqual(t, byte(0), login(3, "wrong"))
	assert.True(t, d.LockedOut(), "two redirection failures and one WS-Man failure")
	assert.Equal(t, 3, d.Stats().FailedLogins)
	assert.NotEqual(t, byte(0), login(4, testPass), "locked out")
	resp, _, err := newClient(t, sim.URL(), testUser, testPass).tryPost(getReq(uriGeneral))
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, 3, d.Stats().FailedLogins, "refusals during lockout are not counted")

	time.Sleep(opts.LockoutDuration + 50*time.Millisecond)
	assert.Equal(t, http.StatusUnauthorized, wsWrong())
	assert.Equal(t, http.StatusUnauthorized, wsWrong())
	assert.NotEqual(t, byte(0), login(4, "wrong"))
	assert.True(t, d.LockedOut(), "WS-Man failures count towards the redirection lockout")
	time.Sleep(opts.LockoutDuration + 50*time.Millisecond)
	assert.Equal(t, byte(0), login(4, testPass))
	assert.Equal(t, byte(0), login(3, testPass))

	d.SetAccounts([]Account{{User: testUser, Password: testPass}, {User: "viewer", Password: "V!ew3r", ReadOnly: true}})
	tc := dialConsole(t, d.RedirectAddr(), nil)
	_, err = tc.start("IDER")
	require.NoError(t, err)
	st, err := tc.login(4, "viewer", "V!ew3r")
	require.NoError(t, err)
	assert.NotEqual(t, byte(0), st, "read-only accounts get no redirection")
}

func TestRedirSessionRules(t *testing.T) {
	t.Parallel()
	sim := startSim(t, redirOpts())
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)

	first := dialConsole(t, d.RedirectAddr(), nil)
	first.session("IDER", 4)
	second := dialConsole(t, d.RedirectAddr(), nil)
	st, err := second.start("IDER")
	require.NoError(t, err)
	assert.Equal(t, byte(2), st, "busy")
	sol := dialConsole(t, d.RedirectAddr(), nil)
	sol.session("SOL ", 4)
	sol2 := dialConsole(t, d.RedirectAddr(), nil)
	st, err = sol2.start("SOL ")
	require.NoError(t, err)
	assert.Equal(t, byte(2), st, "busy")

	// Power cycle and off are refused while sessions are open.
	require.True(t, d.RedirectionSessionOpen())
	assert.Equal(t, rvInvalidTransition, wc.returnValue(powerReq(powerCycle)))
	assert.Equal(t, rvInvalidTransition, wc.returnValue(powerReq(powerOff)))
	first.c.Close()
	require.NoError(t, sol.write([]byte{0x12, 0, 0, 0}))
	require.Eventually(t, func() bool { return !d.RedirectionSessionOpen() }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 0, wc.returnValue(powerReq(powerCycle)))
	assert.Equal(t, 0, wc.returnValue(powerReq(powerOff)))

	// The slot is free again.
	again := dialConsole(t, d.RedirectAddr(), nil)
	again.session("IDER", 4)
}

// expectClosed checks that the device closes the connection.
func expectClosed(t *testing.T, tc *testConsole) {
	t.Helper()
	require.NoError(t, tc.c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := io.ReadAll(tc.br)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the device kept the connection open")
}

func TestRedirHostileInput(t *testing.T) {
	t.Parallel()
	sim := startSim(t, redirOpts())
	d := sim.Devices()[0]
	addr := d.RedirectAddr()
	raw := func(t *testing.T, p []byte, closeWrite bool) *testConsole {
		tc := dialConsole(t, addr, nil)
		require.NoError(t, tc.write(p))
		if closeWrite {
			require.NoError(t, tc.c.(*net.TCPConn).CloseWrite())
		}
		return tc
	}
	start := []byte{0x10, 0, 0, 0, 'I', 'D', 'E', 'R'}
	for name, p := range map[string][]byte{
		"garbage":           []byte("GET / HTTP/1.1\r\n\r\n"),
		"unknown tag":       {0x10, 0, 0, 0, 'X', 'Y', 'Z', 'W'},
		"bad start bytes":   {0x10, 7, 7, 7, 'I', 'D', 'E', 'R'},
		"command too early": append(start, 0x40, 0, 0, 0, 0, 0, 0, 0),
		"huge auth length":  append(start, 0x13, 0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF),
		"auth length 4097":  append(start, 0x13, 0, 0, 0, 4, 0x01, 0x10, 0, 0),
		"long user":         append(start, authMsg(4, lp(strings.Repeat("u", 65), "", "", "/RedirectionService", "", "", "", ""))...),
		"field overrun":     append(start, authMsg(4, []byte{200, 'a'})...),
		"too many fields":   append(start, authMsg(4, lp("a", "", "", "", "", "", "", "", ""))...),
		"kerberos":          append(start, authMsg(2, nil)...),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expectClosed(t, raw(t, p, false))
		})
	}
	for name, p := range map[string][]byte{
		"truncated start": start[:5],
		"truncated auth":  append(start, 0x13, 0, 0, 4),
		"truncated data":  append(start, authMsg(4, lp("admin"))[:11]...),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expectClosed(t, raw(t, p, true))
		})
	}
	ider := func(t *testing.T) *testConsole {
		tc := dialConsole(t, addr, nil)
		tc.session("IDER", 4)
		return tc
	}
	t.Run("IDE-R before OPEN_SESSION", func(t *testing.T) {
		tc := ider(t)
		require.NoError(t, tc.sendIDER(0x44, 0, nil))
		expectClosed(t, tc)
	})
	t.Run("IDE-R oversized DATA_TO_HOST", func(t *testing.T) {
		tc := ider(t)
		tc.openIDER(0)
		b := make([]byte, 26)
		binary.LittleEndian.PutUint16(b[1:3], 0xFFFF)
		require.NoError(t, tc.sendIDER(0x54, 0x02, b))
		expectClosed(t, tc)
	})
	t.Run("IDE-R unknown message", func(t *testing.T) {
		tc := ider(t)
		tc.openIDER(0)
		require.NoError(t, tc.sendIDER(0x99, 0, nil))
		expectClosed(t, tc)
	})
	t.Run("IDE-R unknown feature type", func(t *testing.T) {
		tc := ider(t)
		tc.openIDER(0)
		require.NoError(t, tc.sendIDER(0x48, 0, []byte{9}))
		expectClosed(t, tc)
	})
	t.Run("IDE-R truncated", func(t *testing.T) {
		tc := ider(t)
		tc.openIDER(0)
		require.NoError(t, tc.write([]byte{0x51, 0, 0, 2, 3}))
		require.NoError(t, tc.c.(*net.TCPConn).CloseWrite())
		expectClosed(t, tc)
	})
	t.Run("SOL oversized data", func(t *testing.T) {
		tc := dialConsole(t, addr, nil)
		tc.session("SOL ", 4)
		start := make([]byte, 24)
		start[0] = 0x20
		require.NoError(t, tc.write(start))
		require.NoError(t, tc.write([]byte{0x28, 0, 0, 0, 1, 0, 0, 0, 0xFF, 0xFF}))
		expectClosed(t, tc)
	})
	assert.False(t, d.RedirectionSessionOpen())
}

// readSkipping reads device messages, answering pings, until one with id.
func readSkipping(t *testing.T, tc *testConsole, id byte) []byte {
	t.Helper()
	for {
		m, err := tc.readIDER()
		require.NoError(t, err)
		switch m[0] {
		case id:
			return m
		case 0x44:
			require.NoError(t, tc.sendIDER(0x45, 0, nil))
		case 0x4B:
		default:
			t.Fatalf("unexpected message % X", m)
		}
	}
}

func TestIDERRegisterState(t *testing.T) {
	t.Parallel()
	sim := startSim(t, redirOpts())
	tc := dialConsole(t, sim.Devices()[0].RedirectAddr(), nil)
	tc.session("IDER", 4)
	tc.openIDER(0x19)
	require.NoError(t, tc.sendIDER(0x48, 0, []byte{2}))
	assert.Equal(t, uint32(0x02), binary.LittleEndian.Uint32(readSkipping(t, tc, 0x49)[9:13]), "enabled")
	require.NoError(t, tc.sendIDER(0x48, 0, []byte{3, 0x40, 0, 0, 0}))
	assert.Equal(t, uint32(0), binary.LittleEndian.Uint32(readSkipping(t, tc, 0x49)[9:13]), "unknown bits refused")
	require.NoError(t, tc.sendIDER(0x48, 0, []byte{3, 0x08, 0, 0, 0}))
	assert.Equal(t, uint32(1), binary.LittleEndian.Uint32(readSkipping(t, tc, 0x49)[9:13]))
	require.NoError(t, tc.sendIDER(0x48, 0, []byte{2}))
	assert.Equal(t, uint32(0), binary.LittleEndian.Uint32(readSkipping(t, tc, 0x49)[9:13]), "disabled")
}

func TestIDERKeepAliveUnanswered(t *testing.T) {
	t.Parallel()
	opts := redirOpts()
	opts.RedirectKeepAlive = 10 * time.Millisecond
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	tc := dialConsole(t, d.RedirectAddr(), nil)
	tc.session("IDER", 4)
	tc.openIDER(0)
	pings := 0
	for {
		m, err := tc.readIDER()
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		if m[0] == 0x44 {
			pings++
		}
	}
	assert.GreaterOrEqual(t, pings, 2, "pings before giving up")
	require.Eventually(t, func() bool { return !d.RedirectionSessionOpen() }, 5*time.Second, 5*time.Millisecond)
}

func TestIDERConsoleWrongSequence(t *testing.T) {
	t.Parallel()
	sim := startSim(t, redirOpts())
	d := sim.Devices()[0]
	tc := dialConsole(t, d.RedirectAddr(), nil)
	tc.session("IDER", 4)
	tc.openIDER(0x09)
	tc.seq += 3 // skip numbers
	require.NoError(t, tc.sendIDER(0x44, 0, nil))
	for {
		m, err := tc.readIDER()
		require.NoError(t, err, "ERROR_OCCURRED before the close")
		if m[0] == 0x4A {
			break
		}
		require.Contains(t, []byte{0x44, 0x4B}, m[0])
	}
	expectClosed(t, tc)
}

func TestRedirFaults(t *testing.T) {
	t.Parallel()
	opts := redirOpts()
	opts.RedirectKeepAlive = -1 // the device sends only answers
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	img := isoImage(128, 4)
	n := 0
	bootOnce := func(t *testing.T, tc *testConsole) (IDERBoot, error) {
		done := serveAsync(tc, media{cd: img})
		armIDER(t, wc, 1)
		require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
		n++
		b, err := d.WaitIDERBoot(waitCtx(t), n)
		require.NoError(t, err)
		if b.OK {
			require.NoError(t, tc.sendIDER(0x42, 0, nil))
		}
		return b, <-done
	}

	t.Run("bad sequence", func(t *testing.T) {
		tc := dialConsole(t, d.RedirectAddr(), nil)
		tc.session("IDER", 4)
		tc.openIDER(0x09)
		d.InjectFault(Fault{Kind: FaultRedirBadSequence, Action: "Get", Times: 1})
		// WS-Man never takes a redirection fault.
		resp, _ := wc.post(getReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, tc.sendIDER(0x44, 0, nil))
		m, err := tc.readIDER()
		require.ErrorIs(t, err, errBadSeq)
		assert.Equal(t, byte(0x45), m[0])
		assert.Equal(t, uint32(tc.in+7), binary.LittleEndian.Uint32(m[4:8]))
		tc.c.Close() // the console aborts
		require.Eventually(t, func() bool { return !d.RedirectionSessionOpen() }, 5*time.Second, 5*time.Millisecond)
	})
	t.Run("reset", func(t *testing.T) {
		tc := dialConsole(t, d.RedirectAddr(), nil)
		tc.session("IDER", 4)
		tc.openIDER(0x09)
		d.InjectFault(Fault{Kind: FaultRedirReset, Times: 1})
		b, err := bootOnce(t, tc)
		require.Error(t, err, "the console sees the reset")
		assert.Equal(t, "cd: READ(10) of LBA 17: connection reset (injected fault)", b.Err)
		assert.Equal(t, BootSourceHDD, d.Boots()[len(d.Boots())-1].Source)
	})
	t.Run("silent", func(t *testing.T) {
		tc := dialConsole(t, d.RedirectAddr(), nil)
		tc.session("IDER", 4)
		tc.openIDER(0x09)
		d.InjectFault(Fault{Kind: FaultRedirSilent, Times: 1})
		require.NoError(t, tc.sendIDER(0x44, 0, nil))
		require.NoError(t, tc.c.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
		_, err := tc.read(1)
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "nothing arrives, the connection stays open: %v", err)
		require.True(t, d.RedirectionSessionOpen())
		tc.c.Close() // the console's idle timeout ends it
		require.Eventually(t, func() bool { return !d.RedirectionSessionOpen() }, 5*time.Second, 5*time.Millisecond)
	})
	t.Run("after faults", func(t *testing.T) {
		tc := dialConsole(t, d.RedirectAddr(), nil)
		tc.session("IDER", 4)
		tc.openIDER(0x09)
		b, err := bootOnce(t, tc)
		require.NoError(t, err)
		assert.True(t, b.OK, b.Err)
	})
}

func TestSOL(t *testing.T) {
	t.Parallel()
	sim := startSim(t, redirOpts())
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	readData := func(tc *testConsole) string {
		t.Helper()
		h, err := tc.read(10)
		require.NoError(t, err)
		require.Equal(t, byte(0x2A), h[0])
		p, err := tc.read(int(binary.LittleEndian.Uint16(h[8:10])))
		require.NoError(t, err)
		return string(p)
	}
	open := func() *testConsole {
		tc := dialConsole(t, d.RedirectAddr(), nil)
		tc.session("SOL ", 4)
		start := make([]byte, 24)
		start[0] = 0x20
		binary.LittleEndian.PutUint16(start[8:], 10000)
		require.NoError(t, tc.write(start))
		r, err := tc.read(23)
		require.NoError(t, err)
		require.Equal(t, []byte{0x21, 0}, r[:2])
		return tc
	}

	tc := open()
	assert.Equal(t, "amtsim serial console amtsim-127-0-0-1\r\n", readData(tc))
	msg := append([]byte{0x28, 0, 0, 0, 1, 0, 0, 0, 5, 0}, "hello"...)
	require.NoError(t, tc.write(msg))
	assert.Equal(t, "hello", readData(tc))
	require.NoError(t, tc.write([]byte{0x24, 0, 0, 0, 2, 0, 0, 0}))
	r, err := tc.read(8)
	require.NoError(t, err)
	assert.Equal(t, byte(0x25), r[0])
	require.NoError(t, tc.write([]byte{0x22, 0, 0, 0, 3, 0, 0, 0}))
	r, err = tc.read(8)
	require.NoError(t, err)
	assert.Equal(t, byte(0x23), r[0])
	expectClosed(t, tc)

	// With UseSOL the console shows the BIOS output of the last boot.
	resp, data := wc.post(bootPutReq(`<r:UseSOL>true</r:UseSOL>`))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	require.Equal(t, 0, wc.returnValue(setRoleReq(roleIsNextSingleUse)))
	require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
	require.Eventually(t, func() bool { return !d.RedirectionSessionOpen() }, 5*time.Second, 5*time.Millisecond)
	tc = open()
	banner := readData(tc)
	assert.True(t, strings.HasPrefix(banner, "amtsim serial console amtsim-127-0-0-1\r\n"), banner)
	assert.Contains(t, banner, "Boot #1 (reset): booting from hdd\r\n")
	assert.Equal(t, 2, d.SOLSessions())
}

func TestRedirCloseWithSessionsOpen(t *testing.T) {
	t.Parallel()
	opts := redirOpts()
	opts.RedirectKeepAlive = 0 // the console's 20s: the device never gives up here
	sim, err := New(opts)
	require.NoError(t, err)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	ider := dialConsole(t, d.RedirectAddr(), nil)
	ider.session("IDER", 4)
	ider.openIDER(0x09)
	stalled := make(chan struct{})
	ider.onRead = func(uint64, int) bool { close(stalled); return false }
	done := serveAsync(ider, media{cd: isoImage(64, 4)})
	sol := dialConsole(t, d.RedirectAddr(), nil)
	sol.session("SOL ", 4)
	idle := dialConsole(t, d.RedirectAddr(), nil) // not even started
	_ = idle
	armIDER(t, wc, 1)
	require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
	<-stalled // the BIOS waits for its first READ
	waiting := make(chan error, 1)
	go func() {
		_, err := d.WaitIDERBoot(context.Background(), 2)
		waiting <- err
	}()
	require.NoError(t, sim.Close())
	assert.Error(t, <-waiting)
	assert.Error(t, <-done)
	b := d.IDERBoots()
	require.Len(t, b, 1)
	assert.False(t, b[0].OK)
	expectClosed(t, sol)
	expectClosed(t, idle)
}
