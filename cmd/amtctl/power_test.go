package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/wsman"
)

func TestPowerStatusJSON(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{TLSPort: -1})
	code, out, errOut := amtctl(t, "power", "status", "--host", dev.HTTPAddr(), "-p", password, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	assert.Equal(t, dev.HTTPAddr(), rec["host"])
	assert.EqualValues(t, 2, rec["power_state"])
	assert.Equal(t, "on", rec["power_state_name"])
	assert.Equal(t, "full power", rec["os_power_saving"])
	assert.Equal(t, []any{"reset", "off", "cycle", "nmi", "sleep", "hibernate", "soft-reset", "soft-off"}, rec["available_actions"])
}

func TestPowerActionsAndWait(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, TransitionTime: 100 * time.Millisecond})
	host := dev.HTTPAddr()
	code, out, errOut := amtctl(t, "power", "off", "--host", host, "-p", password, "--wait")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "the machine is off")
	assert.Equal(t, 8, dev.PowerState())

	code, out, errOut = amtctl(t, "power", "on", "--host", host, "-p", password, "--wait")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "the machine is on")
	assert.Equal(t, []int{8, 2}, dev.PowerRequests())
}

func TestPowerRefusedActionNamesTheAllowedOnes(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, PowerState: 8})
	code, _, errOut := amtctl(t, "power", "reset", "--host", dev.HTTPAddr(), "-p", password)
	assert.Equal(t, exitRefused, code)
	assert.Contains(t, errOut, "reset is not available while the machine is off")
	assert.Contains(t, errOut, "offers: on")
	assert.Empty(t, dev.PowerRequests(), "nothing was sent")
}

func TestPowerOutcomeUnknown(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{TLSPort: -1})
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetAfterRequest, Action: "RequestPowerStateChange", Times: 1})
	code, _, errOut := amtctl(t, "power", "reset", "--host", dev.HTTPAddr(), "-p", password)
	assert.Equal(t, exitOutcomeUnknown, code, errOut)
	assert.Contains(t, errOut, "outcome unknown")
	assert.Contains(t, errOut, "amtctl power status")
	assert.Equal(t, []int{10}, dev.PowerRequests(), "sent once, never again")
}

// The real binary, against a device that carries out the reset and then
// lets the answer run past the timeout: exit 11, the device saw one reset,
// and the message says the request was sent and the state must be read.
func TestPowerOutcomeUnknownBinary(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1})
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelayAnswer, Action: "RequestPowerStateChange", Delay: time.Minute, Times: 1})
	code, out, errOut := runBinaryEnv(t, nil, "power", "reset", "--host", dev.HTTPAddr(), "-p", password, "--timeout", "2s")
	assert.Equal(t, exitOutcomeUnknown, code, errOut)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "the request was sent")
	assert.Contains(t, errOut, "whether the device acted on it is unknown")
	assert.Contains(t, errOut, "amtctl power status --host "+dev.HTTPAddr())
	assert.NotContains(t, errOut, "unreachable")
	assert.Contains(t, errOut, "(timed out)", "what ended the wait")
	assert.NotContains(t, errOut, "context", "in an operator's words")
	assert.Equal(t, []int{10}, dev.PowerRequests(), "one reset, never a second")
	assert.Equal(t, 1, dev.Stats().Actions[wsman.PrefixCIM+"CIM_PowerManagementService/RequestPowerStateChange"])
}

func TestPowerUnknownVerb(t *testing.T) {
	code, _, _ := amtctl(t, "power", "off-hard", "--host", "127.0.0.1:1", "-p", password)
	assert.Equal(t, exitUsage, code)
}

func TestBootNextPXEWithReset(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{TLSPort: -1})
	host := dev.HTTPAddr()
	code, out, errOut := amtctl(t, "boot", "next", "pxe", "--sol", "--reset", "--host", host, "-p", password)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "next boot goes to pxe, once; reset sent")
	boots := dev.Boots()
	require.Len(t, boots, 1)
	assert.Equal(t, amtsim.BootSourcePXE, boots[0].Source)
	assert.True(t, boots[0].UseSOL)

	code, _, errOut = amtctl(t, "power", "reset", "--host", host, "-p", password)
	require.Equal(t, exitOK, code, errOut)
	boots = dev.Boots()
	require.Len(t, boots, 2)
	assert.Equal(t, amtsim.BootSourceHDD, boots[1].Source, "once only")
}

func TestBootNextAndClear(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{TLSPort: -1})
	host := dev.HTTPAddr()
	code, out, errOut := amtctl(t, "boot", "next", "bios", "--host", host, "-p", password, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	assert.JSONEq(t, `{"host":"`+host+`","action":"boot next","accepted":true,"changed":true,"message":"next boot goes to bios, once",`+
		`"dry_run":false,"would_send":[],"next_boot":"bios","start_action":null}`, out)
	code, _, errOut = amtctl(t, "boot", "clear", "--host", host, "-p", password)
	require.Equal(t, exitOK, code, errOut)
	code, _, errOut = amtctl(t, "power", "reset", "--host", host, "-p", password)
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, dev.Boots(), 1)
	assert.Equal(t, amtsim.BootSourceHDD, dev.Boots()[0].Source)

	code, _, _ = amtctl(t, "boot", "next", "floppy", "--host", host, "-p", password)
	assert.Equal(t, exitUsage, code)
}

