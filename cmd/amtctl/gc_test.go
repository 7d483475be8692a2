package main

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTuneGCForFleets: the commands that work many machines raise the
// collector's target to fleetGCPercent, unless GOGC chose one.
func TestTuneGCForFleets(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	if v, set := os.LookupEnv("GOGC"); set {
		t.Cleanup(func() { os.Setenv("GOGC", v) })
	}
	// inForce is the target in force (SetGCPercent returns it), kept.
	inForce := func() int {
		v := debug.SetGCPercent(100)
		debug.SetGCPercent(v)
		return v
	}
	os.Unsetenv("GOGC")
	tuneGCForFleets()
	assert.Equal(t, fleetGCPercent, inForce())

	// The operator's GOGC (read by the runtime at start-up) is left alone.
	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	tuneGCForFleets()
	assert.Equal(t, 50, inForce())
}
