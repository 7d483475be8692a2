package redir

import (
	"encoding/binary"
	"fmt"
	"io"
)

// IDE-R messages. Every one starts with an 8-byte header: command id, two
// zero bytes, attributes, and a little-endian u32 sequence number counted
// from 0 in each direction.
const (
	IDEROpen          = 0x40 // OPEN_SESSION
	IDEROpenReply     = 0x41
	IDERClose         = 0x42
	IDERCloseReply    = 0x43
	IDERPing          = 0x44
	IDERPong          = 0x45
	IDERReset         = 0x46 // RESET_OCCURRED
	IDERResetReply    = 0x47
	IDERFeatures      = 0x48 // DISABLE_ENABLE_FEATURES
	IDERFeaturesReply = 0x49
	IDERError         = 0x4A // ERROR_OCCURRED
	IDERHeartbeat     = 0x4B
	IDERCommand       = 0x50 // COMMAND_WRITTEN
	IDERCommandEnd    = 0x51 // COMMAND_END_RESPONSE
	IDERGetData       = 0x52 // GET_DATA_FROM_HOST
	IDERDataFromHost  = 0x53
	IDERDataToHost    = 0x54

	IDERHdrLen          = 8
	IDEROpenLen         = 18
	IDEROpenReplyLen    = 30
	IDERResetLen        = 9
	IDERFeaturesLen     = 9
	IDERFeaturesSetLen  = 13
	IDERFeaturesReplyLn = 13
	IDERErrorLen        = 11
	IDERCommandLen      = 28
	IDERCommandEndLen   = 31
	IDERGetDataLen      = 31
	IDERDataToHostLen   = 34

	IDERAttrDMA       = 0x01
	IDERAttrCompleted = 0x02

	IDERMaxBuffer = 8192 // max read and write buffer offered in OPEN_SESSION_REPLY

	FeatGetSupported = 1
	FeatGetState     = 2
	FeatSetState     = 3
	RegEnable        = 0x01
	RegModeMask      = 0x18 // 0x08 next reboot, 0x10 graceful, 0x18 now

	// ERROR_OCCURRED code for a console message with a wrong sequence
	// number (the simulator's choice).
	IDERErrSequence = 0x01
)

// IDERMsg is an IDE-R message of n bytes with the command id filled in and
// the rest zero.
func IDERMsg(id byte, n int) []byte {
	m := make([]byte, n)
	m[0] = id
	return m
}

// Msg is an IDE-R message from the console, with its payload copied.
type Msg struct {
	ID   byte
	Attr byte
	Body []byte // the whole message, header included
}

// ReadIDER reads one message of the console during an IDE-R session into
// buf: the header and fixed fields (with the register value of a
// SET_REGISTER_STATE) and, for DATA_TO_HOST, its data. It returns the
// whole message; owned reports that it is a fresh slice (DATA_TO_HOST)
// rather than part of buf. EndRedirectionSession gives ErrClosed; an
// unknown message or data longer than IDERMaxBuffer an error.
func ReadIDER(r io.Reader, buf *[IDERDataToHostLen]byte) (m []byte, owned bool, err error) {
	hdr := buf[:]
	if _, err := io.ReadFull(r, hdr[:1]); err != nil {
		return nil, false, err
	}
	id := hdr[0]
	var n int
	switch id {
	case End:
		var rest [EndLen - 1]byte
		_, _ = io.ReadFull(r, rest[:])
		return nil, false, ErrClosed
	case IDERClose, IDERPing, IDERPong, IDERResetReply, IDERHeartbeat:
		n = IDERHdrLen
	case IDERFeatures:
		n = IDERFeaturesLen
	case IDERCommandEnd, IDERGetData:
		n = IDERCommandEndLen
	case IDERDataToHost:
		n = IDERDataToHostLen
	default:
		return nil, false, fmt.Errorf("IDE-R: unexpected message 0x%02X", id)
	}
	if _, err := io.ReadFull(r, hdr[1:n]); err != nil {
		return nil, false, err
	}
	if id == IDERFeatures && hdr[8] == FeatSetState {
		if _, err := io.ReadFull(r, hdr[n:IDERFeaturesSetLen]); err != nil {
			return nil, false, err
		}
		n = IDERFeaturesSetLen
	}
	if id != IDERDataToHost {
		return hdr[:n], false, nil
	}
	l := int(binary.LittleEndian.Uint16(hdr[9:11]))
	if l > IDERMaxBuffer {
		return nil, false, fmt.Errorf("IDE-R: DATA_TO_HOST of %d bytes exceeds the read buffer", l)
	}
	payload := make([]byte, n+l)
	copy(payload, hdr[:n])
	if _, err := io.ReadFull(r, payload[n:]); err != nil {
		return nil, false, err
	}
	return payload, true, nil
}
