package fleet

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawServer answers each request on a connection with answer; close
// ends the connection after each answer without saying so, hang never
// answers.
func rawServer(t *testing.T, closeAfter, hang bool) (addr string, accepted *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.105.11.1:0")
	require.NoError(t, err)
	accepted = &atomic.Int32{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if hang {
						_, _ = io.Copy(io.Discard, br)
						return
					}
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					if closeAfter {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String(), accepted
}

func get(t *testing.T, rt http.RoundTripper, ctx context.Context, addr string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/wsman", strings.NewReader("<x/>"))
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestHTTP1Reuse: a kept connection carries the next request.
func TestHTTP1Reuse(t *testing.T) {
	addr, accepted := rawServer(t, false, false)
	rt := newHTTP1()
	defer rt.closeAll()
	for range 3 {
		body, err := get(t, rt, context.Background(), addr)
		require.NoError(t, err)
		assert.Equal(t, "ok", body)
	}
	assert.EqualValues(t, 1, accepted.Load())
	rt.closeHost("127.105.11.1")
	assert.Empty(t, rt.live)
}

// TestHTTP1DeviceClosedIdle: a connection the device closed while idle is
// not written to; the next request dials again and succeeds.
func TestHTTP1DeviceClosedIdle(t *testing.T) {
	addr, accepted := rawServer(t, true, false)
	rt := newHTTP1()
	defer rt.closeAll()
	for range 3 {
		body, err := get(t, rt, context.Background(), addr)
		require.NoError(t, err)
		assert.Equal(t, "ok", body)
		time.Sleep(20 * time.Millisecond) // let the close arrive
	}
	assert.EqualValues(t, 3, accepted.Load())
}

// TestHTTP1Cancel: a device that never answers is given up on when the
// context ends, with the context's error.
func TestHTTP1Cancel(t *testing.T) {
	addr, _ := rawServer(t, false, true)
	rt := newHTTP1()
	defer rt.closeAll()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := get(t, rt, ctx, addr)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.Empty(t, rt.live, "the connection is closed")
}

// TestHTTP1PlainOnly: https is not carried.
func TestHTTP1PlainOnly(t *testing.T) {
	rt := newHTTP1()
	req, _ := http.NewRequest(http.MethodPost, "https://127.105.11.2/wsman", nil)
	_, err := rt.RoundTrip(req)
	assert.Error(t, err)
}
