package wsman_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/wsman"
)

// dialExchanger is a plain Exchanger: one connection per address kept
// between exchanges, the answer read with HTTPExchange.ReadResponse. Its
// RoundTrip fails, so a test through it shows the client used Exchange.
type dialExchanger struct {
	calls atomic.Int32
	wire  bytes.Buffer // every request written, when record is set
	rec   bool

	mu   sync.Mutex
	idle map[string]*dconn
}

type dconn struct {
	c  net.Conn
	br *bufio.Reader
}

func newDialExchanger(t *testing.T) *dialExchanger {
	d := &dialExchanger{idle: map[string]*dconn{}}
	t.Cleanup(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, c := range d.idle {
			_ = c.c.Close()
		}
	})
	return d
}

func (d *dialExchanger) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, io.ErrClosedPipe
}

func (d *dialExchanger) Exchange(ctx context.Context, x *wsman.HTTPExchange) error {
	d.calls.Add(1)
	d.mu.Lock()
	c := d.idle[x.HostPort]
	delete(d.idle, x.HostPort)
	if d.rec {
		d.wire.Write(x.Request)
	}
	d.mu.Unlock()
	if c == nil {
		var dl net.Dialer
		nc, err := dl.DialContext(ctx, "tcp", x.HostPort)
		if err != nil {
			return err
		}
		c = &dconn{c: nc, br: bufio.NewReader(nc)}
	}
	_ = c.c.SetDeadline(x.Deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	_, err := c.c.Write(x.Request)
	if err == nil {
		x.Written = true
		err = x.ReadResponse(c.br)
	}
	if err != nil || x.Close {
		_ = c.c.Close()
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	d.mu.Lock()
	d.idle[x.HostPort] = c
	d.mu.Unlock()
	return nil
}

// newDirectClient is a client that does not retry over a dialExchanger.
func newDirectClient(t *testing.T, url string, opts ...wsman.Option) (*wsman.Client, *dialExchanger) {
	t.Helper()
	d := newDialExchanger(t)
	base := []wsman.Option{wsman.WithCredentials(user, password), wsman.WithRetry(0, 0, 0), wsman.WithTransport(d)}
	c, err := wsman.NewClient(url+"/wsman", append(base, opts...)...)
	require.NoError(t, err)
	return c, d
}

// Through an Exchanger the digest rules hold as through net/http: one
// challenge, the nonce reused with a growing count, a stale nonce renewed
// with one retry, and nothing counted as a failed login.
func TestDirectExchangeDigest(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	f := newNonceFront(t, sim.URL())
	c, d := newDirectClient(t, f.srv.URL)
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		in, err := c.Get(ctx, uriGeneral)
		require.NoError(t, err)
		assert.Equal(t, dev.Realm(), in.String("DigestRealm"))
	}
	assert.Equal(t, int32(5), d.calls.Load(), "the challenge, then one exchange per Get")
	assert.Equal(t, dev.Realm(), c.Realm())
	f.forgetNonces()
	_, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err, "one retry on the fresh nonce")
	assert.Equal(t, int32(7), d.calls.Load())
	_, err = c.Get(ctx, uriGeneral)
	require.NoError(t, err, "not latched")
	f.mu.Lock()
	assert.Zero(t, f.refused)
	assert.Equal(t, 1, f.forgiven)
	f.mu.Unlock()

	before := dev.Stats().HTTPRequests
	dev.ExpireNonces()
	_, err = c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	assert.Equal(t, before+2, dev.Stats().HTTPRequests, "one stale 401, one retry")
	assert.Zero(t, dev.Stats().FailedLogins)
}

// A wrong password is one failed login, answered again without sending.
func TestDirectExchangeWrongPassword(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{LockoutAfter: 3, LockoutDuration: time.Minute})
	c, _ := newDirectClient(t, sim.URL(), wsman.WithCredentials(user, "wrong"))
	ctx := context.Background()
	_, err := c.Get(ctx, uriGeneral)
	require.ErrorIs(t, err, wsman.ErrUnauthorized)
	var he *wsman.HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 401, he.StatusCode)
	assert.Equal(t, "401 Unauthorized", he.Status)
	assert.True(t, strings.HasPrefix(he.Server, "Intel(R) Active Management Technology"))
	sent := dev.Stats().HTTPRequests
	_, err = c.Get(ctx, uriGeneral)
	require.ErrorIs(t, err, wsman.ErrUnauthorized)
	assert.Equal(t, sent, dev.Stats().HTTPRequests, "nothing more reaches the device")
	assert.Equal(t, 1, dev.Stats().FailedLogins)
}

