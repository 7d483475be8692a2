package amtsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/redir"
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
	m := make([]byte, redir.SOLDataHdrLen+len(p))
	binary.LittleEndian.PutUint16(m[8:10], uint16(len(p)))
	copy(m[redir.SOLDataHdrLen:], p)
	return sc.send(redir.SOLDataFromHost, m)
}

// serveSOL runs an authenticated SOL session: StartSOLRedirection, a
// banner, then every character the console types is echoed back.
func (rc *redirConn) serveSOL() error {
	d := rc.d
	sc := &solConn{rc: rc}
	var buf [redir.SOLDataHdrLen + redir.MaxSOLData]byte
	if err := rc.readFull(buf[:1]); err != nil {
		return err
	}
	if buf[0] != redir.SOLStart {
		return errors.New("SOL: expected StartSOLRedirection")
	}
	if err := rc.readFull(buf[1:redir.SOLStartLen]); err != nil {
		return err
	}
	// The reply echoes the console's buffer and timeout settings, the
	// maximum transmit buffer capped at what the device accepts.
	reply := make([]byte, redir.SOLStartReplyLen)
	reply[1] = redir.StatusOK
	copy(reply[8:20], buf[8:20])
	if binary.LittleEndian.Uint16(reply[8:10]) > redir.MaxSOLData {
		binary.LittleEndian.PutUint16(reply[8:10], redir.MaxSOLData)
	}
	if err := sc.send(redir.SOLStartReply, reply); err != nil {
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
		n := redir.IDERHdrLen
		switch id {
		case redir.End:
			_ = rc.readFull(buf[1:redir.EndLen])
			return errRedirClosed
		case redir.SOLEnd, redir.SOLPing, redir.SOLPong, redir.SOLHeartbeat:
		case redir.SOLSettings:
			n = redir.SOLSettingsLen
		case redir.SOLControls:
			n = redir.SOLControlsLen
		case redir.SOLDataToHost:
			n = redir.SOLDataHdrLen
		default:
			return fmt.Errorf("SOL: unexpected message 0x%02X", id)
		}
		if err := rc.readFull(buf[1:n]); err != nil {
			return err
		}
		var data []byte
		if id == redir.SOLDataToHost {
			l := int(binary.LittleEndian.Uint16(buf[8:10]))
			if l > redir.MaxSOLData {
				return fmt.Errorf("SOL: %d bytes of data exceed %d", l, redir.MaxSOLData)
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
		case redir.SOLEnd:
			rc.release()
			_ = sc.send(redir.SOLEndReply, make([]byte, redir.IDERHdrLen))
			return errRedirClosed
		case redir.SOLPing:
			err = sc.send(redir.SOLPong, make([]byte, redir.IDERHdrLen))
		case redir.SOLDataToHost:
			if len(data) > 0 {
				err = sc.sendData(data)
			}
		}
		if err != nil {
			return err
		}
	}
}
