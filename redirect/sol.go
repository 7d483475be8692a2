package redirect

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// SOL messages (protocol.md §3.7.2).
const (
	solStart         = 0x20
	solStartReply    = 0x21
	solEnd           = 0x22
	solEndReply      = 0x23
	solPing          = 0x24
	solPong          = 0x25
	solDataToHost    = 0x28
	solControls      = 0x29
	solDataFromHost  = 0x2A
	solHeartbeat     = 0x2B
	solMaxChunk      = 1024 // bytes of console input per message
	solStartReplyLen = 23
)

// SOLConn is the machine's serial console: Read returns what the machine
// writes to its serial port, Write types into it. It is an
// io.ReadWriteCloser; Read and Write may be called concurrently with each
// other and with Close.
type SOLConn struct {
	s *Session

	wmu sync.Mutex // serialises writes and the sequence number
	seq uint32

	data     chan []byte
	leftover []byte
	readErr  error         // set before data is closed
	ended    chan struct{} // END_SOL acknowledged
	rdone    chan struct{} // readLoop returned
	done     chan struct{} // Close called
	wg       sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// OpenSOL starts serial-over-LAN on a SOL session and returns the console
// stream. ctx bounds the start only, as with net.Dialer; Close ends the
// stream (END_SOL, then the connection). The session belongs to the
// returned connection, which closes it; on error s is closed.
//
// With the UseSOL boot option (BootOptions.SOL) the console carries the
// BIOS's POST and boot-loader output.
func OpenSOL(ctx context.Context, s *Session) (*SOLConn, error) {
	if err := s.take(SOL, "OpenSOL"); err != nil {
		return nil, err
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = s.conn.SetDeadline(time.Now())
		close(fired)
	})
	c := &SOLConn{s: s, data: make(chan []byte, 64), ended: make(chan struct{}), rdone: make(chan struct{}), done: make(chan struct{})}
	err := c.start()
	if !stop() {
		<-fired
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		_ = s.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("redirect: SOL start: %w", ctx.Err())
		}
		return nil, err
	}
	c.wg.Add(1)
	go c.readLoop()
	return c, nil
}

func (c *SOLConn) start() error {
	const op = "SOL start"
	var b [24]byte
	b[0] = solStart
	binary.LittleEndian.PutUint32(b[4:], c.nextSeq())
	binary.LittleEndian.PutUint16(b[8:], 10000)  // max transmit buffer
	binary.LittleEndian.PutUint16(b[10:], 100)   // transmit timeout, ms
	binary.LittleEndian.PutUint16(b[12:], 0)     // transmit overflow timeout
	binary.LittleEndian.PutUint16(b[14:], 10000) // receive timeout, ms
	binary.LittleEndian.PutUint16(b[16:], 100)   // receive flush timeout, ms
	binary.LittleEndian.PutUint16(b[18:], 0)     // no heartbeat asked for
	if err := c.s.write(op, b[:]); err != nil {
		return err
	}
	for {
		id, payload, status, err := c.readMessage(op)
		if err != nil {
			return err
		}
		switch id {
		case solStartReply:
			if status != 0 {
				return &RefusedError{Stage: "SOL start", Status: uint32(status)}
			}
			return nil
		case solPing:
			if err := c.send(solPong, nil); err != nil {
				return err
			}
		case solHeartbeat, solPong, solControls:
		default:
			_ = payload
			return protoErr(op, "START_SOL reply (0x21)", "command 0x%02x", id)
		}
	}
}

func (c *SOLConn) nextSeq() uint32 {
	n := c.seq
	c.seq++
	return n
}

// readMessage reads one SOL message; payload is a copy for data messages.
func (c *SOLConn) readMessage(op string) (id byte, payload []byte, status byte, err error) {
	rd := c.s.rd
	h, err := rd.need(op, 8)
	if err != nil {
		return 0, nil, 0, err
	}
	id, status = h[0], h[1]
	switch id {
	case solEndReply, solPing, solPong, solHeartbeat:
		rd.consume(8)
	case solControls:
		if _, err := rd.need(op, 10); err != nil {
			return 0, nil, 0, err
		}
		rd.consume(10)
	case solStartReply:
		if _, err := rd.need(op, solStartReplyLen); err != nil {
			return 0, nil, 0, err
		}
		rd.consume(solStartReplyLen)
	case solDataFromHost:
		b, err := rd.need(op, 10)
		if err != nil {
			return 0, nil, 0, err
		}
		n := int(binary.LittleEndian.Uint16(b[8:10])) // at most 65535
		rd.consume(10)
		payload = make([]byte, n)
		if err := rd.readInto(op, payload); err != nil {
			return 0, nil, 0, err
		}
	default:
		return id, nil, 0, protoErr(op, "a SOL message", "command 0x%02x", id)
	}
	return id, payload, status, nil
}

func (c *SOLConn) send(id byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.sendLocked(id, payload)
}

func (c *SOLConn) sendLocked(id byte, payload []byte) error {
	size := 8
	if id == solDataToHost {
		size = 10 + len(payload)
	}
	b := make([]byte, size)
	b[0] = id
	binary.LittleEndian.PutUint32(b[4:], c.nextSeq())
	if id == solDataToHost {
		binary.LittleEndian.PutUint16(b[8:], uint16(len(payload)))
		copy(b[10:], payload)
	}
	return c.s.write("SOL", b)
}

func (c *SOLConn) readLoop() {
	defer c.wg.Done()
	defer close(c.rdone)
	defer close(c.data)
	for {
		id, payload, _, err := c.readMessage("SOL")
		if err != nil {
			select {
			case <-c.done:
				c.readErr = net.ErrClosed
			default:
				if errors.Is(err, ErrPeerClosed) {
					err = io.EOF
				}
				c.readErr = err
			}
			return
		}
		switch id {
		case solDataFromHost:
			if len(payload) == 0 {
				continue
			}
			select {
			case c.data <- payload:
			case <-c.done:
				c.readErr = net.ErrClosed
				return
			}
		case solPing:
			if err := c.send(solPong, nil); err != nil {
				c.readErr = err
				return
			}
		case solEndReply:
			close(c.ended)
			c.readErr = io.EOF
			return
		case solStartReply:
			c.readErr = protoErr("SOL", "console data", "a second START_SOL reply")
			return
		}
	}
}

// Read reads console output. It returns io.EOF when the device ended the
// session or closed the connection, and net.ErrClosed after Close.
func (c *SOLConn) Read(p []byte) (int, error) {
	if len(c.leftover) == 0 {
		b, ok := <-c.data
		if !ok {
			return 0, c.readErr
		}
		c.leftover = b
	}
	n := copy(p, c.leftover)
	c.leftover = c.leftover[n:]
	return n, nil
}

// Write sends p to the machine's serial input, in messages of at most 1 KiB.
func (c *SOLConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.done:
		return 0, net.ErrClosed
	default:
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), solMaxChunk)
		if err := c.sendLocked(solDataToHost, p[:n]); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// Close ends serial-over-LAN (END_SOL, waiting briefly for the reply) and
// closes the session.
func (c *SOLConn) Close() error {
	c.closeOnce.Do(func() {
		_ = c.s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		if c.send(solEnd, nil) == nil {
			t := time.NewTimer(time.Second)
			select {
			case <-c.ended:
			case <-c.rdone:
			case <-t.C:
			}
			t.Stop()
		}
		close(c.done)
		c.closeErr = c.s.Close()
		c.wg.Wait()
	})
	return c.closeErr
}
