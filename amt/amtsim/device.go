package amtsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/host"
	"github.com/amtkit/amtkit/amt/amtsim/internal/redirport"
	"github.com/amtkit/amtkit/amt/amtsim/internal/redirsvc"
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/amtkit/amtkit/amt/amtsim/internal/sysdefense"

	"github.com/amtkit/amtkit/amt/amtsim/internal/digest"
	"github.com/amtkit/amtkit/amt/amtsim/internal/rmcp"
)

// Device is one simulated AMT device. Its methods are safe for concurrent
// use with the requests it serves.
type Device struct {
	srv  *Server
	prof *profile
	// identity is the device's address, realm, GUID, MAC and firmware
	// version (identity.go); fixed at creation.
	identity
	httpAddr string
	tlsAddr  string
	rmcpAddr string // bound presence-ping socket, even when pings are ignored

	redirAddr    string
	redirTLSAddr string

	// mu guards everything below.
	mu         sync.Mutex
	accounts   []Account          // digest accounts, in configuration order
	accountMap map[string]Account // by user name; never modified in place
	enums      map[string]*enumeration
	enumSeq    uint32
	msgSeq     uint64
	stats      Stats
	faults     []*queuedFault
	failCount  int
	lockedTill time.Time
	nonces     *digest.Table // digest nonces (internal/digest)
	authCount  int           // successful digest logins
	// forgetEvery makes the device forget its nonces after every
	// forgetEvery-th successful login (0: never).
	forgetEvery int
	power       *host.Machine // the simulated host (internal/host)
	boots       []BootRecord  // every boot of the host, in order
	redirMarked bool          // SetRedirectionSession

	bootCh chan struct{} // closed and replaced when the host boots

	// The redirection family, each unit guarded by d.mu (see their
	// packages): the redirection port's sessions and IDE-R boots
	// (internal/redirport; nil until first needed, see portOf),
	// AMT_RedirectionService and the KVM access point, and user consent
	// (internal/redirsvc).
	redir    *redirport.Port
	redirSvc *redirsvc.Service
	consent  *redirsvc.Consent

	defense       *sysdefense.Unit // System Defense; has its own lock
	defenseOffset atomic.Int64     // AdvanceDefenseClock, in ns
	traffic       []trafficFlow    // host traffic trickle; immutable

	// store holds the instances of the classes served from the store
	// (lazy.go); units is the class family units' own state
	// (classes.go): the logs and the clock have their own locks, the boot
	// configuration is guarded by mu like the store.
	store instanceStore
	units familyUnits

	// acceptUnprovisioned: a device in pre-provisioning takes writes
	// and methods like a provisioned one (SetRefuseWhenUnprovisioned).
	acceptUnprovisioned bool
}

// Stats counts what a device has seen.
type Stats struct {
	HTTPRequests  int            // every HTTP request received, 401s included
	Authenticated int            // requests that passed digest (or Identify)
	FailedLogins  int            // logins counted by anti-hammering
	Actions       map[string]int // executed operations by wsa:Action URI ("Identify" for Identify)
	RMCPPings     int            // RMCP presence pings answered with a pong
	// StaleNonces counts 401s with stale="true": a nonce the device never
	// issued or one that expired.
	StaleNonces int
	// ForgottenNonces counts 401s with stale="false" to a nonce the device
	// issued and then forgot (ForgetNonces, SetForgetNoncesEvery).
	ForgottenNonces int
	// RejectedNonceCounts counts 401s to a correct digest whose nonce
	// count was not above the last one accepted for its nonce.
	RejectedNonceCounts int
}

// enumeration is an open enumeration context holding a snapshot of the
// instances taken at Enumerate time.
type enumeration struct {
	class    *classDef
	items    []entry
	lastUsed time.Time
	mode     soap.Mode
}

