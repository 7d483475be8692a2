package wsman

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amtkit/amtkit/internal/recordings"
)

// replayServer answers every request on a loopback socket with canned
// bytes: a digest challenge to a request without credentials (closing the
// connection, as AMT does), the recorded Get response of
// CIM_AssociatedPowerManagementService to any other. It checks nothing and
// allocates next to nothing, so that a benchmark against it measures the
// client.
func replayServer(b *testing.B) string {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(recordings.Dir(b), "CIM_AssociatedPowerManagementService", "GetResponse__gwm__1.resp.xml"))
	if err != nil {
		b.Fatal(err)
	}
	// The recording answers another request; the client would log the
	// mismatch.
	data = regexp.MustCompile(`<[a-zA-Z]+:RelatesTo>[^<]*</[a-zA-Z]+:RelatesTo>`).ReplaceAll(data, nil)
	ok := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml; charset=UTF-8\r\nServer: Intel(R) Active Management Technology 11.8.50.3425\r\nContent-Length: " +
		strconv.Itoa(len(data)) + "\r\n\r\n" + string(data))
	chal := []byte("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"Digest:727734D63A1FC0423736E48DA554E462\", nonce=\"B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA\",stale=\"false\",qop=\"auth\"\r\n" +
		"Content-Type: text/html\r\nServer: Intel(R) Active Management Technology 11.8.50.3425\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	b.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for c := range conns {
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
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					_ = c.Close()
				}()
				r := bufio.NewReaderSize(c, 8192)
				for {
					n, authed := 0, false
					for {
						line, err := r.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
						s := string(line)
						if v, ok := strings.CutPrefix(s, "Content-Length: "); ok {
							n, _ = strconv.Atoi(strings.TrimSpace(v))
						}
						if strings.HasPrefix(s, "Authorization: ") {
							authed = true
						}
					}
					if _, err := r.Discard(n); err != nil {
						return
					}
					if !authed {
						_, _ = c.Write(chal)
						return
					}
					if _, err := c.Write(ok); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + l.Addr().String() + "/wsman"
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGetReplay is one authenticated Get of
// CIM_AssociatedPowerManagementService, nonce reused, against the replay
// server: the client's cost per exchange. cpu-us/op is the process's CPU
// time (the replay server's small share included).
func BenchmarkGetReplay(b *testing.B) {
	url := replayServer(b)
	c, err := NewClient(url, WithCredentials("admin", "P@ssw0rd1"), WithRetry(0, 0, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()
	uri := PrefixCIM + "CIM_AssociatedPowerManagementService"
	if _, err := c.Get(ctx, uri); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in, err := c.Get(ctx, uri)
		if err != nil {
			b.Fatal(err)
		}
		if in.Class != "CIM_AssociatedPowerManagementService" {
			b.Fatal(in.Class)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-us/op")
}

// BenchmarkFirstGetReplay is what a fleet pays per machine: a new client,
// the digest challenge and one Get, on new connections.
func BenchmarkFirstGetReplay(b *testing.B) {
	url := replayServer(b)
	ctx := context.Background()
	uri := PrefixCIM + "CIM_AssociatedPowerManagementService"
	b.ReportAllocs()
	cpu := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := NewClient(url, WithCredentials("admin", "P@ssw0rd1"), WithRetry(0, 0, 0))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Get(ctx, uri); err != nil {
			b.Fatal(err)
		}
		c.CloseIdleConnections()
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-us/op")
}
