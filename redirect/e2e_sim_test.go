package redirect_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
	"github.com/amtkit/amtkit/wsman"
)

func TestSimBootFromISO(t *testing.T) {
	t.Parallel()
	rig := newSimRig(t)
	dev, ws, pw := rig.dev, rig.ws, rig.pw
	img := isoImage(512, 8)
	media := redirect.IDERMedia{CD: &redirect.Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}}
	dial := redirect.Dialer(rig.addr, simCred, redirect.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bootDone := make(chan amtsim.IDERBoot, 1)
	go func() {
		b, _ := dev.WaitIDERBoot(ctx, 1)
		bootDone <- b
	}()
	res, err := redirect.BootFromImage(ctx, ws, pw, dial, redirect.BootOptions{Media: media, IdleTimeout: 300 * time.Millisecond})
	require.NoError(t, err, "%+v", res)
	b := <-bootDone
	assert.Equal(t, redirect.StopIdle, res.Stats.Stop)
	assert.True(t, b.OK, b.Err)
	sum := sha256.Sum256(img[20*2048 : 20*2048+8*512])
	assert.Equal(t, hex.EncodeToString(sum[:]), b.BootImageSHA256)
}

// simRig is an in-process simulated machine with its redirection port.
type simRig struct {
	dev  *amtsim.Device
	ws   *wsman.Client
	pw   *power.Service
	addr string
}

func newSimRig(t *testing.T, verbose ...bool) *simRig {
	t.Helper()
	o := amtsim.Options{TransitionTime: time.Millisecond}
	if len(verbose) > 0 {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	sim, err := amtsim.New(o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sim.Close()) })
	dev := sim.Devices()[0]
	ws, err := wsman.NewClient(sim.URL()+"/wsman", wsman.WithCredentials("admin", "P@ssw0rd1"))
	require.NoError(t, err)
	t.Cleanup(ws.CloseIdleConnections)
	return &simRig{dev: dev, ws: ws, pw: power.New(ws, power.WithPollInterval(5*time.Millisecond), power.WithMinGap(0)), addr: dev.RedirectAddr()}
}

var simCred = credentials.Credential{User: "admin", Password: "P@ssw0rd1"}

func TestSimBootFromFloppy(t *testing.T) {
	t.Parallel()
	r := newSimRig(t)
	img := make([]byte, 1440*1024)
	for i := range img {
		img[i] = byte(i >> 9)
	}
	img[510], img[511] = 0x55, 0xAA
	media := redirect.IDERMedia{Floppy: &redirect.Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	booted := make(chan amtsim.IDERBoot, 1)
	go func() {
		b, _ := r.dev.WaitIDERBoot(ctx, 1)
		booted <- b
	}()
	res, err := redirect.BootFromImage(ctx, r.ws, r.pw, redirect.Dialer(r.addr, simCred, redirect.Options{}),
		redirect.BootOptions{Media: media, IdleTimeout: 300 * time.Millisecond})
	require.NoError(t, err, "%+v", r.dev.IDERBoots())
	assert.Equal(t, power.BootIDERFloppy, res.Device)
	b := <-booted
	assert.True(t, b.OK, b.Err)
	assert.Equal(t, "floppy", b.Medium)
	sum := sha256.Sum256(img[:512])
	assert.Equal(t, hex.EncodeToString(sum[:]), b.BootImageSHA256)
	bsd, err := r.pw.BootSettings(ctx)
	require.NoError(t, err)
	assert.Equal(t, "false", bsd.String("UseIDER"))
}

func TestSimWrongPassword(t *testing.T) {
	t.Parallel()
	r := newSimRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := redirect.Dial(ctx, r.addr, redirect.IDER, credentials.Credential{User: "admin", Password: "Wrong-P4ss"}, redirect.Options{})
	require.ErrorIs(t, err, redirect.ErrAuthFailed)
	assert.NotContains(t, err.Error(), "Wrong-P4ss")
	// The device frees its IDE-R slot once it has torn the failed session
	// down; until then it refuses the session as busy.
	var s *redirect.Session
	for range 100 {
		if s, err = redirect.Dial(ctx, r.addr, redirect.IDER, simCred, redirect.Options{}); !errors.Is(err, redirect.ErrRefused) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, err, "one failure does not lock the account")
	require.NoError(t, s.Close())
}

func TestSimSOLEcho(t *testing.T) {
	t.Parallel()
	r := newSimRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := redirect.Dial(ctx, r.addr, redirect.SOL, simCred, redirect.Options{})
	require.NoError(t, err)
	c, err := redirect.OpenSOL(ctx, s)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("ping-from-console\r"))
	require.NoError(t, err)
	var got bytes.Buffer
	buf := make([]byte, 1024)
	for !bytes.Contains(got.Bytes(), []byte("ping-from-console")) {
		n, err := c.Read(buf)
		require.NoError(t, err, "so far: %q", got.String())
		got.Write(buf[:n])
	}
	t.Logf("console: %q", got.String())
	require.NoError(t, c.Close())
}

func TestSimFaults(t *testing.T) {
	t.Parallel()
	img := isoImage(512, 8)
	media := redirect.IDERMedia{CD: &redirect.Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}}
	for _, tc := range []struct {
		name string
		kind amtsim.FaultKind
		want error
	}{
		{"bad sequence", amtsim.FaultRedirBadSequence, redirect.ErrProtocol},
		{"reset mid-transfer", amtsim.FaultRedirReset, redirect.ErrPeerClosed},
		{"silent", amtsim.FaultRedirSilent, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newSimRig(t)
			r.dev.InjectFault(amtsim.Fault{Kind: tc.kind, Times: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			dial := redirect.Dialer(r.addr, simCred, redirect.Options{})
			bctx, bcancel := context.WithTimeout(ctx, time.Second)
			res, err := redirect.BootFromImage(bctx, r.ws, r.pw, dial, redirect.BootOptions{Media: media, IdleTimeout: 300 * time.Millisecond})
			bcancel()
			require.ErrorIs(t, err, tc.want)
			if res.Stats != nil && res.Stats.Enabled {
				assert.Equal(t, []string{"boot options"}, res.Restored, "boot settings restored after the failure")
			}
			bsd, err := r.pw.BootSettings(ctx)
			require.NoError(t, err)
			assert.Equal(t, "false", bsd.String("UseIDER"))

			// Recovered: the next boot works, straight away.
			n := len(r.dev.IDERBoots()) + 1
			actx, acancel := context.WithTimeout(ctx, 3*time.Second)
			_, err = redirect.BootFromImage(actx, r.ws, r.pw, dial, redirect.BootOptions{Media: media, IdleTimeout: 300 * time.Millisecond})
			acancel()
			require.NoError(t, err, "%+v", r.dev.IDERBoots())
			b, err := r.dev.WaitIDERBoot(ctx, n)
			require.NoError(t, err)
			assert.True(t, b.OK, b.Err)
		})
	}
}

func TestSimBootWithConsole(t *testing.T) {
	t.Parallel()
	r := newSimRig(t)
	img := isoImage(256, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { _, _ = r.dev.WaitIDERBoot(ctx, 1) }()
	var console bytes.Buffer
	res, err := redirect.BootFromImage(ctx, r.ws, r.pw, redirect.Dialer(r.addr, simCred, redirect.Options{}), redirect.BootOptions{
		Media: redirect.IDERMedia{CD: &redirect.Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}},
		SOL:   true, Console: &console, IdleTimeout: 300 * time.Millisecond,
	})
	require.NoError(t, err)
	assert.Equal(t, power.Reset, res.Action)
	assert.Contains(t, console.String(), "amtsim serial console")
}
