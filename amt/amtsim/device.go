package amtsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"
	"time"
)

// Device is one simulated AMT device. Its methods are safe for concurrent
// use with the requests it serves.
type Device struct {
	srv      *Server
	ip       string
	realm    string
	guid     string
	mac      string
	netmask  string
	gateway  string
	httpAddr string
	tlsAddr  string

	defaultHostname             string
	major, minor, hotfix, build int

	// mu guards everything below.
	mu         sync.Mutex
	instances  map[string][]*instance // by class name, in enumeration order
	enums      map[string]*enumeration
	enumSeq    uint32
	msgSeq     uint64
	stats      Stats
	faults     []*queuedFault
	failCount  int
	lockedTill time.Time
	nonceEpoch int64 // nonces issued at or before this time (ns) are stale
	lastNonce  int64
	power      powerModel
	bootState  bootModel
}

// Stats counts what a device has seen.
type Stats struct {
	HTTPRequests  int            // every HTTP request received, 401s included
	Authenticated int            // requests that passed digest (or Identify)
	FailedLogins  int            // logins counted by anti-hammering
	Actions       map[string]int // executed operations by wsa:Action URI ("Identify" for Identify)
}

// enumeration is an open enumeration context holding a snapshot of the
// instances taken at Enumerate time.
type enumeration struct {
	class    *classDef
	items    []*instance
	lastUsed time.Time
}

func newDevice(s *Server, ip net.IP, ver [4]int, netmask net.IPMask) *Device {
	ipStr := ip.String()
	d := &Device{
		srv:       s,
		ip:        ipStr,
		realm:     "Digest:" + derivedHex("realm", ipStr),
		guid:      derivedHex("platform-guid", ipStr),
		major:     ver[0],
		minor:     ver[1],
		hotfix:    ver[2],
		build:     ver[3],
		instances: map[string][]*instance{},
		enums:     map[string]*enumeration{},
		stats:     Stats{Actions: map[string]int{}},
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
	d.power = newPowerModel(&s.opts)
	for _, c := range classTable {
		if c.served(d.major) {
			d.instances[c.name] = c.build(d)
		}
	}
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
func (d *Device) Version() string { return d.srv.opts.Version }

// Hostname returns the current AMT_GeneralSettings.HostName.
func (d *Device) Hostname() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if insts := d.instances["AMT_GeneralSettings"]; len(insts) > 0 {
		h, _ := insts[0].get("HostName")
		return h
	}
	return ""
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
	now := time.Now().UnixNano()
	if d.lastNonce > now {
		now = d.lastNonce
	}
	d.nonceEpoch = now
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
