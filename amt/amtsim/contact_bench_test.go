package amtsim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkServerFleetContact measures the simulator's side of what a fleet
// power status does with each device: a request without credentials (the
// 401 challenge, which closes its connection), then an authenticated Get
// of CIM_AssociatedPowerManagementService on a second connection, which
// the client closes after the answer. Many clients work at once over a
// fleet and every device is contacted once, as in a fleet run: the
// device's first contact (its nonce table, instances built on first use)
// is part of the cost; when every device has been contacted a new fleet
// is started, outside the measurement. The clients are minimal (raw
// connections, one MD5 chain per request, no response object), so that
// most of the CPU per operation is the server's. One operation is one
// device: two connections and two exchanges.
func BenchmarkServerFleetContact(b *testing.B) {
	b.Run("NoLatency", func(b *testing.B) { benchFleetContact(b, 0, 64) })
	b.Run("Latency50ms", func(b *testing.B) { benchFleetContact(b, 50*time.Millisecond, 500) })
}

func benchFleetContact(b *testing.B, latency time.Duration, workers int) {
	const devices = 2000
	opts := Options{DevicesCIDR: "127.175.0.0/20", DeviceCount: devices, TLSPort: -1, RMCPPort: -1,
		RedirectPort: -1, RedirectTLSPort: -1, Latency: latency}
	var s *Server
	start := func() {
		var err error
		if s, err = New(opts); err != nil {
			b.Fatal(err)
		}
	}
	defer func() {
		if s != nil {
			_ = s.Close()
		}
	}()
	body := getReq(uriAPMS)
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	for done := 0; done < b.N; {
		b.StopTimer()
		if s != nil {
			_ = s.Close()
		}
		start()
		addrs := make([]string, 0, devices)
		for _, d := range s.Devices() {
			addrs = append(addrs, d.HTTPAddr())
		}
		n := min(devices, b.N-done)
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		b.StartTimer()
		cpu0 := processCPU()
		for range min(workers, n) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					if err := contactDevice(b, addrs[i], body); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		cpu += processCPU() - cpu0
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		done += n
	}
	b.StopTimer()
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

// contactDevice does the challenge and one authenticated Get of body on
// a new connection each, as a console's first contact.
func contactDevice(tb testing.TB, addr, body string) error {
	head := "POST /wsman HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n"
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(c, head+"\r\n"+body); err != nil {
		c.Close()
		return err
	}
	var buf [2048]byte
	chal := buf[:0]
	for { // the 401 closes the connection
		n, err := c.Read(buf[len(chal):cap(buf)])
		chal = buf[:len(chal)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			c.Close()
			return err
		}
		if len(chal) == cap(buf) {
			c.Close()
			return fmt.Errorf("challenge too long")
		}
	}
	c.Close()
	if !bytes.HasPrefix(chal, []byte("HTTP/1.1 401 ")) {
		return fmt.Errorf("challenge %q", chal)
	}
	value := func(key string) string {
		i := bytes.Index(chal, []byte(key))
		if i < 0 {
			return ""
		}
		rest := chal[i+len(key):]
		return string(rest[:bytes.IndexByte(rest, '"')])
	}
	auth := authHeaderFor(tb, value(`realm="`), value(`nonce="`), testUser, testPass, 1)
	c, err = net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, head+"Authorization: "+auth+"\r\n\r\n"+body); err != nil {
		return err
	}
	return readChunkedOK(bufio.NewReaderSize(c, 4096))
}
