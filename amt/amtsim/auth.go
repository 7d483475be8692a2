package amtsim

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
)

// authResult is the outcome of checking a request's credentials.
type authResult int

const (
	authOK        authResult = iota
	authChallenge            // no usable credentials: plain challenge, not counted
	authStale                // correct digest on an expired nonce: stale="true"
	authFailed               // counted by anti-hammering
	authLocked               // refused because the device is locked out
)

// Nonces are stateless: 8 bytes of issue time (Unix ns, big-endian) and a
// 16-byte HMAC-SHA256 tag over the device address and that time, under a
// per-server random key. 24 bytes encode to 32 base64 characters.
const nonceTagLen = 16

func (d *Device) issueNonce() string {
	d.mu.Lock()
	ts := time.Now().UnixNano()
	if ts <= d.lastNonce {
		ts = d.lastNonce + 1
	}
	d.lastNonce = ts
	d.mu.Unlock()
	var raw [8 + nonceTagLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(ts))
	copy(raw[8:], d.nonceTag(raw[:8]))
	return base64.StdEncoding.EncodeToString(raw[:])
}

func (d *Device) nonceTag(ts []byte) []byte {
	m := hmac.New(sha256.New, d.srv.nonceKey[:])
	m.Write([]byte(d.ip))
	m.Write([]byte{0})
	m.Write(ts)
	return m.Sum(nil)[:nonceTagLen]
}

// checkNonce reports whether this device issued the nonce and, if so,
// whether it is stale. Call with d.mu held.
func (d *Device) checkNonce(nonce string, now time.Time) (ours, stale bool) {
	raw, err := base64.StdEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 8+nonceTagLen {
		return false, false
	}
	if !hmac.Equal(raw[8:], d.nonceTag(raw[:8])) {
		return false, false
	}
	ts := int64(binary.BigEndian.Uint64(raw[:8]))
	stale = ts <= d.nonceEpoch || now.Sub(time.Unix(0, ts)) > d.srv.opts.NonceLifetime
	return true, stale
}

// parseDigest splits the parameters of an "Authorization: Digest ..."
// header. Values may be quoted or not.
func parseDigest(h string) (map[string]string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return nil, false
	}
	params := map[string]string{}
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			break
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, false
		}
		key := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest); i++ {
				c := rest[i]
				if c == '\\' && i+1 < len(rest) {
					i++
					b.WriteByte(rest[i])
					continue
				}
				if c == '"' {
					break
				}
				b.WriteByte(c)
			}
			if i >= len(rest) {
				return nil, false
			}
			val = b.String()
			rest = rest[i+1:]
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			val = strings.TrimSpace(rest[:end])
			rest = rest[end:]
		}
		params[key] = val
	}
	return params, true
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func isHex8(s string) bool {
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

// authenticate checks an Authorization header for method and uri and applies
// anti-hammering. The lockout counter is per device and shared by every
// account and by the redirection port.
func (d *Device) authenticate(method, uri, header string) (Account, authResult) {
	if header == "" {
		return Account{}, authChallenge
	}
	p, ok := parseDigest(header)
	if !ok {
		return Account{}, authChallenge
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Before(d.lockedTill) {
		return Account{}, authLocked
	}
	ours, stale := d.checkNonce(p["nonce"], now)
	if !ours {
		return Account{}, authChallenge
	}
	acct, known := d.accountMap[p["username"]]
	valid := known && d.verifyDigest(acct, method, uri, p)
	switch {
	case stale && valid:
		return Account{}, authStale
	case stale:
		return Account{}, authChallenge
	case !valid:
		d.failedLoginLocked(now)
		return Account{}, authFailed
	}
	d.failCount = 0
	return acct, authOK
}

// failedLoginLocked counts a failed login, from WS-Man or the redirection
// port, and starts the lockout after LockoutAfter in a row. Call with d.mu
// held.
func (d *Device) failedLoginLocked(now time.Time) {
	d.failCount++
	d.stats.FailedLogins++
	if d.failCount >= d.srv.opts.LockoutAfter {
		d.failCount = 0
		d.lockedTill = now.Add(d.srv.opts.LockoutDuration)
	}
}

func (d *Device) verifyDigest(acct Account, method, uri string, p map[string]string) bool {
	if p["realm"] != d.realm || p["uri"] != uri || p["qop"] != "auth" {
		return false
	}
	nc, cnonce := p["nc"], p["cnonce"]
	if !isHex8(nc) || cnonce == "" {
		return false
	}
	ha1 := md5hex(acct.User + ":" + d.realm + ":" + acct.Password)
	ha2 := md5hex(method + ":" + uri)
	want := md5hex(ha1 + ":" + p["nonce"] + ":" + nc + ":" + cnonce + ":auth:" + ha2)
	got := strings.ToLower(p["response"])
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
