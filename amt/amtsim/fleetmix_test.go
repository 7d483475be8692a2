package amtsim

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mixSpec has one group per failure of a fleet, on equal weights.
const mixSpec = `{"groups": [
  {"name": "ok", "weight": 1},
  {"name": "wrong-password", "weight": 1, "accounts": [{"user": "admin", "password": "0ther!pass"}]},
  {"name": "unprovisioned", "weight": 1, "provisioning_state": 0},
  {"name": "no-amt", "weight": 1, "no_amt": true},
  {"name": "empty", "weight": 1, "empty": true},
  {"name": "slow", "weight": 1, "latency": "60ms", "latency_jitter": "20ms"},
  {"name": "stuck", "weight": 1, "latency": "1h"},
  {"name": "reset-at-once", "weight": 1, "reset_after_requests": 0},
  {"name": "reset-after-one", "weight": 1, "reset_after_requests": 1}
]}`

func TestFleetSpecFailureFields(t *testing.T) {
	t.Parallel()
	spec, err := ParseFleetSpec(strings.NewReader(mixSpec))
	require.NoError(t, err)
	require.Len(t, spec.Groups, 9)
	assert.True(t, spec.Groups[3].NoAMT)
	assert.True(t, spec.Groups[4].Empty)
	assert.Equal(t, 60*time.Millisecond, spec.Groups[5].Latency)
	assert.Equal(t, 20*time.Millisecond, spec.Groups[5].LatencyJitter)
	assert.Equal(t, time.Hour, spec.Groups[6].Latency)
	require.NotNil(t, spec.Groups[7].ResetAfterRequests)
	assert.Equal(t, 0, *spec.Groups[7].ResetAfterRequests)
	assert.Equal(t, 1, *spec.Groups[8].ResetAfterRequests)
	assert.Nil(t, spec.Groups[0].ResetAfterRequests)

	for _, tc := range []struct{ spec, msg string }{
		{`{"groups": [{"name": "a", "weight": 1, "latency": "fast"}]}`, `latency: time: invalid duration "fast"`},
		{`{"groups": [{"name": "a", "weight": 1, "latency": 50}]}`, "cannot unmarshal number"},
		{`{"groups": [{"name": "a", "weight": 1, "latency": "-1s"}]}`, "latency and latency_jitter must not be negative"},
		{`{"groups": [{"name": "a", "weight": 1, "latency_jitter": "-1ms"}]}`, "must not be negative"},
		{`{"groups": [{"name": "a", "weight": 1, "reset_after_requests": -1}]}`, "reset_after_requests -1 must not be negative"},
		{`{"groups": [{"name": "a", "weight": 1, "no_amt": true, "tls_only": true}]}`, "no_amt and tls_only exclude each other"},
		{`{"groups": [{"name": "a", "weight": 1, "empty": true, "version": "16.1.25.2124"}]}`, "an empty group takes no setting"},
		{`{"groups": [{"name": "a", "weight": 1, "lateny": "1s"}]}`, `unknown field "lateny"`},
	} {
		_, err := ParseFleetSpec(strings.NewReader(tc.spec))
		require.Error(t, err, tc.spec)
		assert.Contains(t, err.Error(), tc.msg, tc.spec)
	}
	_, err = New(Options{Latency: -time.Second})
	require.ErrorContains(t, err, "negative latency")
	_, err = New(Options{HTTPPort: -1, Fleet: &FleetSpec{Groups: []DeviceGroup{{Name: "a", Weight: 1, NoAMT: true}}}})
	require.ErrorContains(t, err, "plain HTTP is disabled")
	_, err = New(Options{DevicesCIDR: "127.130.9.0/30", Fleet: &FleetSpec{Groups: []DeviceGroup{{Name: "a", Weight: 1, Empty: true}}}})
	require.ErrorContains(t, err, "leave no device")
}