// unprovisionedRealm is the digest realm of a device in pre-provisioning:
// four hex digits and 28 zeros, as the captures of unprovisioned devices
// show (Digest:A407… on the AMT 11.8 device, Digest:D29C… on an older
// one). The four digits are derived from the address like every identity
// [modelled: two captures show two different prefixes; what the firmware
// derives them from is unknown].
func unprovisionedRealm(ip string) string {
	return "Digest:" + derivedHex("realm", ip)[:4] + strings.Repeat("0", 28)
}

func newDevice(s *Server, ip net.IP, prof *profile, accountMap map[string]Account, netmask net.IPMask) *Device {
	ipStr := ip.String()
	d := &Device{
		srv:  s,
		prof: prof,
		identity: identity{
			ip:     ipStr,
			realm:  "Digest:" + derivedHex("realm", ipStr),
			guid:   derivedHex("platform-guid", ipStr),
			major:  prof.ver[0],
			minor:  prof.ver[1],
			hotfix: prof.ver[2],
			build:  prof.ver[3],
		},
		accounts:   prof.accounts,
		accountMap: accountMap,
		enums:      map[string]*enumeration{},
		stats:      Stats{Actions: map[string]int{}},
		bootCh:     make(chan struct{}),
	}
	if prof.provState == 0 {
		d.realm = unprovisionedRealm(ipStr)
	}
	d.defaultHostname = "amtsim-" + strings.NewReplacer(".", "-", ":", "-").Replace(ipStr)
	raw := ip.To16()[12:16]
	d.mac = fmt.Sprintf("a4-ae-%02x-%02x-%02x-%02x", raw[0], raw[1], raw[2], raw[3])
	if v4 := ip.To4(); v4 != nil {
		if netmask == nil || len(netmask) != 4 {
			netmask = net.CIDRMask(24, 32)
		}
		d.netmask = net.IP(netmask).String()
		gw := v4.Mask(netmask)
		gw[3] |= 1
		d.gateway = gw.String()
	} else {
		d.netmask = "255.255.255.0"
		d.gateway = "0.0.0.0"
	}
	d.store = newInstanceStore(d)
	d.units.logs.Init(capturedEventRecords, capturedAuditRecords)
	d.power = d.newHost(prof)
	d.newRedirection(prof)
	// The options were checked by Options.normalize.
	_ = d.newSystemDefense(prof.defense)
	d.traffic = prof.traffic
	// Class instances are built on first use (instanceStore.of).
	return d
}

// derivedHex returns 32 upper-case hex digits derived from the device
// address, so that every run gives the same device the same identity.
func derivedHex(purpose, ip string) string {
	sum := sha256.Sum256([]byte("amtsim/" + purpose + "/" + ip))
	return strings.ToUpper(hex.EncodeToString(sum[:16]))
}

// IP returns the device's address.
func (d *Device) IP() string { return d.ip }

// HTTPAddr returns host:port of the plain WS-Man listener ("" if disabled).
func (d *Device) HTTPAddr() string { return d.httpAddr }

// TLSAddr returns host:port of the TLS WS-Man listener ("" if disabled).
func (d *Device) TLSAddr() string { return d.tlsAddr }

// Realm returns the digest realm, "Digest:" and 32 upper-case hex digits.
func (d *Device) Realm() string { return d.realm }

// PlatformGUID returns CIM_ComputerSystemPackage.PlatformGUID.
func (d *Device) PlatformGUID() string { return d.guid }

// Version returns the firmware version "maj.min.hotfix.build".
func (d *Device) Version() string { return d.prof.version }

// SKU returns the firmware SKU reported by CIM_SoftwareIdentity "Sku".
func (d *Device) SKU() int { return d.prof.sku }

// ProvisioningState returns AMT_SetupAndConfigurationService.ProvisioningState:
// 0 pre-provisioning, 1 in-provisioning, 2 post-provisioning.
func (d *Device) ProvisioningState() int { return d.prof.provState }

// ProvisioningMode returns AMT_SetupAndConfigurationService.ProvisioningMode:
// 1 admin control mode, 4 client control mode.
func (d *Device) ProvisioningMode() int { return d.prof.provMode }

