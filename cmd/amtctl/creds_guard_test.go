package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/statedb"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// amtctlBinary builds the real amtctl once per test run, into the state
// directory TestMain removes at the end.
func amtctlBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp(os.Getenv("XDG_STATE_HOME"), "bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "amtctl")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command(goTool, append(args, ".")...).CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

// process runs the amtctl binary as a separate process with its local state
// in state, and returns its exit status, standard output and standard error.
func process(t *testing.T, state string, args ...string) (int, string, string) {
	t.Helper()
	return execBinary(t, append(os.Environ(), "AMT_PASSWORD=", "AMTKIT_STATE="+state), nil, args...)
}

// guardList returns creds guard list -o json, by host.
func guardList(t *testing.T, state string) map[string]map[string]any {
	t.Helper()
	code, out, errOut := process(t, state, "creds", "guard", "list", "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	recs := map[string]map[string]any{}
	var list []map[string]any // one array, [] when empty
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	for _, m := range list {
		for _, k := range []string{"host", "failures", "pending", "max_failures", "spent", "last", "frees_at", "clear_at"} {
			assert.Contains(t, m, k, "documented key")
		}
		recs[m["host"].(string)] = m
	}
	return recs
}

// Three separate processes with the same wrong password against a device
// that locks after 3: one login is sent, the others are refused by the
// guard with exit 9 and nothing sent; the device never locks, and the
// correct password works afterwards.
func TestLockoutGuardAcrossProcesses(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, LockoutAfter: 3, LockoutDuration: time.Hour})
	state := filepath.Join(t.TempDir(), "state")
	host := dev.HTTPAddr()

	code, _, errOut := process(t, state, "power", "status", "--host", host, "-p", "Wrong-pass1")
	assert.Equal(t, exitAuthFailed, code, errOut)
	assert.Equal(t, 1, dev.Stats().FailedLogins)
	for i := 2; i <= 3; i++ {
		before := dev.Stats().HTTPRequests
		code, _, errOut = process(t, state, "power", "status", "--host", host, "-p", "Wrong-pass1")
		assert.Equal(t, exitLockedOut, code, "process %d: %s", i, errOut)
		assert.Equal(t, before, dev.Stats().HTTPRequests, "process %d sent nothing", i)
		assert.Contains(t, errOut, "nothing sent")
		assert.Contains(t, errOut, "frees up at")
	}
	assert.Equal(t, 1, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())

	code, out, errOut := process(t, state, "power", "status", "--host", host, "-p", password, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, `"power_state_name"`)
	assert.False(t, dev.LockedOut())
}

// Three processes with three different wrong passwords: two logins are
// sent, the third process exits 9 with nothing sent; the budget stays spent
// (even for the right password) until creds guard reset.
func TestLockoutGuardBudgetAcrossProcesses(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, LockoutAfter: 3, LockoutDuration: time.Hour})
	state := filepath.Join(t.TempDir(), "state")
	host := dev.HTTPAddr()

	for i := 1; i <= 2; i++ {
		code, _, errOut := process(t, state, "power", "status", "--host", host, "-p", fmt.Sprintf("Wrong-pass%d", i))
		assert.Equal(t, exitAuthFailed, code, errOut)
	}
	before := dev.Stats().HTTPRequests
	code, _, errOut := process(t, state, "power", "status", "--host", host, "-p", "Wrong-pass3")
	assert.Equal(t, exitLockedOut, code, errOut)
	assert.Equal(t, before, dev.Stats().HTTPRequests, "no login sent")
	assert.Contains(t, errOut, "another could lock the account")
	assert.Contains(t, errOut, "frees up at")
	assert.Equal(t, 2, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut(), "the device never locks")

	recs := guardList(t, state)
	require.Contains(t, recs, "127.0.0.1", "counted per device, without the port")
	assert.EqualValues(t, 2, recs["127.0.0.1"]["failures"])
	assert.Equal(t, true, recs["127.0.0.1"]["spent"])
	code, out, errOut := process(t, state, "creds", "guard", "list")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "2/2 spent")
	assert.NotContains(t, out, "Wrong-pass")

	// The right password is refused too while the budget is spent.
	code, _, errOut = process(t, state, "power", "status", "--host", host, "-p", password)
	assert.Equal(t, exitLockedOut, code, errOut)
	assert.Equal(t, before, dev.Stats().HTTPRequests)

	code, out, errOut = process(t, state, "creds", "guard", "reset", host)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "cleared 2 lockout guard record(s) for 127.0.0.1")
	assert.Empty(t, guardList(t, state))
	code, _, errOut = process(t, state, "power", "status", "--host", host, "-p", password)
	require.Equal(t, exitOK, code, errOut)
	assert.False(t, dev.LockedOut())

	// The state holds no password.
	data, err := os.ReadFile(filepath.Join(state, statedb.FileName))
	require.NoError(t, err)
	wal, _ := os.ReadFile(filepath.Join(state, statedb.FileName+"-wal"))
	data = append(data, wal...)
	for _, pw := range []string{"Wrong-pass1", "Wrong-pass2", "Wrong-pass3", password} {
		assert.NotContains(t, string(data), pw)
	}
}

