package redir

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Serial-over-LAN messages: an 8-byte header (id, two zero bytes, a zero
// attribute byte, a little-endian u32 sequence number) and fixed fields.
const (
	SOLStart         = 0x20
	SOLStartReply    = 0x21
	SOLEnd           = 0x22
	SOLEndReply      = 0x23
	SOLPing          = 0x24
	SOLPong          = 0x25
	SOLSettings      = 0x27
	SOLDataToHost    = 0x28
	SOLControls      = 0x29
	SOLDataFromHost  = 0x2A
	SOLHeartbeat     = 0x2B
	SOLStartLen      = 24
	SOLStartReplyLen = 23
	SOLSettingsLen   = 14
	SOLControlsLen   = 10
	SOLDataHdrLen    = 10
	MaxSOLData       = 8192
)

// solConn is the device side of an SOL session.
type solConn struct {
	c   Conn
	seq uint32 // guarded by the connection's write lock
}

func (sc *solConn) send(id byte, msg []byte) error {
	return sc.c.Send(func() []byte {
		msg[0] = id
		binary.LittleEndian.PutUint32(msg[4:8], sc.seq)
		sc.seq++
		return msg
	})
}

func (sc *solConn) sendData(p []byte) error {
	m := make([]byte, SOLDataHdrLen+len(p))
	binary.LittleEndian.PutUint16(m[8:10], uint16(len(p)))
	copy(m[SOLDataHdrLen:], p)
	return sc.send(SOLDataFromHost, m)
}

// ServeSOL runs an authenticated SOL session: StartSOLRedirection, the
// banner started returns once the reply is sent, then every character the
// console types is echoed back. It returns ErrClosed when the console
// ends the session.
func ServeSOL(c Conn, started func() string) error {
	rc := c
	sc := &solConn{c: c}
	var buf [SOLDataHdrLen + MaxSOLData]byte
	if err := readFull(rc, buf[:1]); err != nil {
		return err
	}
	if buf[0] != SOLStart {
		return errors.New("SOL: expected StartSOLRedirection")
	}
	if err := readFull(rc, buf[1:SOLStartLen]); err != nil {
		return err
	}
	// The reply echoes the console's buffer and timeout settings, the
	// maximum transmit buffer capped at what the device accepts.
	reply := make([]byte, SOLStartReplyLen)
	reply[1] = StatusOK
	copy(reply[8:20], buf[8:20])
	if binary.LittleEndian.Uint16(reply[8:10]) > MaxSOLData {
		binary.LittleEndian.PutUint16(reply[8:10], MaxSOLData)
	}
	if err := sc.send(SOLStartReply, reply); err != nil {
		return err
	}
	banner := started()
	if err := sc.sendData([]byte(banner)); err != nil {
		return err
	}
	for {
		if err := readFull(rc, buf[:1]); err != nil {
			return err
		}
		id := buf[0]
		n := IDERHdrLen
		switch id {
		case End:
			_ = readFull(rc, buf[1:EndLen])
			return ErrClosed
		case SOLEnd, SOLPing, SOLPong, SOLHeartbeat:
		case SOLSettings:
			n = SOLSettingsLen
		case SOLControls:
			n = SOLControlsLen
		case SOLDataToHost:
			n = SOLDataHdrLen
		default:
			return fmt.Errorf("SOL: unexpected message 0x%02X", id)
		}
		if err := readFull(rc, buf[1:n]); err != nil {
			return err
		}
		var data []byte
		if id == SOLDataToHost {
			l := int(binary.LittleEndian.Uint16(buf[8:10]))
			if l > MaxSOLData {
				return fmt.Errorf("SOL: %d bytes of data exceed %d", l, MaxSOLData)
			}
			if err := readFull(rc, buf[n:n+l]); err != nil {
				return err
			}
			data = buf[n : n+l]
		}
		if rc.Silent() {
			continue
		}
		var err error
		switch id {
		case SOLEnd:
			rc.Release()
			_ = sc.send(SOLEndReply, make([]byte, IDERHdrLen))
			return ErrClosed
		case SOLPing:
			err = sc.send(SOLPong, make([]byte, IDERHdrLen))
		case SOLDataToHost:
			if len(data) > 0 {
				err = sc.sendData(data)
			}
		}
		if err != nil {
			return err
		}
	}
}
