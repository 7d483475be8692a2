package main

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// Every test gets its own local state (credential store and lockout guard
// counts): the simulated devices of different tests all listen on 127.0.0.1,
// which the guard counts as one device, so a wrong password in one test
// would otherwise spend another's budget.
var testStates sync.Map // *testing.T -> state directory

// statefulCommands take --state.
var statefulCommands = []string{"info", "power", "boot", "ider", "sol", "creds", "discover", "redirect", "log", "defense", "hw", "time"}

// withTestState adds --state with the test's own directory to args, unless
// they name one or the command takes none.
func withTestState(t *testing.T, args []string) []string {
	t.Helper()
	if len(args) == 0 || !slices.Contains(statefulCommands, args[0]) || slices.Contains(args, "--state") ||
		slices.Contains(args, "--help") || slices.Contains(args, "-h") || len(args) == 1 {
		return args
	}
	if args[0] == "defense" && args[1] == "check" {
		return args // an offline check: no device, no state
	}
	if args[0] == "creds" && len(args) < 3 {
		return args // creds or creds profile: a parent command, no flags
	}
	return append(slices.Clone(args), "--state", testState(t))
}

// testState returns the test's state directory.
func testState(t *testing.T) string {
	if dir, ok := testStates.Load(t); ok {
		return dir.(string)
	}
	dir := filepath.Join(t.TempDir(), "state") // private: the state database refuses a directory others can read
	testStates.Store(t, dir)
	t.Cleanup(func() { testStates.Delete(t) })
	return dir
}

// hostStates gives each simulated device (each --host, whose port is its
// own) a private state directory for the helpers that have no *testing.T:
// the calls of one test against its device share their state, and the
// guard's count of one test's wrong passwords never reaches another's.
var hostStates sync.Map // host -> state directory

// withHostState adds --state with the directory of the --host in args,
// unless args name a state already.
func withHostState(args []string) []string {
	if slices.Contains(args, "--state") {
		return args
	}
	i := slices.Index(args, "--host")
	if i < 0 || i+1 >= len(args) {
		return args
	}
	dir, ok := hostStates.Load(args[i+1])
	if !ok {
		d, err := os.MkdirTemp(os.Getenv("XDG_STATE_HOME"), "host-state")
		if err != nil {
			return args
		}
		dir, _ = hostStates.LoadOrStore(args[i+1], filepath.Join(d, "state"))
	}
	return append(slices.Clone(args), "--state", dir.(string))
}
