package durable_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/amt/fleet/durable"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/statedb/statedbtest"
)

// peakHeap samples the live heap of the process (the simulated fleet
// included) until the returned function is called, and returns the peak
// in MiB.
func peakHeap() func() float64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak.Load()) / (1 << 20)
	}
}

// benchDurable submits a durable power-status job over n simulated devices
// answering after latency, with concurrency machines at once, b.N times,
// to one worker in this process; it reports the wall time per job (submit
// to the last result committed), the floor (machines × exchanges per
// machine × latency / concurrency), their ratio and the peak heap.
func benchDurable(b *testing.B, target func(testing.TB) string, cidr string, n int, latency time.Duration, concurrency int) {
	benchAction(b, fleet.PowerStatus, target, cidr, n, latency, concurrency)
}

// benchAction is benchDurable for any action.
func benchAction(b *testing.B, action fleet.Action, target func(testing.TB) string, cidr string, n int, latency time.Duration, concurrency int) {
	e := env{target: target(b), key: b.TempDir() + "/keys/amtkit.key"}
	sim := newFleet(b, amtsim.Options{DevicesCIDR: cidr, DeviceCount: n, Latency: latency})
	targets := addrs(sim)
	db := e.open(b)
	m, err := durable.NewManager(db)
	if err != nil {
		b.Fatal(err)
	}
	wdb := e.open(b)
	w, err := durable.NewWorker(wdb, durable.WorkerOptions{
		Name: "bench", Concurrency: concurrency,
		Credentials: func(context.Context, string) (credentials.Source, error) {
			return credentials.Static(credentials.Credential{User: user, Password: password}), nil
		},
		ClientOptions: []amt.Option{amt.WithPowerChangeGap(0)},
		PollInterval:  20 * time.Millisecond,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// The worker's goroutines (River's, the chunks', the machines') carry
	// the profile label phase=durable, fleet.Run's phase=fleet, so that a
	// CPU profile of the benchmark tells them apart (pprof -tagfocus).
	go pprof.Do(ctx, pprof.Labels("phase", "durable"), func(ctx context.Context) { done <- w.Run(ctx) })
	var stopOnce sync.Once
	stopWorker := func() {
		stopOnce.Do(func() {
			cancel()
			if err := <-done; err != nil {
				b.Error(err)
			}
		})
	}
	defer stopWorker()
	var before int
	for _, d := range sim.Devices() {
		before += d.Stats().HTTPRequests
	}
	runtime.GC()
	stop := peakHeap()
	b.ResetTimer()
	start := time.Now()
	cpuStart := processCPU()
	for i := 0; i < b.N; i++ {
		id, err := m.Submit(context.Background(), durable.Spec{Task: fleet.Task{Action: action},
			Targets: targets, Concurrency: concurrency, Timeout: 30 * time.Second, Retries: 2, RetryDelay: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		for {
			j, err := m.Job(context.Background(), id)
			if err != nil {
				b.Fatal(err)
			}
			if j.State == durable.StateFinished {
				if j.Counts[fleet.Succeeded] != len(targets) {
					b.Fatalf("%d of %d succeeded: %v", j.Counts[fleet.Succeeded], len(targets), j.Counts)
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	wall := time.Since(start) / time.Duration(b.N)
	cpu := (processCPU() - cpuStart) / time.Duration(b.N)
	b.StopTimer()
	peak := stop()
	stopWorker() // its polling is no part of fleet.Run's figures
	var after int
	for _, d := range sim.Devices() {
		after += d.Stats().HTTPRequests
	}
	// The same reads through fleet.Run in this process, no database, on
	// the same fleet and the same loaded machine: what the durable layer
	// adds is the ratio of the two.
	runtime.GC()
	inStart := time.Now()
	inCPUStart := processCPU()
	fleetCtx := pprof.WithLabels(context.Background(), pprof.Labels("phase", "fleet"))
	pprof.SetGoroutineLabels(fleetCtx)
	defer pprof.SetGoroutineLabels(context.Background())
	seq, err := fleet.Run(fleetCtx, targets, fleet.Task{Action: action}, fleet.Options{
		Concurrency: concurrency, Timeout: 30 * time.Second, Retries: 2, RetryDelay: time.Second, ClientOptions: []amt.Option{amt.WithPowerChangeGap(0)},
		Credentials: credentials.Static(credentials.Credential{User: user, Password: password})})
	if err != nil {
		b.Fatal(err)
	}
	for r := range seq {
		if r.Outcome != fleet.Succeeded {
			b.Fatalf("%s: %s", r.Host, r.Message)
		}
	}
	inProcess := time.Since(inStart)
	inCPU := processCPU() - inCPUStart
	perHost := float64(after-before) / float64(b.N) / float64(len(targets))
	floor := time.Duration(float64(len(targets)) * perHost * float64(latency) / float64(concurrency))
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(floor.Seconds(), "floor-s")
	b.ReportMetric(wall.Seconds()/floor.Seconds(), "ratio")
	b.ReportMetric(perHost, "exchanges/host")
	b.ReportMetric(inProcess.Seconds(), "fleet.Run-wall-s")
	b.ReportMetric(wall.Seconds()/inProcess.Seconds(), "vs-fleet.Run")
	b.ReportMetric(peak, "peak-heap-MiB")
	// CPU of the whole process (client, simulator, database) per host,
	// and what the durable layer adds to fleet.Run's; and the wall time
	// it adds.
	hosts := float64(len(targets))
	b.ReportMetric(float64(cpu.Microseconds())/hosts, "cpu-us/host")
	b.ReportMetric(float64(inCPU.Microseconds())/hosts, "fleet.Run-cpu-us/host")
	b.ReportMetric(float64((cpu-inCPU).Microseconds())/hosts, "durable-cpu-us/host")
	b.ReportMetric((wall - inProcess).Seconds(), "durable-extra-wall-s")
	// The wall time the job's CPU alone needs on these cores, whatever
	// the latency (the Postgres server's CPU not counted).
	b.ReportMetric(cpu.Seconds()/float64(runtime.GOMAXPROCS(0)), "cpu-floor-s")
}

// BenchmarkDurablePowerStatus10k50msSQLite is the SQLite target: within 3x
// of the floor.
func BenchmarkDurablePowerStatus10k50msSQLite(b *testing.B) {
	benchDurable(b, statedbtest.SQLite, "127.115.0.0/18", 10000, 50*time.Millisecond, 1000)
}

// BenchmarkDurablePowerStatus10k50msPostgres is the Postgres target:
// within 1.5x of the floor.
func BenchmarkDurablePowerStatus10k50msPostgres(b *testing.B) {
	benchDurable(b, statedbtest.Postgres, "127.116.0.0/18", 10000, 50*time.Millisecond, 1000)
}

// BenchmarkDurablePowerReset2k50msSQLite is a job with a marker committed
// before every machine's change: the group commit at work.
func BenchmarkDurablePowerReset2k50msSQLite(b *testing.B) {
	benchAction(b, fleet.PowerReset, statedbtest.SQLite, "127.117.0.0/20", 2000, 50*time.Millisecond, 200)
}

// BenchmarkDurablePowerReset2k50msPostgres is the same on Postgres.
func BenchmarkDurablePowerReset2k50msPostgres(b *testing.B) {
	benchAction(b, fleet.PowerReset, statedbtest.Postgres, "127.118.0.0/20", 2000, 50*time.Millisecond, 200)
}
