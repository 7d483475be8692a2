package amtsim

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icholy/digest"
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

// BenchmarkFleet10k starts 10,000 devices over a /16 with plain HTTP only
// (TLS, RMCP and redirection off, as a fleet benchmark runs them) and
// reports the heap, goroutines and file descriptors per device of the
// running fleet, and the heap after one authenticated Get on every
// device (nonce tables, instances built on first use).
func BenchmarkFleet10k(b *testing.B) {
	opts := Options{DevicesCIDR: "127.131.0.0/16", DeviceCount: 10000, TLSPort: -1, RMCPPort: -1,
		RedirectPort: -1, RedirectTLSPort: -1}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		baseHeap, baseStack := heapInUse(), stackInUse()
		baseFDs, baseG := openFDs(), runtime.NumGoroutine()
		s, err := New(opts)
		if err != nil {
			b.Fatal(err)
		}
		n := float64(len(s.Devices()))
		idle := heapInUse()
		b.ReportMetric(float64(idle-baseHeap)/n, "heap-B/device")
		b.ReportMetric(float64(stackInUse()-baseStack)/n, "stack-B/device")
		b.ReportMetric(float64(openFDs()-baseFDs)/n, "fds/device")
		b.ReportMetric(float64(runtime.NumGoroutine()-baseG)/n, "goroutines/device")
		if i == 0 {
			getEvery(b, s)
			b.ReportMetric(float64(heapInUse()-baseHeap)/n, "heap-B/device-used")
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// getEvery sends one authenticated Get of AMT_GeneralSettings to every
// device, a few at a time, each on its own connection.
func getEvery(b *testing.B, s *Server) {
	devs := s.Devices()
	work := make(chan *Device)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				if err := benchGet(d.HTTPAddr()); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for _, d := range devs {
		work <- d
	}
	close(work)
	wg.Wait()
}

// benchGet does the digest exchange by hand: challenge, then the Get.
func benchGet(addr string) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	body := envelope(actGet, uriGeneral, "1", nil, "")
	resp, err := hc.Post("http://"+addr+"/wsman", "application/soap+xml", strings.NewReader(body))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	chal, err := digest.FindChallenge(resp.Header)
	if err != nil {
		return err
	}
	cred, err := digest.Digest(chal, digest.Options{Method: http.MethodPost, URI: "/wsman", Count: 1, Username: testUser, Password: testPass})
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/wsman", strings.NewReader(body))
	req.Header.Set("Authorization", cred.String())
	resp, err = hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", addr, resp.StatusCode)
	}
	return nil
}

// stackInUse is the memory of goroutine stacks.
func stackInUse() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.StackInuse)
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}
