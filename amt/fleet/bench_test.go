package fleet_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
)

// heapPeak samples the heap (of the whole process: the simulated fleet
// is in it too) until stop is called, and returns the peak of the heap's
// objects (live and not yet collected) and of the live heap the last GC
// marked, in MiB.
func heapPeak() (stop func() (objects, live float64)) {
	var peak, peakLive atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			if v := s[1].Value.Uint64(); v > peakLive.Load() {
				peakLive.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (float64, float64) {
		close(done)
		wg.Wait()
		return float64(peak.Load()) / (1 << 20), float64(peakLive.Load()) / (1 << 20)
	}
}

// liveHeapMiB is the live heap the last GC marked (after runtime.GC: the
// simulated fleet).
func liveHeapMiB() float64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64()) / (1 << 20)
}

// cpuTime is the CPU time of the process so far (client and simulator).
func cpuTime() time.Duration {
	u, k := cpuTimes()
	return u + k
}

// cpuTimes is the CPU time of the process so far, in user space and in the
// kernel (system calls: loopback TCP runs both ends' network stack there).
func cpuTimes() (user, kernel time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// runPowerStatus reads the power state of every target b.N times with
// fleet.Run, failing the benchmark unless every machine succeeds each
// time, and returns the wall time per run.
func runPowerStatus(b *testing.B, tg []string, opts fleet.Options) time.Duration {
	b.Helper()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		seq, err := fleet.Run(context.Background(), tg, fleet.Task{Action: fleet.PowerStatus}, opts)
		if err != nil {
			b.Fatal(err)
		}
		ok, failed := 0, 0
		for r := range seq {
			if r.Outcome == fleet.Succeeded {
				ok++
				continue
			}
			if failed++; failed <= 20 {
				b.Logf("%s: %s: %s", r.Host, r.Outcome, r.Message)
			}
		}
		if ok != len(tg) {
			b.Fatalf("%d of %d succeeded", ok, len(tg))
		}
	}
	return time.Since(start) / time.Duration(b.N)
}

// benchFleet runs power status over a simulated fleet b.N times and
// reports wall time per run, the floor (machines × exchanges per machine
// × latency / concurrency), their ratio, the peak heap, hosts per second
// the HTTP exchanges per host the devices counted, the peak heap of
// the process (the simulated fleet included) and of the run (the peak less
// the heap before it: "run-live-heap" is the live heap, which excludes
// garbage the collector lets grow in proportion to the simulated fleet), and the CPU time per host (client and simulator:
// they share the machine), with its kernel share, and "cpu-floor-s": the
// run's CPU time spread over every core, the wall time the work needs
// whatever the latency.
func benchFleet(b *testing.B, cidr string, n int, latency time.Duration, concurrency int) {
	sim := newFleet(b, amtsim.Options{DevicesCIDR: cidr, DeviceCount: n, Latency: latency})
	tg := targets(sim)
	opts := fastOpts()
	opts.Concurrency = concurrency
	opts.Timeout = 30 * time.Second
	opts.Worker = "bench"
	var before int
	for _, d := range sim.Devices() {
		before += d.Stats().HTTPRequests
	}
	runtime.GC()
	base := liveHeapMiB()
	stop := heapPeak()
	cpuUser, cpuKernel := cpuTimes()
	b.ReportAllocs()
	b.ResetTimer()
	wall := runPowerStatus(b, tg, opts)
	b.StopTimer()
	peak, live := stop()
	user, kernel := cpuTimes()
	user, kernel = user-cpuUser, kernel-cpuKernel
	runs := float64(b.N)
	cpuPerHost := float64((user + kernel).Microseconds()) / runs / float64(len(tg))
	var after int
	for _, d := range sim.Devices() {
		after += d.Stats().HTTPRequests
	}
	perHost := float64(after-before) / float64(b.N) / float64(len(tg))
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(perHost, "exchanges/host")
	b.ReportMetric(peak, "peak-heap-MiB")
	b.ReportMetric(live, "peak-live-heap-MiB")
	b.ReportMetric(live-base, "run-live-heap-MiB")
	b.ReportMetric(cpuPerHost, "cpu-us/host")
	b.ReportMetric(float64(kernel.Microseconds())/runs/float64(len(tg)), "kernel-cpu-us/host")
	b.ReportMetric((user+kernel).Seconds()/runs/float64(runtime.GOMAXPROCS(0)), "cpu-floor-s")
	b.ReportMetric(float64(len(tg))/wall.Seconds(), "hosts/s")
	if latency > 0 {
		floor := time.Duration(float64(len(tg)) * perHost * float64(latency) / float64(concurrency))
		b.ReportMetric(floor.Seconds(), "floor-s")
		b.ReportMetric(wall.Seconds()/floor.Seconds(), "ratio")
	}
}

// BenchmarkRunPowerStatus10k50ms is the fleet target: 10,000 devices
// answering after 50 ms, concurrency 1,000; within 1.5x of the floor and
// 512 MiB of heap.
func BenchmarkRunPowerStatus10k50ms(b *testing.B) {
	benchFleet(b, "127.101.0.0/18", 10000, 50*time.Millisecond, 1000)
}

// BenchmarkRunPowerStatus10kNoLatency measures hosts per second with no
// injected latency, against amtc's 2,350-2,950 hosts/s on this machine.
func BenchmarkRunPowerStatus10kNoLatency(b *testing.B) {
	benchFleet(b, "127.102.0.0/18", 10000, 0, 256)
}

// BenchmarkRunPowerStatus2kNoLatency is the same with 2,000 devices, for
// profiling.
func BenchmarkRunPowerStatus2kNoLatency(b *testing.B) {
	benchFleet(b, "127.103.0.0/20", 2000, 0, 256)
}
