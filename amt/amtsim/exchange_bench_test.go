package amtsim

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icholy/digest"
)

// BenchmarkServerGet measures the simulator's side of one authenticated
// Get of AMT_GeneralSettings over a kept-alive loopback connection: the
// digest check, the SOAP parse, the dispatch and the response write. The
// client is a minimal one on a raw connection (one MD5 and one write per
// request, a scan for the end of the chunked body), so that the time and
// allocations per operation are mostly the server's.
func BenchmarkServerGet(b *testing.B) {
	s, err := New(Options{TLSPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	addr := s.Devices()[0].HTTPAddr()

	// One nonce from a challenge, then requests with increasing counts.
	resp, err := http.Post("http://"+addr+"/wsman", "application/soap+xml", strings.NewReader(getReq(uriGeneral)))
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	chal, err := digest.FindChallenge(resp.Header)
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 16<<10)
	body := getReq(uriGeneral)
	md5hex := md5hexTest
	ha1 := md5hex(testUser + ":" + chal.Realm + ":" + testPass)
	ha2 := md5hex("POST:/wsman")
	const cnonce = "0a4f113b"
	var req bytes.Buffer
	exchange := func(nc int) error {
		ncs := fmt.Sprintf("%08x", nc)
		response := md5hex(ha1 + ":" + chal.Nonce + ":" + ncs + ":" + cnonce + ":auth:" + ha2)
		req.Reset()
		fmt.Fprintf(&req, "POST /wsman HTTP/1.1\r\nHost: %s\r\nAuthorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"/wsman\", "+
			"response=\"%s\", qop=auth, nc=%s, cnonce=\"%s\"\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s",
			addr, testUser, chal.Realm, chal.Nonce, response, ncs, cnonce, len(body), body)
		if _, err := c.Write(req.Bytes()); err != nil {
			return err
		}
		return readChunkedOK(br)
	}
	if err := exchange(1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		if err := exchange(i + 2); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if cpu := processCPU() - cpu0; cpu > 0 {
		// CPU of the whole process (user and system) per exchange: on a
		// shared machine a steadier figure than the wall time.
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

// processCPU is the process's user and system CPU time (0 where unknown).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readChunkedOK reads one response: a 200 status line, headers and a
// chunked body, without building a response object.
func readChunkedOK(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("status line %q", line)
	}
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
	}
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 32)
		if err != nil {
			return fmt.Errorf("chunk size %q", line)
		}
		if _, err := br.Discard(int(n) + 2); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

func md5hexTest(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// BenchmarkServerFirstContact measures the simulator's side of what a
// console does with a device it has not talked to: a request without
// credentials (the 401 challenge, which closes its connection), then the
// authenticated Get on a new connection, closed after the answer; per
// operation two connections and two exchanges.
func BenchmarkServerFirstContact(b *testing.B) {
	s, err := New(Options{TLSPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	addr := s.Devices()[0].HTTPAddr()
	body := getReq(uriGeneral)
	head := "POST /wsman HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n"
	realmRE := []byte(`realm="`)
	nonceRE := []byte(`nonce="`)
	value := func(h, key []byte) string {
		i := bytes.Index(h, key)
		if i < 0 {
			return ""
		}
		rest := h[i+len(key):]
		return string(rest[:bytes.IndexByte(rest, '"')])
	}
	contact := func() error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(c, head+"\r\n"+body); err != nil {
			return err
		}
		chal, err := io.ReadAll(c) // the 401 closes the connection
		c.Close()
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(chal, []byte("HTTP/1.1 401 ")) {
			return fmt.Errorf("challenge %q", chal)
		}
		auth := authHeaderFor(b, value(chal, realmRE), value(chal, nonceRE), testUser, testPass, 1)
		c, err = net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := io.WriteString(c, head+"Authorization: "+auth+"\r\n\r\n"+body); err != nil {
			return err
		}
		return readChunkedOK(bufio.NewReader(c))
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		if err := contact(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	}
}
