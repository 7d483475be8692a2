package discovery

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// rmcpStage sends the presence pings and matches the pongs.
//
// A pong is matched to its address by its source address, as real
// firmware answers from the address pinged; the ping's tag byte carries a
// per-scan nonce (bits 1-7) and the attempt (bit 0), so that pongs to
// another scan's pings are not taken for ours.
//
// One goroutine (run) pulls addresses from the targets, paces the pings
// with a token bucket, sends second pings and expires addresses after
// RMCPWait; another (receive) reads pongs. Addresses in flight live in
// pending until they expire, so their number is bounded by Rate times
// (RMCPRetry + RMCPWait), and by maxPending, whatever the range size.
type rmcpStage struct {
	s          *scanner
	conn       *net.UDPConn
	nonce      byte
	maxPending int

	mu      sync.Mutex
	pending map[netip.Addr]*inflight

	// answered carries addresses whose first pong came, from receive to
	// run; its capacity is maxPending, so receive never blocks.
	answered chan *inflight
}

type inflight struct {
	target  Target
	pong    *Pong // guarded by rmcpStage.mu
	sendErr error
}

type due struct {
	e  *inflight
	at time.Time
}

// fifo is a queue of due entries; entries are appended in time order
// because every entry of a queue is delayed by the same amount.
type fifo struct {
	items []due
	head  int
}

func (q *fifo) push(d due) { q.items = append(q.items, d) }
func (q *fifo) len() int   { return len(q.items) - q.head }
func (q *fifo) peek() due  { return q.items[q.head] }
func (q *fifo) pop() due {
	d := q.items[q.head]
	q.items[q.head] = due{}
	q.head++
	if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	return d
}

func newRMCPStage(s *scanner) (*rmcpStage, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		return nil, fmt.Errorf("discovery: RMCP socket: %w", err)
	}
	// Pongs come in bursts when a pinged range is dense; a larger receive
	// buffer keeps the kernel from dropping them (the kernel caps it).
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(1 << 20)
	var nb [1]byte
	_, _ = rand.Read(nb[:])
	window := s.opts.RMCPRetry + s.opts.RMCPWait + 100*time.Millisecond
	maxPending := int(float64(s.opts.Rate)*window.Seconds()*1.25) + 1024
	maxPending = min(maxPending, 1<<20)
	return &rmcpStage{
		s:          s,
		conn:       conn,
		nonce:      nb[0] >> 1,
		maxPending: maxPending,
		pending:    make(map[netip.Addr]*inflight),
		answered:   make(chan *inflight, maxPending),
	}, nil
}

func (r *rmcpStage) tag(attempt byte) byte { return r.nonce<<1 | attempt&1 }

