package main

import (
	"os"
	"runtime/debug"
)

// fleetGCPercent is the garbage collector's target that amtctl runs the
// commands that work many machines at once with (job run, job worker,
// discover): each machine's exchange leaves a few dozen KB of short-lived
// garbage against a live heap of a few MiB, so at Go's default of 100 the
// collector runs every few hundred machines and takes about a fifth of the
// client's CPU. At 400 a 10,000-machine power-status read uses about 20%
// less CPU for a peak heap of about 95 MiB instead of 35
// (BenchmarkRunPowerStatus10k50msSimProcess with GOGC=400).
const fleetGCPercent = 400

// tuneGCForFleets sets the collector's target to fleetGCPercent unless the
// operator chose one with GOGC.
func tuneGCForFleets() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(fleetGCPercent)
	}
}
