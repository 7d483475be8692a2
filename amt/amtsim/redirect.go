package amtsim

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/digest"
	"github.com/amtkit/amtkit/amt/amtsim/internal/redir"
	"github.com/amtkit/amtkit/amt/amtsim/internal/redirport"
	"github.com/amtkit/amtkit/amt/amtsim/internal/redirsvc"
)

// The redirection port is internal/redirport: its listeners, session
// slots, authentication, IDE-R sessions and boots, SOL and KVM. This file
// binds it to the device: the listeners of the server, the port of each
// device, and the device's side of redirport.Device.

// listenRedirect binds the redirection ports; called by New.
func (s *Server) listenRedirect(plainIPs, ips []net.IP) (plain, secure []net.Listener, err error) {
	if s.opts.RedirectPort != -1 && len(plainIPs) > 0 {
		if plain, s.redirPort, err = listenAll(plainIPs, s.opts.RedirectPort); err != nil {
			return nil, nil, err
		}
	}
	if s.opts.RedirectTLSPort != -1 {
		if secure, s.redirTLSPort, err = listenAll(ips, s.opts.RedirectTLSPort); err != nil {
			closeListeners(plain)
			return nil, nil, err
		}
	}
	return plain, secure, nil
}

// serveRedirect accepts redirection connections on every listener and
// hands each to the port of the device at its address.
func (s *Server) serveRedirect(ls []net.Listener, tlsConf *tls.Config) {
	if s.redir == nil {
		s.redir = &redirport.Server{
			Lookup: func(a net.Addr) *redirport.Port {
				if ta, ok := a.(*net.TCPAddr); ok {
					if d := s.byIP[normalizeIP(ta.IP)]; d != nil {
						d.mu.Lock()
						defer d.mu.Unlock()
						return portOf(d)
					}
				}
				return nil
			},
			Log:  s.log,
			Done: s.done,
			WG:   &s.wg,
		}
	}
	s.redir.Serve(ls, tlsConf)
}

// closeRedirect stops the redirection listeners and ends every
// redirection connection.
func (s *Server) closeRedirect() {
	if s.redir != nil {
		s.redir.Close()
	}
}

// newRedirection builds the device's redirection service and consent
// (internal/redirsvc); its redirection port (internal/redirport) is made
// when first needed (portOf). Call before the device serves anything.
func (d *Device) newRedirection(prof *profile) {
	d.redirSvc = redirsvc.NewService(redirsvc.ServiceConfig{
		Lock:             &d.mu,
		EnabledState:     prof.redirState,
		ListenerDisabled: prof.listenerOff,
	})
	d.consent = redirsvc.NewConsent(redirsvc.ConsentConfig{
		Lock:      &d.mu,
		Served:    d.major >= optInMinMajor,
		Required:  prof.optInRequired,
		CanModify: prof.provMode != provModeCCM,
		Code:      (*portDevice)(d).optInCode,
		Log:       d.srv.log,
		IP:        d.ip,
	})
}

// portOf returns the device's redirection port, making it when first
// needed (a connection, an IDE-R boot, a wait for one), so that an idle
// device holds none; until then d.redir is nil, which redirport answers
// as a port with no session. Call with d.mu held.
func portOf(d *Device) *redirport.Port {
	if d.redir == nil {
		d.redir = redirport.New(redirport.Config{
			Lock:      &d.mu,
			Device:    (*portDevice)(d),
			Service:   d.redirSvc,
			Consent:   d.consent,
			Log:       d.srv.log,
			IP:        d.ip,
			Major:     d.major,
			Minor:     d.minor,
			Hotfix:    d.hotfix,
			Build:     d.build,
			KeepAlive: d.srv.opts.RedirectKeepAlive,
			ReadLimit: d.srv.opts.IDERReadLimit,
		})
	}
	return d.redir
}

// portDevice is the device as its redirection units see it
// (redirport.Device and the consent code): every method is called with
// the device lock held, takes no lock, and checks that the lock is held.
type portDevice Device

var (
	errRedirLocked     = errors.New("login refused: anti-hammering lockout")
	errRedirNonce      = errors.New("login refused: unknown, expired or forgotten nonce")
	errRedirNonceCount = errors.New("login refused: nonce count not above the last one")
	errRedirPassword   = errors.New("login failed")
	errRedirReadOnly   = errors.New("login refused: read-only account")
)

