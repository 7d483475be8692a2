package amtsim

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// Options configures a simulator. The zero value serves one device on
// 127.0.0.1 with free HTTP, TLS and RMCP ports.
type Options struct {
	// Addr is the IP address of a single device; default "127.0.0.1".
	Addr string
	// DevicesCIDR, if set, creates one device per host address of the
	// range (network and broadcast addresses excluded for prefixes shorter
	// than /31); Addr is then ignored. Only IPv4 ranges of up to 65,536
	// hosts are supported.
	DevicesCIDR string
	// DeviceCount, with DevicesCIDR, places only this many devices in the
	// range, spread over it deterministically from Seed; the other
	// addresses have nothing listening at all. 0 means every address.
	DeviceCount int
	// EmptyFraction, with DevicesCIDR, leaves this fraction of the
	// addresses (rounded to the nearest whole number of addresses) without
	// a device, chosen deterministically from Seed. It must be in [0, 1)
	// and cannot be combined with DeviceCount.
	EmptyFraction float64
	// Seed seeds every deterministic choice: device placement and group
	// assignment. Default (0) 1. Device identities (realm, GUID, MAC, host
	// name) depend on the address only.
	Seed int64
	// Fleet, if set, describes a mix of device kinds; its groups override
	// the per-device settings below for their devices.
	Fleet *FleetSpec
	// HTTPPort is the WS-Man port without TLS: 0 picks a free port (shared
	// by every device of a fleet), -1 disables plain HTTP.
	HTTPPort int
	// TLSPort is the WS-Man port with TLS, with the same semantics.
	TLSPort int
	// RMCPPort is the UDP port answering ASF RMCP presence pings: 0 picks
	// a free port (shared by every device of a fleet), -1 disables RMCP.
	// Real firmware uses 623.
	RMCPPort int
	// RedirectPort is the redirection port (IDE-R and SOL) without TLS,
	// 16994 on real firmware: 0 picks a free port (shared by every device
	// of a fleet), -1 disables it. TLS-only devices do not listen on it.
	RedirectPort int
	// RedirectTLSPort is the redirection port with TLS (16995), with the
	// same semantics and the WS-Man TLS certificate and settings.
	RedirectTLSPort int
	// IDERReadLimit is how much of the medium (in bytes, rounded up to
	// whole blocks) the simulated BIOS reads after the boot image, from
	// the start of the medium: 0 means 1 MiB, -1 the whole medium.
	IDERReadLimit int64
	// RedirectKeepAlive is the interval of the KEEPALIVE_PING and
	// HEARTBEAT messages the device sends on IDE-R sessions (alternately):
	// 0 uses the heartbeat the console asked for in OPEN_SESSION (20s if
	// it asked for none), a negative value sends none. The device closes a
	// session whose pings stay unanswered for 4 intervals, at least 200ms
	// with this option set and at least 5s otherwise.
	RedirectKeepAlive time.Duration
	// User and Password form the default (administrator) account;
	// defaults "admin" / "P@ssw0rd1".
	User, Password string
	// Accounts are further digest accounts. A fleet group with accounts
	// replaces User, Password and Accounts for its devices.
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
	// TransitionTime is how long a requested power change takes before
	// it is applied; until then the device reports the old PowerState.
	// Default 0: changes are applied immediately.
	TransitionTime time.Duration
	// NoOSAgent simulates hosts without the OS agent (LMS) that graceful
	// shutdown/reset, sleep, hibernate and OS power saving need. The zero
	// value has the agent present.
	NoOSAgent bool
	// NoOSPowerSaving simulates platforms without OS power saving (no
	// Modern Standby): IPS_PowerManagementService reports
	// OSPowerSavingState 1 (unsupported).
	NoOSPowerSaving bool
	// PowerStateLost simulates the management engine having lost the
	// host's power state (help desks know it as "FromState detected as
	// unknown"): PowerState reads 0 (Unknown) and every
	// RequestPowerStateChange answers 2 (Unknown/Unspecified Error) until
	// the OS reboots the machine once (Device.RebootFromOS).
	PowerStateLost bool
	// BootCapabilities overrides AMT_BootCapabilities flags by property
	// name, e.g. {"BIOSPause": true, "SOL": false}.
	BootCapabilities map[string]bool

	// RedirectionState is the initial AMT_RedirectionService.EnabledState:
	// 32768 plus 1 for IDE-R and 2 for SOL. Default (0) 32771, both
	// enabled.
	RedirectionState int
	// ListenerDisabled starts AMT_RedirectionService.ListenerEnabled
	// false: the redirection port refuses every session until a Put opens
	// the listener.
	ListenerDisabled bool
	// OptInRequired is IPS_OptInService.OptInRequired of devices in admin
	// control mode: 0 none (default), 1 KVM only, 4294967295 everything
	// (IDE-R, SOL and the boot options too). Client control mode always
	// requires consent for everything.
	OptInRequired int64

	// FaultAnswerDelay, if positive, makes every device execute each
	// request matching FaultMethod and then wait this long before
	// answering (a FaultDelayAnswer fault queued on every device at
	// start), so that a client can be shown a change the device made
	// while the client's deadline expired.
	FaultAnswerDelay time.Duration
	// FaultMethod selects the requests FaultAnswerDelay affects, like
	// Fault.Action: a method or operation name such as
	// "RequestPowerStateChange" or "Get", or a full action URI. Empty
	// matches every authenticated request.
	FaultMethod string
	// FaultForgetNoncesEvery, if positive, makes every device forget its
	// digest nonces after every n-th successful login, as firmware may at
	// any time: the next request reusing a nonce gets 401 with
	// stale="false". See Device.ForgetNonces.
	FaultForgetNoncesEvery int
	// Latency delays every HTTP answer (401s included) of every device by
	// this long, plus a uniformly random extra of up to LatencyJitter, as
	// a device across a network answers; a fleet group's latency replaces
	// both. Default 0.
	Latency, LatencyJitter time.Duration
	// SystemDefense configures the modelled parts of System Defense:
	// limits, status codes and the length of a timeout minute.
	SystemDefense *SystemDefenseOptions
	// HostTraffic is a trickle of simulated host traffic every device
	// sends through System Defense.
	HostTraffic []HostTraffic
}

