package amtsim

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Options configures a simulator. The zero value serves one device on
// 127.0.0.1 with free HTTP and TLS ports.
type Options struct {
	// Addr is the IP address of a single device; default "127.0.0.1".
	Addr string
	// DevicesCIDR, if set, creates one device per host address of the
	// range (network and broadcast addresses excluded for prefixes shorter
	// than /31); Addr is then ignored. Only IPv4 ranges are supported.
	DevicesCIDR string
	// HTTPPort is the WS-Man port without TLS: 0 picks a free port (shared
	// by every device of a fleet), -1 disables plain HTTP.
	HTTPPort int
	// TLSPort is the WS-Man port with TLS, with the same semantics.
	TLSPort int
	// User and Password form the default (administrator) account;
	// defaults "admin" / "P@ssw0rd1".
	User, Password string
	// Accounts are further digest accounts.
	Accounts []Account
	// Version is the firmware version "maj.min.hotfix.build"; default
	// "11.8.50.3425".
	Version string
	// SKU is reported by CIM_SoftwareIdentity "Sku"; default 16392.
	SKU int
	// ProvisioningState and ProvisioningMode of
	// AMT_SetupAndConfigurationService; defaults 2 (post-provisioning) and
	// 1 (admin control mode). Use a negative value for 0.
	ProvisioningState, ProvisioningMode int
	// DomainName is AMT_GeneralSettings.DomainName; default empty.
	DomainName string
	// LockoutAfter is the number of consecutive failed logins after which
	// the device refuses every login; default 3.
	LockoutAfter int
	// LockoutDuration is how long the lockout lasts; default 60s.
	LockoutDuration time.Duration
	// NonceLifetime is how long a digest nonce stays fresh; default 5m.
	NonceLifetime time.Duration
	// EnumerationTimeout is how long an idle enumeration context lives;
	// default 60s.
	EnumerationTimeout time.Duration
	// MaxEnumerations bounds the open enumeration contexts per device; the
	// least recently used one is dropped beyond it. Default 16.
	MaxEnumerations int
	// TLSCertificate is the server certificate. Default: a self-signed
	// RSA-2048 certificate, generated once per process, for 127.0.0.1, ::1,
	// localhost and the device addresses (up to 1024 devices).
	TLSCertificate *tls.Certificate
	// LegacyTLS serves only TLS 1.0/1.1 with RSA key exchange suites, like
	// old firmware.
	LegacyTLS bool
	// ClientCAs, if set, makes TLS require a client certificate that
	// chains to this pool (mutual TLS).
	ClientCAs *x509.CertPool
	// Logger receives request logs; nil discards them. Passwords and
	// Authorization headers are never logged.
	Logger *slog.Logger

	// PowerState is the initial DMTF PowerState of every device: 0 or 2
	// on, 4 sleep (S3), 7 hibernate (S4), 8 off (S5).
	PowerState int
	// TransitionTime is how long a requested power change takes. While it
	// lasts the device reports the old PowerState and the target in
	// TransitioningToPowerState, and refuses further changes as busy.
	// Default 0: changes complete immediately.
	TransitionTime time.Duration
	// NoOSAgent simulates hosts without the OS agent (LMS) that graceful
	// shutdown/reset, sleep, hibernate and OS power saving need. The zero
	// value has the agent present.
	NoOSAgent bool
	// NoOSPowerSaving simulates platforms without OS power saving (no
	// Modern Standby): IPS_PowerManagementService reports
	// OSPowerSavingState 1 (unsupported).
	NoOSPowerSaving bool
	// BootCapabilities overrides AMT_BootCapabilities flags by property
	// name, e.g. {"BIOSPause": true, "SOL": false}.
	BootCapabilities map[string]bool
}

// Account is a digest account of the simulated devices.
type Account struct {
	User, Password string
	// ReadOnly accounts may Get, Enumerate and Pull but are denied Put,
	// Create, Delete and method invocations.
	ReadOnly bool
}

const (
	defaultAddr     = "127.0.0.1"
	defaultUser     = "admin"
	defaultPassword = "P@ssw0rd1"
	defaultVersion  = "11.8.50.3425"
	defaultSKU      = 16392
	maxDevices      = 1 << 16
	maxSANDevices   = 1024
	maxBodySize     = 256 << 10
)

