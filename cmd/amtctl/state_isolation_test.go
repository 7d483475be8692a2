package main

import (
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
