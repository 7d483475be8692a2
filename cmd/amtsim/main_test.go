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

	"github.com/icholy/digest"
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
		{"--power-state", "standby"},
		{"--transition-time", "-1s"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"--http-port", "0", "--tls-port", "-1"}, args...), &out, &errOut)
		assert.Error(t, err, "%v", args)
		assert.Empty(t, out.String())
	}
}

func TestRunPowerFlags(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"--http-port", "0", "--tls-port", "-1", "--power-state", "off",
			"--transition-time", "0", "--no-os-agent"}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasSuffix(stdout.String(), "\n") {
		select {
		case err := <-errc:
			cancel()
			t.Fatalf("run returned early: %v\nstderr: %s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			<-errc
			t.Fatalf("no ready line; stderr: %s", stderr.String())
		}
	}
	m := readyRE.FindStringSubmatch(stdout.String())
	require.NotNil(t, m, "ready line %q", stdout.String())

	// Power the host on through WS-Man; the boot is logged to stderr.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: &digest.Transport{Username: "admin", Password: "P@ssw0rd1", Transport: tr}}
	const ps = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService"
	body := `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>` +
		`<a:Action>` + ps + `/RequestPowerStateChange</a:Action><a:To>/wsman</a:To><w:ResourceURI>` + ps + `</w:ResourceURI><a:MessageID>1</a:MessageID></s:Header><s:Body>` +
		`<h:RequestPowerStateChange_INPUT xmlns:h="` + ps + `"><h:PowerState>2</h:PowerState><h:ManagedElement><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address>` +
		`<a:ReferenceParameters><w:ResourceURI>http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ComputerSystem</w:ResourceURI><w:SelectorSet><w:Selector Name="Name">ManagedSystem</w:Selector></w:SelectorSet></a:ReferenceParameters></h:ManagedElement></h:RequestPowerStateChange_INPUT></s:Body></s:Envelope>`
	resp, err := hc.Post("http://"+m[3]+"/wsman", "application/soap+xml; charset=utf-8", strings.NewReader(body))
	require.NoError(t, err)
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	assert.Contains(t, string(data), "<g:ReturnValue>0</g:ReturnValue>", "a power-on request from off")
	assert.Contains(t, stderr.String(), `msg="amtsim boot"`)
	assert.Contains(t, stderr.String(), "cause=power-on")

	cancel()
	require.NoError(t, <-errc)
	assert.Equal(t, 1, strings.Count(stdout.String(), "\n"), "exactly one line on stdout")
	assert.NotContains(t, stdout.String(), "boot")
}
