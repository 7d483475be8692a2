package amtsim

import (
	"strconv"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/digest"
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

// nonceTable returns the device's nonce table. Call with d.mu held.
func (d *Device) nonceTable() *digest.Table {
	if d.nonces == nil {
		d.nonces = digest.NewTableKey(d.srv.nonceMAC, d.ip, d.srv.opts.NonceLifetime)
	}
	return d.nonces
}

func (d *Device) issueNonce() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nonceTable().Issue(time.Now())
}

// forgetNoncesLocked drops the nonce table: every nonce issued so far is
// answered with 401 stale="false" from now on. Call with d.mu held.
func (d *Device) forgetNoncesLocked() { d.nonceTable().Forget() }

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
	p, ok := digest.ParseParams(header)
	if !ok {
		return Account{}, authChallenge
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Before(d.lockedTill) {
		return Account{}, authLocked
	}
	nonces := d.nonceTable()
	switch nonces.Check(p.Nonce, now) {
	case digest.Foreign, digest.Expired:
		d.stats.StaleNonces++
		return Account{}, authStale
	case digest.Forgotten:
		d.stats.ForgottenNonces++
		return Account{}, authChallenge
	}
	acct, known := d.accountMap[p.Username]
	if !known || !d.verifyDigest(acct, method, uri, &p) {
		d.failedLoginLocked(now)
		return Account{}, authFailed
	}
	nc, _ := strconv.ParseUint(p.NC, 16, 64) // verifyDigest checked 8 hex digits
	if !nonces.Use(p.Nonce, nc, true, now) {
		d.stats.RejectedNonceCounts++
		return Account{}, authChallenge
	}
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

func (d *Device) verifyDigest(acct Account, method, uri string, p *digest.Params) bool {
	if p.Realm != d.realm || p.URI != uri || p.QOP != "auth" {
		return false
	}
	if !digest.IsHex8(p.NC) || p.CNonce == "" {
		return false
	}
	ha1, ha2 := d.ha1.get(acct.User, d.realm, acct.Password), digest.HA2(method, uri)
	return digest.VerifyAuthHA(&ha1, &ha2, p.Nonce, p.NC, p.CNonce, p.Response)
}

// ha1Cache keeps the HA1 of the account that logged in last, so that a
// client's requests after the first skip one MD5.
type ha1Cache struct {
	user, realm, password string
	ha1                   [32]byte
}

func (c *ha1Cache) get(user, realm, password string) [32]byte {
	if c.user != user || c.realm != realm || c.password != password || c.user == "" {
		*c = ha1Cache{user: user, realm: realm, password: password, ha1: digest.HA1(user, realm, password)}
	}
	return c.ha1
}
