package wire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one HTTP request as the device needs it.
type Request struct {
	Method string
	// Target is the request target as sent, the URI of the digest
	// response; Path is its part before any query.
	Target, Path string
	// Authorization is the Authorization field ("" when absent).
	Authorization string
	// Body is the request body, valid until the handler returns (the
	// connection reuses its buffer); BodyErr is ErrTooLarge when it exceeds
	// the server's MaxBody, ErrBadBody when its framing is broken, or
	// ErrMalformed when the request line or header cannot be read (only
	// Conn is set then). Body is empty with an error, and the connection
	// closes after the answer.
	Body    []byte
	BodyErr error
	// Conn is the connection the request came on. The Request itself is
	// the connection's and is reused for its next request: a handler
	// keeps neither it nor Body after it returns.
	Conn *Conn
}

var (
	// ErrTooLarge is a request body over the server's limit.
	ErrTooLarge = errors.New("wire: request body too large")
	// ErrBadBody is a request body whose framing is broken.
	ErrBadBody = errors.New("wire: malformed request body")
	// ErrMalformed is a request line or header the wire cannot read.
	ErrMalformed = errors.New("wire: malformed request")
)

// Conn is one accepted connection.
type Conn struct {
	// TLS reports whether the connection came through a TLS listener.
	TLS bool
	// Value is what the server's Accept hook attached (the device).
	Value any
	// Requests counts the requests read on the connection, the current
	// one included. Requests on one connection are served one at a time.
	Requests int

	nc     net.Conn
	srv    *Server
	shard  *connShard
	active bool // a request is being served; guarded by shard.mu

	// req is the request being served, reused for the next one: the
	// handler keeps nothing of it after it returns.
	req Request
	// body holds the bodies of the connection's requests; bodyp is where
	// it came from in bodyBufs.
	body  []byte
	bodyp *[]byte
	// readDeadline is the read deadline set on nc (zero: none).
	readDeadline time.Time
}

// connShards spread the server's connection book-keeping over several
// locks: one server serves every listener of a fleet, and a single lock
// taken at each accept, request and close makes its goroutines queue
// behind one another.
const connShards = 64

type connShard struct {
	mu    sync.Mutex
	conns map[*Conn]struct{}
}

// readers holds the request readers of closed connections.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// outBufs holds encoding buffers, shared so that idle connections keep
// none.
var outBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// bodyBufs holds request body buffers between requests.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// maxIdleWorkers bounds the goroutines that wait for a new connection
// after serving one. A worker keeps the stack the serving grew, so that
// the next connection does not grow a fresh goroutine's stack again.
const maxIdleWorkers = 1024

// LocalAddr is the address the connection was accepted on.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Server serves HTTP/1.1 the way the firmware's web server does: one
// request at a time per connection, kept alive unless an answer closes
// it, each answer written in one piece as its Response frames it.
type Server struct {
	// Handler answers a request.
	Handler func(*Request) Response
	// Accept, if set, is called for each new connection before its first
	// request; it may set Conn.Value.
	Accept func(*Conn)
	// TLSConfig, if set, serves TLS on the listeners given to Serve.
	TLSConfig *tls.Config
	// ReadHeaderTimeout bounds reading a request's line and header;
	// IdleTimeout the wait for the next request on a kept connection.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// MaxBody is the largest request body read.
	MaxBody int

	mu        sync.Mutex // guards listeners
	listeners map[net.Listener]struct{}
	closing   atomic.Bool // set once by Shutdown, before it visits the shards
	shards    [connShards]connShard
	next      atomic.Uint32 // round-robin shard of the next connection
	wg        sync.WaitGroup

	// work hands accepted connections to idle workers; quit, closed by
	// Shutdown, ends them. workers counts the running workers.
	workOnce sync.Once
	work     chan *Conn
	quit     chan struct{}
	idle     atomic.Int32
	workers  sync.WaitGroup
}

var errClosed = errors.New("wire: server closed")

// Serve accepts connections on l until it is closed or Shutdown is
// called.
func (s *Server) Serve(l net.Listener) error { return s.ServeValue(l, nil) }

// ServeValue is Serve with v as the Value of every connection accepted on
// l (before the Accept hook runs): one listener per device attaches its
// device without looking it up per connection.
func (s *Server) ServeValue(l net.Listener, v any) error {
	s.workOnce.Do(s.initWorkers)
	if s.TLSConfig != nil {
		l = tls.NewListener(l, s.TLSConfig)
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = l.Close()
		return errClosed
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return errClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Too many open files and the like: wait and retry, as
				// net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := &Conn{nc: nc, srv: s, shard: &s.shards[s.next.Add(1)%connShards], Value: v}
		_, c.TLS = nc.(*tls.Conn)
		sh := c.shard
		sh.mu.Lock()
		// Checked under the shard's lock: Shutdown sets closing before it
		// visits each shard and waits only after, so a connection added
		// here is either closed by it or sees closing at its first turn.
		if s.closing.Load() {
			sh.mu.Unlock()
			_ = nc.Close()
			return errClosed
		}
		if sh.conns == nil {
			sh.conns = map[*Conn]struct{}{}
		}
		sh.conns[c] = struct{}{}
		s.wg.Add(1)
		sh.mu.Unlock()
		select {
		case s.work <- c:
		default:
			s.workers.Add(1)
			go s.worker(c)
		}
	}
}