// Account is a digest account of the simulated devices.
type Account struct {
	User     string `json:"user"`
	Password string `json:"password"`
	// ReadOnly accounts may Get, Enumerate and Pull but are denied Put,
	// Create, Delete and method invocations.
	ReadOnly bool `json:"read_only,omitempty"`
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
	if o.SKU < 0 {
		return nil, fmt.Errorf("amtsim: negative SKU %d", o.SKU)
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
	if o.FaultAnswerDelay < 0 || o.FaultForgetNoncesEvery < 0 {
		return nil, errors.New("amtsim: negative fault answer delay or forget-nonces interval")
	}
	if o.FaultMethod != "" && o.FaultAnswerDelay == 0 {
		return nil, errors.New("amtsim: a fault method needs a fault answer delay")
	}
	if o.TransitionTime < 0 {
		return nil, errors.New("amtsim: negative transition time")
	}
	if o.Latency < 0 || o.LatencyJitter < 0 {
		return nil, errors.New("amtsim: negative latency or latency jitter")
	}
	for name := range o.BootCapabilities {
		if !isBootCapabilityFlag(name) {
			return nil, fmt.Errorf("amtsim: unknown boot capability %q", name)
		}
	}
	var optIn *int64
	if o.OptInRequired != 0 {
		optIn = &o.OptInRequired
	}
	if err := validateRedirection(o.RedirectionState, optIn); err != nil {
		return nil, fmt.Errorf("amtsim: %w", err)
	}
	if err := o.SystemDefense.validate(); err != nil {
		return nil, err
	}
	if _, err := parseTraffic(o.HostTraffic); err != nil {
		return nil, fmt.Errorf("amtsim: %w", err)
	}
	if o.IDERReadLimit < -1 {
		return nil, fmt.Errorf("amtsim: invalid IDE-R read limit %d", o.IDERReadLimit)
	}
	for _, p := range []int{o.HTTPPort, o.TLSPort, o.RMCPPort, o.RedirectPort, o.RedirectTLSPort} {
		if p < -1 || p > 65535 {
			return nil, fmt.Errorf("amtsim: invalid port %d", p)
		}
	}
	if o.HTTPPort == -1 && o.TLSPort == -1 {
		return nil, errors.New("amtsim: both HTTP and TLS are disabled")
	}
	if err := validateAccounts(append([]Account{{User: o.User, Password: o.Password}}, o.Accounts...)); err != nil {
		return nil, fmt.Errorf("amtsim: %w", err)
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Fleet != nil {
		if err := o.Fleet.validate(); err != nil {
			return nil, err
		}
		for _, g := range o.Fleet.Groups {
			if o.TLSPort == -1 && g.TLSOnly {
				return nil, fmt.Errorf("amtsim: fleet group %q is TLS-only but TLS is disabled", g.Name)
			}
			if o.HTTPPort == -1 && g.NoAMT {
				return nil, fmt.Errorf("amtsim: fleet group %q has no AMT and answers plain HTTP, but plain HTTP is disabled", g.Name)
			}
		}
	}
	if o.DeviceCount < 0 {
		return nil, fmt.Errorf("amtsim: negative device count %d", o.DeviceCount)
	}
	if math.IsNaN(o.EmptyFraction) || o.EmptyFraction < 0 || o.EmptyFraction >= 1 {
		return nil, fmt.Errorf("amtsim: empty fraction %v is not in [0, 1)", o.EmptyFraction)
	}
	if o.DeviceCount > 0 && o.EmptyFraction > 0 {
		return nil, errors.New("amtsim: device count and empty fraction are mutually exclusive")
	}
	if o.DevicesCIDR == "" {
		if o.DeviceCount > 1 || o.EmptyFraction > 0 {
			return nil, errors.New("amtsim: device count and empty fraction need a devices CIDR")
		}
		ip := net.ParseIP(o.Addr)
		if ip == nil {
			return nil, fmt.Errorf("amtsim: invalid address %q", o.Addr)
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		return []net.IP{ip}, nil
	}
	start, n, err := cidrRange(o.DevicesCIDR)
	if err != nil {
		return nil, err
	}
	k := n
	switch {
	case o.DeviceCount > n:
		return nil, fmt.Errorf("amtsim: device count %d exceeds the %d host addresses of %s", o.DeviceCount, n, o.DevicesCIDR)
	case o.DeviceCount > 0:
		k = o.DeviceCount
	case o.EmptyFraction > 0:
		k = n - int(math.Round(o.EmptyFraction*float64(n)))
		if k == 0 {
			return nil, fmt.Errorf("amtsim: empty fraction %v leaves no device in %s", o.EmptyFraction, o.DevicesCIDR)
		}
	}
	addrs := pickAddresses(start, n, k, o.Seed)
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = uint32IP(a)
	}
	return ips, nil
}

func uint32IP(v uint32) net.IP {
	return net.IP{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// ipUint32 returns an IPv4 address as a number (0 for IPv6).
func ipUint32(ip net.IP) uint32 {
	v4 := ip.To4()
	if v4 == nil {
		return 0
	}
	return uint32(v4[0])<<24 | uint32(v4[1])<<16 | uint32(v4[2])<<8 | uint32(v4[3])
}

// cidrRange returns the first host address of an IPv4 range and the number
// of host addresses.
func cidrRange(cidr string) (uint32, int, error) {
	_, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return 0, 0, fmt.Errorf("amtsim: devices CIDR: %w", err)
	}
	base := ipnet.IP.To4()
	if base == nil {
		return 0, 0, fmt.Errorf("amtsim: devices CIDR %q: only IPv4 ranges are supported", cidr)
	}
	ones, _ := ipnet.Mask.Size()
	size := uint64(1) << (32 - ones)
	first, last := uint64(0), size-1
	if ones < 31 {
		first, last = 1, size-2
	}
	if last-first+1 > maxDevices {
		return 0, 0, fmt.Errorf("amtsim: devices CIDR %q has more than %d hosts", cidr, maxDevices)
	}
	return ipUint32(base) + uint32(first), int(last - first + 1), nil
}

// parseVersion splits "maj.min.hotfix.build". Major (1 or more) and minor
// must fit the presence pong's version bytes (255 at most).
func parseVersion(v string) ([4]int, error) {
	var out [4]int
	parts := strings.Split(v, ".")
	if len(parts) != 4 {
		return out, fmt.Errorf("amtsim: version %q is not maj.min.hotfix.build", v)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || strings.TrimSpace(p) != p || p[0] == '+' {
			return out, fmt.Errorf("amtsim: version %q is not maj.min.hotfix.build", v)
		}
		out[i] = n
	}
	if out[0] < 1 || out[0] > 255 || out[1] > 255 {
		return out, fmt.Errorf("amtsim: version %q: major must be 1-255 and minor 0-255", v)
	}
	return out, nil
}
