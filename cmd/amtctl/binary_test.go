package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runBinaryEnv runs the amtctl binary with env added to the test's
// environment and returns its exit status, standard output and error.
func runBinaryEnv(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "AMTKIT_STATE=") }) {
		args = withHostState(args)
	}
	return execBinary(t, append(append(os.Environ(), "AMT_PASSWORD="), env...), nil, args...)
}

// execBinary runs the amtctl binary with exactly the environment env and
// standard input stdin (nil: none), waits for it and returns its exit
// status, standard output and standard error.
func execBinary(t *testing.T, env []string, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(amtctlBinary(t), args...)
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = stdin
	}
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
