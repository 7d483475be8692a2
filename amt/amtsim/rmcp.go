package amtsim

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/amtkit/amtkit/amt/amtsim/internal/rmcp"
)

// The RMCP sockets of the devices; the ping and pong themselves are in
// internal/rmcp.

// listenUDPAll binds a UDP socket on every address on one port, with the
// free-port rules of listenAll.
func listenUDPAll(ips []net.IP, port int) ([]*net.UDPConn, int, error) {
	var lastErr error
	for attempt := 0; attempt < 8; attempt++ {
		cs, p, err := listenUDPOnce(ips, port)
		if err == nil {
			return cs, p, nil
		}
		lastErr = err
		if port != 0 || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if errors.Is(lastErr, syscall.EACCES) {
		lastErr = fmt.Errorf("%w (ports below 1024 need privileges: choose another RMCP port, 0 for a free one, or -1 to disable RMCP)", lastErr)
	}
	return nil, 0, lastErr
}

func listenUDPOnce(ips []net.IP, port int) ([]*net.UDPConn, int, error) {
	cs := make([]*net.UDPConn, 0, len(ips))
	for _, ip := range ips {
		network := "udp4"
		if ip.To4() == nil {
			network = "udp6"
		}
		c, err := net.ListenUDP(network, &net.UDPAddr{IP: ip, Port: port})
		if err != nil {
			closeUDP(cs)
			return nil, 0, fmt.Errorf("amtsim: RMCP listen: %w", err)
		}
		if port == 0 {
			port = c.LocalAddr().(*net.UDPAddr).Port
		}
		cs = append(cs, c)
	}
	return cs, port, nil
}

func closeUDP(cs []*net.UDPConn) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// serveRMCP answers presence pings sent to one device until the socket is
// closed. Anything that is not a well-formed presence ping is ignored.
func (s *Server) serveRMCP(d *Device, c *net.UDPConn) {
	defer s.wg.Done()
	buf := make([]byte, 512)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ping := buf[:n]
		if !rmcp.IsPresencePing(ping) {
			s.log.Debug("rmcp: ignored datagram", "device", d.ip, "remote", from, "len", n)
			continue
		}
		d.mu.Lock()
		var pong []byte
		if d.rmcpEnabledLocked() {
			pong = rmcp.Pong(ping, rmcp.Identity{Major: d.major, Minor: d.minor,
				ProvisioningState: d.prof.provState, TLS: d.tlsAddr != ""})
			d.stats.RMCPPings++
		}
		d.mu.Unlock()
		if pong == nil {
			s.log.Debug("rmcp: presence ping ignored (responses disabled)", "device", d.ip, "remote", from)
			continue
		}
		if rmcp.WantsAck(ping) {
			_, _ = c.WriteToUDPAddrPort(rmcp.Ack(ping), from)
		}
		_, _ = c.WriteToUDPAddrPort(pong, from)
		s.log.Debug("rmcp: presence pong", "device", d.ip, "remote", from, "tag", ping[9])
	}
}
