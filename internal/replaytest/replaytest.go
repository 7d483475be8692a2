// Package replaytest serves canned AMT answers for client benchmarks: a
// server that checks nothing and allocates next to nothing, so that a
// benchmark against it measures the client.
package replaytest

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/amtkit/amtkit/internal/recordings"
)

// Serve listens on network and address (for example "tcp",
// "127.0.0.1:0", or "tcp4", "0.0.0.0:0" for every loopback address at one
// port) and answers like AMT: a digest challenge, closing the connection,
// to a request without credentials, and the recorded Get response of
// CIM_AssociatedPowerManagementService to any other. It returns the
// listening address; the server stops when the benchmark ends.
func Serve(tb testing.TB, network, address string) net.Addr {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(recordings.Dir(tb), "CIM_AssociatedPowerManagementService", "GetResponse__gwm__1.resp.xml"))
	if err != nil {
		tb.Fatal(err)
	}
	// The recording answers another request; a client would log the
	// mismatch.
	data = regexp.MustCompile(`<[a-zA-Z]+:RelatesTo>[^<]*</[a-zA-Z]+:RelatesTo>`).ReplaceAll(data, nil)
	ok := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml; charset=UTF-8\r\nServer: Intel(R) Active Management Technology 11.8.50.3425\r\nContent-Length: " +
		strconv.Itoa(len(data)) + "\r\n\r\n" + string(data))
	chal := []byte("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"Digest:727734D63A1FC0423736E48DA554E462\", nonce=\"B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA\",stale=\"false\",qop=\"auth\"\r\n" +
		"Content-Type: text/html\r\nServer: Intel(R) Active Management Technology 11.8.50.3425\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	l, err := net.Listen(network, address)
	if err != nil {
		tb.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	tb.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					_ = c.Close()
				}()
				answer(c, ok, chal)
			}()
		}
	}()
	return l.Addr()
}

// answer serves one connection until it closes or is challenged.
func answer(c net.Conn, ok, chal []byte) {
	r := bufio.NewReaderSize(c, 4096)
	for {
		n, authed := 0, false
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			if v, found := strings.CutPrefix(string(line), "Content-Length: "); found {
				n, _ = strconv.Atoi(strings.TrimSpace(v))
			} else if strings.HasPrefix(string(line), "Authorization:") {
				authed = true
			}
		}
		if _, err := r.Discard(n); err != nil {
			return
		}
		if !authed {
			_, _ = c.Write(chal)
			return
		}
		if _, err := c.Write(ok); err != nil {
			return
		}
	}
}