func (s *Server) initWorkers() {
	s.work = make(chan *Conn)
	s.quit = make(chan struct{})
}

// worker serves c, then waits for another connection as long as fewer
// than maxIdleWorkers wait and the server runs.
func (s *Server) worker(c *Conn) {
	defer s.workers.Done()
	for {
		c.serve()
		if s.idle.Add(1) > maxIdleWorkers {
			s.idle.Add(-1)
			return
		}
		select {
		case c = <-s.work:
			s.idle.Add(-1)
		case <-s.quit:
			s.idle.Add(-1)
			return
		}
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// Shutdown stops accepting, closes idle connections, lets requests in
// progress finish and closes their connections, and waits for them until
// ctx ends; then it closes what is left and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.workOnce.Do(s.initWorkers)
	s.mu.Lock()
	if !s.closing.Swap(true) {
		close(s.quit)
	}
	for l := range s.listeners {
		_ = l.Close()
	}
	s.mu.Unlock()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for c := range sh.conns {
			if !c.active {
				_ = c.nc.Close()
			}
		}
		sh.mu.Unlock()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for c := range sh.conns {
			_ = c.nc.Close()
		}
		sh.mu.Unlock()
	}
	<-done
	return ctx.Err()
}

// setActive marks the connection busy or idle and reports whether the
// server is shutting down.
func (c *Conn) setActive(active bool) (closing bool) {
	c.shard.mu.Lock()
	defer c.shard.mu.Unlock()
	c.active = active
	return c.srv.closing.Load()
}

func (c *Conn) serve() {
	s := c.srv
	defer func() {
		_ = c.nc.Close()
		c.shard.mu.Lock()
		delete(c.shard.conns, c)
		c.shard.mu.Unlock()
		if c.bodyp != nil && cap(c.body) <= 64<<10 {
			*c.bodyp = c.body[:0]
			bodyBufs.Put(c.bodyp)
		}
		c.body, c.bodyp, c.req = nil, nil, Request{}
		s.wg.Done()
	}()
	if s.Accept != nil {
		s.Accept(c)
	}
	br := readers.Get().(*bufio.Reader)
	br.Reset(c.nc)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	for {
		if c.setActive(false) {
			return
		}
		timeout := s.IdleTimeout
		if c.Requests == 0 || br.Buffered() > 0 {
			timeout = s.ReadHeaderTimeout
		}
		var waitStart time.Time
		if timeout > 0 {
			waitStart = time.Now()
			c.setReadDeadline(waitStart.Add(timeout))
		}
		if _, err := br.Peek(1); err != nil {
			return
		}
		if s.ReadHeaderTimeout > 0 {
			// The header's time starts with its first byte. A deadline
			// set for the header just before a wait that did not last
			// stands: it differs from a new one by less than the wait.
			now := time.Now()
			if timeout != s.ReadHeaderTimeout || now.Sub(waitStart) >= deadlineSlack {
				c.setReadDeadline(now.Add(s.ReadHeaderTimeout))
			}
		}
		c.setActive(true)
		req, keep, err := c.readRequest(br)
		if errors.Is(err, ErrMalformed) {
			c.req = Request{BodyErr: ErrMalformed, Conn: c}
			req, keep = &c.req, false
		} else if err != nil {
			return // a broken connection
		}
		// The read deadline stays until the next wait sets its own: the
		// handler reads nothing (PeerClosed clears it before it looks).
		c.Requests++
		resp := s.Handler(req)
		if resp.Reset {
			c.reset(&resp)
			return
		}
		bp := outBufs.Get().(*[]byte)
		out := resp.Encode((*bp)[:0], -1)
		if resp.Release != nil {
			resp.Release(resp.Body)
		}
		_, err = c.nc.Write(out)
		if cap(out) <= 64<<10 {
			*bp = out
			outBufs.Put(bp)
		}
		if err != nil {
			return
		}
		if req.BodyErr != nil {
			c.drainUnread()
			return
		}
		if resp.Close || !keep {
			return
		}
	}
}

// Bounds of drainUnread.
const (
	drainMax  = 4 << 20
	drainTime = 500 * time.Millisecond
)

// drainUnread ends a connection whose request body the server refused
// unread (too large, or malformed) once the answer is written: closing
// with the client's bytes unread would reset the connection, and a reset
// can destroy the answer in the client's receive buffer before the client
// reads it. The write side is shut (the client sees the answer end), and
// what still arrives is read and dropped, up to drainMax bytes or
// drainTime, before the caller closes the connection.
func (c *Conn) drainUnread() {
	nc := c.nc
	if tc, ok := nc.(*tls.Conn); ok {
		_ = tc.CloseWrite()
	} else if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	c.setReadDeadline(time.Now().Add(drainTime))
	_, _ = io.CopyN(io.Discard, nc, drainMax)
}

