//go:build race

package main

// raceEnabled tells TestBinaryExitStatus to build amtctl as the test binary
// was built, so that the build reuses its compiled packages.
const raceEnabled = true