// TLSOnly reports whether the device serves WS-Man over TLS only, with
// nothing listening on the plain HTTP port.
func (d *Device) TLSOnly() bool { return d.httpAddr == "" }

// Group returns the name of the device's fleet group ("" without a fleet
// spec).
func (d *Device) Group() string { return d.prof.group }

// RMCPEnabled reports whether the device answers RMCP presence pings now:
// RMCP is served, the firmware is AMT 4 or later and
// AMT_GeneralSettings.RmcpPingResponseEnabled is true.
func (d *Device) RMCPEnabled() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rmcpEnabledLocked()
}

func (d *Device) rmcpEnabledLocked() bool {
	if d.rmcpAddr == "" || d.major < rmcp.MinMajor {
		return false
	}
	v, _ := settings.unit(d).generalSetting("RmcpPingResponseEnabled")
	return v == "true"
}

// RMCPAddr returns host:port where the device answers presence pings, or
// "" when it does not answer them.
func (d *Device) RMCPAddr() string {
	if !d.RMCPEnabled() {
		return ""
	}
	return d.rmcpAddr
}

// Accounts returns a copy of the device's digest accounts.
func (d *Device) Accounts() []Account {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.accounts)
}

// SetAccounts replaces the device's digest accounts, for tests that need
// machines accepting different passwords. A later account replaces an
// earlier one of the same user name. The anti-hammering state is kept.
func (d *Device) SetAccounts(accounts []Account) {
	accts := slices.Clone(accounts)
	m := accountIndex(accts)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.accounts, d.accountMap = accts, m
}

func accountIndex(accts []Account) map[string]Account {
	m := make(map[string]Account, len(accts))
	for _, a := range accts {
		m[a.User] = a
	}
	return m
}

// Hostname returns the current AMT_GeneralSettings.HostName.
func (d *Device) Hostname() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	h, _ := settings.unit(d).generalSetting("HostName")
	return h
}

// SetRefuseWhenUnprovisioned sets whether a device in pre-provisioning
// refuses writes and methods with INVALID_PROVISIONING_STATE (the
// default) or takes them like a provisioned device.
func (d *Device) SetRefuseWhenUnprovisioned(refuse bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.acceptUnprovisioned = !refuse
}

// Stats returns a snapshot of the device counters.
func (d *Device) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.stats
	st.Actions = maps.Clone(d.stats.Actions)
	return st
}

// ExpireNonces makes every nonce issued so far stale: a request using one
// gets a 401 with stale="true".
func (d *Device) ExpireNonces() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nonceTable().Expire(time.Now())
}

// ForgetNonces makes the device forget every nonce it issued so far, as
// firmware may at any time: the next request reusing one gets 401 with
// stale="false" (not counted as a failed login) and a fresh challenge.
func (d *Device) ForgetNonces() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forgetNoncesLocked()
}

// SetForgetNoncesEvery makes the device forget its nonces after every n-th
// successful digest login (n <= 0 turns it off); see ForgetNonces and
// Options.FaultForgetNoncesEvery.
func (d *Device) SetForgetNoncesEvery(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forgetEvery = max(n, 0)
	d.authCount = 0
}

// LockedOut reports whether anti-hammering currently refuses all logins.
func (d *Device) LockedOut() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Now().Before(d.lockedTill)
}

// nextMessageID returns the next firmware-style response MessageID. Call
// with d.mu held.
func (d *Device) nextMessageID() string {
	d.msgSeq++
	return fmt.Sprintf("uuid:00000000-8086-8086-8086-%012X", d.msgSeq)
}

// nextEnumerationID returns a context ID shaped like the firmware's: the
// counter in little-endian byte order, then zero groups. Call with d.mu held.
func (d *Device) nextEnumerationID() string {
	d.enumSeq++
	n := d.enumSeq
	return fmt.Sprintf("%02X%02X%02X%02X-0000-0000-0000-000000000000", byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
}
