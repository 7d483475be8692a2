package redir

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
	"strings"

	"github.com/amtkit/amtkit/amt/amtsim/internal/digest"
)

// Redirection protocol (TCP 16994, TLS 16995): session manager messages.
const (
	Start      = 0x10 // StartRedirectionSession
	StartReply = 0x11
	End        = 0x12 // EndRedirectionSession
	Auth       = 0x13 // AuthenticateSession
	AuthReply  = 0x14

	StartLen      = 8
	StartReplyLen = 13
	EndLen        = 4
	AuthHdrLen    = 9

	AuthQuery     = 0 // list the supported authentication types
	AuthDigest    = 3 // digest without qop (RFC 2069)
	AuthDigestQop = 4 // digest with qop=auth (RFC 2617)

	// Reply statuses. Only 0 is documented; the refusal codes are the
	// simulator's choice.
	StatusOK      = 0x00
	StatusFail    = 0x01 // authentication failed, or a challenge (with data)
	StatusRefused = 0x01 // session type not available (KVM), or disabled in AMT_RedirectionService
	StatusBusy    = 0x02 // a session of that type is already open
	StatusConsent = 0x03 // user consent required and not given

	URI         = "/RedirectionService"
	Method      = "POST"
	MaxAuthData = 4096
	MaxAuthName = 64 // user and realm
)

// Session tags of StartRedirectionSession.
const (
	TagIDER = "IDER"
	TagSOL  = "SOL "
	TagKVM  = "KVMR"
)

// AuthReplyMsg builds AuthenticateSessionReply with a list of bytes as data.
func AuthReplyMsg(status, typ byte, data ...byte) []byte {
	r := make([]byte, AuthHdrLen+len(data))
	r[0] = AuthReply
	r[1] = status
	r[4] = typ
	binary.LittleEndian.PutUint32(r[5:9], uint32(len(data)))
	copy(r[9:], data)
	return r
}

// AuthFields are the length-prefixed fields of a digest
// AuthenticateSession.
type AuthFields struct {
	User, Realm, Nonce, URI, CNonce, NC, Response, QOP string
}

// ParseAuthFields splits digest data: user, realm, nonce, uri, cnonce, nc,
// response and (type 4, optional for type 3) qop, each a length byte and
// the bytes, filling the data exactly.
func ParseAuthFields(data []byte, typ byte) (AuthFields, bool) {
	var vals [8]string
	n := 0
	for pos := 0; pos < len(data); n++ {
		if n == len(vals) {
			return AuthFields{}, false
		}
		l := int(data[pos])
		pos++
		if pos+l > len(data) {
			return AuthFields{}, false
		}
		vals[n] = string(data[pos : pos+l])
		pos += l
	}
	if n != 8 && !(typ == AuthDigest && n == 7) {
		return AuthFields{}, false
	}
	f := AuthFields{vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7]}
	if len(f.User) > MaxAuthName || len(f.Realm) > MaxAuthName {
		return AuthFields{}, false
	}
	return f, true
}

// DigestValid reports whether a digest AuthenticateSession of type 3
// (without qop) or 4 (qop=auth, nc 8 hex digits, a cnonce) answers for
// the account user with password in realm, with uri URI. Nonce freshness,
// nonce counts and the anti-hammering counter are the device's.
func DigestValid(f AuthFields, typ byte, realm, user, password string) bool {
	if f.Realm != realm || f.URI != URI {
		return false
	}
	valid := true
	var want string
	if typ == AuthDigestQop {
		valid = f.QOP == "auth" && digest.IsHex8(f.NC) && f.CNonce != ""
		want = digest.ResponseAuth(user, realm, password, Method, URI, f.Nonce, f.NC, f.CNonce)
	} else {
		want = digest.ResponseNoQop(user, realm, password, Method, URI, f.Nonce)
	}
	return valid && subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(f.Response))) == 1
}

// ErrClosed ends a redirection connection without further answer.
var ErrClosed = errors.New("redirection connection closed")

// Conn is an authenticated redirection connection as a session sees it.
// The device side implements it: its reads come from the console, and it
// holds the session's slot.
type Conn interface {
	io.Reader
	// Send takes the connection's write lock, applies a queued injected
	// silence, and unless the connection is silent writes the message
	// build returns (build may fill in sequence numbers).
	Send(build func() []byte) error
	// Silent reports whether an injected fault silenced the connection:
	// the device then reads on but answers nothing.
	Silent() bool
	// Release frees the session's slot before the console sees the end.
	Release()
}

func readFull(c Conn, p []byte) error {
	_, err := io.ReadFull(c, p)
	return err
}
