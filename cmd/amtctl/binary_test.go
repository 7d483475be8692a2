package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	builtOnce sync.Once
	builtPath string
	builtErr  error
	builtOut  []byte
	builtDir  string
)

// builtAmtctl builds the amtctl binary once for the test run and returns
// its path.
func builtAmtctl(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	builtOnce.Do(func() {
		builtDir, builtErr = os.MkdirTemp("", "amtctl-bin")
		if builtErr != nil {
			return
		}
		builtPath = filepath.Join(builtDir, "amtctl")
		args := []string{"build", "-o", builtPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		builtOut, builtErr = exec.Command(goTool, append(args, ".")...).CombinedOutput()
	})
	require.NoError(t, builtErr, "%s", builtOut)
	return builtPath
}

// runBinary runs the amtctl binary with env added to the test's
// environment and returns its exit status, standard output and error.
func runBinary(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(builtAmtctl(t), args...)
	cmd.Env = append(append(os.Environ(), "AMT_PASSWORD="), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode(), stdout.String(), stderr.String()
	}
	require.NoError(t, err)
	return 0, stdout.String(), stderr.String()
}
