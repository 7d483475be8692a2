package discovery_test

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/discovery"
)

// BenchmarkScanSlash16 sweeps the 65,534 host addresses of a loopback /16
// holding 1,000 simulated devices of every kind, with RMCP on. Besides
// ns/op it reports the results per sweep and the peak heap in use during
// the sweep (sampled every 20 ms; the simulator shares the process, so its
// heap is counted too), and the peak above the heap before the sweep.
func BenchmarkScanSlash16(b *testing.B) {
	for _, rate := range []int{discovery.DefaultRate, 100000} {
		b.Run("rate="+strconv.Itoa(rate), func(b *testing.B) { benchScan(b, rate) })
	}
}

func benchScan(b *testing.B, rate int) {
	sim, err := amtsim.New(amtsim.Options{DevicesCIDR: "127.79.0.0/16", DeviceCount: 1000, Seed: 16, Fleet: mixedFleet()})
	require.NoError(b, err)
	defer sim.Close()
	tg, err := discovery.ParseTargets("127.79.0.0/16")
	require.NoError(b, err)
	opts := simOptions(sim)
	opts.RMCPRetry = 100 * time.Millisecond
	opts.RMCPWait = 500 * time.Millisecond
	opts.Rate = rate

	var peakHeap, peakSys, base uint64
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base = ms.HeapInuse
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				peakHeap = max(peakHeap, ms.HeapInuse)
				peakSys = max(peakSys, ms.Sys)
			}
		}
	})
	found := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		found = 0
		for r, err := range discovery.Scan(context.Background(), tg, opts) {
			if err != nil {
				b.Fatal(err)
			}
			if r.AMT {
				found++
			}
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	if found != 1000 {
		b.Fatalf("found %d devices, want 1000", found)
	}
	b.ReportMetric(float64(found), "found/op")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(peakHeap-min(base, peakHeap))/(1<<20), "peak-heap-above-base-MiB")
	b.ReportMetric(float64(peakSys)/(1<<20), "peak-sys-MiB")
}
