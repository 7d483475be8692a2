package wire

import (
	"bufio"
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerReusesWorkers serves many connections, some at once, on two
// listeners with their own values: each request sees its listener's value
// and its own body (the connection's body buffer and request are reused,
// the goroutines too), and Shutdown ends the idle workers.
func TestServerReusesWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	var ls []net.Listener
	for _, a := range []string{"127.175.0.1:0", "127.175.0.2:0"} {
		l, err := net.Listen("tcp", a)
		require.NoError(t, err)
		ls = append(ls, l)
	}
	fw := Firmware{Version: "16.1.25.2124", Major: 16}
	s := &Server{MaxBody: 1 << 10, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second,
		Handler: func(r *Request) Response {
			v, _ := r.Conn.Value.(string)
			return fw.SOAP(200, []byte(v+" "+string(r.Body)))
		}}
	var served sync.WaitGroup
	for i, l := range ls {
		served.Add(1)
		go func() { defer served.Done(); _ = s.ServeValue(l, []string{"first", "second"}[i]) }()
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				l := ls[(g+i)%2]
				c, err := net.Dial("tcp", l.Addr().String())
				if !assert.NoError(t, err) {
					return
				}
				br := bufio.NewReader(c)
				for j, body := range []string{strings.Repeat("x", 40+g), "short"} {
					_, got := roundTrip(t, c, br, "POST /wsman HTTP/1.1\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body)
					assert.Equal(t, []string{"first", "second"}[(g+i)%2]+" "+body, got, "request %d", j)
				}
				_ = c.Close()
			}
		}()
	}
	wg.Wait()
	require.NoError(t, s.Shutdown(context.Background()))
	served.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "the workers end with Shutdown")
}

// TestPeerClosedAfterHeaderTimeout shows a handler that waits longer than
// the header's read deadline still sees the client close.
func TestPeerClosedAfterHeaderTimeout(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.175.0.3:0")
	require.NoError(t, err)
	seen, checked := make(chan bool, 1), make(chan struct{})
	s := &Server{MaxBody: 1 << 10, ReadHeaderTimeout: 50 * time.Millisecond, Handler: func(r *Request) Response {
		time.Sleep(150 * time.Millisecond) // past the header's deadline
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
	<-checked
	require.NoError(t, c.Close())
	assert.True(t, <-seen, "alive while connected, closed once the client closed")
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
