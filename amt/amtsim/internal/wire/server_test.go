package wire

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoServer answers each request with its method, target, body length
// and body error, and the connection's request count.
func echoServer(t *testing.T, block <-chan struct{}) (*Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.134.0.1:0")
	require.NoError(t, err)
	fw := Firmware{Version: "16.1.25.2124", Major: 16}
	s := &Server{
		MaxBody:           64,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       5 * time.Second,
		Accept:            func(c *Conn) { c.Value = "device" },
		Handler: func(r *Request) Response {
			if r.BodyErr != nil {
				return fw.Page(400, r.BodyErr.Error(), true)
			}
			if r.Target == "/block" && block != nil {
				<-block
			}
			v, _ := r.Conn.Value.(string)
			return fw.SOAP(200, []byte(r.Method+" "+r.Target+" "+string(r.Body)+" "+v+" "+r.Authorization+" "+
				strings.Repeat("n", r.Conn.Requests)))
		},
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, s.Shutdown(context.Background()))
		<-done
	})
	return s, l.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, raw string) (*http.Response, string) {
	t.Helper()
	_, err := io.WriteString(c, raw)
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestServerRequests(t *testing.T) {
	t.Parallel()
	_, addr := echoServer(t, nil)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	br := bufio.NewReader(c)

	_, body := roundTrip(t, c, br, "POST /wsman?x=1 HTTP/1.1\r\nHost: h\r\nauthorization: Digest a=b\r\nContent-Length: 5\r\n\r\nhello")
	assert.Equal(t, "POST /wsman?x=1 hello device Digest a=b n", body, "kept alive: the second request follows")
	_, body = roundTrip(t, c, br, "POST /wsman HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	assert.Equal(t, "POST /wsman abcde device  nn", body, "a chunked request body")
	resp, _ := roundTrip(t, c, br, "POST /wsman HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok")
	assert.Equal(t, 100, resp.StatusCode, "100 Continue first")
	resp, err = http.ReadResponse(br, nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "POST /wsman ok device  nnn", string(b))
	resp, _ = roundTrip(t, c, br, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
	assert.Equal(t, 200, resp.StatusCode)
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "Connection: close is honoured")

	for _, tc := range []struct{ raw, want string }{
		{"POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", ErrTooLarge.Error()},
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", ErrMalformed.Error()},
		{"POST / HTTP/2.0\r\n\r\n", ErrMalformed.Error()},
		{"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", ErrMalformed.Error()},
		{"POST / HTTP/1.1\r\nno colon\r\n\r\n", ErrMalformed.Error()},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ErrBadBody.Error()},
	} {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		br := bufio.NewReader(c)
		resp, body := roundTrip(t, c, br, tc.raw)
		assert.Equal(t, 400, resp.StatusCode, "%q", tc.raw)
		assert.Contains(t, body, tc.want, "%q", tc.raw)
		assert.True(t, resp.Close, "%q", tc.raw)
		_ = c.Close()
	}
}

func TestServerResetAndShutdown(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	s, addr := echoServer(t, block)

	// An idle connection is closed by Shutdown; a request in progress is
	// answered first.
	idle, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer idle.Close()
	busy, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer busy.Close()
	require.NoError(t, busy.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(busy, "POST /block HTTP/1.1\r\n\r\n")
	require.NoError(t, err)
	// Wait until the busy request is in the handler.
	require.Eventually(t, func() bool {
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.Lock()
			for c := range sh.conns {
				if c.active {
					sh.mu.Unlock()
					return true
				}
			}
			sh.mu.Unlock()
		}
		return false
	}, 5*time.Second, time.Millisecond)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		assert.NoError(t, s.Shutdown(context.Background()))
	}()
	require.NoError(t, idle.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = idle.Read(make([]byte, 1))
	require.Error(t, err, "the idle connection is closed")
	close(block)
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode, "the request in progress is answered")
	wg.Wait()
	_, err = net.Dial("tcp", addr)
	require.Error(t, err, "the listener is closed")
}

func TestServerReset(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.134.0.2:0")
	require.NoError(t, err)
	fw := Firmware{Version: "15.0.23.1706", Major: 15}
	s := &Server{MaxBody: 1 << 10, Handler: func(r *Request) Response {
		resp := fw.SOAP(200, []byte(strings.Repeat("b", 2000)))
		resp.Reset = true
		if r.Target == "/half" {
			resp.ResetAfter = 1000
		}
		return resp
	}}
	go func() { _ = s.Serve(l) }()
	defer func() { require.NoError(t, s.Shutdown(context.Background())) }()
	for _, target := range []string{"/", "/half"} {
		c, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = io.WriteString(c, "POST "+target+" HTTP/1.1\r\n\r\n")
		require.NoError(t, err)
		data, err := io.ReadAll(c)
		require.Error(t, err, target)
		var ne *net.OpError
		assert.True(t, errors.As(err, &ne), "a reset, not an orderly close: %v", err)
		if target == "/" {
			assert.Empty(t, data)
		} else {
			assert.Equal(t, 1000, strings.Count(string(data), "b"), "the head and half the body")
			assert.True(t, strings.HasPrefix(string(data), "HTTP/1.1 200 OK\r\n"))
		}
		_ = c.Close()
	}
}

func TestPeerClosed(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.134.0.3:0")
	require.NoError(t, err)
	seen, checked := make(chan bool, 1), make(chan struct{})
	s := &Server{MaxBody: 1 << 10, Handler: func(r *Request) Response {
		alive := !r.Conn.PeerClosed()
		close(checked)
		deadline := time.Now().Add(10 * time.Second)
		for !r.Conn.PeerClosed() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		seen <- alive && r.Conn.PeerClosed()
		return Response{Status: 200, Fields: []Field{{"Content-Length", "0"}}}
	}}
	go func() { _ = s.Serve(l) }()
	defer func() { require.NoError(t, s.Shutdown(context.Background())) }()
	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	_, err = io.WriteString(c, "POST / HTTP/1.1\r\n\r\n")
	require.NoError(t, err)
	<-checked // the handler has seen the peer alive
	require.NoError(t, c.Close())
	assert.True(t, <-seen, "alive while connected, closed once the client closed")
}