// CheckDigest verifies a digest response of type 3 or 4. A wrong password
// (or user, realm or uri) is a failed login for the device's
// anti-hammering counter, the one WS-Man uses.
func (pd *portDevice) CheckDigest(f redir.AuthFields, typ byte) error {
	redirsvc.MustHold(&pd.mu)
	d := (*Device)(pd)
	now := time.Now()
	if now.Before(d.lockedTill) {
		return errRedirLocked
	}
	nonces := d.nonceTable()
	if nonces.Check(f.Nonce, now) != digest.Live {
		return errRedirNonce
	}
	acct, known := d.accountMap[f.User]
	if !known || !redir.DigestValid(f, typ, d.realm, acct.User, acct.Password) {
		d.failedLoginLocked(now)
		return errRedirPassword
	}
	nc, _ := strconv.ParseUint(f.NC, 16, 64) // type 4: checked, 8 hex digits
	if !nonces.Use(f.Nonce, nc, typ == redir.AuthDigestQop, now) {
		d.stats.RejectedNonceCounts++
		return errRedirNonceCount
	}
	d.failCount = 0
	if acct.ReadOnly {
		return errRedirReadOnly
	}
	return nil
}

// Challenge returns the realm and a fresh nonce.
func (pd *portDevice) Challenge() (realm, nonce string) {
	redirsvc.MustHold(&pd.mu)
	d := (*Device)(pd)
	return d.realm, d.nonceTable().Issue(time.Now())
}

// redirFaults are the injected fault kinds of the redirection port.
var redirFaults = map[redirport.Fault]FaultKind{
	redirport.FaultBadSequence: FaultRedirBadSequence,
	redirport.FaultReset:       FaultRedirReset,
	redirport.FaultSilent:      FaultRedirSilent,
}

// TakeFault consumes one use of the first queued redirection fault of the
// kind and reports whether there was one.
func (pd *portDevice) TakeFault(f redirport.Fault) bool {
	redirsvc.MustHold(&pd.mu)
	kind := redirFaults[f]
	for i, q := range pd.faults {
		if q.Kind != kind {
			continue
		}
		if q.Times > 0 {
			q.remaining--
			if q.remaining <= 0 {
				pd.faults = append(pd.faults[:i:i], pd.faults[i+1:]...)
			}
		}
		return true
	}
	return false
}

// SOLBanner names the host and, when the last boot had UseSOL, shows the
// BIOS.
func (pd *portDevice) SOLBanner() string {
	redirsvc.MustHold(&pd.mu)
	d := (*Device)(pd)
	d.power.Settle(time.Now())
	var useSOL bool
	var last BootRecord
	if n := len(d.boots); n > 0 {
		last = d.boots[n-1]
		useSOL = last.UseSOL
	}
	host, _ := settings.unit(d).generalSetting("HostName")
	if host == "" {
		host = d.defaultHostname
	}
	banner := "amtsim serial console " + host + "\r\n"
	if useSOL {
		banner += fmt.Sprintf("AMTSIM BIOS %s\r\nMemory test: OK\r\nBoot #%d (%s): booting from %s\r\n",
			d.prof.version, last.Seq, last.Cause, last.Source)
	}
	return banner
}

// IDERBooted sets the boot's source once its IDE-R boot has succeeded.
func (pd *portDevice) IDERBooted(bootSeq int, cd bool) {
	redirsvc.MustHold(&pd.mu)
	src := BootSourceIDERFloppy
	if cd {
		src = BootSourceIDERCD
	}
	if i := bootSeq - 1; i >= 0 && i < len(pd.boots) {
		pd.boots[i].Source = src
	}
}

// optInCode derives the n-th user consent code from the seed and the
// device address, so that runs are reproducible.
func (pd *portDevice) optInCode(n uint64) string {
	k := seededKey(pd.srv.opts.Seed, keyOptIn, ipUint32(net.ParseIP(pd.ip)))
	return fmt.Sprintf("%06d", mix64(k+n)%1000000)
}

// RedirectAddr returns host:port of the redirection listener without TLS
// ("" if disabled).
func (d *Device) RedirectAddr() string { return d.redirAddr }

// RedirectTLSAddr returns host:port of the redirection listener with TLS
// ("" if disabled).
func (d *Device) RedirectTLSAddr() string { return d.redirTLSAddr }

// SOLSessions returns how many SOL sessions the device has started.
func (d *Device) SOLSessions() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.redir.SOLSessions()
}

// KVMSessionOpen reports whether a KVM session holds the device's KVM
// slot.
func (d *Device) KVMSessionOpen() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.redir.KVMOpen()
}

// RedirectPort returns the redirection port without TLS, or -1 when it is
// disabled.
func (s *Server) RedirectPort() int { return portOrOff(s.redirPort) }

// RedirectTLSPort returns the redirection port with TLS, or -1 when it is
// disabled.
func (s *Server) RedirectTLSPort() int { return portOrOff(s.redirTLSPort) }