// deadlineSlack is how far a header deadline may start before the
// header's first byte arrived.
const deadlineSlack = time.Millisecond

// setReadDeadline sets the connection's read deadline (zero: none).
func (c *Conn) setReadDeadline(t time.Time) {
	if t.Equal(c.readDeadline) {
		return
	}
	c.readDeadline = t
	_ = c.nc.SetReadDeadline(t)
}

// clearReadDeadline removes the read deadline the request's header was
// read under, so that a long handler can still look at the connection.
func (c *Conn) clearReadDeadline() { c.setReadDeadline(time.Time{}) }

// reset writes what the response asks for and resets the connection.
func (c *Conn) reset(r *Response) {
	if r.ResetAfter > 0 {
		_, _ = c.nc.Write(r.Encode(nil, r.ResetAfter))
	}
	Abort(c.nc)
}

// Abort closes a connection with SO_LINGER 0 so that the peer sees a
// reset; for TLS the TCP connection is closed directly, without a
// close_notify alert.
func Abort(nc net.Conn) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = nc.Close()
}

// readRequest reads one request; keep reports whether the connection may
// serve another.
func (c *Conn) readRequest(br *bufio.Reader) (*Request, bool, error) {
	line, err := readLine(br)
	for i := 0; err == nil && len(line) == 0 && i < 4; i++ {
		line, err = readLine(br) // empty lines before a request line are ignored (RFC 9112 2.2)
	}
	if err != nil {
		return nil, false, err
	}
	method, rest, ok1 := bytes.Cut(line, []byte{' '})
	target, proto, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 {
		return nil, false, ErrMalformed
	}
	c.req = Request{Method: intern(method), Target: intern(target), Conn: c}
	req := &c.req
	req.Path, _, _ = cutString(req.Target, '?')
	keep := string(proto) == "HTTP/1.1"
	if !keep && string(proto) != "HTTP/1.0" {
		return nil, false, ErrMalformed
	}
	length, chunked, expect := -1, false, false
	for n := 0; ; n++ {
		line, err := readLine(br)
		if err != nil {
			return nil, false, err
		}
		if len(line) == 0 {
			break
		}
		if n > 100 {
			return nil, false, ErrMalformed
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return nil, false, ErrMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case equalFold(name, "Authorization"):
			req.Authorization = string(value)
		case equalFold(name, "Content-Length"):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				return nil, false, ErrMalformed
			}
			length = n
		case equalFold(name, "Transfer-Encoding"):
			if !equalFold(value, "chunked") {
				return nil, false, ErrMalformed
			}
			chunked = true
		case equalFold(name, "Connection"):
			switch {
			case equalFold(value, "close"):
				keep = false
			case equalFold(value, "keep-alive"):
				keep = true
			}
		case equalFold(name, "Expect"):
			expect = equalFold(value, "100-continue")
		}
	}
	if expect && (length > 0 || chunked) {
		if length > c.srv.MaxBody {
			req.BodyErr = ErrTooLarge
			return req, false, nil
		}
		if _, err := io.WriteString(c.nc, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return nil, false, err
		}
	}
	switch {
	case chunked:
		body, err := io.ReadAll(io.LimitReader(httputil.NewChunkedReader(br), int64(c.srv.MaxBody)+1))
		if err == nil && len(body) <= c.srv.MaxBody {
			err = skipTrailer(br)
		}
		switch {
		case err != nil:
			req.BodyErr = ErrBadBody
		case len(body) > c.srv.MaxBody:
			req.BodyErr = ErrTooLarge
		default:
			req.Body = body
		}
	case length > c.srv.MaxBody:
		req.BodyErr = ErrTooLarge
	case length > 0:
		if c.bodyp == nil {
			c.bodyp = bodyBufs.Get().(*[]byte)
			c.body = *c.bodyp
		}
		if cap(c.body) < length {
			c.body = make([]byte, length)
		}
		req.Body = c.body[:length]
		if _, err := io.ReadFull(br, req.Body); err != nil {
			return nil, false, err
		}
	}
	return req, keep, nil
}

// intern returns the common methods and targets without allocating.
func intern(b []byte) string {
	switch string(b) {
	case "POST":
		return "POST"
	case "GET":
		return "GET"
	case "/wsman":
		return "/wsman"
	}
	return string(b)
}

// skipTrailer reads the trailer fields after the last chunk, up to the
// empty line.
func skipTrailer(br *bufio.Reader) error {
	for i := 0; i < 100; i++ {
		line, err := readLine(br)
		if err != nil || len(line) == 0 {
			return err
		}
	}
	return ErrMalformed
}

// readLine reads a line without its CRLF (or LF), at most the reader's
// buffer long.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, ErrMalformed
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func cutString(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// equalFold compares ASCII case-insensitively.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
