package fleet_test

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/amtkit/amtkit/internal/replaytest"
)

// replayFleet is the canned AMT of internal/replaytest on every loopback
// address at one port; it returns the port.
func replayFleet(b *testing.B) string {
	b.Helper()
	_, port, _ := net.SplitHostPort(replaytest.Serve(b, "tcp4", "0.0.0.0:0").String())
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
	wall := runPowerStatus(b, tg, opts)
	b.StopTimer()
	peak, live := stop()
	b.ReportMetric(peak, "peak-heap-MiB")
	b.ReportMetric(live-base, "run-live-heap-MiB")
	b.ReportMetric(float64(len(tg))/wall.Seconds(), "hosts/s")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N)/float64(len(tg)), "cpu-us/host")
}
