//go:build unix

package fleet

import (
	"errors"
	"net"
	"syscall"
)

// idleAlive reports whether an idle connection is still open with nothing
// to read: a peek that does not wait (a read with a deadline in the past
// would not even look).
func idleAlive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = n < 0 && (errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK))
		return true // never wait
	})
	return err == nil && alive
}
