package amtsim

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// authResult is the outcome of checking a request's credentials.
type authResult int

const (
	authOK        authResult = iota
	authChallenge            // no usable credentials, a forgotten nonce or a replayed count: stale="false", not counted
	authStale                // a nonce never issued or expired: stale="true", not counted
	authFailed               // counted by anti-hammering
	authLocked               // refused because the device is locked out
)

// Nonces carry 8 bytes of issue time (Unix ns, big-endian) and a 16-byte
// HMAC-SHA256 tag over the device address and that time, under a
// per-server random key; 24 bytes encode to 32 base64 characters. The tag
// tells a nonce the device issued from one it never issued. Besides, each
// device keeps a table of its live nonces with the highest nonce count
// accepted for each, so that a repeated or lower count is refused; a nonce
// the device issued that is no longer in the table (forgotten on demand, or
// the least recently used one dropped when the table is full) is answered
// like firmware that dropped its nonces: 401 with stale="false".
const (
	nonceTagLen   = 16
	maxLiveNonces = 128
)

// liveNonce is an entry of a device's nonce table.
type liveNonce struct {
	nc       uint64 // highest nonce count accepted (0: none yet)
	lastUsed time.Time
}

// nonceStatus classifies the nonce of a request.
type nonceStatus int

const (
	nonceLive      nonceStatus = iota // issued, fresh and in the table
	nonceForeign                      // never issued by this device
	nonceExpired                      // issued, older than NonceLifetime or expired by ExpireNonces
	nonceForgotten                    // issued and fresh, but no longer in the table
)

func (d *Device) issueNonce() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	ts := now.UnixNano()
	if ts <= d.lastNonce {
		ts = d.lastNonce + 1
	}
	d.lastNonce = ts
	var raw [8 + nonceTagLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(ts))
	copy(raw[8:], d.nonceTag(raw[:8]))
	n := base64.StdEncoding.EncodeToString(raw[:])
	if d.nonces == nil {
		d.nonces = map[string]*liveNonce{}
	}
	if len(d.nonces) >= maxLiveNonces {
		var oldest string
		var oldestT time.Time
		for k, e := range d.nonces {
			if oldest == "" || e.lastUsed.Before(oldestT) {
				oldest, oldestT = k, e.lastUsed
			}
		}
		delete(d.nonces, oldest)
	}
	d.nonces[n] = &liveNonce{lastUsed: now}
	return n
}

func (d *Device) nonceTag(ts []byte) []byte {
	m := hmac.New(sha256.New, d.srv.nonceKey[:])
	m.Write([]byte(d.ip))
	m.Write([]byte{0})
	m.Write(ts)
	return m.Sum(nil)[:nonceTagLen]
}

// checkNonce classifies a nonce and returns its table entry when it is
// live. Call with d.mu held.
func (d *Device) checkNonce(nonce string, now time.Time) (nonceStatus, *liveNonce) {
	raw, err := base64.StdEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 8+nonceTagLen || !hmac.Equal(raw[8:], d.nonceTag(raw[:8])) {
		return nonceForeign, nil
	}
	ts := int64(binary.BigEndian.Uint64(raw[:8]))
	if ts <= d.nonceEpoch || now.Sub(time.Unix(0, ts)) > d.srv.opts.NonceLifetime {
		delete(d.nonces, nonce)
		return nonceExpired, nil
	}
	e := d.nonces[nonce]
	if e == nil {
		return nonceForgotten, nil
	}
	return nonceLive, e
}

// forgetNoncesLocked drops the nonce table: every nonce issued so far is
// answered with 401 stale="false" from now on. Call with d.mu held.
func (d *Device) forgetNoncesLocked() {
	clear(d.nonces)
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
// account, by both WS-Man ports and by the redirection ports.
//
// A nonce the device never issued, or one that expired, gets stale="true"
// and is not counted as a failed login. A correct digest over a nonce the
// device forgot, or with a nonce count not above the last one accepted for
// the nonce, gets stale="false" and is not counted either. A wrong digest
// over a live nonce is a failed login.
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
	status, entry := d.checkNonce(p["nonce"], now)
	switch status {
	case nonceForeign, nonceExpired:
		d.stats.StaleNonces++
		return Account{}, authStale
	case nonceForgotten:
		d.stats.ForgottenNonces++
		return Account{}, authChallenge
	}
	acct, known := d.accountMap[p["username"]]
	if !known || !d.verifyDigest(acct, method, uri, p) {
		d.failedLoginLocked(now)
		return Account{}, authFailed
	}
	nc, _ := strconv.ParseUint(p["nc"], 16, 64) // verifyDigest checked 8 hex digits
	if nc <= entry.nc {
		d.stats.RejectedNonceCounts++
		return Account{}, authChallenge
	}
	entry.nc, entry.lastUsed = nc, now
	d.failCount = 0
	d.authCount++
	if d.forgetEvery > 0 && d.authCount%d.forgetEvery == 0 {
		d.forgetNoncesLocked()
	}
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
