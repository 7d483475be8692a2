package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// redirectFallbackSetup starts a device with a "viewer" account that logs
// in over WS-Man but is refused at the redirection port, stores the
// administrator as the default profile "ops" and the viewer as profile
// "viewer", and lets the administrator be learned as the runtime entry.
func redirectFallbackSetup(t *testing.T) (*amtsim.Device, string) {
	t.Helper()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, LockoutAfter: 3, LockoutDuration: time.Hour, TransitionTime: time.Millisecond,
		Accounts: []amtsim.Account{{User: "viewer", Password: "View-0nly!", ReadOnly: true}}})
	state := filepath.Join(t.TempDir(), "state")
	code, _, errOut := processIn(t, state, password+"\n", "creds", "profile", "add", "ops", "--user", user, "--password-stdin", "--default")
	require.Equal(t, exitOK, code, errOut)
	code, _, errOut = processIn(t, state, "View-0nly!\n", "creds", "profile", "add", "viewer", "--user", "viewer", "--password-stdin")
	require.Equal(t, exitOK, code, errOut)
	code, _, errOut = process(t, state, "boot", "next", "pxe", "--host", dev.HTTPAddr())
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, user, runtimeUser(t, state))
	return dev, state
}

// sol with a profile the WS-Man port accepts and the redirection port
// refuses: the next candidate (the runtime entry) opens the session, stderr
// names the fallback, the device counts no failed login and never locks,
// and the viewer does not replace the administrator's runtime entry.
func TestSOLFallsBackAfterRedirectionRefusal(t *testing.T) {
	t.Parallel()
	dev, state := redirectFallbackSetup(t)
	code, out, errOut := processIn(t, state, "hi\r", "sol", "--host", dev.HTTPAddr(), "--profile", "viewer", "--redirect-port", redirectPort(t, dev))
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "amtsim serial console")
	assert.Contains(t, errOut, `logged in with fallback credentials: the runtime entry (learned from profile "ops")`)
	assert.Zero(t, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())
	assert.Equal(t, user, runtimeUser(t, state))
	// The refusal is counted for the device, without the port.
	recs := guardList(t, state)
	require.Contains(t, recs, "127.0.0.1")
	assert.Equal(t, float64(1), recs["127.0.0.1"]["failures"])

	// The viewer alone, within the window: it already failed at this
	// device, so nothing is sent (exit 9); the guard cannot tell a refusal
	// at the redirection port from a wrong password there.
	before := dev.Stats().HTTPRequests
	code, _, errOut = processIn(t, state, "", "sol", "--host", dev.HTTPAddr(), "-u", "viewer", "-p", "View-0nly!", "--redirect-port", redirectPort(t, dev))
	assert.Equal(t, exitLockedOut, code, errOut)
	assert.Contains(t, errOut, "nothing sent")
	assert.Equal(t, before, dev.Stats().HTTPRequests)
	assert.False(t, dev.LockedOut())
}

// ider boot the same way: the viewer is refused at the redirection port,
// the administrator boots the machine from the image with one reset, and
// the redirection state is as before.
func TestIDERBootFallsBackAfterRedirectionRefusal(t *testing.T) {
	t.Parallel()
	dev, state := redirectFallbackSetup(t)
	before := dev.RedirectionState()
	code, _, errOut := process(t, state, "ider", "boot", "--host", dev.HTTPAddr(), "--profile", "viewer", "--redirect-port", redirectPort(t, dev),
		"--image", writeISO(t, 300), "--idle", "300ms")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, errOut, "logged in with fallback credentials")
	assert.Len(t, dev.PowerRequests(), 1, "one reset")
	assert.Equal(t, before, dev.RedirectionState())
	boots := dev.Boots()
	require.NotEmpty(t, boots)
	assert.Equal(t, amtsim.BootSourceIDERCD, boots[len(boots)-1].Source)
	assert.Zero(t, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())
	assert.False(t, dev.RedirectionSessionOpen())
	assert.Equal(t, user, runtimeUser(t, state))
}
