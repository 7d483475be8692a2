package fleet

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/amtkit/amtkit/credentials"
)

// connTracker is the transport every machine of a run shares, and the
// register of its connections by machine, so that a machine's finished
// work closes its own connections (http.Transport can only close every
// idle connection at once): ten thousand machines neither build ten
// thousand transports nor leave ten thousand idle sockets behind.
type connTracker struct {
	dialer net.Dialer
	t      *http.Transport

	mu     sync.Mutex
	byHost map[string]map[*trackedConn]struct{}
}

func newConnTracker() *connTracker {
	ct := &connTracker{dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}, byHost: map[string]map[*trackedConn]struct{}{}}
	ct.t = &http.Transport{
		Proxy:               nil, // AMT is reached directly; a proxy would see digest traffic
		DialContext:         ct.dial,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true,
	}
	return ct
}

// sharedTransport hides the *http.Transport from the clients, which
// would otherwise each clone it.
type sharedTransport struct{ t *http.Transport }

func (s sharedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return s.t.RoundTrip(req)
}

func (ct *connTracker) transport() http.RoundTripper { return sharedTransport{ct.t} }

func (ct *connTracker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := ct.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	tc := &trackedConn{Conn: c, ct: ct, key: credentials.DeviceKey(host)}
	ct.mu.Lock()
	set := ct.byHost[tc.key]
	if set == nil {
		set = map[*trackedConn]struct{}{}
		ct.byHost[tc.key] = set
	}
	set[tc] = struct{}{}
	ct.mu.Unlock()
	return tc, nil
}

// closeHost closes the connections to one machine.
func (ct *connTracker) closeHost(key string) {
	ct.mu.Lock()
	set := ct.byHost[key]
	delete(ct.byHost, key)
	ct.mu.Unlock()
	for c := range set {
		_ = c.Conn.Close()
	}
}

func (ct *connTracker) closeAll() {
	ct.t.CloseIdleConnections()
	ct.mu.Lock()
	all := ct.byHost
	ct.byHost = map[string]map[*trackedConn]struct{}{}
	ct.mu.Unlock()
	for _, set := range all {
		for c := range set {
			_ = c.Conn.Close()
		}
	}
}

type trackedConn struct {
	net.Conn
	ct   *connTracker
	key  string
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.ct.mu.Lock()
		if set := c.ct.byHost[c.key]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(c.ct.byHost, c.key)
			}
		}
		c.ct.mu.Unlock()
	})
	return c.Conn.Close()
}