func TestBootUnsupportedOptionRefused(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, BootCapabilities: map[string]bool{"SOL": false}})
	code, _, errOut := amtctl(t, "boot", "next", "pxe", "--sol", "--host", dev.HTTPAddr(), "-p", password)
	assert.Equal(t, exitRefused, code)
	assert.Contains(t, errOut, "option sol")
}

// creds runs amtctl with a password on standard input.
func creds(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runIO(context.Background(), withTestState(t, args), strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCredentialProfilesEndToEnd(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, LockoutAfter: 4})
	host := dev.HTTPAddr()

	code, _, errOut := creds(t, "Wrong-1!\n", "creds", "profile", "add", "office", "--user", user, "--password-stdin", "--default", "--state", state)
	require.Equal(t, exitOK, code, errOut)
	code, _, errOut = creds(t, password+"\n", "creds", "profile", "add", "lab", "--user", user, "--password-stdin", "--state", state)
	require.Equal(t, exitOK, code, errOut)

	code, out, errOut := amtctl(t, "creds", "profile", "list", "--state", state)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "office")
	assert.Contains(t, out, "lab")
	assert.NotContains(t, out, password, "list never shows secrets")
	assert.NotContains(t, out, "Wrong-1!")

	// The default profile is wrong for this machine: the command fails
	// with one failed login, and says so.
	code, _, errOut = amtctl(t, "info", "--host", host, "--state", state)
	assert.Equal(t, exitAuthFailed, code, errOut)
	assert.Equal(t, 1, dev.Stats().FailedLogins)

	// Naming the right profile works and is learned.
	code, out, errOut = amtctl(t, "info", "--host", host, "--state", state, "--profile", "lab", "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	rec := decodeInfo(t, out)
	cr, ok := rec["credentials"].(map[string]any)
	require.True(t, ok, "info reports which profile was used")
	assert.Equal(t, "lab", cr["profile"])
	assert.NotContains(t, out, password)

	// The next run, with no profile named, uses what worked: one login.
	failed := dev.Stats().FailedLogins
	code, out, errOut = amtctl(t, "info", "--host", host, "--state", state, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	cr = decodeInfo(t, out)["credentials"].(map[string]any)
	assert.Equal(t, "runtime", cr["origin"])
	assert.Equal(t, failed, dev.Stats().FailedLogins, "no failed login")

	// Runtime entries are kept per device: the address without the port.
	code, out, errOut = amtctl(t, "creds", "runtime", "list", "--state", state, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, `"host":"127.0.0.1"`)
	assert.NotContains(t, out, password)

	code, _, errOut = amtctl(t, "creds", "runtime", "forget", host, "--state", state)
	require.Equal(t, exitOK, code, errOut)
	code, out, _ = amtctl(t, "creds", "runtime", "list", "--state", state)
	require.Equal(t, exitOK, code)
	assert.NotContains(t, out, "127.0.0.1")

	code, _, errOut = amtctl(t, "creds", "profile", "default", "lab", "--state", state)
	require.Equal(t, exitOK, code, errOut)
	code, _, errOut = amtctl(t, "creds", "profile", "remove", "office", "--state", state)
	require.Equal(t, exitOK, code, errOut)
	code, _, errOut = amtctl(t, "info", "--host", host, "--state", state)
	require.Equal(t, exitOK, code, errOut)
	assert.False(t, dev.LockedOut())
}

func TestCredsUsage(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	code, _, _ := creds(t, "", "creds", "profile", "add", "x", "--user", user, "--password-stdin", "--state", state)
	assert.Equal(t, exitUsage, code, "empty password")
	code, _, _ = creds(t, "pw\n", "creds", "profile", "add", "x", "--user", user, "--state", state)
	assert.Equal(t, exitUsage, code, "the password only comes on standard input")
	code, _, _ = creds(t, "pw\n", "creds", "profile", "add", "x", "--user", user, "--password-stdin", "--technology", "ftp", "--state", state)
	assert.Equal(t, exitUsage, code)
}

// On of a machine that is on, off of one that is off: exit 0, nothing sent.
func TestPowerAlreadyInState(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1})
	code, out, errOut := amtctl(t, "power", "on", "--host", dev.HTTPAddr(), "-p", password)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "already on; nothing sent")
	dev.SetPowerState(8)
	code, out, errOut = amtctl(t, "power", "off", "--host", dev.HTTPAddr(), "-p", password, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	assert.Equal(t, false, rec["accepted"], "nothing sent")
	assert.Equal(t, false, rec["changed"])
	assert.Empty(t, dev.PowerRequests())
}

// --wait reads through a device that stops answering while it changes
// state, and a wait that runs out exits 12 saying the change was accepted.
func TestPowerWaitBusyAndTimeout(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, TransitionTime: 2 * time.Second})
	go func() {
		// Once the change is sent, the device drops connections for a
		// while: more than the client's own retries absorb.
		for len(dev.PowerRequests()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetAfterRequest, Action: "Get", Times: 8})
	}()
	code, out, errOut := amtctl(t, "power", "off", "--host", dev.HTTPAddr(), "-p", password, "--wait", "--wait-timeout", "1m")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "the machine is off")

	dev.ClearFaults()
	_, dev2 := newSim(t, amtsim.Options{TLSPort: -1, TransitionTime: time.Hour})
	code, _, errOut = amtctl(t, "power", "off", "--host", dev2.HTTPAddr(), "-p", password, "--wait", "--wait-timeout", "300ms")
	assert.Equal(t, exitNotReached, code, errOut)
	assert.Contains(t, errOut, "the change was accepted")
	assert.Equal(t, []int{8}, dev2.PowerRequests())
}
