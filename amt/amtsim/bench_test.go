package amtsim

import (
	"os"
	"testing"
	"time"
)

// BenchmarkFleetStartup measures New and Close of a fleet of 1,000 devices
// spread over a /16 (65,534 host addresses) with plain HTTP, TLS and RMCP
// on every device. It reports the file descriptors the running fleet
// holds per device.
func BenchmarkFleetStartup(b *testing.B) {
	opts := Options{DevicesCIDR: "127.79.0.0/16", DeviceCount: 1000}
	// The process-wide TLS key and the certificate are made once; keep
	// them out of the measurement.
	warm, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := warm.Close(); err != nil {
		b.Fatal(err)
	}
	base := openFDs()
	b.ReportAllocs()
	b.ResetTimer()
	fdsPerDevice := 0.0
	var inNew, inClose time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		s, err := New(opts)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if i == 0 && base >= 0 {
			fdsPerDevice = float64(openFDs()-base) / float64(len(s.Devices()))
		}
		t2 := time.Now()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		inNew += t1.Sub(t0)
		inClose += time.Since(t2)
	}
	b.StopTimer()
	b.ReportMetric(float64(inNew.Milliseconds())/float64(b.N), "new-ms/op")
	b.ReportMetric(float64(inClose.Milliseconds())/float64(b.N), "close-ms/op")
	if base >= 0 {
		b.ReportMetric(fdsPerDevice, "fds/device")
	}
}

// openFDs counts the process's open file descriptors (-1 where unknown).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
