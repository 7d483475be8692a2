package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writer and reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var readyRE = regexp.MustCompile(`^amtsim: ready devices=(\d+) version=(\S+) http=(\S+) tls=(\S+)( tls-sha256=[0-9a-f]{64})?\n$`)

func startRun(t *testing.T, args ...string) (ready []string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, args, &stdout, &stderr) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasSuffix(stdout.String(), "\n") {
		select {
		case err := <-errc:
			cancel()
			t.Fatalf("run returned early: %v\nstderr: %s", err, stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "no ready line; stderr: %s", stderr.String())
		time.Sleep(10 * time.Millisecond)
	}
	m := readyRE.FindStringSubmatch(stdout.String())
	require.NotNil(t, m, "ready line %q", stdout.String())
	return m, func() error {
		cancel()
		err := <-errc
		assert.Equal(t, 1, strings.Count(stdout.String(), "\n"), "exactly one line on stdout")
		return err
	}
}

func TestRunSingleDevice(t *testing.T) {
	m, stop := startRun(t, "--http-port", "0", "--tls-port", "-1", "--version", "15.0.23.1706", "--fault-status", "503", "--fault-times", "1")
	assert.Equal(t, "1", m[1])
	assert.Equal(t, "15.0.23.1706", m[2])
	assert.Equal(t, "off", m[4])

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Post("http://"+m[3]+"/wsman", "application/soap+xml", strings.NewReader("<x/>"))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "faults apply only after authentication")
	assert.Equal(t, "Intel(R) Active Management Technology 15.0.23.1706", resp.Header.Get("Server"))
	require.NoError(t, stop())
}

func TestRunFleetWithTLS(t *testing.T) {
	m, stop := startRun(t, "--devices-cidr", "127.77.9.0/30", "--http-port", "0", "--tls-port", "0", "--legacy-tls", "--verbose")
	assert.Equal(t, "2", m[1])
	assert.Regexp(t, `^127\.77\.9\.1-127\.77\.9\.2:\d+$`, m[3])
	assert.NotEmpty(t, m[5])
	require.NoError(t, stop())
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--lockout-seconds", "0"},
		{"--fault-status", "42"},
		{"--version", "x"},
		{"--no-such-flag"},
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"--http-port", "0", "--tls-port", "-1"}, args...), &out, &errOut)
		assert.Error(t, err, "%v", args)
		assert.Empty(t, out.String())
	}
}
