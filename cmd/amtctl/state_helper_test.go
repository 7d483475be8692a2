package main

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var testStates sync.Map // *testing.T → state database of the test

// withTestState gives a command line of a test the test's own state
// database, unless it names one: the lockout guard counts per device, and
// every simulated device of every test is 127.0.0.1.
func withTestState(t *testing.T, args []string) []string {
	t.Helper()
	if slices.ContainsFunc(args, func(a string) bool {
		return a == "--state" || a == "--database" || strings.HasPrefix(a, "--state=") || strings.HasPrefix(a, "--database=")
	}) {
		return args
	}
	v, ok := testStates.Load(t)
	if !ok {
		v, _ = testStates.LoadOrStore(t, filepath.Join(t.TempDir(), "state", "amtkit.sqlite"))
	}
	return append(slices.Clone(args), "--database", v.(string))
}