// Identify goes without credentials, and the Server header comes through.
func TestDirectExchangeIdentify(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{Version: "15.0.23.1706"})
	d := newDialExchanger(t)
	c, err := wsman.NewClient(sim.URL()+"/wsman", wsman.WithRetry(0, 0, 0), wsman.WithTransport(d))
	require.NoError(t, err)
	id, err := c.Identify(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "Intel(R) Active Management Technology 15.0.23.1706", id.Server)
	assert.Equal(t, 1, dev.Stats().HTTPRequests)
	assert.Equal(t, int32(1), d.calls.Load())
}

// A change whose answer does not come within the operation's timeout is
// outcome unknown with the deadline as its cause, as through net/http; a
// change to an address that refuses connections is not.
func TestDirectExchangeTimeoutAndOutcome(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c, _ := newDirectClient(t, sim.URL(), wsman.WithTimeout(300*time.Millisecond))
	ctx := context.Background()
	_, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelayAnswer, Action: "GetUuid", Delay: 10 * time.Second, Times: 1})
	_, err = c.Invoke(ctx, uriSetup, "GetUuid", nil)
	require.ErrorIs(t, err, wsman.ErrOutcomeUnknown)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, dev.Stats().Actions[uriSetup+"/GetUuid"])

	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelay, Delay: 5 * time.Second, Times: 1})
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = c.Get(cctx, uriGeneral)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	l, err := net.Listen("tcp", "127.170.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	dead, _ := newDirectClient(t, "http://"+addr)
	_, err = dead.Invoke(ctx, uriSetup, "GetUuid", nil)
	require.Error(t, err)
	assert.NotErrorIs(t, err, wsman.ErrOutcomeUnknown, "nothing was written")
}

