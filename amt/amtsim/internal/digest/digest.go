// Package digest is the wire side of HTTP digest authentication (RFC 2617,
// MD5, qop=auth) as AMT firmware applies it, shared by WS-Man and the
// redirection port: parsing an Authorization header, computing responses,
// and a device's nonce table.
//
// Nonces carry 8 bytes of issue time (Unix ns, big-endian) and a 16-byte
// HMAC-SHA256 tag over the device's identity and that time, under a key;
// 24 bytes encode to 32 base64 characters. The tag tells a nonce the
// device issued from one it never issued. Besides, the table keeps the
// live nonces with the highest nonce count accepted for each, so that a
// repeated or lower count can be refused, and forgets them on demand or,
// least recently used first, beyond its size.
//
// A Table is not safe for concurrent use: the device's lock guards it.
package digest

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strings"
	"sync"
	"time"
)

const tagLen = 16

// MaxLive is the number of live nonces a table keeps.
const MaxLive = 128

// Status classifies the nonce of a request.
type Status int

const (
	Live      Status = iota // issued, fresh and in the table
	Foreign                 // never issued by this table
	Expired                 // issued, older than the lifetime or expired by Expire
	Forgotten               // issued and fresh, but no longer in the table
)

// Key is the key nonces are signed under, shared by the tables of a
// server: keying the MAC once saves each table (each device of a fleet,
// most of which issue a nonce or two) doing it again.
type Key struct {
	macs sync.Pool // of *mac
}

type mac struct {
	h   hash.Hash // HMAC-SHA256 under the key
	msg []byte    // the message being signed
	sum [sha256.Size]byte
}

// NewKey returns key, keyed for signing.
func NewKey(key []byte) *Key {
	key = append([]byte(nil), key...)
	k := &Key{}
	k.macs.New = func() any { return &mac{h: hmac.New(sha256.New, key)} }
	return k
}

// tag is the tag of the nonce issued by id at ts (8 bytes).
func (k *Key) tag(dst *[tagLen]byte, id string, ts []byte) {
	m := k.macs.Get().(*mac)
	m.h.Reset()
	m.msg = append(append(append(m.msg[:0], id...), 0), ts...)
	m.h.Write(m.msg)
	copy(dst[:], m.h.Sum(m.sum[:0]))
	k.macs.Put(m)
}

type entry struct {
	nc       uint64 // highest nonce count accepted (0: none yet)
	issued   int64  // issue time (Unix ns), as in the nonce
	lastUsed time.Time
}

// Table issues and checks the nonces of one device.
type Table struct {
	key      *Key
	id       string
	lifetime time.Duration
	epoch    int64 // nonces issued at or before this time (ns) are expired
	last     int64 // issue time of the last nonce
	live     map[string]entry
}

// NewTable returns the nonce table of the device identified by id, with
// nonces signed under key and fresh for lifetime.
func NewTable(key []byte, id string, lifetime time.Duration) *Table {
	return NewTableKey(NewKey(key), id, lifetime)
}

// NewTableKey is NewTable with a Key that tables may share.
func NewTableKey(key *Key, id string, lifetime time.Duration) *Table {
	return &Table{key: key, id: id, lifetime: lifetime}
}

func (t *Table) tag(dst *[tagLen]byte, ts []byte) { t.key.tag(dst, t.id, ts) }

// Issue returns a fresh nonce and makes it live.
func (t *Table) Issue(now time.Time) string {
	ts := now.UnixNano()
	if ts <= t.last {
		ts = t.last + 1
	}
	t.last = ts
	var raw [8 + tagLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(ts))
	t.tag((*[tagLen]byte)(raw[8:]), raw[:8])
	n := base64.StdEncoding.EncodeToString(raw[:])
	if t.live == nil {
		t.live = make(map[string]entry, 1)
	}
	if len(t.live) >= MaxLive {
		var oldest string
		var oldestT time.Time
		for k, e := range t.live {
			if oldest == "" || e.lastUsed.Before(oldestT) {
				oldest, oldestT = k, e.lastUsed
			}
		}
		delete(t.live, oldest)
	}
	t.live[n] = entry{issued: ts, lastUsed: now}
	return n
}

// Check classifies a nonce. A live nonce is known by the table without
// checking its tag again.
func (t *Table) Check(nonce string, now time.Time) Status {
	if e, ok := t.live[nonce]; ok {
		if t.expired(e.issued, now) {
			delete(t.live, nonce)
			return Expired
		}
		return Live
	}
	var raw [8 + tagLen + 2]byte
	var tag [tagLen]byte
	n, err := base64.StdEncoding.Decode(raw[:], []byte(nonce))
	if err == nil && n == 8+tagLen {
		t.tag(&tag, raw[:8])
	}
	if err != nil || n != 8+tagLen || !hmac.Equal(raw[8:n], tag[:]) {
		return Foreign
	}
	if t.expired(int64(binary.BigEndian.Uint64(raw[:8])), now) {
		return Expired
	}
	return Forgotten
}

func (t *Table) expired(issued int64, now time.Time) bool {
	return issued <= t.epoch || now.Sub(time.Unix(0, issued)) > t.lifetime
}

// Use records a use of a live nonce with nonce count nc and reports
// whether the count is above every count accepted for it before; a use
// that is not is refused and changes nothing. With counted false (a
// digest without nonce count) every use is accepted.
func (t *Table) Use(nonce string, nc uint64, counted bool, now time.Time) bool {
	e, ok := t.live[nonce]
	if !ok {
		return false
	}
	if counted {
		if nc <= e.nc {
			return false
		}
		e.nc = nc
	}
	e.lastUsed = now
	t.live[nonce] = e
	return true
}