// normalize applies defaults and validates; it returns the device
// addresses.
func (o *Options) normalize() ([]net.IP, error) {
	if o.Addr == "" {
		o.Addr = defaultAddr
	}
	if o.User == "" {
		o.User = defaultUser
	}
	if o.Password == "" {
		o.Password = defaultPassword
	}
	if o.Version == "" {
		o.Version = defaultVersion
	}
	if _, err := parseVersion(o.Version); err != nil {
		return nil, err
	}
	if o.SKU == 0 {
		o.SKU = defaultSKU
	}
	switch {
	case o.ProvisioningState == 0:
		o.ProvisioningState = 2
	case o.ProvisioningState < 0:
		o.ProvisioningState = 0
	}
	switch {
	case o.ProvisioningMode == 0:
		o.ProvisioningMode = 1
	case o.ProvisioningMode < 0:
		o.ProvisioningMode = 0
	}
	if o.LockoutAfter <= 0 {
		o.LockoutAfter = 3
	}
	if o.LockoutDuration <= 0 {
		o.LockoutDuration = 60 * time.Second
	}
	if o.NonceLifetime <= 0 {
		o.NonceLifetime = 5 * time.Minute
	}
	if o.EnumerationTimeout <= 0 {
		o.EnumerationTimeout = 60 * time.Second
	}
	if o.MaxEnumerations <= 0 {
		o.MaxEnumerations = 16
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch o.PowerState {
	case 0:
		o.PowerState = powerOn
	case powerOn, powerSleep, powerHibernate, powerOff:
	default:
		return nil, fmt.Errorf("amtsim: invalid initial power state %d (want 2, 4, 7 or 8)", o.PowerState)
	}
	if o.TransitionTime < 0 {
		return nil, errors.New("amtsim: negative transition time")
	}
	for name := range o.BootCapabilities {
		if !isBootCapabilityFlag(name) {
			return nil, fmt.Errorf("amtsim: unknown boot capability %q", name)
		}
	}
	for _, p := range []int{o.HTTPPort, o.TLSPort} {
		if p < -1 || p > 65535 {
			return nil, fmt.Errorf("amtsim: invalid port %d", p)
		}
	}
	if o.HTTPPort == -1 && o.TLSPort == -1 {
		return nil, errors.New("amtsim: both HTTP and TLS are disabled")
	}
	seen := map[string]bool{o.User: true}
	for _, a := range o.Accounts {
		if a.User == "" || a.Password == "" {
			return nil, errors.New("amtsim: account with empty user or password")
		}
		if seen[a.User] {
			return nil, fmt.Errorf("amtsim: duplicate account %q", a.User)
		}
		seen[a.User] = true
	}
	if o.DevicesCIDR == "" {
		ip := net.ParseIP(o.Addr)
		if ip == nil {
			return nil, fmt.Errorf("amtsim: invalid address %q", o.Addr)
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		return []net.IP{ip}, nil
	}
	return cidrHosts(o.DevicesCIDR)
}

// cidrHosts lists the host addresses of an IPv4 range.
func cidrHosts(cidr string) ([]net.IP, error) {
	_, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("amtsim: devices CIDR: %w", err)
	}
	base := ipnet.IP.To4()
	if base == nil {
		return nil, fmt.Errorf("amtsim: devices CIDR %q: only IPv4 ranges are supported", cidr)
	}
	ones, _ := ipnet.Mask.Size()
	size := uint64(1) << (32 - ones)
	first, last := uint64(0), size-1
	if ones < 31 {
		first, last = 1, size-2
	}
	if last-first+1 > maxDevices {
		return nil, fmt.Errorf("amtsim: devices CIDR %q has more than %d hosts", cidr, maxDevices)
	}
	start := uint64(base[0])<<24 | uint64(base[1])<<16 | uint64(base[2])<<8 | uint64(base[3])
	ips := make([]net.IP, 0, last-first+1)
	for i := first; i <= last; i++ {
		v := start + i
		ips = append(ips, net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4())
	}
	return ips, nil
}

// parseVersion splits "maj.min.hotfix.build".
func parseVersion(v string) ([4]int, error) {
	var out [4]int
	parts := strings.Split(v, ".")
	if len(parts) != 4 {
		return out, fmt.Errorf("amtsim: version %q is not maj.min.hotfix.build", v)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, fmt.Errorf("amtsim: version %q is not maj.min.hotfix.build", v)
		}
		out[i] = n
	}
	return out, nil
}
