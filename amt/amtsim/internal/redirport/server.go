package redirport

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// maxConns is how many redirection connections a device accepts at once.
const maxConns = 16

// Server accepts connections on the redirection listeners of a simulator
// and hands each to the Port of the device whose address it reached. Set
// its fields before Serve.
type Server struct {
	// Lookup returns the port of the device at a listener's local
	// address, nil for none (the connection is closed).
	Lookup func(local net.Addr) *Port
	Log    *slog.Logger
	// Done is closed when the simulator closes; WG counts every
	// goroutine the server starts.
	Done <-chan struct{}
	WG   *sync.WaitGroup

	mu      sync.Mutex
	ls      []net.Listener
	conns   map[net.Conn]struct{}
	perPort map[*Port]int
	closed  bool
}

// Serve accepts connections on every listener, over TLS with tlsConf when
// it is not nil.
func (s *Server) Serve(ls []net.Listener, tlsConf *tls.Config) {
	s.mu.Lock()
	s.ls = append(s.ls, ls...)
	s.mu.Unlock()
	for _, l := range ls {
		s.WG.Add(1)
		go s.accept(l, tlsConf)
	}
}

func (s *Server) accept(l net.Listener, tlsConf *tls.Config) {
	defer s.WG.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			select {
			case <-s.Done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		p := s.Lookup(c.LocalAddr())
		if p == nil || !s.track(c, p) {
			_ = c.Close()
			continue
		}
		if tlsConf != nil {
			c = tls.Server(c, tlsConf)
		}
		s.WG.Add(1)
		go func() {
			defer s.WG.Done()
			p.serve(s, c, tlsConf != nil)
		}()
	}
}

// track registers a connection so that Close can end it; it refuses
// connections beyond the per-device limit and after Close.
func (s *Server) track(c net.Conn, p *Port) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.perPort[p] >= maxConns {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
		s.perPort = map[*Port]int{}
	}
	s.conns[c] = struct{}{}
	s.perPort[p]++
	return true
}

func (s *Server) untrack(c net.Conn, p *Port) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.perPort[p]--; s.perPort[p] <= 0 {
		delete(s.perPort, p)
	}
}

// Close stops the listeners and ends every connection.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	ls := s.ls
	s.mu.Unlock()
	for _, l := range ls {
		_ = l.Close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
}
