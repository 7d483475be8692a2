package redir

import (
	"errors"
	"io"
)

// KVM start messages and the RFB greeting (see amtsim's doc for what is
// modelled).
const (
	KVMStart      = 0x40
	KVMStartReply = 0x41
	KVMMsgLen     = 8
	RFBGreeting   = "RFB 003.008\n"
)

// ServeKVM runs an authenticated KVM session: the console's start message,
// started (the device marks the session open), the start reply and the RFB
// greeting, then everything the console sends is read and dropped until
// it closes.
func ServeKVM(c Conn, started func()) error {
	var msg [KVMMsgLen]byte
	if err := readFull(c, msg[:]); err != nil {
		return err
	}
	if msg[0] != KVMStart {
		return errors.New("KVM: expected 0x40")
	}
	started()
	reply := [KVMMsgLen]byte{KVMStartReply}
	if err := send(c, reply[:]); err != nil {
		return err
	}
	if err := send(c, []byte(RFBGreeting)); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, c)
	return err
}

func send(c Conn, msg []byte) error { return c.Send(func() []byte { return msg }) }
