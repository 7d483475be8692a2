package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/wsman"
)

// redirectCtl runs amtctl with the ider and sol commands registered (main
// registers them once the lead wires them in) and stdin as standard input.
func redirectCtl(ctx context.Context, stdin string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	root := newRootCommand(&stdout, &stderr)
	have := map[string]bool{}
	for _, c := range root.Commands() {
		have[c.Name()] = true
	}
	for _, c := range []*cobra.Command{newIDERCommand(), newSOLCommand()} {
		if !have[c.Name()] {
			root.AddCommand(c)
		}
	}
	started := false
	root.PersistentPreRun = func(*cobra.Command, []string) { started = true }
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(withHostState(args))
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK, stdout.String(), stderr.String()
	}
	if !started {
		err = usageError{err}
	}
	fmt.Fprintln(&stderr, "amtctl:", err)
	return exitCode(err), stdout.String(), stderr.String()
}

// writeISO writes a small CD image with an El Torito boot record.
func writeISO(t *testing.T, blocks int) string {
	t.Helper()
	img := make([]byte, blocks*2048)
	for i := range img {
		img[i] = byte(i * 13)
	}
	br := img[17*2048 : 18*2048]
	clear(br)
	br[6] = 1
	copy(br[1:6], "CD001")
	copy(br[7:], "EL TORITO SPECIFICATION")
	binary.LittleEndian.PutUint32(br[0x47:], 19)
	cat := img[19*2048 : 20*2048]
	clear(cat)
	cat[0], cat[0x1E], cat[0x1F] = 1, 0x55, 0xAA
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(cat[i:])
	}
	binary.LittleEndian.PutUint16(cat[0x1C:], -sum)
	cat[32] = 0x88
	binary.LittleEndian.PutUint16(cat[38:], 4)
	binary.LittleEndian.PutUint32(cat[40:], 20)
	path := filepath.Join(t.TempDir(), "boot.iso")
	require.NoError(t, os.WriteFile(path, img, 0o600))
	return path
}

func redirectPort(t *testing.T, dev *amtsim.Device) string {
	_, port, err := net.SplitHostPort(dev.RedirectAddr())
	require.NoError(t, err)
	return port
}

func TestIDERBootCommand(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TransitionTime: time.Millisecond})
	iso := writeISO(t, 300)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, stdout, stderr := redirectCtl(ctx, "", "ider", "boot", "--host", dev.HTTPAddr(), "-p", password,
		"--redirect-port", redirectPort(t, dev), "--image", iso, "--idle", "300ms", "--sol", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &rec), stdout)
	assert.Equal(t, "ider-cd", rec["device"])
	assertShape(t, "ider boot", iderShape, rec)
	assert.Equal(t, "ider boot", rec["action"])
	assert.Equal(t, "reset", rec["start_action"])
	assert.Equal(t, true, rec["accepted"])
	assert.Equal(t, "idle", rec["stop"])
	assert.Equal(t, []any{"boot options"}, rec["restored"])
	assert.Greater(t, rec["bytes_served"].(float64), float64(4*2048))
	b, err := dev.WaitIDERBoot(ctx, 1)
	require.NoError(t, err)
	assert.True(t, b.OK, b.Err)
	boots := dev.Boots()
	assert.True(t, boots[len(boots)-1].UseSOL)
	assert.NotContains(t, stdout+stderr, password)

	// Table output.
	go func() { _, _ = dev.WaitIDERBoot(ctx, 2) }()
	code, stdout, stderr = redirectCtl(ctx, "", "ider", "boot", "--host", dev.HTTPAddr(), "-p", password,
		"--redirect-port", redirectPort(t, dev), "--image", iso, "--idle", "300ms")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "boot from ider-cd, reset sent; served ")
	assert.Contains(t, stdout, "restored: boot options")
}

func TestIDERServeCommand(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TransitionTime: time.Millisecond})
	iso := writeISO(t, 300)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, err := wsman.NewClient("http://"+dev.HTTPAddr()+"/wsman", wsman.WithCredentials(user, password))
	require.NoError(t, err)
	defer ws.CloseIdleConnections()
	// Boot the machine from the served image by hand while amtctl serves.
	go func() {
		// Reset only once amtctl's IDE-R session is open: a machine reset
		// before it boots from its disk, as a real BIOS does.
		for !dev.RedirectionSessionOpen() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		pw := power.New(ws)
		if _, err := pw.ResetTo(ctx, power.BootIDERCD, power.BootOptions{}); err != nil {
			t.Errorf("reset: %v", err)
		}
		_, _ = dev.WaitIDERBoot(ctx, 1)
	}()
	code, stdout, stderr := redirectCtl(ctx, "", "ider", "serve", "--host", dev.HTTPAddr(), "-p", password,
		"--redirect-port", redirectPort(t, dev), "--image", iso, "--idle", "300ms", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &rec), stdout)
	assert.Equal(t, "idle", rec["stop"])
	assert.Equal(t, []any{}, rec["restored"], "serve touches no setting")
	assertShape(t, "ider serve", iderShape, rec)
	assert.Equal(t, "ider serve", rec["action"])
	assert.Equal(t, false, rec["changed"])
	assert.Nil(t, rec["start_action"])
	b, err := dev.WaitIDERBoot(ctx, 1)
	require.NoError(t, err)
	assert.True(t, b.OK, b.Err)
}

func TestIDERCommandErrors(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{})
	iso := writeISO(t, 64)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"no image", []string{"ider", "boot", "--host", dev.HTTPAddr(), "-p", password}, exitUsage},
		{"missing image file", []string{"ider", "boot", "--host", dev.HTTPAddr(), "-p", password, "--image", "/nonexistent.iso"}, exitUsage},
		{"bad start", []string{"ider", "serve", "--host", dev.HTTPAddr(), "-p", password, "--image", iso, "--start", "later"}, exitUsage},
		{"floppy device without floppy", []string{"ider", "boot", "--host", dev.HTTPAddr(), "-p", password, "--image", iso, "--device", "floppy"}, exitUsage},
		{"no credentials", []string{"ider", "serve", "--host", dev.HTTPAddr(), "--image", iso}, exitUsage},
		{"wrong password", []string{"ider", "serve", "--host", dev.HTTPAddr(), "-p", "Wrong-P4ss", "--image", iso}, exitAuthFailed},
		{"nothing listening on the redirection port", []string{"ider", "serve", "--host", dev.HTTPAddr(), "-p", password, "--image", iso, "--redirect-port", "1"}, exitUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := redirectCtl(ctx, "", tc.args...)
			assert.Equal(t, tc.code, code, stderr)
		})
	}
}

func TestSOLCommand(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, stdout, stderr := redirectCtl(ctx, "hello console\r", "sol", "--host", dev.HTTPAddr(), "-p", password,
		"--redirect-port", redirectPort(t, dev))
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "amtsim serial console")
	assert.Contains(t, stdout, "hello console")
	assert.Contains(t, stderr, "ctrl-] ends")

	// ctrl-] ends the session; what follows it is not sent.
	code, stdout, stderr = redirectCtl(ctx, "abc\x1dnot sent", "sol", "--host", dev.HTTPAddr(), "-p", password,
		"--redirect-port", redirectPort(t, dev))
	require.Equal(t, exitOK, code, stderr)
	assert.NotContains(t, stdout, "not sent")
}
