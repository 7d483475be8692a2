package amtsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"
)

// ASF RMCP presence ping and pong (DSP0136), as AMT answers them.
const (
	rmcpVersion     = 0x06 // RMCP version 1.0
	rmcpClassASF    = 0x06 // message class ASF; bit 7 set marks an ACK
	rmcpAckBit      = 0x80
	rmcpNoAck       = 0xFF // sequence number asking for no RMCP ACK
	asfIANA         = 4542
	intelIANA       = 343
	asfPresencePing = 0x80
	asfPresencePong = 0x40
	pingLen         = 12
	pongLen         = 28
	pongDataLen     = 16
	rmcpMinMajor    = 4 // firmware before AMT 4 does not answer
	pongPortMajor   = 6 // port, version and state fields from AMT 6
	// The pong advertises the standard WS-Man ports whatever ports the
	// simulator really listens on.
	stdHTTPPort = 16992
	stdTLSPort  = 16993
)

// isPresencePing reports whether p is a well-formed presence ping.
func isPresencePing(p []byte) bool {
	return len(p) == pingLen &&
		p[0] == rmcpVersion &&
		p[3] == rmcpClassASF &&
		binary.BigEndian.Uint32(p[4:8]) == asfIANA &&
		p[8] == asfPresencePing &&
		p[11] == 0
}

// rmcpAck is the RMCP acknowledgement of a message whose sequence number
// asks for one.
func rmcpAck(ping []byte) []byte {
	return []byte{rmcpVersion, 0, ping[2], rmcpClassASF | rmcpAckBit}
}

// presencePong builds the 28-byte answer to a well-formed ping. Call with
// d.mu held.
func (d *Device) presencePong(ping []byte) []byte {
	p := make([]byte, pongLen)
	copy(p[0:4], ping[0:4])
	binary.BigEndian.PutUint32(p[4:8], asfIANA)
	p[8] = asfPresencePong
	p[9] = ping[9]
	p[11] = pongDataLen
	binary.BigEndian.PutUint32(p[12:16], intelIANA)
	if d.major >= pongPortMajor {
		port := stdHTTPPort
		switch {
		case d.prof.provState == 0:
			port = 0
		case d.TLSOnly():
			port = stdTLSPort
		}
		binary.BigEndian.PutUint16(p[16:18], uint16(port))
		if d.major < 16 && d.minor < 16 {
			p[18] = byte(d.major<<4 | d.minor)
		} else {
			p[22], p[23] = byte(d.major), byte(d.minor)
		}
		p[19] = byte(d.prof.provState & 0x03)
	}
	p[20] = 0x01 // supported entities: ASF 1.0
	if d.major > 5 || d.major == 5 && d.minor >= 1 {
		p[21] = 0x20 // supported interactions: DASH
	}
	return p
}

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
		if !isPresencePing(ping) {
			s.log.Debug("rmcp: ignored datagram", "device", d.ip, "remote", from, "len", n)
			continue
		}
		d.mu.Lock()
		var pong []byte
		if d.rmcpEnabledLocked() {
			pong = d.presencePong(ping)
			d.stats.RMCPPings++
		}
		d.mu.Unlock()
		if pong == nil {
			s.log.Debug("rmcp: presence ping ignored (responses disabled)", "device", d.ip, "remote", from)
			continue
		}
		if ping[2] != rmcpNoAck {
			_, _ = c.WriteToUDPAddrPort(rmcpAck(ping), from)
		}
		_, _ = c.WriteToUDPAddrPort(pong, from)
		s.log.Debug("rmcp: presence pong", "device", d.ip, "remote", from, "tag", ping[9])
	}
}
