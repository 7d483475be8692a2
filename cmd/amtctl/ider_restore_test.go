package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/wsman"
)

// startIDERBoot starts the amtctl binary serving an image with ider boot
// until it is stopped, with its own state directory.
func startIDERBoot(t *testing.T, dev *amtsim.Device, state string, extra ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	iso := writeISO(t, 300)
	args := append([]string{"ider", "boot", "--host", dev.HTTPAddr(), "-p", password,
		"--redirect-port", redirectPort(t, dev), "--image", iso, "--idle", "0", "-o", "json"}, extra...)
	cmd := exec.Command(amtctlBinary(t), args...)
	cmd.Env = append(os.Environ(), "AMT_PASSWORD=", "AMTKIT_STATE="+state)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, stdout, stderr
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func exitStatus(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	return ee.ExitCode()
}

// requireNotArmed checks that the next boot of the simulated machine goes
// to its default order: no one-time boot left armed.
func requireNotArmed(t *testing.T, dev *amtsim.Device) {
	t.Helper()
	ws, err := wsman.NewClient("http://"+dev.HTTPAddr()+"/wsman", wsman.WithCredentials(user, password))
	require.NoError(t, err)
	defer ws.CloseIdleConnections()
	bsd, err := ws.Get(context.Background(), wsman.PrefixAMT+"AMT_BootSettingData")
	require.NoError(t, err)
	assert.Equal(t, "false", bsd.String("UseIDER"))
	before := len(dev.Boots())
	require.NoError(t, power.New(ws, power.WithMinGap(0)).Set(context.Background(), power.Reset))
	boots := dev.Boots()
	for deadline := time.Now().Add(30 * time.Second); len(boots) <= before && time.Now().Before(deadline); boots = dev.Boots() {
		time.Sleep(5 * time.Millisecond)
	}
	require.Greater(t, len(boots), before)
	last := boots[len(boots)-1]
	assert.False(t, last.OneTime, "no one-time boot armed")
	assert.Equal(t, amtsim.BootSourceHDD, last.Source)
}

// SIGINT, SIGTERM and SIGHUP alike stop serving, put the settings back and
// exit 128 plus the signal.
func TestIDERBootSignalsRestore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}, {syscall.SIGHUP, 129}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			_, dev := newSim(t, amtsim.Options{RedirectionState: 32768, ListenerDisabled: true, TransitionTime: time.Millisecond})
			state := filepath.Join(t.TempDir(), "state")
			cmd, stdout, stderr := startIDERBoot(t, dev, state)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, err := dev.WaitIDERBoot(ctx, 1)
			require.NoError(t, err, stderr.String())
			require.NoError(t, cmd.Process.Signal(tc.sig))
			assert.Equal(t, tc.code, exitStatus(t, cmd), stderr.String())
			assert.Contains(t, stdout.String(), `"start_action":"reset"`, "the reset was sent, and said so")
			assert.Contains(t, stdout.String(), `"stop":"interrupted"`)
			assert.Contains(t, stderr.String(), "interrupted by")
			assert.Equal(t, 32768, dev.RedirectionState(), "features as before")
			assert.False(t, dev.ListenerEnabled(), "listener as before")
			requireNotArmed(t, dev)
			recs, err := os.ReadDir(state + "/restore")
			if err == nil {
				assert.Empty(t, recs, "nothing left to restore")
			}
		})
	}
}

// Interrupted before the reset, ider boot sends none.
func TestIDERBootInterruptedBeforeResetSendsNone(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TransitionTime: time.Millisecond})
	// The arming of the boot takes long: the signal comes before the
	// reset could be sent. (Should the restore meet the delay instead, it
	// still ends within the cleanup timeout.)
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelay, Action: "SetBootConfigRole", Delay: 15 * time.Second, Times: 1})
	cmd, stdout, stderr := startIDERBoot(t, dev, filepath.Join(t.TempDir(), "state"))
	for dev.Stats().Actions[wsman.ActionPut] == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // into the delayed SetBootConfigRole
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 143, exitStatus(t, cmd), stderr.String())
	assert.Empty(t, dev.PowerRequests(), "no reset sent")
	assert.Contains(t, stdout.String(), `"start_action":null`, "no action reported as sent")
	assert.Contains(t, stdout.String(), `"accepted":false`)
	requireNotArmed(t, dev)
}

// A console killed outright leaves the record; any command against the
// device says so, and ider restore puts the settings back.
func TestIDERBootKilledThenRestore(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{RedirectionState: 32768, ListenerDisabled: true, TransitionTime: time.Millisecond})
	state := filepath.Join(t.TempDir(), "state")
	cmd, _, stderr := startIDERBoot(t, dev, state)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := dev.WaitIDERBoot(ctx, 1)
	require.NoError(t, err, stderr.String())
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	t.Log("killed")
	assert.NotEqual(t, 32768, dev.RedirectionState(), "left changed by the killed console")
	assert.True(t, dev.ListenerEnabled())

	env := []string{"AMTKIT_STATE=" + state}
	code, _, errOut := runBinaryEnv(t, env, "power", "status", "--host", dev.HTTPAddr(), "-p", password)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, errOut, "not put back")
	assert.Contains(t, errOut, "amtctl ider restore --host "+dev.HTTPAddr())

	t.Log("status read")
	code, out, errOut := runBinaryEnv(t, env, "ider", "restore", "--host", dev.HTTPAddr(), "-p", password)
	t.Log("restored")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "restored: boot options, redirection listener, redirection features")
	assert.Equal(t, 32768, dev.RedirectionState())
	assert.False(t, dev.ListenerEnabled())
	requireNotArmed(t, dev)

	code, out, errOut = runBinaryEnv(t, env, "ider", "restore", "--host", dev.HTTPAddr(), "-p", password)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "nothing to restore")
	assert.NotContains(t, errOut, "not put back")
}

