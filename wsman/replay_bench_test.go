package wsman

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/amtkit/amtkit/internal/replaytest"
)

// replayServer is the canned AMT of internal/replaytest on a loopback
// socket: a benchmark against it measures the client.
func replayServer(b *testing.B) string {
	b.Helper()
	return "http://" + replaytest.Serve(b, "tcp", "127.0.0.1:0").String() + "/wsman"
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
