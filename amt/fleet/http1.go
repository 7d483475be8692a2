package fleet

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/wsman"
)

// http1 is the plain-HTTP transport the machines of a run share: HTTP/1.1
// on the calling goroutine, one connection per machine at a time (AMT
// answers one request at a time), kept for the machine's next request
// until the device closes it or the machine's work ends. net/http's
// Transport costs three goroutines and their hand-offs per connection,
// which for a fleet, where most connections carry one request (AMT closes
// the connection after a 401), is most of the client's work.
type http1 struct {
	dialer net.Dialer

	mu   sync.Mutex
	idle map[string]*h1conn // by address:port
	live map[string]map[*h1conn]struct{}
}

type h1conn struct {
	c   net.Conn
	br  *bufio.Reader
	key string // machine
	hp  string // address:port
}

func newHTTP1() *http1 {
	return &http1{
		// No TCP keep-alive probes: a connection to AMT lives for a request
		// or a few (three socket options fewer per connection).
		dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1},
		idle:   map[string]*h1conn{},
		live:   map[string]map[*h1conn]struct{}{},
	}
}

var bufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

func (t *http1) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, errors.New("fleet: the shared transport carries plain HTTP only")
	}
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	hp := req.URL.Host
	if trace != nil && trace.GetConn != nil {
		trace.GetConn(hp)
	}
	c, err := t.get(ctx, hp)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		t.discard(c)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	err = req.Write(c.c)
	if trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
	if err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		return fail(err)
	}
	resp.Body = &h1body{rc: resp.Body, t: t, c: c, stop: stop, reuse: !resp.Close && !req.Close}
	return resp, nil
}

// Exchange carries one WS-Man request without net/http's Request and
// Response (wsman.Exchanger): one write, the answer read into x, the
// connection kept for the machine's next request unless the device closes
// it.
func (t *http1) Exchange(ctx context.Context, x *wsman.HTTPExchange) error {
	c, err := t.get(ctx, x.HostPort)
	if err != nil {
		return err
	}
	// The operation's deadline is the connection's: no timer of its own.
	_ = c.c.SetDeadline(x.Deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Unix(1, 0)) })
	_, err = c.c.Write(x.Request)
	if err == nil {
		x.Written = true
		err = x.ReadResponse(c.br)
	}
	stopped := stop()
	if err != nil || !stopped || x.Close {
		t.discard(c)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil && !stopped {
			// The answer was read whole before the context ended.
			return nil
		}
		return err
	}
	t.keep(c)
	return nil
}

// get returns the idle connection to hp, or dials one.
func (t *http1) get(ctx context.Context, hp string) (*h1conn, error) {
	t.mu.Lock()
	c := t.idle[hp]
	delete(t.idle, hp)
	t.mu.Unlock()
	if c != nil {
		// A device may have closed the connection while it was idle:
		// find out before writing to it, so that a change is never
		// written to a dead connection and taken for lost.
		if c.br.Buffered() == 0 && idleAlive(c.c) {
			return c, nil
		}
		t.discard(c)
	}
	nc, err := t.dialer.DialContext(ctx, "tcp", hp)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(hp)
	if err != nil {
		host = hp
	}
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(nc)
	c = &h1conn{c: nc, br: br, key: credentials.DeviceKey(host), hp: hp}
	t.mu.Lock()
	set := t.live[c.key]
	if set == nil {
		set = map[*h1conn]struct{}{}
		t.live[c.key] = set
	}
	set[c] = struct{}{}
	t.mu.Unlock()
	return c, nil
}

// put keeps c for the next request to its address.
func (t *http1) put(c *h1conn) {
	_ = c.c.SetDeadline(time.Time{})
	t.keep(c)
}

// keep keeps c, whose deadline the next exchange sets, for the next
// request to its address.
func (t *http1) keep(c *h1conn) {
	t.mu.Lock()
	if _, ok := t.live[c.key][c]; ok && t.idle[c.hp] == nil {
		t.idle[c.hp] = c
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	t.discard(c)
}

// discard closes c.
func (t *http1) discard(c *h1conn) {
	t.mu.Lock()
	set, ok := t.live[c.key]
	if ok {
		if _, mine := set[c]; !mine {
			ok = false
		} else {
			delete(set, c)
			if len(set) == 0 {
				delete(t.live, c.key)
			}
		}
	}
	if t.idle[c.hp] == c {
		delete(t.idle, c.hp)
	}
	t.mu.Unlock()
	if ok {
		_ = c.c.Close()
		c.br.Reset(nil)
		bufPool.Put(c.br)
	}
}

// closeHost closes the connections to one machine.
func (t *http1) closeHost(key string) {
	t.mu.Lock()
	var cs []*h1conn
	for c := range t.live[key] {
		cs = append(cs, c)
	}
	t.mu.Unlock()
	for _, c := range cs {
		t.discard(c)
	}
}

func (t *http1) closeAll() {
	t.mu.Lock()
	var cs []*h1conn
	for _, set := range t.live {
		for c := range set {
			cs = append(cs, c)
		}
	}
	t.mu.Unlock()
	for _, c := range cs {
		t.discard(c)
	}
}

// h1body gives the connection back once the body was read to its end, and
// closes it otherwise.
type h1body struct {
	rc    io.ReadCloser
	t     *http1
	c     *h1conn
	stop  func() bool
	reuse bool
	eof   bool
	done  bool
}

func (b *h1body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *h1body) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	err := b.rc.Close()
	stopped := b.stop()
	if b.eof && b.reuse && stopped && err == nil {
		b.t.put(b.c)
	} else {
		b.t.discard(b.c)
	}
	return nil
}
