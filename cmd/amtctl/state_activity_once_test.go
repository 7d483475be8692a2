package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// Each amtctl command is one entry of the activity log, even though the
// SDK's services can record their own operations: amtctl records the
// command, not its steps, and not twice.
func TestActivityRecordedOncePerCommand(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, TransitionTime: time.Millisecond})
	state := filepath.Join(t.TempDir(), "state")
	host := dev.HTTPAddr()
	for _, args := range [][]string{
		{"power", "status", "--host", host, "-p", password},
		{"boot", "next", "pxe", "--host", host, "-p", password},
		{"boot", "clear", "--host", host, "-p", password},
	} {
		code, _, errOut := process(t, state, args...)
		require.Equal(t, exitOK, code, errOut)
	}
	code, out, errOut := process(t, state, "log", "activity", "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	var ops []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		ops = append(ops, e["operation"].(string))
	}
	assert.ElementsMatch(t, []string{"power status", "boot next pxe", "boot clear"}, ops)
}
