// Package rmcp is the ASF RMCP presence ping and pong (DSP0136) as AMT
// firmware answers them: recognising a well-formed ping, the RMCP
// acknowledgement and the 28-byte pong. It knows nothing of sockets or
// devices; the simulator feeds it datagrams and the device's identity.
package rmcp

import "encoding/binary"

const (
	version      = 0x06 // RMCP version 1.0
	classASF     = 0x06 // message class ASF; bit 7 set marks an ACK
	ackBit       = 0x80
	NoAck        = 0xFF // sequence number asking for no RMCP ACK
	asfIANA      = 4542
	intelIANA    = 343
	presencePing = 0x80
	presencePong = 0x40
	pingLen      = 12
	pongLen      = 28
	pongDataLen  = 16
	dashBit      = 0x20 // bit 5: DASH supported
	// MinMajor is the first firmware major version that answers pings.
	MinMajor      = 4
	pongPortMajor = 6 // port, version and state fields from AMT 6
	// The pong advertises the standard WS-Man ports whatever ports the
	// simulator really listens on.
	stdHTTPPort = 16992
	stdTLSPort  = 16993
)

// IsPresencePing reports whether p is a well-formed presence ping: exactly
// 12 bytes, RMCP 1.0, class ASF, IANA 4542, type 0x80, data length 0.
func IsPresencePing(p []byte) bool {
	return len(p) == pingLen &&
		p[0] == version &&
		p[3] == classASF &&
		binary.BigEndian.Uint32(p[4:8]) == asfIANA &&
		p[8] == presencePing &&
		p[11] == 0
}

// WantsAck reports whether a ping's sequence number asks for an RMCP ACK.
func WantsAck(ping []byte) bool { return ping[2] != NoAck }

// Ack is the RMCP acknowledgement of a message.
func Ack(ping []byte) []byte {
	return []byte{version, 0, ping[2], classASF | ackBit}
}

// Identity is what a pong tells about the device.
type Identity struct {
	Major, Minor      int // firmware version
	ProvisioningState int // 0 pre-, 1 in-, 2 post-provisioning
	// TLS: the device serves WS-Man over TLS; the pong advertises 16993
	// instead of 16992 (protocol.md §5.1: the open WS-Man port, 16992 no
	// TLS, 16993 TLS).
	TLS bool
}

// Pong builds the 28-byte answer to a well-formed ping.
func Pong(ping []byte, id Identity) []byte {
	p := make([]byte, pongLen)
	copy(p[0:4], ping[0:4])
	binary.BigEndian.PutUint32(p[4:8], asfIANA)
	p[8] = presencePong
	p[9] = ping[9]
	p[11] = pongDataLen
	binary.BigEndian.PutUint32(p[12:16], intelIANA)
	if id.Major >= pongPortMajor {
		port := stdHTTPPort
		switch {
		case id.ProvisioningState == 0:
			port = 0
		case id.TLS:
			port = stdTLSPort
		}
		binary.BigEndian.PutUint16(p[16:18], uint16(port))
		if id.Major < 16 && id.Minor < 16 {
			p[18] = byte(id.Major<<4 | id.Minor)
		} else {
			p[22], p[23] = byte(id.Major), byte(id.Minor)
		}
		p[19] = byte(id.ProvisioningState & 0x03)
	}
	p[20] = 0x01 // supported entities: ASF 1.0
	if id.Major > 5 || id.Major == 5 && id.Minor >= 1 {
		p[21] = dashBit // supported interactions: DASH
	} else {
		// AMT 4.x-5.0 put the DASH bit in the supported entities byte
		// (protocol.md §5.1).
		p[20] |= dashBit
	}
	return p
}
