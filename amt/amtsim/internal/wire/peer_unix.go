//go:build unix

package wire

import (
	"crypto/tls"
	"syscall"
)

// PeerClosed reports whether the peer has closed or reset the connection,
// without reading what it may have sent: a handler that waits long (a
// slow device) stops waiting for a client that gave up. Only the
// connection's handler, while it runs, may call it.
func (c *Conn) PeerClosed() bool {
	c.clearReadDeadline() // the header's deadline would fail the look
	nc := c.nc
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR:
		case err != nil || n == 0:
			closed = true
		}
		return true // never wait for readiness
	})
	return closed || err != nil
}