// A failure on 16992 is counted on 16993 and on the redirection port: the
// guard keeps one count per device.
func TestLockoutGuardAcrossPorts(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{LockoutAfter: 3, LockoutDuration: time.Hour,
		Accounts: []amtsim.Account{{User: "viewer", Password: "View-0nly!", ReadOnly: true}}})
	state := filepath.Join(t.TempDir(), "state")
	pin := sim.CertificateSHA256()

	code, _, errOut := process(t, state, "power", "status", "--host", dev.HTTPAddr(), "-p", "Wrong-pass1")
	assert.Equal(t, exitAuthFailed, code, errOut)
	require.Equal(t, 1, dev.Stats().FailedLogins)

	// The same wrong password over TLS: already failed on this device.
	before := dev.Stats().HTTPRequests
	code, _, errOut = process(t, state, "power", "status", "--host", dev.TLSAddr(), "--pin", pin, "-p", "Wrong-pass1")
	assert.Equal(t, exitLockedOut, code, errOut)
	assert.Equal(t, before, dev.Stats().HTTPRequests, "nothing sent over TLS")

	// A login refused on the redirection port counts too: the read-only
	// account logs in over WS-Man, and the device refuses its redirection
	// login.
	code, _, errOut = process(t, state, "sol", "--host", dev.HTTPAddr(), "-u", "viewer", "-p", "View-0nly!",
		"--redirect-port", redirectPort(t, dev))
	assert.Equal(t, exitAuthFailed, code, errOut)
	recs := guardList(t, state)
	require.Contains(t, recs, "127.0.0.1")
	assert.EqualValues(t, 2, recs["127.0.0.1"]["failures"], "one on 16992, one on the redirection port")

	// The budget is spent for every port: nothing more is sent.
	before = dev.Stats().HTTPRequests
	code, _, errOut = process(t, state, "power", "status", "--host", dev.TLSAddr(), "--pin", pin, "-p", password)
	assert.Equal(t, exitLockedOut, code, errOut)
	code, _, errOut = process(t, state, "sol", "--host", dev.HTTPAddr(), "-p", password, "--redirect-port", redirectPort(t, dev))
	assert.Equal(t, exitLockedOut, code, errOut)
	assert.Equal(t, before, dev.Stats().HTTPRequests)
	assert.False(t, dev.LockedOut())
}

