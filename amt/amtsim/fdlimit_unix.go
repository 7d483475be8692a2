//go:build unix

package amtsim

import "syscall"

// fdLimit returns the soft limit on open file descriptors, or 0 when
// unknown. Go raises the soft limit to the hard limit at start-up.
func fdLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}
