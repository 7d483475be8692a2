package fleet_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/internal/recordings"
)

// replayFleet listens on every loopback address at one port and answers
// like AMT with canned bytes: a digest challenge (closing the connection)
// to a request without credentials, the recorded Get response of
// CIM_AssociatedPowerManagementService to any other. It checks nothing,
// so that a fleet run against it measures the client.
func replayFleet(b *testing.B) string {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(recordings.Dir(b), "CIM_AssociatedPowerManagementService", "GetResponse__gwm__1.resp.xml"))
	if err != nil {
		b.Fatal(err)
	}
	data = regexp.MustCompile(`<[a-zA-Z]+:RelatesTo>[^<]*</[a-zA-Z]+:RelatesTo>`).ReplaceAll(data, nil)
	ok := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml; charset=UTF-8\r\nServer: Intel(R) Active Management Technology 11.8.50.3425\r\nContent-Length: " +
		strconv.Itoa(len(data)) + "\r\n\r\n" + string(data))
	chal := []byte("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"Digest:727734D63A1FC0423736E48DA554E462\", nonce=\"B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA\",stale=\"false\",qop=\"auth\"\r\n" +
		"Content-Type: text/html\r\nServer: Intel(R) Active Management Technology 11.8.50.3425\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	l, err := net.Listen("tcp4", "0.0.0.0:0")
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
				r := bufio.NewReaderSize(c, 4096)
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
						if v, found := strings.CutPrefix(string(line), "Content-Length: "); found {
							n, _ = strconv.Atoi(strings.TrimSpace(v))
						} else if len(line) > 14 && string(line[:14]) == "Authorization:" {
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
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// BenchmarkRunPowerStatusReplay10k is the client's side of the fleet
// benchmark: power status of 10,000 machines (addresses 127.108.0.0/18)
// answered by the replay server, so that nearly all the CPU is the
// client's, at the target's concurrency of 1,000. cpu-us/host is the
// process's CPU time per machine; the heap figures are the process's
// (the replay server's share is small).
func BenchmarkRunPowerStatusReplay10k(b *testing.B) {
	port := replayFleet(b)
	var tg []string
	for i := 1; len(tg) < 10000; i++ {
		tg = append(tg, net.JoinHostPort(net.IPv4(127, 108, byte(i>>8), byte(i)).String(), port))
	}
	opts := fastOpts()
	opts.Concurrency, opts.Timeout, opts.Worker = 1000, 30*time.Second, "bench"
	b.ReportAllocs()
	runtime.GC()
	base := liveHeapMiB()
	stop := heapPeak()
	cpu := cpuTime()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		seq, err := fleet.Run(context.Background(), tg, fleet.Task{Action: fleet.PowerStatus}, opts)
		if err != nil {
			b.Fatal(err)
		}
		okCount := 0
		for r := range seq {
			if r.Outcome == fleet.Succeeded {
				okCount++
			} else if okCount == 0 {
				b.Logf("%s: %s: %s", r.Host, r.Outcome, r.Message)
			}
		}
		if okCount != len(tg) {
			b.Fatalf("%d of %d succeeded", okCount, len(tg))
		}
	}
	wall := time.Since(start) / time.Duration(b.N)
	b.StopTimer()
	peak, live := stop()
	b.ReportMetric(peak, "peak-heap-MiB")
	b.ReportMetric(live-base, "run-live-heap-MiB")
	b.ReportMetric(float64(len(tg))/wall.Seconds(), "hosts/s")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N)/float64(len(tg)), "cpu-us/host")
}