// discover --inventory with a mistyped password, run three times, locks
// nobody: each device sees at most one failed login, whatever the runs.
func TestDiscoverInventoryTypoLocksNobody(t *testing.T) {
	t.Parallel()
	sim, err := amtsim.New(amtsim.Options{DevicesCIDR: "127.79.31.0/26", DeviceCount: 40, Seed: 5, LockoutAfter: 3, LockoutDuration: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sim.Close()) })
	state := filepath.Join(t.TempDir(), "state")
	args := append(simFlags(sim), "--inventory", "-p", "Typo-passw0rd", "-o", "json", "127.79.31.0/26")
	for run := 1; run <= 3; run++ {
		code, _, errOut := process(t, state, append([]string{"discover"}, args...)...)
		require.Equal(t, exitOK, code, "run %d: %s", run, errOut)
	}
	for _, d := range sim.Devices() {
		assert.False(t, d.LockedOut(), d.HTTPAddr())
		assert.LessOrEqual(t, d.Stats().FailedLogins, 1, "%s: the typo is tried once per device", d.HTTPAddr())
	}
	assert.Len(t, guardList(t, state), len(sim.Devices()), "one guard record per device")
	code, _, errOut := process(t, state, append([]string{"discover"}, append(simFlags(sim), "--inventory", "-p", password, "127.79.31.0/26")...)...)
	require.Equal(t, exitOK, code, errOut)
}

// processIn is process with standard input.
func processIn(t *testing.T, state, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return execBinary(t, append(os.Environ(), "AMT_PASSWORD=", "AMTKIT_STATE="+state), strings.NewReader(stdin), args...)
}

// powerChanges is the number of power changes the device accepted.
func powerChanges(d *amtsim.Device) int { return len(d.PowerRequests()) }

func runtimeUser(t *testing.T, state string) string {
	t.Helper()
	code, out, errOut := process(t, state, "creds", "runtime", "list", "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	var recs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &recs), out)
	require.Len(t, recs, 1, out)
	return recs[0]["user"].(string)
}

// A read-only account that logs in but is refused a power change never
// replaces the working administrator's runtime entry: the resolver moves on
// to the runtime entry, which makes the change, at no failed login.
func TestReadOnlyRuntimeEntryNeverDisplacesAdmin(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, LockoutAfter: 3, LockoutDuration: time.Hour,
		Accounts: []amtsim.Account{{User: "viewer", Password: "View-0nly!", ReadOnly: true}}})
	state := filepath.Join(t.TempDir(), "state")
	host := dev.HTTPAddr()
	code, _, errOut := processIn(t, state, password+"\n", "creds", "profile", "add", "ops", "--user", user, "--password-stdin", "--default")
	require.Equal(t, exitOK, code, errOut)
	code, _, errOut = processIn(t, state, "View-0nly!\n", "creds", "profile", "add", "viewer", "--user", "viewer", "--password-stdin")
	require.Equal(t, exitOK, code, errOut)

	// The default profile makes a change and is learned.
	code, _, errOut = process(t, state, "boot", "next", "pxe", "--host", host)
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, user, runtimeUser(t, state))

	// Naming the viewer: it is tried first (a named profile comes before
	// the runtime entry), logs in, is refused the reset, and the runtime
	// entry does it. stderr and the JSON say a fallback was used.
	code, out, errOut := process(t, state, "power", "reset", "--host", host, "--profile", "viewer", "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, errOut, `logged in with fallback credentials: the runtime entry (learned from profile "ops")`)
	assert.NotContains(t, errOut, password)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
	require.Contains(t, rec, "credentials")
	cr := rec["credentials"].(map[string]any)
	assert.Equal(t, "runtime", cr["origin"])
	assert.Equal(t, true, cr["fallback"])
	assert.Equal(t, 1, powerChanges(dev), "one reset, by the administrator")
	assert.Zero(t, dev.Stats().FailedLogins, "the refusal cost no failed login")
	assert.Equal(t, user, runtimeUser(t, state), "the viewer did not replace the admin entry")

	// The viewer may read, but that does not displace the admin entry
	// either.
	code, _, errOut = process(t, state, "power", "status", "--host", host, "--profile", "viewer")
	require.Equal(t, exitOK, code, errOut)
	assert.NotContains(t, errOut, "fallback")
	assert.Equal(t, user, runtimeUser(t, state))

	// The viewer alone is refused the change, and nothing else is tried.
	code, _, errOut = process(t, state, "power", "reset", "--host", host, "-u", "viewer", "-p", "View-0nly!")
	assert.Equal(t, exitDevice, code, errOut)
	assert.Contains(t, errOut, "AccessDenied")
	assert.Equal(t, 1, powerChanges(dev))
	assert.Equal(t, user, runtimeUser(t, state))
	assert.Zero(t, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())
}

