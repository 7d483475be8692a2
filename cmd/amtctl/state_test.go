package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/statedb"
)

// processWith runs the real amtctl with the given standard input and state
// directory, and returns its exit status and output.
func processWith(t *testing.T, state, stdin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(amtctlBinary(t), args...)
	cmd.Env = append(append(os.Environ(), "AMT_PASSWORD=", "AMTKIT_STATE="+state, "AMTKIT_DATABASE="), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Errorf("running amtctl %v: %v", args, err)
		return -1, "", ""
	}
	return code, stdout.String(), stderr.String()
}

// activityEntries returns log activity -o json, decoded.
func activityEntries(t *testing.T, state string, args ...string) []map[string]any {
	t.Helper()
	code, out, errOut := processWith(t, state, "", nil, append([]string{"log", "activity", "-o", "json"}, args...)...)
	require.Equal(t, exitOK, code, errOut)
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		recs = append(recs, rec)
	}
	return recs
}

// TestStateSharedWhileSessionRuns is the trial of a new user: a long ider
// serve runs (holding its redirection session and its credential store open)
// while power status, creds profile list and log activity run in other
// processes, several at once; every one succeeds. The activity log then holds
// an entry for each command, and neither the database files nor any output
// holds the password.
func TestStateSharedWhileSessionRuns(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TransitionTime: time.Millisecond})
	state := filepath.Join(t.TempDir(), "state")
	var outputs strings.Builder
	keep := func(code int, out, errOut string) { fmt.Fprintf(&outputs, "%d\n%s\n%s\n", code, out, errOut) }

	code, out, errOut := processWith(t, state, password+"\n", nil, "creds", "profile", "add", "lab", "--user", user, "--password-stdin", "--default")
	require.Equal(t, exitOK, code, errOut)
	keep(code, out, errOut)

	// The long command: ider serve with the default profile, until it is
	// interrupted.
	serve := exec.Command(amtctlBinary(t), "ider", "serve", "--host", dev.HTTPAddr(), "--redirect-port", redirectPort(t, dev),
		"--image", writeISO(t, 64), "--idle", "0", "--actor", "night-shift")
	serve.Env = append(os.Environ(), "AMT_PASSWORD=", "AMTKIT_STATE="+state, "AMTKIT_DATABASE=")
	var serveOut, serveErr bytes.Buffer
	serve.Stdout, serve.Stderr = &serveOut, &serveErr
	require.NoError(t, serve.Start())
	served := make(chan error, 1)
	go func() { served <- serve.Wait() }()
	t.Cleanup(func() { _ = serve.Process.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for !dev.RedirectionSessionOpen() {
		select {
		case err := <-served:
			t.Fatalf("ider serve ended early: %v\n%s", err, serveErr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "ider serve did not open its session")
		time.Sleep(20 * time.Millisecond)
	}

	// While it serves: three kinds of command, three of each, all at once.
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	run := func(args ...string) {
		defer wg.Done()
		code, out, errOut := processWith(t, state, "", nil, args...)
		mu.Lock()
		defer mu.Unlock()
		keep(code, out, errOut)
		assert.Equal(t, exitOK, code, "amtctl %v: %s", args, errOut)
		assert.NotContains(t, errOut, "activity log not written")
	}
	// (One login per device at a time: the lockout guard counts a login in
	// flight as a failure until its answer comes, so three logins to one
	// device at once would spend its budget.)
	for range 3 {
		wg.Add(3)
		go run("power", "status", "--host", dev.HTTPAddr(), "-o", "json")
		go run("creds", "profile", "list")
		go run("log", "activity", "--host", dev.HTTPAddr())
		wg.Wait()
	}
	require.True(t, dev.RedirectionSessionOpen(), "ider serve still serves")

	require.NoError(t, serve.Process.Signal(syscall.SIGINT))
	select {
	case <-served:
	case <-time.After(30 * time.Second):
		t.Fatal("ider serve did not stop on SIGINT")
	}
	keep(serve.ProcessState.ExitCode(), serveOut.String(), serveErr.String())

	recs := activityEntries(t, state)
	ops := map[string]int{}
	for _, r := range recs {
		ops[r["operation"].(string)]++
		for _, key := range []string{"id", "time", "actor", "host", "operation", "params", "technology", "profile", "outcome",
			"return_code", "return_code_name", "auth_step", "job", "duration_seconds", "message"} {
			assert.Contains(t, r, key, "every key is present")
		}
	}
	assert.Equal(t, 3, ops["power status"], "%v", ops)
	assert.Equal(t, 3, ops["creds profile list"], "%v", ops)
	assert.Equal(t, 1, ops["creds profile add"], "%v", ops)
	assert.Equal(t, 1, ops["ider serve"], "%v", ops)
	assert.Zero(t, ops["log activity"], "reading the log does not add to it")

	power := activityEntries(t, state, "--operation", "power", "--host", dev.HTTPAddr())
	require.Len(t, power, 3)
	for _, r := range power {
		assert.Equal(t, "ok", r["outcome"])
		assert.Equal(t, "wsman", r["technology"])
		assert.Equal(t, "lab", r["profile"])
		assert.NotEmpty(t, r["actor"])
	}
	serveRecs := activityEntries(t, state, "--actor", "night-shift")
	require.Len(t, serveRecs, 1)
	assert.Equal(t, "ider serve", serveRecs[0]["operation"])
	assert.Equal(t, "redirection", serveRecs[0]["technology"])

	// No secret anywhere: not in the database files, not in any output.
	for _, name := range []string{statedb.FileName, statedb.FileName + "-wal", statedb.FileName + "-shm"} {
		data, err := os.ReadFile(filepath.Join(state, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		assert.NotContains(t, string(data), password, name)
	}
	code, out, errOut = processWith(t, state, "", nil, "log", "activity")
	keep(code, out, errOut)
	code, out, errOut = processWith(t, state, "", nil, "log", "activity", "--stats", "-o", "json")
	keep(code, out, errOut)
	assert.NotContains(t, outputs.String(), password)
}

// TestStateFilesArePrivate: the state directory, the database and its
// companions and the key file are created 0700 and 0600; a directory others
// can read is refused with the command that fixes it.
func TestStateFilesArePrivate(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	code, _, errOut := processWith(t, state, "", nil, "creds", "profile", "list")
	require.Equal(t, exitOK, code, errOut)
	info, err := os.Stat(state)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())
	entries, err := os.ReadDir(state)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), e.Name())
	}

	require.NoError(t, os.Chmod(state, 0o755))
	code, _, errOut = processWith(t, state, "", nil, "creds", "profile", "list")
	assert.NotEqual(t, exitOK, code)
	assert.Contains(t, errOut, "readable by other users")
	assert.Contains(t, errOut, "chmod 700 "+state)
	require.NoError(t, os.Chmod(state, 0o700))

	key := filepath.Join(state, statedb.KeyFileName)
	require.NoError(t, os.Chmod(key, 0o644))
	code, _, errOut = processWith(t, state, "", nil, "creds", "profile", "list")
	assert.NotEqual(t, exitOK, code)
	assert.Contains(t, errOut, "chmod 600 "+key)
}