// An image a BIOS cannot boot is refused before anything changes.
func TestIDERBootChecksTheImage(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{})
	junk := t.TempDir() + "/junk.iso"
	require.NoError(t, os.WriteFile(junk, bytes.Repeat([]byte{7}, 64*2048), 0o600))
	code, _, errOut := amtctl(t, "ider", "boot", "--host", dev.HTTPAddr(), "-p", password, "--image", junk)
	assert.Equal(t, exitUsage, code, errOut)
	assert.Contains(t, errOut, "not an ISO 9660 image")
	assert.Contains(t, errOut, "--no-check")
	noBoot := writeISO(t, 64)
	b, err := os.ReadFile(noBoot)
	require.NoError(t, err)
	b[17*2048] = 255 // the boot record becomes the terminator
	require.NoError(t, os.WriteFile(noBoot, b, 0o600))
	code, _, errOut = amtctl(t, "ider", "boot", "--host", dev.HTTPAddr(), "-p", password, "--image", noBoot)
	assert.Equal(t, exitUsage, code, errOut)
	assert.Contains(t, errOut, "no El Torito boot record")
	code, _, errOut = amtctl(t, "ider", "boot", "--host", dev.HTTPAddr(), "-p", password, "--floppy", junk)
	assert.Equal(t, exitUsage, code, errOut)
	assert.Contains(t, errOut, "not a FAT image")
	assert.Zero(t, dev.Stats().HTTPRequests, "nothing was sent")
}

// redirect status, enable and disable.
func TestRedirectCommand(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{RedirectionState: 32768, ListenerDisabled: true})
	code, out, errOut := amtctl(t, "redirect", "status", "--host", dev.HTTPAddr(), "-p", password, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	assert.JSONEq(t, `{"host":"`+dev.HTTPAddr()+`","ider":false,"sol":false,"listener":false,"enabled_state":32768}`, out)
	code, _, errOut = amtctl(t, "redirect", "enable", "--host", dev.HTTPAddr(), "-p", password, "--sol", "--listener")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, 32770, dev.RedirectionState())
	assert.True(t, dev.ListenerEnabled())
	code, _, errOut = amtctl(t, "redirect", "disable", "--host", dev.HTTPAddr(), "-p", password, "--listener")
	require.Equal(t, exitOK, code, errOut)
	assert.False(t, dev.ListenerEnabled())
	assert.Equal(t, 32770, dev.RedirectionState())
	code, _, _ = amtctl(t, "redirect", "enable", "--host", dev.HTTPAddr(), "-p", password)
	assert.Equal(t, exitUsage, code)
}

// sol says why the device refused, and --enable opens it for the session.
func TestSOLRefusalAndEnable(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{RedirectionState: 32769, ListenerDisabled: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, _, errOut := redirectCtl(ctx, "", "sol", "--host", dev.HTTPAddr(), "-p", password, "--redirect-port", redirectPort(t, dev))
	assert.NotEqual(t, exitOK, code)
	assert.Contains(t, errOut, "the redirection listener is closed")
	assert.Contains(t, errOut, "SOL is disabled")
	assert.Contains(t, errOut, "--enable")

	// A dry run says what --enable would send and changes nothing.
	code, stdout, errOut := redirectCtl(ctx, "", "sol", "--enable", "--dry-run", "-o", "json", "--host", dev.HTTPAddr(), "-p", password, "--redirect-port", redirectPort(t, dev))
	require.Equal(t, exitOK, code, errOut)
	var dry map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &dry), stdout)
	assert.Equal(t, true, dry["dry_run"])
	assert.Equal(t, "sol", dry["action"])
	assert.NotEmpty(t, dry["would_send"], "SOL and the listener would be turned on")
	assert.Equal(t, 32769, dev.RedirectionState(), "nothing changed by the dry run")
	assert.False(t, dev.ListenerEnabled(), "nothing changed by the dry run")

	code, stdout, errOut = redirectCtl(ctx, "hi\r", "sol", "--enable", "--host", dev.HTTPAddr(), "-p", password, "--redirect-port", redirectPort(t, dev))
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, stdout, "amtsim serial console")
	assert.Equal(t, 32769, dev.RedirectionState(), "SOL off again")
	assert.False(t, dev.ListenerEnabled(), "listener closed again")
}

// The WS-Man login works but the redirection port refuses the account:
// exit 5 (authentication failed), one refused redirection login.
func TestRedirectionLoginRefusedExitStatus(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{Accounts: []amtsim.Account{{User: "viewer", Password: "V1ewer-pass", ReadOnly: true}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, _, errOut := redirectCtl(ctx, "", "sol", "--state", filepath.Join(t.TempDir(), "state"), "--host", dev.HTTPAddr(), "-u", "viewer", "-p", "V1ewer-pass", "--redirect-port", redirectPort(t, dev))
	assert.Equal(t, exitAuthFailed, code, errOut)
	assert.Contains(t, errOut, "authentication failed")
	code, _, errOut = redirectCtl(ctx, "", "ider", "serve", "--state", filepath.Join(t.TempDir(), "state"), "--host", dev.HTTPAddr(), "-u", "viewer", "-p", "V1ewer-pass",
		"--redirect-port", redirectPort(t, dev), "--image", writeISO(t, 64))
	assert.Equal(t, exitAuthFailed, code, errOut)
}
