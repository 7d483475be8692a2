package discovery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/amtkit/amtkit/amt"
)

// RMCP and ASF constants of the presence ping and pong (protocol.md §5.1).
const (
	rmcpVersion   = 0x06    // RMCP version 1.0 (ASF)
	rmcpSeqNoAck  = 0xFF    // sequence number that asks for no RMCP ACK
	rmcpClassASF  = 0x06    // message class ASF; bit 7 set marks an ACK
	ianaASF       = 4542    // ASF's IANA enterprise number
	asfTypePing   = 0x80    // Presence Ping
	asfTypePong   = 0x40    // Presence Pong
	pongDataLen   = 16      // data length of a presence pong
	pingLen       = 12      // bytes of a presence ping
	pongLen       = 12 + 16 // bytes of a presence pong
	rmcpClassMask = 0x1F    // class bits of byte 3 (bit 7 is ACK)
)

// IANAIntel is the OEM enterprise number Intel AMT puts in its pong.
const IANAIntel = 343

// Ports a pong advertises (protocol.md §5.1): WS-Man without TLS, with
// TLS, and 0 for AMT present but not set up.
const (
	PongPortHTTP = 16992
	PongPortTLS  = 16993
)

// ErrMalformedPong is matched by every error of ParsePong.
var ErrMalformedPong = errors.New("malformed RMCP presence pong")

// PongError says why a datagram is not a presence pong. It matches
// ErrMalformedPong.
type PongError struct {
	Len    int    // length of the datagram
	Reason string // e.g. "truncated: 20 of 28 bytes"
}

func (e *PongError) Error() string {
	return "discovery: " + ErrMalformedPong.Error() + " (" + strconv.Itoa(e.Len) + " bytes): " + e.Reason
}

// Is makes every PongError match ErrMalformedPong.
func (e *PongError) Is(target error) bool { return target == ErrMalformedPong }

// Pong is a decoded ASF presence pong (protocol.md §5.1). The fields past
// IANA are Intel AMT's use of the OEM-defined bytes and mean something
// only when AMT reports true.
type Pong struct {
	// Sequence and Tag are echoed from the ping.
	Sequence uint8
	Tag      uint8
	// IANA is the OEM enterprise number: 343 (Intel) for AMT, 4542 when
	// the responder put no OEM data in the pong.
	IANA uint32
	// Port is the WS-Management port AMT advertises: 16992 (no TLS),
	// 16993 (TLS) or 0 when AMT is present but not set up.
	Port uint16
	// Major and Minor are the firmware version, from the nibbles of
	// byte 18 or, when byte 18 is 0 (firmware 16 and later, whose major
	// no longer fits a nibble), from bytes 22 and 23. Both are 0 when
	// the pong carries no version.
	Major, Minor int
	// State is the provisioning state from bits 0-1 of byte 19.
	State amt.ProvisioningState
	// Entities and Interactions are the ASF Supported Entities and
	// Supported Interactions bytes.
	Entities, Interactions uint8
	// DASH reports DASH support: bit 5 of Supported Interactions (AMT
	// 5.1 and later) or of Supported Entities (AMT 4.x to 5.0).
	DASH bool
	// IPMI reports bit 7 of Supported Entities.
	IPMI bool
}

// AMT reports whether the pong comes from Intel AMT (OEM IANA 343).
func (p *Pong) AMT() bool { return p.IANA == IANAIntel }

// TLS reports whether AMT advertises its TLS port.
func (p *Pong) TLS() bool { return p.AMT() && p.Port == PongPortTLS }

// SetUp reports whether AMT advertises a WS-Management port at all; AMT
// that is present but not set up advertises port 0.
func (p *Pong) SetUp() bool { return p.AMT() && p.Port != 0 }

// Extended reports whether the pong carries the fields of AMT 6 and
// later (port, version and provisioning state); older firmware leaves
// them zero, which must not be read as "pre-provisioning".
func (p *Pong) Extended() bool { return p.AMT() && (p.Major != 0 || p.Minor != 0) }

// Version returns "major.minor", or "" when the pong carries no version.
func (p *Pong) Version() string {
	if !p.AMT() || (p.Major == 0 && p.Minor == 0) {
		return ""
	}
	return strconv.Itoa(p.Major) + "." + strconv.Itoa(p.Minor)
}

// ParsePong decodes an RMCP/ASF presence pong. Anything else (a
// truncated datagram, an RMCP ACK, another ASF message) gives a
// *PongError; no input makes it panic.
func ParsePong(b []byte) (*Pong, error) {
	bad := func(format string, args ...any) error {
		return &PongError{Len: len(b), Reason: fmt.Sprintf(format, args...)}
	}
	if len(b) < 12 {
		return nil, bad("truncated: %d of %d header bytes", len(b), 12)
	}
	if b[0] != rmcpVersion {
		return nil, bad("RMCP version 0x%02x, want 0x06", b[0])
	}
	if b[3]&0x80 != 0 {
		return nil, bad("an RMCP ACK, not a pong")
	}
	if b[3]&rmcpClassMask != rmcpClassASF {
		return nil, bad("RMCP class 0x%02x is not ASF", b[3])
	}
	if iana := binary.BigEndian.Uint32(b[4:8]); iana != ianaASF {
		return nil, bad("ASF IANA %d, want 4542", iana)
	}
	if b[8] != asfTypePong {
		return nil, bad("ASF message type 0x%02x is not a presence pong (0x40)", b[8])
	}
	n := int(b[11])
	if n < pongDataLen {
		return nil, bad("data length %d, want 16", n)
	}
	if len(b) < 12+n {
		return nil, bad("truncated: %d of %d bytes", len(b), 12+n)
	}
	d := b[12:]
	p := &Pong{
		Sequence:     b[2],
		Tag:          b[9],
		IANA:         binary.BigEndian.Uint32(d[0:4]),
		Entities:     d[8],
		Interactions: d[9],
	}
	p.IPMI = p.Entities&0x80 != 0
	p.DASH = p.Interactions&0x20 != 0 || p.Entities&0x20 != 0
	if p.IANA == IANAIntel {
		p.Port = binary.BigEndian.Uint16(d[4:6])
		if v := d[6]; v != 0 {
			p.Major, p.Minor = int(v>>4), int(v&0x0F)
		} else {
			p.Major, p.Minor = int(d[10]), int(d[11])
		}
		p.State = amt.ProvisioningState(d[7] & 0x03)
	}
	return p, nil
}

// appendPing appends a presence ping carrying tag to b.
func appendPing(b []byte, tag byte) []byte {
	return append(b, rmcpVersion, 0x00, rmcpSeqNoAck, rmcpClassASF,
		0x00, 0x00, 0x11, 0xBE, asfTypePing, tag, 0x00, 0x00)
}