// Forget drops every live nonce: from now on they are Forgotten.
func (t *Table) Forget() { clear(t.live) }

// Expire makes every nonce issued so far Expired.
func (t *Table) Expire(now time.Time) {
	ts := now.UnixNano()
	if t.last > ts {
		ts = t.last
	}
	t.epoch = ts
}

// ParseHeader splits the parameters of an "Authorization: Digest ..."
// header. Values may be quoted or not; keys are lower-cased.
func ParseHeader(h string) (map[string]string, bool) {
	params := map[string]string{}
	ok := scan(h, func(key, val string) {
		params[strings.ToLower(key)] = val
	})
	return params, ok
}

// Params are the parameters of a digest Authorization header a device
// checks.
type Params struct {
	Username, Realm, Nonce, URI, Response, QOP, NC, CNonce string
}

// ParseParams parses an "Authorization: Digest ..." header like
// ParseHeader, keeping only the parameters of Params; values without
// escapes are not copied.
func ParseParams(h string) (Params, bool) {
	var p Params
	ok := scan(h, func(key, val string) {
		switch {
		case strings.EqualFold(key, "username"):
			p.Username = val
		case strings.EqualFold(key, "realm"):
			p.Realm = val
		case strings.EqualFold(key, "nonce"):
			p.Nonce = val
		case strings.EqualFold(key, "uri"):
			p.URI = val
		case strings.EqualFold(key, "response"):
			p.Response = val
		case strings.EqualFold(key, "qop"):
			p.QOP = val
		case strings.EqualFold(key, "nc"):
			p.NC = val
		case strings.EqualFold(key, "cnonce"):
			p.CNonce = val
		}
	})
	return p, ok
}

// scan calls fn for each parameter of a digest header, in order (a later
// duplicate wins for the callers), and reports whether the header is
// well-formed.
func scan(h string, fn func(key, val string)) bool {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return false
	}
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return true
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return false
		}
		key := strings.TrimSpace(rest[:eq])
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			escaped := false
			for ; end < len(rest) && rest[end] != '"'; end++ {
				if rest[end] == '\\' && end+1 < len(rest) {
					escaped = true
					end++
				}
			}
			if end >= len(rest) {
				return false
			}
			val = rest[1:end]
			if escaped {
				val = unescape(val)
			}
			rest = rest[end+1:]
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			val = strings.TrimSpace(rest[:end])
			rest = rest[end:]
		}
		fn(key, val)
	}
}

// unescape drops the backslashes of a quoted string's escapes.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MD5Hex is the lower-case hex MD5 of s.
func MD5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// IsHex8 reports whether s is 8 hex digits, the form of a nonce count.
func IsHex8(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// ResponseAuth is the qop=auth response:
// MD5(HA1:nonce:nc:cnonce:auth:HA2) with HA1 = MD5(user:realm:password)
// and HA2 = MD5(method:uri).
func ResponseAuth(user, realm, password, method, uri, nonce, nc, cnonce string) string {
	ha1 := MD5Hex(user + ":" + realm + ":" + password)
	ha2 := MD5Hex(method + ":" + uri)
	return MD5Hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
}

// VerifyAuth reports whether response (hex, either case) is the qop=auth
// response for the parameters, computed without allocating.
func VerifyAuth(user, realm, password, method, uri, nonce, nc, cnonce, response string) bool {
	ha1, ha2 := HA1(user, realm, password), HA2(method, uri)
	return VerifyAuthHA(&ha1, &ha2, nonce, nc, cnonce, response)
}

// HA1 is MD5(user:realm:password) in lower-case hex.
func HA1(user, realm, password string) (ha1 [32]byte) {
	var buf [256]byte
	md5HexInto(&ha1, append(append(append(append(append(buf[:0], user...), ':'), realm...), ':'), password...))
	return ha1
}

// ha2WSMan is HA2 of every WS-Man request, POST of /wsman.
var ha2WSMan = ha2("POST", "/wsman")

// HA2 is MD5(method:uri) in lower-case hex.
func HA2(method, uri string) [32]byte {
	if method == "POST" && uri == "/wsman" {
		return ha2WSMan
	}
	return ha2(method, uri)
}

func ha2(method, uri string) (ha2 [32]byte) {
	var buf [256]byte
	md5HexInto(&ha2, append(append(append(buf[:0], method...), ':'), uri...))
	return ha2
}

// VerifyAuthHA is VerifyAuth from HA1 and HA2.
func VerifyAuthHA(ha1, ha2 *[32]byte, nonce, nc, cnonce, response string) bool {
	var want [32]byte
	var buf [512]byte
	b := append(buf[:0], ha1[:]...)
	b = append(append(b, ':'), nonce...)
	b = append(append(b, ':'), nc...)
	b = append(append(b, ':'), cnonce...)
	b = append(append(b, ":auth:"...), ha2[:]...)
	md5HexInto(&want, b)
	if len(response) != len(want) {
		return false
	}
	var got [32]byte
	for i := range got {
		c := response[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		got[i] = c
	}
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1
}

func md5HexInto(dst *[32]byte, b []byte) {
	sum := md5.Sum(b)
	hex.Encode(dst[:], sum[:])
}

// ResponseNoQop is the response without qop: MD5(HA1:nonce:HA2).
func ResponseNoQop(user, realm, password, method, uri, nonce string) string {
	ha1 := MD5Hex(user + ":" + realm + ":" + password)
	ha2 := MD5Hex(method + ":" + uri)
	return MD5Hex(ha1 + ":" + nonce + ":" + ha2)
}
