package discovery_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/discovery"
)

// responder is a fake RMCP responder on one loopback address: answer
// decides what to send back for each ping.
type responder struct {
	conn *net.UDPConn
	wg   sync.WaitGroup
}

func newResponder(t *testing.T, addr string, port int, answer func(ping []byte) [][]byte) *responder {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), uint16(port))))
	require.NoError(t, err)
	r := &responder{conn: conn}
	r.wg.Go(func() {
		buf := make([]byte, 64)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			for _, out := range answer(append([]byte(nil), buf[:n]...)) {
				_, _ = conn.WriteToUDPAddrPort(out, from)
			}
		}
	})
	t.Cleanup(func() {
		conn.Close()
		r.wg.Wait()
	})
	return r
}

func (r *responder) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

func TestScanPongMatching(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	pings := map[string]int{}
	count := func(who string) {
		mu.Lock()
		pings[who]++
		mu.Unlock()
	}
	// .1 answers every ping twice and adds garbage; its pong names a port
	// on which nothing listens.
	dup := newResponder(t, "127.78.8.1", 0, func(ping []byte) [][]byte {
		count("dup")
		p := pong(ping[9], 343, 16992, 0xB8, 2, 1, 0x20, 0, 0)
		return [][]byte{p, p, {0x06, 0x00}}
	})
	port := dup.port()
	// .2 answers with another tag: a pong to some other scan.
	newResponder(t, "127.78.8.2", port, func(ping []byte) [][]byte {
		count("stray")
		return [][]byte{pong(ping[9]^0x80, 343, 16992, 0xB8, 2, 1, 0x20, 0, 0)}
	})
	// .3 sends only an RMCP ACK.
	newResponder(t, "127.78.8.3", port, func(ping []byte) [][]byte {
		count("ack")
		return [][]byte{{0x06, 0x00, ping[2], 0x86}}
	})

	tg, err := discovery.ParseTargets("127.78.8.1-4")
	require.NoError(t, err)
	var final discovery.Progress
	opts := discovery.Options{
		RMCPPort: port, HTTPPort: freePort(t), TLSPort: freePort(t),
		// The counts below need .1's pong read before the retry is due:
		// the retry leaves room for a loaded machine.
		RMCPRetry: 150 * time.Millisecond, RMCPWait: 600 * time.Millisecond,
		Progress: func(p discovery.Progress) { final = p },
	}
	var got []*discovery.Result
	for r, err := range discovery.Scan(context.Background(), tg, opts) {
		require.NoError(t, err)
		got = append(got, r)
	}
	require.Len(t, got, 1, "only the address whose pong matched")
	r := got[0]
	assert.Equal(t, "127.78.8.1", r.Address.String())
	assert.True(t, r.AMT)
	assert.True(t, r.RMCP)
	assert.Equal(t, "11.8", r.Version)
	assert.Equal(t, "post-provisioning", r.ProvisioningState)
	assert.Equal(t, discovery.Error, r.Classification, "the named port does not answer")
	assert.Error(t, r.Err)

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, pings["dup"], "an address that answered is not pinged again")
	assert.Equal(t, 2, pings["stray"], "pinged twice")
	assert.Equal(t, 2, pings["ack"], "pinged twice")
	assert.Equal(t, uint64(1), final.Pongs)
	assert.Equal(t, uint64(1), final.Duplicates)
	assert.Equal(t, uint64(2), final.Stray)
	assert.Equal(t, uint64(3), final.Malformed, "one garbage datagram and two ACKs")
	assert.Equal(t, uint64(7), final.Sent)
	assert.Equal(t, uint64(4), final.Done)
	assert.Equal(t, uint64(1), final.Found)
}

// freePort returns a TCP port nothing listens on (for a moment).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestScanHostNameErrors(t *testing.T) {
	t.Parallel()
	tg, err := discovery.ParseTargets("does-not-exist.invalid")
	require.NoError(t, err)
	var got []*discovery.Result
	for r, err := range discovery.Scan(context.Background(), tg, discovery.Options{RMCPWait: 10 * time.Millisecond, RMCPPort: 9, HTTPPort: freePort(t), TLSPort: freePort(t)}) {
		require.NoError(t, err)
		got = append(got, r)
	}
	require.Len(t, got, 1)
	assert.Equal(t, discovery.Error, got[0].Classification)
	assert.Equal(t, "does-not-exist.invalid", got[0].Host)
	assert.NotEmpty(t, got[0].Error)
	var dnsErr *net.DNSError
	assert.ErrorAs(t, got[0].Err, &dnsErr)
}
