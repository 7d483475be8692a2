package redirect

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const solBanner = "AMI BIOS POST\r\n"

// solEcho is a SOL device that shows a banner and echoes what it gets.
// startSOL reads the console's START_SOL and answers it with status.
func (p *peer) startSOL(status byte) error {
	var start [24]byte
	if _, err := io.ReadFull(p.r, start[:]); err != nil {
		return err
	}
	if start[0] != 0x20 || binary.LittleEndian.Uint16(start[8:]) == 0 {
		return fmt.Errorf("START_SOL % x", start)
	}
	reply := make([]byte, 23)
	reply[0], reply[1] = 0x21, status
	p.write(reply)
	return nil
}

func solEcho(startStatus byte) func(p *peer) error {
	return func(p *peer) error {
		if err := p.startSOL(startStatus); err != nil {
			return err
		}
		if startStatus != 0 {
			return nil
		}
		toConsole := func(b []byte) {
			m := make([]byte, 10+len(b))
			m[0] = 0x2A
			binary.LittleEndian.PutUint16(m[8:], uint16(len(b)))
			copy(m[10:], b)
			p.write(m)
		}
		p.write([]byte{0x2B, 0, 0, 0, 0, 0, 0, 0}) // heartbeat
		toConsole([]byte(solBanner))
		p.write([]byte{0x24, 0, 0, 0, 0, 0, 0, 0}) // ping
		pong := false
		for {
			var h [8]byte
			if _, err := io.ReadFull(p.r, h[:]); err != nil {
				return nil
			}
			switch h[0] {
			case 0x25:
				pong = true
			case 0x28:
				var l [2]byte
				if _, err := io.ReadFull(p.r, l[:]); err != nil {
					return err
				}
				b := make([]byte, binary.LittleEndian.Uint16(l[:]))
				if _, err := io.ReadFull(p.r, b); err != nil {
					return err
				}
				toConsole(b)
			case 0x22:
				p.write([]byte{0x23, 0, 0, 0, 0, 0, 0, 0})
				if !pong {
					return errors.New("SOL: the keep-alive ping was never answered")
				}
				return nil
			default:
				return fmt.Errorf("SOL: console sent 0x%02x", h[0])
			}
		}
	}
}

func openSOLTest(t *testing.T, handler func(p *peer) error) (*SOLConn, error) {
	t.Helper()
	f := newFakeAMT(t, handler)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Dial(ctx, f.addr(), SOL, testCred, Options{})
	require.NoError(t, err)
	return OpenSOL(ctx, s)
}

func TestSOLEcho(t *testing.T) {
	t.Parallel()
	c, err := openSOLTest(t, solEcho(0))
	require.NoError(t, err)
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, solBanner, line)
	big := make([]byte, 3000) // more than one message
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	n, err := c.Write(big)
	require.NoError(t, err)
	assert.Equal(t, len(big), n)
	got := make([]byte, len(big))
	_, err = io.ReadFull(r, got)
	require.NoError(t, err)
	assert.Equal(t, big, got)
	require.NoError(t, c.Close())
	_, err = c.Read(got)
	require.Error(t, err)
	_, err = c.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed)
	require.NoError(t, c.Close())
}

func TestSOLRefused(t *testing.T) {
	t.Parallel()
	_, err := openSOLTest(t, solEcho(1))
	require.ErrorIs(t, err, ErrRefused)
}

func TestSOLPeerCloseIsEOF(t *testing.T) {
	t.Parallel()
	c, err := openSOLTest(t, func(p *peer) error {
		if err := p.startSOL(0); err != nil {
			return err
		}
		return nil // and close
	})
	require.NoError(t, err)
	_, err = io.ReadAll(c)
	require.NoError(t, err, "io.ReadAll stops at io.EOF")
	require.NoError(t, c.Close())
}

func TestSOLGarbage(t *testing.T) {
	t.Parallel()
	c, err := openSOLTest(t, func(p *peer) error {
		if err := p.startSOL(0); err != nil {
			return err
		}
		p.write([]byte{0x77, 1, 2, 3, 4, 5, 6, 7, 8})
		_, _ = io.Copy(io.Discard, p.r)
		return nil
	})
	require.NoError(t, err)
	_, err = io.ReadAll(c)
	require.ErrorIs(t, err, ErrProtocol)
	require.NoError(t, c.Close())
	assert.False(t, errors.Is(err, io.EOF))
}