// Answers that are not what AMT sends are read or refused as net/http
// would: chunked bodies, bodies up to the end of the connection, too large
// bodies, malformed envelopes, a 401 with no digest challenge.
func TestDirectExchangeAnswers(t *testing.T) {
	t.Parallel()
	sim, _ := newSim(t, amtsim.Options{})
	real, _ := newDirectClient(t, sim.URL())
	ref, err := real.Get(context.Background(), uriGeneral)
	require.NoError(t, err)
	// One recorded answer, replayed in different framings.
	var env []byte
	var mu sync.Mutex
	mode := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		m := mode
		mu.Unlock()
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Digest realm="Digest:0000", nonce="abc", stale="false", qop="auth"`)
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Server", "test-server")
		switch m {
		case "chunked":
			half := len(env) / 2
			_, _ = w.Write(env[:half])
			w.(http.Flusher).Flush()
			_, _ = w.Write(env[half:])
		case "eof":
			rc := http.NewResponseController(w)
			conn, buf, err := rc.Hijack()
			if err != nil {
				return
			}
			_, _ = buf.WriteString("HTTP/1.0 200 OK\r\nContent-Type: application/soap+xml\r\n\r\n")
			_, _ = buf.Write(env)
			_ = buf.Flush()
			_ = conn.Close()
		case "html":
			_, _ = w.Write([]byte("<html>hello</html>"))
		default:
			w.Header().Set("Content-Length", "1000000")
			_, _ = w.Write(env)
		}
	}))
	defer srv.Close()
	env = []byte(strings.Replace(string(recordedGeneral(t, sim)), "\n", "\r\n", 1))
	ctx := context.Background()
	for _, m := range []string{"chunked", "eof", "chunked"} {
		mu.Lock()
		mode = m
		mu.Unlock()
		c, _ := newDirectClient(t, srv.URL)
		in, err := c.Get(ctx, uriGeneral)
		require.NoError(t, err, m)
		assert.Equal(t, ref.String("DigestRealm"), in.String("DigestRealm"), m)
	}
	mu.Lock()
	mode = "html"
	mu.Unlock()
	c, _ := newDirectClient(t, srv.URL)
	_, err = c.Get(ctx, uriGeneral)
	var de *wsman.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "test-server", de.Server)

	mu.Lock()
	mode = "chunked"
	mu.Unlock()
	small, _ := newDirectClient(t, srv.URL, wsman.WithMaxResponseBytes(256))
	_, err = small.Get(ctx, uriGeneral)
	assert.ErrorIs(t, err, wsman.ErrResponseTooLarge)
	mu.Lock()
	mode = "length"
	mu.Unlock()
	small, _ = newDirectClient(t, srv.URL, wsman.WithMaxResponseBytes(256))
	_, err = small.Get(ctx, uriGeneral)
	assert.ErrorIs(t, err, wsman.ErrResponseTooLarge)

	basic := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="router"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer basic.Close()
	bc, bd := newDirectClient(t, basic.URL)
	for i := 0; i < 2; i++ {
		_, err := bc.Get(ctx, uriGeneral)
		assert.ErrorIs(t, err, wsman.ErrUnauthorized)
	}
	assert.Equal(t, int32(2), bd.calls.Load(), "no digest challenge: nothing was rejected, the client does not latch")
}

// recordedGeneral is the simulator's answer to a Get of
// AMT_GeneralSettings, read through net/http.
func recordedGeneral(t *testing.T, sim *amtsim.Server) []byte {
	t.Helper()
	var body []byte
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, sim.URL()+r.URL.Path, r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK {
			body = b
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(b)
	}))
	defer front.Close()
	defer http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	c, err := wsman.NewClient(front.URL+"/wsman", wsman.WithCredentials(user, password), wsman.WithRetry(0, 0, 0))
	require.NoError(t, err)
	_, err = c.Get(context.Background(), uriGeneral)
	require.NoError(t, err)
	require.NotEmpty(t, body)
	return body
}

// The request the client writes through an Exchanger is the one net/http
// writes for it, byte for byte but for the nonce, cnonce and response.
func TestDirectRequestMatchesNetHTTP(t *testing.T) {
	t.Parallel()
	sim, _ := newSim(t, amtsim.Options{})
	var mu sync.Mutex
	var viaHTTP bytes.Buffer
	ln, err := net.Listen("tcp", "127.170.0.2:0")
	require.NoError(t, err)
	// A front that copies the bytes net/http writes to the device.
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		target := strings.TrimPrefix(sim.URL(), "http://")
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				return
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				defer up.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						mu.Lock()
						viaHTTP.Write(buf[:n])
						mu.Unlock()
						_, _ = up.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	tr := &http.Transport{DisableCompression: true, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	ids := func() string { return "uuid:00000000-0000-4000-8000-000000000000" }
	hc, err := wsman.NewClient("http://"+ln.Addr().String()+"/wsman", wsman.WithCredentials(user, password), wsman.WithRetry(0, 0, 0), wsman.WithTransport(tr), wsman.WithMessageIDs(ids))
	require.NoError(t, err)
	_, err = hc.Get(context.Background(), uriGeneral)
	require.NoError(t, err)
	mu.Lock()
	want := viaHTTP.String()
	mu.Unlock()
	dc, d := newDirectClient(t, "http://"+ln.Addr().String(), wsman.WithMessageIDs(ids))
	d.rec = true
	_, err = dc.Get(context.Background(), uriGeneral)
	require.NoError(t, err)
	// net/http's Transport adds nothing the direct request lacks but the
	// keep-alive it was told to refuse.
	want = strings.ReplaceAll(want, "Connection: close\r\n", "")
	clean := func(s string) string {
		for _, k := range []string{" nonce=\"", "cnonce=\"", "response=\""} {
			for i := 0; ; {
				j := strings.Index(s[i:], k)
				if j < 0 {
					break
				}
				j += i + len(k)
				e := strings.IndexByte(s[j:], '"')
				s = s[:j] + s[j+e:]
				i = j
			}
		}
		return s
	}
	assert.Equal(t, clean(want), clean(d.wire.String()))
}
