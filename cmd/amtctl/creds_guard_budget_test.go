package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// The guard's budget is set in the state database and every process
// spends it under that limit: validated, beyond the safe limit only with
// --unsafe (and then said on every login), shown in creds guard list.
func TestGuardBudgetConfigurable(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, LockoutAfter: 4, LockoutDuration: time.Hour})
	state := filepath.Join(t.TempDir(), "state")
	host := dev.HTTPAddr()

	code, out, errOut := process(t, state, "creds", "guard", "list")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "allows 2 failed login(s) per device within 5m0s (the default)")

	for _, bad := range [][]string{
		{"--max-failures", "3"},              // beyond the safe limit without --unsafe
		{"--window", "1m"},                   // a shorter window is less safe too
		{"--max-failures", "11", "--unsafe"}, // beyond the hard limit
		{"--max-failures", "0"},              // nothing could log in
		{"--window", "30s", "--unsafe"},      // below the hard limit
		{"--window", "90500ms"},              // not whole seconds
		{"--default", "--max-failures", "1"}, // contradictory
		{},                                   // nothing to set
	} {
		code, _, errOut := process(t, state, append([]string{"creds", "guard", "set"}, bad...)...)
		assert.Equal(t, exitUsage, code, "%v: %s", bad, errOut)
	}
	_, errOut = func() (string, string) {
		_, o, e := process(t, state, "creds", "guard", "set", "--max-failures", "3")
		return o, e
	}()
	assert.Contains(t, errOut, "--unsafe")

	// A budget of one: the second wrong password is not sent.
	code, out, errOut = process(t, state, "creds", "guard", "set", "--max-failures", "1")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "allows 1 failed login(s) per device within 5m0s")
	code, _, errOut = process(t, state, "power", "status", "--host", host, "-p", "Wrong-pass1")
	require.Equal(t, exitAuthFailed, code, errOut)
	sent := dev.Stats().HTTPRequests
	code, _, errOut = process(t, state, "power", "status", "--host", host, "-p", "Wrong-pass2")
	require.Equal(t, exitLockedOut, code, errOut)
	assert.Equal(t, sent, dev.Stats().HTTPRequests, "nothing sent")
	recs := guardList(t, state)
	require.Contains(t, recs, "127.0.0.1")
	assert.Equal(t, float64(1), recs["127.0.0.1"]["max_failures"])
	assert.Equal(t, true, recs["127.0.0.1"]["spent"])

	// Beyond the safe limit with --unsafe: allowed, and said on every
	// login and in the list.
	code, out, errOut = process(t, state, "creds", "guard", "set", "--max-failures", "3", "--unsafe")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "beyond the safe limit")
	code, _, errOut = process(t, state, "power", "status", "--host", host, "-p", "Wrong-pass2")
	require.Equal(t, exitAuthFailed, code, errOut)
	assert.Contains(t, errOut, "warning: the lockout guard allows 3 failed login(s) per device within 5m0s, beyond the safe limit")
	code, out, errOut = process(t, state, "creds", "guard", "list")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "beyond the safe limit")
	assert.Contains(t, out, "2/3")
	assert.Equal(t, 2, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())

	// Back to the default: the budget of 2 is spent already.
	code, out, errOut = process(t, state, "creds", "guard", "set", "--default")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "(the default)")
	code, _, errOut = process(t, state, "power", "status", "--host", host, "-p", "Wrong-pass3")
	require.Equal(t, exitLockedOut, code, errOut)
	assert.False(t, dev.LockedOut())
}