// TestStateBadFiles: a corrupt, truncated or newer database, and a wrong or
// missing key, give an error that says what to do, and leave the file as it
// was.
func TestStateBadFiles(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	code, _, errOut := processWith(t, state, password+"\n", nil, "creds", "profile", "add", "lab", "--user", user, "--password-stdin")
	require.Equal(t, exitOK, code, errOut)
	dbFile := filepath.Join(state, statedb.FileName)
	key := filepath.Join(state, statedb.KeyFileName)
	good, err := os.ReadFile(dbFile)
	require.NoError(t, err)
	goodKey, err := os.ReadFile(key)
	require.NoError(t, err)

	check := func(name, want string) {
		t.Helper()
		before, _ := os.ReadFile(dbFile)
		code, out, errOut := processWith(t, state, "", nil, "creds", "profile", "list")
		assert.NotEqual(t, exitOK, code, name)
		assert.Empty(t, out, name)
		assert.Contains(t, errOut, want, name)
		after, _ := os.ReadFile(dbFile)
		assert.Equal(t, before, after, "%s: the file is left untouched", name)
	}

	require.NoError(t, os.WriteFile(key, make([]byte, statedb.KeySize), 0o600))
	check("wrong key", "key file does not match")
	require.NoError(t, os.Remove(key))
	check("missing key", "key file of an existing state database is missing")
	require.NoError(t, os.WriteFile(key, goodKey, 0o600))

	_ = os.Remove(dbFile + "-wal")
	_ = os.Remove(dbFile + "-shm")
	require.NoError(t, os.WriteFile(dbFile, good[:len(good)/2], 0o600))
	check("truncated", "truncated")
	garbage := bytes.Repeat([]byte("not a database "), 400)
	require.NoError(t, os.WriteFile(dbFile, garbage, 0o600))
	check("garbage", "state database is corrupt")

	// A database from a newer amtkit.
	require.NoError(t, os.WriteFile(dbFile, good, 0o600))
	db, err := statedb.Open(context.Background(), dbFile)
	require.NoError(t, err)
	_, err = db.SQL().Exec("INSERT INTO " + statedb.SchemaTable + " (version_id, is_applied) VALUES (999, true)")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	check("newer", "upgrade amtkit")
}

// TestActivityOfAFailedLogin: a refused login is recorded with its class and
// the step that refused it (the WS-Man login on its port), under the actor
// given, with its parameters and never the password.
func TestActivityOfAFailedLogin(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1})
	state := filepath.Join(t.TempDir(), "state")
	code, _, errOut := amtctl(t, "power", "status", "--host", dev.HTTPAddr(), "-p", "Wrong-pass9", "--state", state, "--actor", "alice", "--timeout", "20s")
	require.Equal(t, exitAuthFailed, code, errOut)
	code, out, errOut := amtctl(t, "log", "activity", "--state", state, "-o", "json", "--actor", "alice")
	require.Equal(t, exitOK, code, errOut)
	assert.NotContains(t, out, "Wrong-pass9")
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &rec), out)
	assert.Equal(t, "power status", rec["operation"])
	assert.Equal(t, "auth_failed", rec["outcome"])
	assert.Equal(t, dev.HTTPAddr(), rec["host"])
	_, port, _ := strings.Cut(dev.HTTPAddr(), ":")
	assert.Equal(t, "wsman login on port "+port, rec["auth_step"])
	assert.Nil(t, rec["return_code"])
	assert.Equal(t, map[string]any{"timeout": "20s"}, rec["params"], "parameters without the password")

	code, out, errOut = amtctl(t, "log", "activity", "--state", state, "--stats", "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.EqualValues(t, 1, st["count"])
	assert.EqualValues(t, 180, st["retention_days"])
	for _, key := range []string{"oldest", "newest", "last_purge"} {
		assert.Contains(t, st, key)
	}

	code, out, errOut = amtctl(t, "log", "purge", "--older-than", "0d", "--state", state)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "deleted 1 activity entries")
	code, _, _ = amtctl(t, "log", "purge", "--state", state)
	assert.Equal(t, exitUsage, code, "--older-than is required")
}
