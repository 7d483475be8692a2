package fleet_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// simProcEnv holds, for the test binary run as a simulator process, the
// fleet it serves (a simProcSpec in JSON).
const simProcEnv = "AMTKIT_FLEET_BENCH_SIM"

// simProcSpec is the simulated fleet of a simulator process.
type simProcSpec struct {
	CIDR    string        `json:"cidr"`
	Count   int           `json:"count"`
	Latency time.Duration `json:"latency"`
}

// simProcStats is what the simulator process says when asked: the HTTP
// requests its devices counted, and its CPU time so far.
type simProcStats struct {
	HTTPRequests int           `json:"http_requests"`
	User         time.Duration `json:"user"`
	Kernel       time.Duration `json:"kernel"`
}

// serveSimProc is the simulator process: it starts the fleet, writes the
// devices' addresses as one JSON line, then answers each "stats" line on
// in with a simProcStats line, and ends when in does.
func serveSimProc(specJSON string, in io.Reader, out io.Writer) int {
	var spec simProcSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "simulator process:", err)
		return 2
	}
	sim, err := amtsim.New(amtsim.Options{DevicesCIDR: spec.CIDR, DeviceCount: spec.Count, Latency: spec.Latency,
		TLSPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "simulator process:", err)
		return 1
	}
	defer sim.Close()
	enc := json.NewEncoder(out)
	if err := enc.Encode(targets(sim)); err != nil {
		return 1
	}
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		if lines.Text() != "stats" {
			continue
		}
		var st simProcStats
		for _, d := range sim.Devices() {
			st.HTTPRequests += d.Stats().HTTPRequests
		}
		st.User, st.Kernel = cpuTimes()
		if err := enc.Encode(st); err != nil {
			return 1
		}
	}
	return 0
}

// simProc is a simulator process the benchmark talks to.
type simProc struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *json.Decoder
	stderr  bytes.Buffer
	targets []string
}

// startSimProc runs the test binary as a simulator process serving spec
// and waits for its devices' addresses.
func startSimProc(b *testing.B, spec simProcSpec) *simProc {
	b.Helper()
	js, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	p := &simProc{cmd: exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")}
	p.cmd.Env = append(os.Environ(), simProcEnv+"="+string(js))
	p.cmd.Stderr = &p.stderr
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = p.in.Close()
		_ = p.cmd.Wait()
	})
	p.out = json.NewDecoder(stdout)
	ready := make(chan error, 1)
	go func() { ready <- p.out.Decode(&p.targets) }()
	select {
	case err := <-ready:
		if err != nil {
			b.Fatalf("simulator process: %v: %s", err, p.stderr.String())
		}
	case <-time.After(2 * time.Minute):
		_ = p.cmd.Process.Kill()
		b.Fatalf("simulator process: not ready after 2 minutes: %s", p.stderr.String())
	}
	return p
}

// stats asks the simulator process for its counts and CPU time.
func (p *simProc) stats(b *testing.B) simProcStats {
	b.Helper()
	var st simProcStats
	if _, err := io.WriteString(p.in, "stats\n"); err != nil {
		b.Fatalf("simulator process: %v: %s", err, p.stderr.String())
	}
	if err := p.out.Decode(&st); err != nil {
		b.Fatalf("simulator process: %v: %s", err, p.stderr.String())
	}
	return st
}

// benchFleetProc is benchFleet with the simulated fleet in a process of
// its own, as a real client meets its devices (and as the amtc anchor was
// measured): the client's heap, garbage collection and CPU are its own.
// It reports the CPU per host of each process ("client-", "sim-") and of
// both, the kernel's share of both, and cpu-floor-s (both processes' CPU
// time spread over the cores).
func benchFleetProc(b *testing.B, cidr string, n int, latency time.Duration, concurrency int) {
	p := startSimProc(b, simProcSpec{CIDR: cidr, Count: n, Latency: latency})
	tg := p.targets
	opts := fastOpts()
	opts.Concurrency = concurrency
	opts.Timeout = 30 * time.Second
	opts.Worker = "bench"
	runtime.GC()
	stop := heapPeak()
	before := p.stats(b)
	cUser, cKernel := cpuTimes()
	b.ReportAllocs()
	b.ResetTimer()
	wall := runPowerStatus(b, tg, opts)
	b.StopTimer()
	user, kernel := cpuTimes()
	after := p.stats(b)
	peak, live := stop()
	per := func(d time.Duration) float64 {
		return float64(d.Microseconds()) / float64(b.N) / float64(len(tg))
	}
	client := user - cUser + kernel - cKernel
	sim := after.User - before.User + after.Kernel - before.Kernel
	exchanges := float64(after.HTTPRequests-before.HTTPRequests) / float64(b.N) / float64(len(tg))
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(exchanges, "exchanges/host")
	b.ReportMetric(peak, "peak-heap-MiB")
	b.ReportMetric(live, "peak-live-heap-MiB")
	b.ReportMetric(per(client+sim), "cpu-us/host")
	b.ReportMetric(per(client), "client-cpu-us/host")
	b.ReportMetric(per(sim), "sim-cpu-us/host")
	b.ReportMetric(per(kernel-cKernel+after.Kernel-before.Kernel), "kernel-cpu-us/host")
	b.ReportMetric((client+sim).Seconds()/float64(b.N)/float64(runtime.GOMAXPROCS(0)), "cpu-floor-s")
	b.ReportMetric(float64(len(tg))/wall.Seconds(), "hosts/s")
	if latency > 0 {
		floor := time.Duration(float64(len(tg)) * exchanges * float64(latency) / float64(concurrency))
		b.ReportMetric(floor.Seconds(), "floor-s")
		b.ReportMetric(wall.Seconds()/floor.Seconds(), "ratio")
	}
}

// BenchmarkRunPowerStatus10k50msSimProcess is BenchmarkRunPowerStatus10k50ms
// with the simulator in a process of its own.
func BenchmarkRunPowerStatus10k50msSimProcess(b *testing.B) {
	benchFleetProc(b, "127.104.0.0/18", 10000, 50*time.Millisecond, 1000)
}

// BenchmarkRunPowerStatus10kNoLatencySimProcess is
// BenchmarkRunPowerStatus10kNoLatency with the simulator in a process of
// its own.
func BenchmarkRunPowerStatus10kNoLatencySimProcess(b *testing.B) {
	benchFleetProc(b, "127.105.0.0/18", 10000, 0, 256)
}
