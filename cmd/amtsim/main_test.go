package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim"
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

var readyRE = regexp.MustCompile(`^amtsim: ready devices=(\d+) version=(\S+) http=(\S+) tls=(\S+) rmcp=(\S+) redirect=(\S+) redirect-tls=(\S+)( tls-sha256=[0-9a-f]{64})?\n$`)

func startRun(t *testing.T, args ...string) (ready []string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, args, &stdout, &stderr) }()
	stopped := false
	t.Cleanup(func() {
		if !stopped { // a failed check: stop the simulator anyway
			cancel()
			<-errc
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasSuffix(stdout.String(), "\n") {
		select {
		case err := <-errc:
			stopped = true
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
		stopped = true
		cancel()
		err := <-errc
		assert.Equal(t, 1, strings.Count(stdout.String(), "\n"), "exactly one line on stdout")
		return err
	}
}

func TestRunSingleDevice(t *testing.T) {
	m, stop := startRun(t, "--http-port", "0", "--tls-port", "-1", "--rmcp-port", "-1", "--redirect-port", "-1", "--redirect-tls-port", "-1",
		"--firmware", "15.0.23.1706", "--fault-status", "503", "--fault-times", "1")
	assert.Equal(t, "1", m[1])
	assert.Equal(t, "15.0.23.1706", m[2])
	assert.Equal(t, "off", m[4])
	assert.Equal(t, "off", m[5])

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

// TestRunLatency checks that --latency delays every answer, the 401
// challenge included.
func TestRunLatency(t *testing.T) {
	m, stop := startRun(t, "--http-port", "0", "--tls-port", "-1", "--rmcp-port", "-1", "--redirect-port", "-1", "--redirect-tls-port", "-1",
		"--latency", "80ms", "--latency-jitter", "10ms")
	start := time.Now()
	assert.Equal(t, http.StatusOK, getSettings(t, "http://"+m[3]+"/wsman", "admin", "P@ssw0rd1"))
	assert.GreaterOrEqual(t, time.Since(start), 160*time.Millisecond, "the challenge and the Get each wait at least 80ms")
	require.NoError(t, stop())
}

func TestRunFleetWithTLS(t *testing.T) {
	m, stop := startRun(t, "--devices-cidr", "127.77.9.0/30", "--http-port", "0", "--tls-port", "0", "--rmcp-port", "0",
		"--redirect-port", "0", "--redirect-tls-port", "0", "--legacy-tls", "--verbose")
	assert.Equal(t, "2", m[1])
	assert.Regexp(t, `^127\.77\.9\.1-127\.77\.9\.2:\d+$`, m[3])
	assert.Regexp(t, `^127\.77\.9\.1-127\.77\.9\.2:\d+$`, m[5])
	assert.Regexp(t, `^127\.77\.9\.1-127\.77\.9\.2:\d+$`, m[6])
	assert.Regexp(t, `^127\.77\.9\.1-127\.77\.9\.2:\d+$`, m[7])
	assert.NotEmpty(t, m[8])
	require.NoError(t, stop())
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--lockout-seconds", "0"},
		{"--fault-status", "42"},
		{"--firmware", "x"},
		{"--version", "15.0.23.1706"},
		{"--version=15.0.23.1706"},
		{"--no-such-flag"},
		{"extra"},
		{"--power-state", "standby"},
		{"--transition-time", "-1s"},
		{"--rmcp-port", "70000"},
		{"--device-count", "3"},
		{"--devices-cidr", "127.77.11.0/29", "--empty-fraction", "1.5"},
		{"--devices-cidr", "127.77.11.0/29", "--empty-fraction", "0.5", "--device-count", "2"},
		{"--devices-cidr", "127.77.11.0/29", "--device-count", "7"},
		{"--fleet-spec", "testdata/missing.json"},
		{"--fleet-spec", "main_test.go"},
		{"--ider-read-limit", "-2"},
		{"--redirect-port", "65536"},
		{"--fault-method", "Get"},
		{"--fault-answer-delay", "-1s"},
		{"--fault-forget-nonces", "-1"},
		{"--latency", "-1ms"},
		{"--latency-jitter", "-1ms"},
		{"--latency", "fast"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"--http-port", "0", "--tls-port", "-1", "--rmcp-port", "-1",
			"--redirect-port", "0", "--redirect-tls-port", "-1"}, args...), &out, &errOut)
		assert.Error(t, err, "%v", args)
		assert.Empty(t, out.String())
	}
}

func TestRunPowerFlags(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"--http-port", "0", "--tls-port", "-1", "--rmcp-port", "-1", "--redirect-port", "-1", "--redirect-tls-port", "-1", "--power-state", "off",
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

func TestRunHelpNamesRMCPDefault(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-h"}, &out, &errOut)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Regexp(t, `-rmcp-port int\n.*\(default 623\)`, errOut.String())
	assert.Regexp(t, `-redirect-port int\n.*\(default 16994\)`, errOut.String())
	assert.Regexp(t, `-redirect-tls-port int\n.*\(default 16995\)`, errOut.String())
	for _, name := range []string{"-device-count", "-empty-fraction", "-seed", "-fleet-spec", "-ider-read-limit"} {
		assert.Contains(t, errOut.String(), name)
	}
}

// TestRunFleetSpec starts the example fleet spec over a sparse range and
// checks, from the outside, that the addresses, the pongs and the accounts
// are those the library gives for the same options.
func TestRunFleetSpec(t *testing.T) {
	const cidr, count, seed = "127.77.12.0/24", 40, 5
	m, stop := startRun(t, "--devices-cidr", cidr, "--device-count", strconv.Itoa(count), "--seed", strconv.Itoa(seed),
		"--fleet-spec", "testdata/fleet.json", "--http-port", "0", "--tls-port", "0", "--rmcp-port", "0",
		"--redirect-port", "-1", "--redirect-tls-port", "-1")
	defer func() { require.NoError(t, stop()) }()
	assert.Equal(t, strconv.Itoa(count), m[1])
	assert.Equal(t, "mixed", m[2])
	rmcpPort := m[5][strings.LastIndexByte(m[5], ':')+1:]
	httpPort := m[3][strings.LastIndexByte(m[3], ':')+1:]

	// The same options in process, on other ports, as the reference.
	spec, err := amtsim.ReadFleetSpecFile("testdata/fleet.json")
	require.NoError(t, err)
	ref, err := amtsim.New(amtsim.Options{DevicesCIDR: cidr, DeviceCount: count, Seed: seed, Fleet: spec, RMCPPort: -1,
		RedirectPort: -1, RedirectTLSPort: -1})
	require.NoError(t, err)
	defer ref.Close()
	groups := map[string]int{}
	for _, d := range ref.Devices() {
		groups[d.Group()]++
	}
	assert.Equal(t, map[string]int{"hq-acm": 17, "branch-ccm": 10, "tls-enforced": 7, "unprovisioned": 3, "rmcp-off": 3}, groups)

	// Ping every address of the range; only devices with RMCP on answer.
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer pc.Close()
	for host := 1; host <= 254; host++ {
		to := &net.UDPAddr{IP: net.IPv4(127, 77, 12, byte(host)), Port: mustAtoi(t, rmcpPort)}
		_, err := pc.WriteToUDP([]byte{0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, byte(host), 0x00, 0x00}, to)
		require.NoError(t, err)
	}
	want := 0
	for _, d := range ref.Devices() {
		if d.Group() != "rmcp-off" {
			want++
		}
	}
	// Wait for the expected answers, then a little longer for any extra.
	answered := map[string][]byte{}
	buf := make([]byte, 64)
	deadline := time.Now().Add(10 * time.Second)
	for received := 0; ; received++ {
		wait := deadline
		if received >= want {
			wait = time.Now().Add(200 * time.Millisecond)
		}
		require.NoError(t, pc.SetReadDeadline(wait))
		n, from, err := pc.ReadFromUDP(buf)
		if err != nil {
			break
		}
		answered[from.IP.String()] = append([]byte(nil), buf[:n]...)
	}
	for _, d := range ref.Devices() {
		pong, ok := answered[d.IP()]
		if d.Group() == "rmcp-off" {
			assert.False(t, ok, "%s has RMCP off", d.IP())
			continue
		}
		require.True(t, ok, "no pong from %s (%s)", d.IP(), d.Group())
		require.Len(t, pong, 28)
		port := int(pong[16])<<8 | int(pong[17])
		switch d.Group() {
		case "unprovisioned":
			assert.Equal(t, 0, port)
			assert.Equal(t, byte(0), pong[19]&3)
		case "tls-enforced":
			assert.Equal(t, 16993, port)
		default:
			want := 16992
			if d.TLSAddr() != "" {
				want = 16993 // the pong of a device serving TLS advertises 16993
			}
			assert.Equal(t, want, port)
			assert.Equal(t, byte(2), pong[19]&3)
		}
	}
	assert.Len(t, answered, want, "nothing answers from empty addresses")

	// Per-group accounts: a branch device takes its own password only.
	for _, d := range ref.Devices() {
		if d.Group() != "branch-ccm" {
			continue
		}
		url := "http://" + net.JoinHostPort(d.IP(), httpPort) + "/wsman"
		assert.Equal(t, http.StatusOK, getSettings(t, url, "admin", "Br4nch!Pass"))
		assert.Equal(t, http.StatusUnauthorized, getSettings(t, url, "admin", "P@ssw0rd1"))
		break
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

func getSettings(t *testing.T, url, user, pass string) int {
	t.Helper()
	const gs = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings"
	body := `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>` +
		`<a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>` + gs + `</w:ResourceURI><a:MessageID>1</a:MessageID></s:Header><s:Body/></s:Envelope>`
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: &digest.Transport{Username: user, Password: pass, Transport: tr}}
	resp, err := hc.Post(url, "application/soap+xml; charset=utf-8", strings.NewReader(body))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestRunRedirection checks that the ready line names the redirection
// port and that a device answers there.
func TestRunRedirection(t *testing.T) {
	m, stop := startRun(t, "--http-port", "0", "--tls-port", "-1", "--rmcp-port", "-1", "--redirect-port", "0",
		"--redirect-tls-port", "-1", "--ider-read-limit", "-1")
	assert.Equal(t, "off", m[7])
	c, err := net.DialTimeout("tcp", m[6], 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Write([]byte{0x10, 0, 0, 0, 'S', 'O', 'L', ' '})
	require.NoError(t, err)
	reply := make([]byte, 13)
	_, err = io.ReadFull(c, reply)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x11, 0x00}, reply[:2], "StartRedirectionSessionReply, success")
	require.NoError(t, stop())
}

const getGeneralSettings = `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>` +
	`<a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</w:ResourceURI>` +
	`<a:MessageID>1</a:MessageID></s:Header><s:Body></s:Body></s:Envelope>`

func powerOnBody() string {
	const ps = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService"
	return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>` +
		`<a:Action>` + ps + `/RequestPowerStateChange</a:Action><a:To>/wsman</a:To><w:ResourceURI>` + ps + `</w:ResourceURI><a:MessageID>2</a:MessageID></s:Header><s:Body>` +
		`<h:RequestPowerStateChange_INPUT xmlns:h="` + ps + `"><h:PowerState>2</h:PowerState><h:ManagedElement><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address>` +
		`<a:ReferenceParameters><w:ResourceURI>http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ComputerSystem</w:ResourceURI><w:SelectorSet><w:Selector Name="Name">ManagedSystem</w:Selector></w:SelectorSet></a:ReferenceParameters></h:ManagedElement></h:RequestPowerStateChange_INPUT></s:Body></s:Envelope>`
}

// startRunLogged is startRun that also returns stderr.
func startRunLogged(t *testing.T, args ...string) (ready []string, stderr *lockedBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout lockedBuffer
	stderr = &lockedBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, args, &stdout, stderr) }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-errc
		}
	})
	require.Eventually(t, func() bool { return strings.HasSuffix(stdout.String(), "\n") }, 10*time.Second, 10*time.Millisecond,
		"no ready line; stderr: %s", stderr)
	m := readyRE.FindStringSubmatch(stdout.String())
	require.NotNil(t, m, "ready line %q", stdout.String())
	return m, stderr, func() error {
		stopped = true
		cancel()
		return <-errc
	}
}

var plainOnly = []string{"--http-port", "0", "--tls-port", "-1", "--rmcp-port", "-1", "--redirect-port", "-1", "--redirect-tls-port", "-1"}

// TestRunFaultAnswerDelay: the device executes the named method, logs the
// boot it causes, and answers after the client has given up; other
// requests are answered at once.
func TestRunFaultAnswerDelay(t *testing.T) {
	m, stderr, stop := startRunLogged(t, append(plainOnly, "--power-state", "off", "--transition-time", "0",
		"--fault-answer-delay", "1m", "--fault-method", "RequestPowerStateChange")...)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: &digest.Transport{Username: "admin", Password: "P@ssw0rd1", Transport: tr}}
	post := func(body string) (int, error) {
		resp, err := hc.Post("http://"+m[3]+"/wsman", "application/soap+xml; charset=utf-8", strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	st, err := post(getGeneralSettings)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, st, "a Get is not delayed")
	hc.Timeout = 500 * time.Millisecond
	_, err = post(powerOnBody())
	require.Error(t, err, "the answer comes after the deadline")
	assert.Equal(t, 1, strings.Count(stderr.String(), `msg="amtsim boot"`), "the device executed the change once: %s", stderr)
	assert.Contains(t, stderr.String(), "cause=power-on")
	hc.Timeout = 0
	st, err = post(getGeneralSettings)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, st)
	require.NoError(t, stop())
}

// TestRunForgetNonces: --fault-forget-nonces N and SIGUSR1 make the device
// forget its nonces, so that a request reusing one gets 401
// stale="false".
func TestRunForgetNonces(t *testing.T) {
	send := func(t *testing.T, url string, chal *digest.Challenge, nc int) *http.Response {
		t.Helper()
		cred, err := digest.Digest(chal, digest.Options{Method: http.MethodPost, URI: "/wsman", Count: nc, Username: "admin", Password: "P@ssw0rd1"})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(getGeneralSettings))
		require.NoError(t, err)
		req.Header.Set("Authorization", cred.String())
		t.Cleanup(http.DefaultClient.CloseIdleConnections)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	challenge := func(t *testing.T, url string) *digest.Challenge {
		t.Helper()
		resp, err := http.Post(url, "application/soap+xml", strings.NewReader(getGeneralSettings))
		require.NoError(t, err)
		resp.Body.Close()
		chal, err := digest.FindChallenge(resp.Header)
		require.NoError(t, err)
		return chal
	}
	t.Run("Every", func(t *testing.T) {
		m, _, stop := startRunLogged(t, append(plainOnly, "--fault-forget-nonces", "2")...)
		url := "http://" + m[3] + "/wsman"
		chal := challenge(t, url)
		assert.Equal(t, http.StatusOK, send(t, url, chal, 1).StatusCode)
		assert.Equal(t, http.StatusOK, send(t, url, chal, 2).StatusCode)
		resp := send(t, url, chal, 3)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `stale="false"`)
		assert.Equal(t, http.StatusOK, send(t, url, challenge(t, url), 1).StatusCode)
		require.NoError(t, stop())
	})
	t.Run("SIGUSR1", func(t *testing.T) {
		m, stderr, stop := startRunLogged(t, plainOnly...)
		url := "http://" + m[3] + "/wsman"
		chal := challenge(t, url)
		assert.Equal(t, http.StatusOK, send(t, url, chal, 1).StatusCode)
		assert.Equal(t, http.StatusOK, send(t, url, chal, 2).StatusCode, "nonces are kept without a trigger")
		require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
		require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "forgot its digest nonces") },
			10*time.Second, 10*time.Millisecond)
		resp := send(t, url, chal, 3)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `stale="false"`)
		require.NoError(t, stop())
	})
}

func TestVersionFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--version"}, &out, &errOut))
	assert.Regexp(t, `^amtsim github.com/amtkit/amtkit \S+ \(.*, go1\.\d+.*\)\n$`, out.String())

	for _, args := range [][]string{{"--version", "15.0.23.1706"}, {"--version=15.0.23.1706"}} {
		out.Reset()
		err := run(context.Background(), args, &out, &errOut)
		require.Error(t, err, "%v", args)
		assert.Contains(t, err.Error(), "use --firmware 15.0.23.1706", "%v", args)
		assert.Empty(t, out.String())
	}
}

// TestRunFailureMix starts a fleet spec with the failure groups and checks
// from the outside that each address answers as its group says.
func TestRunFailureMix(t *testing.T) {
	m, stop := startRun(t, "--devices-cidr", "127.135.0.0/28", "--fleet-spec", "testdata/failures.json",
		"--http-port", "0", "--tls-port", "-1", "--rmcp-port", "-1", "--redirect-port", "-1", "--redirect-tls-port", "-1")
	defer func() { require.NoError(t, stop()) }()
	// 14 addresses, 9 weights: the empty group's share holds no device.
	spec, err := amtsim.ReadFleetSpecFile("testdata/failures.json")
	require.NoError(t, err)
	ref, err := amtsim.New(amtsim.Options{DevicesCIDR: "127.135.0.0/28", Fleet: spec, HTTPPort: 0, TLSPort: -1, RMCPPort: -1,
		RedirectPort: -1, RedirectTLSPort: -1})
	require.NoError(t, err)
	defer ref.Close()
	assert.Equal(t, strconv.Itoa(len(ref.Devices())), m[1])
	assert.Less(t, len(ref.Devices()), 14)
	port := m[3][strings.LastIndexByte(m[3], ':')+1:]
	groups := map[string]int{}
	for _, d := range ref.Devices() {
		ip := d.IP()
		url := "http://" + net.JoinHostPort(ip, port) + "/wsman"
		groups[d.Group()]++
		switch d.Group() {
		case "ok", "slow":
			assert.Equal(t, http.StatusOK, getSettings(t, url, "admin", "P@ssw0rd1"), ip)
		case "wrong-password":
			assert.Equal(t, http.StatusUnauthorized, getSettings(t, url, "admin", "P@ssw0rd1"), ip)
		case "no-amt":
			assert.Equal(t, http.StatusNotFound, getSettings(t, url, "admin", "P@ssw0rd1"), ip)
		case "reset":
			tr := &http.Transport{}
			_, err := (&http.Client{Transport: tr}).Post(url, "application/soap+xml", strings.NewReader("<x/>"))
			tr.CloseIdleConnections()
			require.Error(t, err, ip)
			assert.ErrorIs(t, err, syscall.ECONNRESET, ip)
		}
	}
	assert.Len(t, groups, 5, "every non-empty group has a device")
	for host := 1; host <= 14; host++ {
		ip := "127.135.0." + strconv.Itoa(host)
		if ref.Device(ip) != nil {
			continue
		}
		_, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), 5*time.Second)
		require.ErrorIs(t, err, syscall.ECONNREFUSED, "empty address %s", ip)
	}
}
