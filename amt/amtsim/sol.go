package amtsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Serial-over-LAN messages: an 8-byte header (id, two zero bytes, a zero
// attribute byte, a little-endian u32 sequence number) and fixed fields.
const (
	solStart         = 0x20
	solStartReply    = 0x21
	solEnd           = 0x22
	solEndReply      = 0x23
	solPing          = 0x24
	solPong          = 0x25
	solSettings      = 0x27
	solDataToHost    = 0x28
	solControls      = 0x29
	solDataFromHost  = 0x2A
	solHeartbeat     = 0x2B
	solStartLen      = 24
	solStartReplyLen = 23
	solSettingsLen   = 14
	solControlsLen   = 10
	solDataHdrLen    = 10
	maxSOLData       = 8192
)

// solConn is the device side of an SOL session.
type solConn struct {
	rc  *redirConn
	seq uint32 // guarded by rc.wmu
}

func (sc *solConn) send(id byte, msg []byte) error {
	rc := sc.rc
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	rc.checkSilentLocked()
	msg[0] = id
	binary.LittleEndian.PutUint32(msg[4:8], sc.seq)
	sc.seq++
	return rc.write(msg)
}

func (sc *solConn) sendData(p []byte) error {
	m := make([]byte, solDataHdrLen+len(p))
	binary.LittleEndian.PutUint16(m[8:10], uint16(len(p)))
	copy(m[solDataHdrLen:], p)
	return sc.send(solDataFromHost, m)
}

// serveSOL runs an authenticated SOL session: StartSOLRedirection, a
// banner, then every character the console types is echoed back.
func (rc *redirConn) serveSOL() error {
	d := rc.d
	sc := &solConn{rc: rc}
	var buf [solDataHdrLen + maxSOLData]byte
	if err := rc.readFull(buf[:1]); err != nil {
		return err
	}
	if buf[0] != solStart {
		return errors.New("SOL: expected StartSOLRedirection")
	}
	if err := rc.readFull(buf[1:solStartLen]); err != nil {
		return err
	}
	// The reply echoes the console's buffer and timeout settings, the
	// maximum transmit buffer capped at what the device accepts.
	reply := make([]byte, solStartReplyLen)
	reply[1] = redirStatusOK
	copy(reply[8:20], buf[8:20])
	if binary.LittleEndian.Uint16(reply[8:10]) > maxSOLData {
		binary.LittleEndian.PutUint16(reply[8:10], maxSOLData)
	}
	if err := sc.send(solStartReply, reply); err != nil {
		return err
	}
	d.mu.Lock()
	d.solSessions++
	d.power.Settle(time.Now())
	var useSOL bool
	var last BootRecord
	if n := len(d.boots); n > 0 {
		last = d.boots[n-1]
		useSOL = last.UseSOL
	}
	d.mu.Unlock()
	host := d.Hostname()
	if host == "" {
		host = d.defaultHostname
	}
	banner := "amtsim serial console " + host + "\r\n"
	if useSOL {
		banner += fmt.Sprintf("AMTSIM BIOS %s\r\nMemory test: OK\r\nBoot #%d (%s): booting from %s\r\n",
			d.prof.version, last.Seq, last.Cause, last.Source)
	}
	if err := sc.sendData([]byte(banner)); err != nil {
		return err
	}
	for {
		if err := rc.readFull(buf[:1]); err != nil {
			return err
		}
		id := buf[0]
		n := iderHdrLen
		switch id {
		case redirEnd:
			_ = rc.readFull(buf[1:redirEndLen])
			return errRedirClosed
		case solEnd, solPing, solPong, solHeartbeat:
		case solSettings:
			n = solSettingsLen
		case solControls:
			n = solControlsLen
		case solDataToHost:
			n = solDataHdrLen
		default:
			return fmt.Errorf("SOL: unexpected message 0x%02X", id)
		}
		if err := rc.readFull(buf[1:n]); err != nil {
			return err
		}
		var data []byte
		if id == solDataToHost {
			l := int(binary.LittleEndian.Uint16(buf[8:10]))
			if l > maxSOLData {
				return fmt.Errorf("SOL: %d bytes of data exceed %d", l, maxSOLData)
			}
			if err := rc.readFull(buf[n : n+l]); err != nil {
				return err
			}
			data = buf[n : n+l]
		}
		if rc.silent.Load() {
			continue
		}
		var err error
		switch id {
		case solEnd:
			rc.release()
			_ = sc.send(solEndReply, make([]byte, iderHdrLen))
			return errRedirClosed
		case solPing:
			err = sc.send(solPong, make([]byte, iderHdrLen))
		case solDataToHost:
			if len(data) > 0 {
				err = sc.sendData(data)
			}
		}
		if err != nil {
			return err
		}
	}
}
