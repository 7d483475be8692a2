package sysdefense

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// PT_STATUS values used by default (protocol.md §1.8).
const (
	StatusInvalidPTMode   = 3
	StatusNotPermitted    = 16
	StatusMaxLimitReached = 23
	StatusInvalidParam    = 36
	StatusUnsupported     = 2066
)

// Port numbers: the DeviceID suffix of CIM_EthernetPort (protocol.md §1.10).
const (
	PortWired    = 0
	PortWireless = 1
)

// PortLimits are the per-port limits that
// AMT_NetworkPortSystemDefenseCapabilities reports and that enabling a
// policy on the port enforces.
type PortLimits struct {
	IPv4MaxTxFilters  int  `json:"ipv4_max_tx_filters"`
	IPv4MaxTxCounters int  `json:"ipv4_max_tx_counters"`
	IPv4MaxRxFilters  int  `json:"ipv4_max_rx_filters"`
	IPv4MaxRxCounters int  `json:"ipv4_max_rx_counters"`
	IPv4AntiSpoofing  bool `json:"ipv4_anti_spoofing"`
	IPv6MaxTxFilters  int  `json:"ipv6_max_tx_filters"`
	IPv6MaxTxCounters int  `json:"ipv6_max_tx_counters"`
	IPv6MaxRxFilters  int  `json:"ipv6_max_rx_filters"`
	IPv6MaxRxCounters int  `json:"ipv6_max_rx_counters"`
	IPv6AntiSpoofing  bool `json:"ipv6_anti_spoofing"`
	// IPv6ToIPv4Ratio is the number of IPv4 slots one IPv6 filter or
	// counter consumes.
	IPv6ToIPv4Ratio int `json:"ipv6_to_ipv4_ratio"`
}

// DefaultPortLimits are the modelled per-port limits: no capture reports
// them, so they are chosen to fit a quarantine with a handful of servers
// and stay small enough that tests reach them.
var DefaultPortLimits = PortLimits{
	IPv4MaxTxFilters: 16, IPv4MaxTxCounters: 8,
	IPv4MaxRxFilters: 16, IPv4MaxRxCounters: 8,
	IPv4AntiSpoofing: true,
	IPv6MaxTxFilters: 8, IPv6MaxTxCounters: 4,
	IPv6MaxRxFilters: 8, IPv6MaxRxCounters: 4,
	IPv6AntiSpoofing: true,
	IPv6ToIPv4Ratio:  2,
}

// Config configures a unit. The zero value of every field but Now means
// its default.
type Config struct {
	// Now is the device clock; default time.Now. Timeouts, rate limits
	// and statistics times follow it. It is called with the unit's lock
	// held and must not call back into the unit.
	Now func() time.Time
	// CCM reports whether the device is in client control mode, where
	// System Defense is refused; nil means admin control mode. Called with
	// the unit's lock held.
	CCM func() bool
	// Minute is the length of one minute of policy timeout; default one
	// minute. A shorter one lets a running simulator show timeouts expire.
	Minute time.Duration

	// MaxPolicies and MaxFilters are GlobalMaxSupportedPolicies and
	// GlobalMaxSupportedFilters; defaults 8 and 80 (protocol.md §4.7).
	MaxPolicies, MaxFilters int
	// MaxHandlesPerPolicy bounds FilterCreationHandles; default 62.
	MaxHandlesPerPolicy int
	// Wired and Wireless are the per-port limits; default
	// DefaultPortLimits for both.
	Wired, Wireless *PortLimits
	// NoWireless leaves out the wireless port (Intel(r) AMT Ethernet Port 1).
	NoWireless bool
	// MaxEnabledPerPort is how many policies System Defense may enable on
	// one port at once; default 1 (protocol.md §4.3: one per interface).
	// A larger value stands in for the other sources of enabled policies
	// (Agent Presence, Environment Detection) that are not modelled, so
	// that precedence and timeouts hand over between enabled policies.
	MaxEnabledPerPort int
	// AntiSpoofingTxFilters is how many Tx filter slots a policy with
	// anti-spoofing takes on a port; default 2. Use -1 for none.
	AntiSpoofingTxFilters int
	// RateLimitNoCounter says that a rate limit filter (FilterProfile 2)
	// consumes no counter and reports no statistics. By default it does:
	// a rate limit counts the packets it matches.
	RateLimitNoCounter bool
	// NoDefaultStatistics leaves the default counters (Tx/RxDefaultCount)
	// out of AMT_ActiveFilterStatistics; they still consume counters.
	NoDefaultStatistics bool
	// GetTimeoutConfigured makes GetTimeout return the configured
	// timeout even while it runs; by default it returns the minutes left
	// (rounded up) while the policy is active with a timeout.
	GetTimeoutConfigured bool

	// Status codes (PT_STATUS) of the refusals. Defaults: LimitStatus 23
	// MAX_LIMIT_REACHED, InvalidStatus 36 INVALID_PARAMETER, InUseStatus 16
	// NOT_PERMITTED, CCMStatus 3 INVALID_PT_MODE, UnsupportedStatus 2066
	// UNSUPPORTED (anti-spoofing on a port without it).
	LimitStatus, InvalidStatus, InUseStatus, CCMStatus, UnsupportedStatus int

	// HostMAC, HostIPv4 and HostIPv6 are the host's own identity, which
	// anti-spoofing checks on transmitted packets. HostMAC also fills
	// CIM_EthernetPort.NetworkAddresses of the wired port.
	HostMAC  net.HardwareAddr
	HostIPv4 netip.Addr
	HostIPv6 netip.Addr
}

func (c *Config) normalize() error {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CCM == nil {
		c.CCM = func() bool { return false }
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Minute < 0 {
		return errors.New("sysdefense: negative minute")
	}
	if c.Minute == 0 {
		c.Minute = time.Minute
	}
	def(&c.MaxPolicies, 8)
	def(&c.MaxFilters, 80)
	def(&c.MaxHandlesPerPolicy, 62)
	def(&c.MaxEnabledPerPort, 1)
	def(&c.AntiSpoofingTxFilters, 2)
	if c.AntiSpoofingTxFilters < 0 {
		c.AntiSpoofingTxFilters = 0
	}
	def(&c.LimitStatus, StatusMaxLimitReached)
	def(&c.InvalidStatus, StatusInvalidParam)
	def(&c.InUseStatus, StatusNotPermitted)
	def(&c.CCMStatus, StatusInvalidPTMode)
	def(&c.UnsupportedStatus, StatusUnsupported)
	for _, p := range []**PortLimits{&c.Wired, &c.Wireless} {
		if *p == nil {
			l := DefaultPortLimits
			*p = &l
		} else {
			l := **p
			*p = &l
		}
		if (*p).IPv6ToIPv4Ratio <= 0 {
			(*p).IPv6ToIPv4Ratio = 1
		}
	}
	if c.MaxPolicies < 0 || c.MaxFilters < 0 || c.MaxHandlesPerPolicy < 0 || c.MaxEnabledPerPort < 0 {
		return fmt.Errorf("sysdefense: negative limit")
	}
	if c.HostMAC != nil && len(c.HostMAC) != 6 {
		return fmt.Errorf("sysdefense: host MAC %v is not 6 bytes", c.HostMAC)
	}
	return nil
}
