//go:build !unix

package wire

// PeerClosed reports false where the peer cannot be checked without
// reading.
func (c *Conn) PeerClosed() bool { return false }