// run pings every target and hands each address to stage 2 (work) once
// it answered or its wait is over. It closes the socket before returning.
func (r *rmcpStage) run(ctx context.Context, targets *Targets, work chan<- item) error {
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		r.receive()
	}()
	defer func() {
		r.conn.Close()
		<-recvDone
	}()

	next, stop := iter.Pull(targets.Addresses(ctx))
	defer stop()
	exhausted := false

	var retries, expiries fifo
	opts := r.s.opts
	burst := max(1, opts.Rate/200)
	tokens := float64(burst)
	last := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	pkt := appendPing(nil, 0)

	hand := func(it item) bool {
		select {
		case work <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	send := func(e *inflight, attempt byte) {
		pkt[9] = r.tag(attempt)
		to := netip.AddrPortFrom(e.target.Addr, uint16(opts.RMCPPort))
		for tries := 0; ; tries++ {
			_, err := r.conn.WriteToUDPAddrPort(pkt, to)
			if err == nil {
				r.s.sent.Add(1)
				return
			}
			if (errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.EAGAIN)) && tries < 50 {
				time.Sleep(time.Millisecond) // the send queue is full: let it drain
				continue
			}
			// Unreachable network, a broadcast address...: the address
			// gets no pong; stage 2 still probes it.
			e.sendErr = err
			opts.Logger.Debug("discovery: RMCP send failed", "address", e.target.Addr, "err", err)
			return
		}
	}

	for {
		if ctx.Err() != nil {
			return nil
		}
		// Answered addresses go to stage 2 at once.
		if !r.drainAnswered(hand) {
			return nil
		}
		now := time.Now()
		// Addresses whose wait is over: silent ones go to stage 2 now.
		for expiries.len() > 0 && !expiries.peek().at.After(now) {
			e := expiries.pop().e
			r.mu.Lock()
			delete(r.pending, e.target.Addr)
			silent := e.pong == nil
			r.mu.Unlock()
			if silent && !hand(item{target: e.target, err: e.sendErr}) {
				return nil
			}
		}
		now = time.Now()
		tokens = min(float64(burst), tokens+now.Sub(last).Seconds()*float64(opts.Rate))
		last = now
		// Second pings first, then new addresses.
		for tokens >= 1 && retries.len() > 0 && !retries.peek().at.After(now) {
			e := retries.pop().e
			r.mu.Lock()
			answered := e.pong != nil
			r.mu.Unlock()
			if !answered && e.sendErr == nil {
				send(e, 1)
				tokens--
			}
			expiries.push(due{e, now.Add(opts.RMCPWait)})
		}
		for tokens >= 1 && !exhausted {
			r.mu.Lock()
			full := len(r.pending) >= r.maxPending
			r.mu.Unlock()
			if full {
				break
			}
			t, ok := next()
			if !ok {
				exhausted = true
				break
			}
			if t.Err != nil {
				if !hand(item{target: t}) {
					return nil
				}
				continue
			}
			e := &inflight{target: t}
			r.mu.Lock()
			_, dup := r.pending[t.Addr]
			if !dup {
				r.pending[t.Addr] = e
			}
			r.mu.Unlock()
			if dup {
				continue // named twice while in flight: scanned once
			}
			send(e, 0)
			tokens--
			retries.push(due{e, now.Add(opts.RMCPRetry)})
		}
		if exhausted && retries.len() == 0 && expiries.len() == 0 {
			r.drainAnswered(hand)
			return nil
		}
		// Sleep until a token, a second ping or an expiry is due, or a
		// pong comes in.
		r.mu.Lock()
		full := len(r.pending) >= r.maxPending
		r.mu.Unlock()
		tokenWait := max(time.Millisecond, time.Duration((1-min(tokens, 1))/float64(opts.Rate)*float64(time.Second)))
		wait := time.Hour
		if !exhausted && !full {
			wait = tokenWait
		}
		if retries.len() > 0 {
			wait = min(wait, max(tokenWait, retries.peek().at.Sub(now)))
		}
		if expiries.len() > 0 {
			wait = min(wait, expiries.peek().at.Sub(now))
		}
		wait = max(wait, 100*time.Microsecond)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case e := <-r.answered:
			if !hand(r.answeredItem(e)) {
				return nil
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

// drainAnswered hands the addresses that answered so far to stage 2. It
// reports false when hand did not take one (the scan ended).
func (r *rmcpStage) drainAnswered(hand func(item) bool) bool {
	for {
		select {
		case e := <-r.answered:
			if !hand(r.answeredItem(e)) {
				return false
			}
		default:
			return true
		}
	}
}

// answeredItem is the stage-2 item of an address that answered.
func (r *rmcpStage) answeredItem(e *inflight) item {
	r.mu.Lock()
	defer r.mu.Unlock()
	return item{target: e.target, pong: e.pong}
}

// receive reads pongs until the socket is closed.
func (r *rmcpStage) receive() {
	buf := make([]byte, 1500)
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP-induced errors on some systems
		}
		p, err := ParsePong(buf[:n])
		if err != nil {
			r.s.malformed.Add(1)
			r.s.opts.Logger.Debug("discovery: not a pong", "from", from, "err", err)
			continue
		}
		if p.Tag>>1 != r.nonce {
			r.s.stray.Add(1)
			continue
		}
		addr := from.Addr().Unmap()
		r.mu.Lock()
		e := r.pending[addr]
		switch {
		case e == nil:
			r.s.stray.Add(1) // late, or from an address not pinged
		case e.pong != nil:
			r.s.duplicates.Add(1)
		default:
			e.pong = p
			r.s.pongs.Add(1)
			select {
			case r.answered <- e:
			default:
				// Cannot happen (capacity maxPending); the expiry would
				// not hand it either, so say so.
				r.s.opts.Logger.Warn("discovery: pong queue full", "address", addr)
			}
		}
		r.mu.Unlock()
	}
}