// Explicit --user/--password are tried alone unless --fallback; with it,
// the fallback candidate is named on stderr; the password is not written to
// disk without --remember.
func TestExplicitCredentialsExclusive(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, LockoutAfter: 3, LockoutDuration: time.Hour})
	state := filepath.Join(t.TempDir(), "state")
	host := dev.HTTPAddr()
	code, _, errOut := processIn(t, state, password+"\n", "creds", "profile", "add", "ops", "--user", user, "--password-stdin", "--default")
	require.Equal(t, exitOK, code, errOut)

	code, _, errOut = process(t, state, "power", "status", "--host", host, "-p", "Wrong-pass1")
	assert.Equal(t, exitAuthFailed, code, "a wrong explicit password does not fall back silently: %s", errOut)
	assert.Equal(t, 1, dev.Stats().FailedLogins)

	// With --fallback the default profile follows (after the operator
	// cleared the count: two failures spend the budget).
	code, _, errOut = process(t, state, "creds", "guard", "reset", host)
	require.Equal(t, exitOK, code, errOut)
	code, out, errOut := process(t, state, "info", "--host", host, "-p", "Wrong-pass2", "--fallback", "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, errOut, `logged in with fallback credentials: default profile "ops"`)
	cr := decodeInfo(t, out)["credentials"].(map[string]any)
	assert.Equal(t, true, cr["fallback"])
	assert.Equal(t, "ops", cr["profile"])
	assert.Equal(t, 2, dev.Stats().FailedLogins)

	// A right password on the command line works and is not remembered.
	code, _, errOut = process(t, state, "creds", "runtime", "forget", host)
	require.Equal(t, exitOK, code, errOut)
	code, _, errOut = process(t, state, "creds", "guard", "reset", host)
	require.Equal(t, exitOK, code, errOut)
	code, _, errOut = process(t, state, "power", "status", "--host", host, "-p", password)
	require.Equal(t, exitOK, code, errOut)
	code, out, _ = process(t, state, "creds", "runtime", "list", "-o", "json")
	require.Equal(t, exitOK, code)
	assert.Equal(t, "[]", strings.TrimSpace(out), "not remembered without --remember")
	code, _, errOut = process(t, state, "power", "status", "--host", host, "-p", password, "--remember")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, user, runtimeUser(t, state))
	assert.False(t, dev.LockedOut())
}

// Five processes at once, each with another wrong password: the guard's
// reservations are atomic across processes, so at most the budget of logins
// reaches the device and it never locks.
func TestLockoutGuardConcurrentProcesses(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, LockoutAfter: 3, LockoutDuration: time.Hour})
	state := filepath.Join(t.TempDir(), "state")
	amtctlBinary(t)
	var wg sync.WaitGroup
	codes := make([]int, 5)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = process(t, state, "power", "status", "--host", dev.HTTPAddr(), "-p", fmt.Sprintf("Wrong-pass%d", i))
		}()
	}
	wg.Wait()
	failed, refused := 0, 0
	for _, c := range codes {
		switch c {
		case exitAuthFailed:
			failed++
		case exitLockedOut:
			refused++
		}
	}
	assert.Equal(t, 2, failed, "exit statuses %v", codes)
	assert.Equal(t, 3, refused, "exit statuses %v", codes)
	assert.Equal(t, 2, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())
}

// Processes logging in to one device at the same moment with the right
// password all get in: a login in flight holds part of the budget only
// until it settles, and the others wait for it rather than being refused.
func TestConcurrentRightLoginsAllSucceed(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, LockoutAfter: 3, LockoutDuration: time.Hour})
	state := filepath.Join(t.TempDir(), "state")
	amtctlBinary(t)
	var wg sync.WaitGroup
	codes := make([]int, 5)
	errs := make([]string, 5)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, errs[i] = process(t, state, "power", "status", "--host", dev.HTTPAddr(), "-p", password)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		assert.Equal(t, exitOK, c, "process %d: %s", i, errs[i])
	}
	assert.Zero(t, dev.Stats().FailedLogins)
}