// TestFleetFailureMix starts a fleet with every failure of the spec and
// checks what each kind of address answers over real sockets.
func TestFleetFailureMix(t *testing.T) {
	t.Parallel()
	spec, err := ParseFleetSpec(strings.NewReader(mixSpec))
	require.NoError(t, err)
	logs := &syncBuffer{}
	opts := Options{DevicesCIDR: "127.130.0.0/27", Fleet: spec, RedirectTLSPort: -1, // 30 addresses
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	sim := startSim(t, opts)
	byGroup := map[string][]*Device{}
	for _, d := range sim.Devices() {
		byGroup[d.Group()] = append(byGroup[d.Group()], d)
	}
	assert.Len(t, sim.Devices(), 30-len(byGroup["empty"])-3, "the empty group's share of the 30 addresses holds nothing")
	assert.Empty(t, byGroup["empty"])
	for _, name := range []string{"ok", "wrong-password", "unprovisioned", "no-amt", "slow", "stuck", "reset-at-once", "reset-after-one"} {
		require.NotEmpty(t, byGroup[name], name)
	}
	port := sim.HTTPPort()

	t.Run("empty addresses refuse connections", func(t *testing.T) {
		t.Parallel()
		refused := 0
		for host := 1; host <= 30; host++ {
			ip := "127.130.0." + strconv.Itoa(host)
			if sim.Device(ip) != nil {
				continue
			}
			_, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(port)), 5*time.Second)
			require.ErrorIs(t, err, syscall.ECONNREFUSED, ip)
			refused++
		}
		assert.Equal(t, 3, refused, "30 addresses over 9 groups: the empty group gets 3")
	})

	t.Run("ok and wrong password", func(t *testing.T) {
		t.Parallel()
		d := byGroup["ok"][0]
		resp, _ := newClient(t, "http://"+d.HTTPAddr(), testUser, testPass).post(getReq(uriGeneral))
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		w := byGroup["wrong-password"][0]
		resp, _ = newClient(t, "http://"+w.HTTPAddr(), testUser, testPass).post(getReq(uriGeneral))
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, "Intel(R) Active Management Technology "+w.Version(), resp.Header.Get("Server"))
		assert.Equal(t, 1, w.Stats().FailedLogins)
	})

	t.Run("unprovisioned", func(t *testing.T) {
		t.Parallel()
		d := byGroup["unprovisioned"][0]
		assert.Equal(t, 0, d.ProvisioningState())
		resp, _ := newRawClient(t, "http://"+d.HTTPAddr()).send(getReq(uriGeneral), "")
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `realm="`+unprovisionedRealm(d.IP())+`"`)
	})

	t.Run("no AMT", func(t *testing.T) {
		t.Parallel()
		d := byGroup["no-amt"][0]
		assert.Empty(t, d.TLSAddr(), "no TLS port")
		assert.Empty(t, d.RedirectAddr(), "no redirection port")
		assert.Empty(t, d.RMCPAddr(), "no presence pong")
		for _, body := range []string{getReq(uriGeneral), identifyBody} {
			resp, data := newRawClient(t, "http://"+d.HTTPAddr()).send(body, "")
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Server"), "not the AMT Server header")
			assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "no digest challenge")
			assert.Equal(t, notAMTPage, string(data))
		}
		for _, ip := range []string{d.IP()} {
			_, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(sim.TLSPort())), 5*time.Second)
			require.ErrorIs(t, err, syscall.ECONNREFUSED, "nothing on the TLS port of %s", ip)
		}
		assert.Zero(t, d.Stats().Authenticated)
	})

	t.Run("slow", func(t *testing.T) {
		t.Parallel()
		d := byGroup["slow"][0]
		wc := newClient(t, "http://"+d.HTTPAddr(), testUser, testPass)
		start := time.Now()
		resp, _ := wc.post(getReq(uriGeneral)) // challenge, then the Get: two answers
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.GreaterOrEqual(t, time.Since(start), 120*time.Millisecond, "each of the two answers waits at least the latency")
	})

	t.Run("stuck devices time the client out", func(t *testing.T) {
		t.Parallel()
		d := byGroup["stuck"][0]
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.HTTPAddr()+"/wsman", strings.NewReader(identifyBody))
		require.NoError(t, err)
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		_, err = (&http.Client{Transport: tr}).Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Zero(t, d.Stats().Actions[identifyAction], "the request is not executed before the latency")
		tr.CloseIdleConnections()
		require.Eventually(t, func() bool {
			return strings.Contains(logs.String(), `msg="client gave up during the latency" device=`+d.IP())
		}, 30*time.Second, 10*time.Millisecond, "the device lets go of a client that closed")
	})

	t.Run("reset at once", func(t *testing.T) {
		t.Parallel()
		d := byGroup["reset-at-once"][0]
		for _, addr := range []string{d.HTTPAddr(), d.TLSAddr()} {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				// The reset may arrive before the dial returns.
				require.ErrorIs(t, err, syscall.ECONNRESET, addr)
				continue
			}
			require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
			_, err = c.Read(make([]byte, 1)) // before writing, so that the read reports the reset
			require.ErrorIs(t, err, syscall.ECONNRESET, addr)
			_ = c.Close()
		}
		assert.Zero(t, d.Stats().HTTPRequests)
	})

	t.Run("reset after one request", func(t *testing.T) {
		t.Parallel()
		d := byGroup["reset-after-one"][0]
		c, err := net.DialTimeout("tcp", d.HTTPAddr(), 5*time.Second)
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		br := bufio.NewReader(c)
		body := identifyBody
		send := func() error {
			_, err := io.WriteString(c, "POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
			return err
		}
		require.NoError(t, send())
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "the first request is answered")
		err = send()
		if err == nil {
			_, err = http.ReadResponse(br, nil)
		}
		require.Error(t, err)
		assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "%v", err)
		assert.Equal(t, 2, d.Stats().HTTPRequests)
	})
}

func TestFDBudget(t *testing.T) {
	t.Parallel()
	require.NoError(t, checkFDBudget(10000, 20000))
	require.NoError(t, checkFDBudget(10000, 0), "unknown limit")
	err := checkFDBudget(50000, 20000)
	require.ErrorContains(t, err, "need 50000 listening sockets, and the open file limit is 20000")
	require.ErrorContains(t, err, "RLIMIT_NOFILE")
	opts := Options{HTTPPort: 0, TLSPort: 0, RMCPPort: 0, RedirectPort: 0, RedirectTLSPort: -1}
	assert.Equal(t, 10+8+8+6, listeningSockets(&opts, 10, 8, 6))
	if lim := fdLimit(); lim > 0 && lim < 300000 {
		// Five sockets for each of 65,534 devices exceed any limit below
		// 300,000: New refuses before binding anything.
		_, err := New(Options{DevicesCIDR: "127.133.0.0/16"})
		require.ErrorContains(t, err, "listening sockets")
	}
}

// syncBuffer is a buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
