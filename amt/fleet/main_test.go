package fleet_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The test binary is also the simulator process of the benchmarks
	// that keep the simulated fleet out of the client's process.
	if spec := os.Getenv(simProcEnv); spec != "" {
		os.Exit(serveSimProc(spec, os.Stdin, os.Stdout))
	}
	goleak.VerifyTestMain(m)
}
