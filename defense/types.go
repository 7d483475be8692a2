package defense

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Direction is the direction of host traffic a filter applies to
// (FilterDirection, protocol.md §4.2).
type Direction int

// Directions. The numbers are the firmware's.
const (
	Tx Direction = 0 // transmitted by the host (outgoing)
	Rx Direction = 1 // received by the host (incoming)
)

func (d Direction) String() string {
	switch d {
	case Tx:
		return "tx"
	case Rx:
		return "rx"
	}
	return "direction(" + strconv.Itoa(int(d)) + ")"
}

// ParseDirection reads "tx"/"rx" (also "out"/"in", any case).
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "tx", "out", "outgoing", "transmit":
		return Tx, nil
	case "rx", "in", "incoming", "receive":
		return Rx, nil
	}
	return 0, fmt.Errorf("direction %q is not tx or rx", s)
}

// Action is what a filter does with a packet it matches.
type Action int

// Actions. Together with Filter.Statistics they make the firmware's
// FilterProfile (protocol.md §4.2): Pass 3 (0 with statistics), Drop 4 (1
// with statistics), RateLimit 2.
const (
	Pass Action = iota + 1
	Drop
	RateLimit
)

func (a Action) String() string {
	switch a {
	case Pass:
		return "pass"
	case Drop:
		return "drop"
	case RateLimit:
		return "rate-limit"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// ParseAction reads "pass", "drop" or "rate-limit".
func ParseAction(s string) (Action, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "pass", "allow":
		return Pass, nil
	case "drop", "deny":
		return Drop, nil
	case "rate-limit", "ratelimit", "rate_limit":
		return RateLimit, nil
	}
	return 0, fmt.Errorf("action %q is not pass, drop or rate-limit", s)
}

// FilterProfile values (protocol.md §4.2).
const (
	profileStatsPass = 0
	profileStatsDrop = 1
	profileRateLimit = 2
	profilePass      = 3
	profileDrop      = 4
)

// profile returns the FilterProfile of an action and statistics flag.
func profile(a Action, stats bool) int {
	switch {
	case a == Pass && stats:
		return profileStatsPass
	case a == Drop && stats:
		return profileStatsDrop
	case a == RateLimit:
		return profileRateLimit
	case a == Pass:
		return profilePass
	default:
		return profileDrop
	}
}

// actionOfProfile decodes a FilterProfile.
func actionOfProfile(p int) (Action, bool, error) {
	switch p {
	case profileStatsPass:
		return Pass, true, nil
	case profileStatsDrop:
		return Drop, true, nil
	case profileRateLimit:
		return RateLimit, false, nil
	case profilePass:
		return Pass, false, nil
	case profileDrop:
		return Drop, false, nil
	}
	return 0, false, fmt.Errorf("FilterProfile %d is not 0..4", p)
}

// Kind tells the two filter classes apart.
type Kind int

// Filter kinds.
const (
	IPHeader Kind = iota + 1 // AMT_IPHeadersFilter
	Ethernet                 // AMT_Hdr8021Filter
)

func (k Kind) String() string {
	switch k {
	case IPHeader:
		return "ip"
	case Ethernet:
		return "ethernet"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Protocol is an IANA IP protocol number (HdrProtocolID). Its zero value,
// ProtoAny, leaves the protocol unmatched.
type Protocol uint8

// Protocols the presets and the policy file name. Any other IANA number may
// be used as a Protocol value.
const (
	ProtoAny    Protocol = 0
	ProtoICMP   Protocol = 1
	ProtoTCP    Protocol = 6
	ProtoUDP    Protocol = 17
	ProtoICMPv6 Protocol = 58
)

func (p Protocol) String() string {
	switch p {
	case ProtoAny:
		return "any"
	case ProtoICMP:
		return "icmp"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMPv6:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}

// ParseProtocol reads a protocol name (tcp, udp, icmp, icmpv6) or number.
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "tcp":
		return ProtoTCP, nil
	case "udp":
		return ProtoUDP, nil
	case "icmp":
		return ProtoICMP, nil
	case "icmpv6", "ipv6-icmp":
		return ProtoICMPv6, nil
	case "", "any":
		return ProtoAny, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
	if err != nil {
		return 0, fmt.Errorf("protocol %q is not tcp, udp, icmp, icmpv6 or a number 1..255", s)
	}
	return Protocol(n), nil
}

// EtherTypes of HdrProtocolID8021 (protocol.md §4.2).
const (
	EtherIPv4 uint16 = 0x0800
	EtherARP  uint16 = 0x0806
	EtherIPv6 uint16 = 0x86DD
)

// Addr matches an IP address: exactly Addr when Mask and End are unset;
// every address a with a&Mask == Addr&Mask when Mask is set; the inclusive
// range Addr..End when End is set. Mask and End exclude each other. The zero
// Addr matches any address.
type Addr struct {
	Addr netip.Addr
	Mask netip.Addr // same family as Addr; any bit pattern
	End  netip.Addr // inclusive upper bound; same family as Addr
}

// IsZero reports whether the match is unset (any address).
func (a Addr) IsZero() bool { return !a.Addr.IsValid() && !a.Mask.IsValid() && !a.End.IsValid() }

// Contains reports whether ip is matched.
func (a Addr) Contains(ip netip.Addr) bool {
	if !a.Addr.IsValid() {
		return true
	}
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.BitLen() != a.Addr.BitLen() {
		return false
	}
	switch {
	case a.Mask.IsValid():
		x, m, y := ip.AsSlice(), a.Mask.AsSlice(), a.Addr.AsSlice()
		for i := range x {
			if x[i]&m[i] != y[i]&m[i] {
				return false
			}
		}
		return true
	case a.End.IsValid():
		return ip.Compare(a.Addr) >= 0 && ip.Compare(a.End) <= 0
	}
	return ip == a.Addr
}

// String writes the forms ParseAddr reads: "10.0.0.1", "10.0.0.0/24",
// "10.0.0.0/255.255.0.255", "10.0.0.1-10.0.0.9", "any".
func (a Addr) String() string {
	switch {
	case !a.Addr.IsValid():
		return "any"
	case a.Mask.IsValid():
		if bits, ok := prefixLen(a.Mask); ok {
			return a.Addr.String() + "/" + strconv.Itoa(bits)
		}
		return a.Addr.String() + "/" + a.Mask.String()
	case a.End.IsValid():
		return a.Addr.String() + "-" + a.End.String()
	}
	return a.Addr.String()
}

// prefixLen returns the prefix length of a contiguous mask.
func prefixLen(mask netip.Addr) (int, bool) {
	b := mask.AsSlice()
	n, zero := 0, false
	for _, x := range b {
		for bit := 7; bit >= 0; bit-- {
			if x&(1<<bit) != 0 {
				if zero {
					return 0, false
				}
				n++
			} else {
				zero = true
			}
		}
	}
	return n, true
}

// maskOf returns the mask of a prefix length.
func maskOf(bits, bitLen int) netip.Addr {
	b := make([]byte, bitLen/8)
	for i := range b {
		switch {
		case bits >= 8:
			b[i] = 0xff
			bits -= 8
		case bits > 0:
			b[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ParseAddr reads "any", an address, ADDR/BITS, ADDR/MASK or ADDR-ADDR.
func ParseAddr(s string) (Addr, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "any") {
		return Addr{}, nil
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		ip, err := parseIP(s[:i])
		if err != nil {
			return Addr{}, err
		}
		rest := s[i+1:]
		if n, err := strconv.Atoi(rest); err == nil {
			if n < 0 || n > ip.BitLen() {
				return Addr{}, fmt.Errorf("prefix length /%d out of range 0..%d", n, ip.BitLen())
			}
			return Addr{Addr: ip, Mask: maskOf(n, ip.BitLen())}, nil
		}
		m, err := parseIP(rest)
		if err != nil {
			return Addr{}, fmt.Errorf("mask %q is neither a prefix length nor an address", rest)
		}
		if m.BitLen() != ip.BitLen() {
			return Addr{}, fmt.Errorf("mask %s is not of the family of %s", m, ip)
		}
		return Addr{Addr: ip, Mask: m}, nil
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		lo, err := parseIP(s[:i])
		if err != nil {
			return Addr{}, err
		}
		hi, err := parseIP(s[i+1:])
		if err != nil {
			return Addr{}, err
		}
		a := Addr{Addr: lo, End: hi}
		return a, a.validate()
	}
	ip, err := parseIP(s)
	if err != nil {
		return Addr{}, err
	}
	return Addr{Addr: ip}, nil
}

func parseIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: zones are not allowed", s)
	}
	return ip.Unmap(), nil
}

func (a Addr) validate() error {
	if a.IsZero() {
		return nil
	}
	if !a.Addr.IsValid() {
		return fmt.Errorf("a mask or range end needs the start address")
	}
	if a.Mask.IsValid() && a.End.IsValid() {
		return fmt.Errorf("mask and range end exclude each other")
	}
	if a.Addr.Zone() != "" {
		return fmt.Errorf("address %s has a zone", a.Addr)
	}
	if a.Mask.IsValid() && a.Mask.BitLen() != a.Addr.BitLen() {
		return fmt.Errorf("mask %s is not of the family of %s", a.Mask, a.Addr)
	}
	if a.End.IsValid() {
		if a.End.BitLen() != a.Addr.BitLen() {
			return fmt.Errorf("range end %s is not of the family of %s", a.End, a.Addr)
		}
		if a.End.Less(a.Addr) {
			return fmt.Errorf("range %s-%s ends before it starts", a.Addr, a.End)
		}
	}
	return nil
}

// version returns 4 or 6, or 0 for an unset match.
func (a Addr) version() int {
	switch {
	case !a.Addr.IsValid():
		return 0
	case a.Addr.Is4():
		return 4
	}
	return 6
}

// PortRange is an inclusive range of TCP or UDP ports; a single port has
// Start == End.
type PortRange struct {
	Start, End uint16
}

// Port returns the range of one port.
func Port(p uint16) *PortRange { return &PortRange{p, p} }

// Ports returns an inclusive range.
func Ports(start, end uint16) *PortRange { return &PortRange{start, end} }

// Contains reports whether p is in the range.
func (r PortRange) Contains(p uint16) bool { return p >= r.Start && p <= r.End }

// Single reports whether the range is one port.
func (r PortRange) Single() bool { return r.Start == r.End }

func (r PortRange) String() string {
	if r.Single() {
		return strconv.Itoa(int(r.Start))
	}
	return strconv.Itoa(int(r.Start)) + "-" + strconv.Itoa(int(r.End))
}

// ParsePortRange reads "443" or "1024-65535" (ports 0..65535).
func ParsePortRange(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	b := a
	if isRange {
		if b, err = parsePort(hi); err != nil {
			return PortRange{}, err
		}
	}
	if b < a {
		return PortRange{}, fmt.Errorf("port range %s ends before it starts", s)
	}
	return PortRange{a, b}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("port %q is not a number", s)
	}
	if n > 65535 {
		return 0, fmt.Errorf("port %d out of range 0..65535", n)
	}
	return uint16(n), nil
}

// MAC matches an Ethernet address: a frame address x matches when
// x&Mask == Addr&Mask (Mask nil means all ones). A nil Addr matches any.
type MAC struct {
	Addr net.HardwareAddr
	Mask net.HardwareAddr
}

// IsZero reports whether the match is unset.
func (m MAC) IsZero() bool { return m.Addr == nil && m.Mask == nil }

// Contains reports whether hw is matched.
func (m MAC) Contains(hw net.HardwareAddr) bool {
	if m.Addr == nil {
		return true
	}
	if len(hw) != 6 {
		return false
	}
	for i := range 6 {
		mask := byte(0xff)
		if m.Mask != nil {
			mask = m.Mask[i]
		}
		if hw[i]&mask != m.Addr[i]&mask {
			return false
		}
	}
	return true
}

func (m MAC) validate() error {
	if m.Addr == nil && m.Mask != nil {
		return fmt.Errorf("a MAC mask needs the address")
	}
	if m.Addr != nil && len(m.Addr) != 6 {
		return fmt.Errorf("MAC address %s is not 6 bytes", m.Addr)
	}
	if m.Mask != nil && len(m.Mask) != 6 {
		return fmt.Errorf("MAC mask %s is not 6 bytes", m.Mask)
	}
	return nil
}

func (m MAC) String() string {
	switch {
	case m.Addr == nil:
		return "any"
	case m.Mask == nil:
		return m.Addr.String()
	}
	return m.Addr.String() + "/" + m.Mask.String()
}

// Filter is one System Defense filter: an IP header filter
// (AMT_IPHeadersFilter) or an Ethernet filter (AMT_Hdr8021Filter). An unset
// match field is a wildcard. The fields of the other kind must stay unset.
type Filter struct {
	Kind      Kind
	Name      string // at most 16 characters, unique in its policy
	Direction Direction
	Action    Action
	// RatePPS is the rate limit in packets per second; only for RateLimit,
	// and then > 0.
	RatePPS uint32
	// Statistics counts matched packets (a counter of the port).
	// RateLimit filters have no statistics profile.
	Statistics bool
	// EventOnMatch raises an event on the first match (ActionEventOnMatch).
	EventOnMatch bool

	// IP header fields (protocol.md §4.2).
	IPVersion int  // 4 or 6; 0 derives it from the addresses (unset when they are)
	Src, Dst  Addr // source and destination address
	Protocol  Protocol
	// SrcPorts and DstPorts need Protocol TCP or UDP. Either both are single
	// ports, or only one of them is a range.
	SrcPorts, DstPorts *PortRange
	DSCP               []uint8 // any of these DSCP values (0..63)
	FlowLabel          *uint32 // IPv6 flow label (20 bits)

	// Ethernet fields.
	EtherType uint16 // required for Ethernet filters
	SrcMAC    MAC
	DstMAC    MAC
	Priority  *uint8  // 802.1Q priority 0..7
	VLAN      *uint16 // 802.1Q VLAN ID 0..4095
}

// ipVersion returns the IP version the filter matches (0 any).
func (f *Filter) ipVersion() int {
	if f.IPVersion != 0 {
		return f.IPVersion
	}
	if v := f.Src.version(); v != 0 {
		return v
	}
	return f.Dst.version()
}

// FieldError is a validation error that names the field at fault.
type FieldError struct {
	Field  string // e.g. "filters[2].dst_ports" or "name"
	Reason string
}

func (e *FieldError) Error() string { return "defense: " + e.Field + ": " + e.Reason }

// MaxName is the longest policy or filter name the firmware stores.
const MaxName = 16

// MaxFilters is the most filters one policy holds (FilterCreationHandles).
const MaxFilters = 62

// Validate checks the filter against the firmware's constraints. The
// errors are *FieldError naming the field (prefixed by prefix).
func (f *Filter) Validate() error { return f.validate("") }

func (f *Filter) validate(prefix string) error {
	fe := func(field, format string, args ...any) error {
		return &FieldError{Field: prefix + field, Reason: fmt.Sprintf(format, args...)}
	}
	if err := validName(f.Name); err != "" {
		return fe("name", "%s", err)
	}
	if f.Direction != Tx && f.Direction != Rx {
		return fe("direction", "must be tx or rx")
	}
	switch f.Action {
	case Pass, Drop:
		if f.RatePPS != 0 {
			return fe("rate_pps", "only a rate-limit filter has a rate")
		}
	case RateLimit:
		if f.RatePPS == 0 {
			return fe("rate_pps", "a rate-limit filter needs a rate above 0 packets per second")
		}
		if f.Statistics {
			return fe("statistics", "the firmware has no rate-limit profile with statistics")
		}
	default:
		return fe("action", "must be pass, drop or rate-limit")
	}
	ipSet := f.IPVersion != 0 || !f.Src.IsZero() || !f.Dst.IsZero() || f.Protocol != ProtoAny ||
		f.SrcPorts != nil || f.DstPorts != nil || len(f.DSCP) > 0 || f.FlowLabel != nil
	ethSet := f.EtherType != 0 || !f.SrcMAC.IsZero() || !f.DstMAC.IsZero() || f.Priority != nil || f.VLAN != nil
	switch f.Kind {
	case IPHeader:
		if ethSet {
			return fe("kind", "an IP header filter has no Ethernet fields (ether_type, MACs, priority, vlan)")
		}
		return f.validateIP(fe)
	case Ethernet:
		if ipSet {
			return fe("kind", "an Ethernet filter has no IP header fields")
		}
		if f.EtherType == 0 {
			return fe("ether_type", "required for an Ethernet filter")
		}
		if err := f.SrcMAC.validate(); err != nil {
			return fe("src_mac", "%v", err)
		}
		if err := f.DstMAC.validate(); err != nil {
			return fe("dst_mac", "%v", err)
		}
		if f.Priority != nil && *f.Priority > 7 {
			return fe("priority", "%d out of range 0..7", *f.Priority)
		}
		if f.VLAN != nil && *f.VLAN > 4095 {
			return fe("vlan", "%d out of range 0..4095", *f.VLAN)
		}
		return nil
	}
	return fe("kind", "must be ip or ethernet")
}

func (f *Filter) validateIP(fe func(string, string, ...any) error) error {
	if f.IPVersion != 0 && f.IPVersion != 4 && f.IPVersion != 6 {
		return fe("ip_version", "must be 4 or 6")
	}
	for _, side := range []struct {
		name string
		a    Addr
	}{{"src", f.Src}, {"dst", f.Dst}} {
		if err := side.a.validate(); err != nil {
			return fe(side.name, "%v", err)
		}
		if v := side.a.version(); v != 0 && f.IPVersion != 0 && v != f.IPVersion {
			return fe(side.name, "IPv%d address in an IPv%d filter", v, f.IPVersion)
		}
	}
	if sv, dv := f.Src.version(), f.Dst.version(); sv != 0 && dv != 0 && sv != dv {
		return fe("dst", "IPv%d destination with an IPv%d source", dv, sv)
	}
	if f.SrcPorts != nil || f.DstPorts != nil {
		if f.Protocol != ProtoTCP && f.Protocol != ProtoUDP {
			field := "src_ports"
			if f.SrcPorts == nil {
				field = "dst_ports"
			}
			return fe(field, "ports need protocol tcp or udp")
		}
	}
	for _, side := range []struct {
		name string
		r    *PortRange
	}{{"src_ports", f.SrcPorts}, {"dst_ports", f.DstPorts}} {
		if side.r != nil && side.r.End < side.r.Start {
			return fe(side.name, "range %d-%d ends before it starts", side.r.Start, side.r.End)
		}
	}
	if f.SrcPorts != nil && f.DstPorts != nil && !f.SrcPorts.Single() && !f.DstPorts.Single() {
		return fe("dst_ports", "a source port range and a destination port range exclude each other; give single ports on one side")
	}
	for i, d := range f.DSCP {
		if d > 63 {
			return fe(fmt.Sprintf("dscp[%d]", i), "%d out of range 0..63", d)
		}
	}
	if f.FlowLabel != nil {
		if f.ipVersion() != 6 {
			return fe("flow_label", "only IPv6 packets carry a flow label")
		}
		if *f.FlowLabel > 0xFFFFF {
			return fe("flow_label", "%d is wider than 20 bits", *f.FlowLabel)
		}
	}
	return nil
}

// validName returns why a name is unusable, or "".
func validName(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len([]rune(s)) > MaxName:
		return fmt.Sprintf("%q is longer than %d characters", s, MaxName)
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return fmt.Sprintf("%q holds a character outside printable ASCII", s)
		}
	}
	return ""
}

// Policy is a System Defense policy (AMT_SystemDefensePolicy) with its
// filters.
type Policy struct {
	Name string // at most 16 characters
	// Precedence: the highest among a port's enabled policies is active.
	Precedence uint32
	// Defaults for packets no filter matches, per direction: drop or pass,
	// and whether to count them (each count uses a counter of the port).
	TxDefaultDrop, RxDefaultDrop   bool
	TxDefaultCount, RxDefaultCount bool
	TxDefaultEvent, RxDefaultEvent bool
	// AntiSpoofing drops host packets whose source identity is not the
	// platform's own before any filter (protocol.md §4.5). It takes two Tx
	// filter slots of the port.
	AntiSpoofing bool
	Filters      []Filter
	// Flows are the flows the policy is meant to let through; Apply refuses
	// the policy when Check finds one dropped. Presets fill them in.
	Flows []Flow
}

// Validate checks the policy and its filters; the error is a *FieldError
// naming the field.
func (p *Policy) Validate() error {
	if err := validName(p.Name); err != "" {
		return &FieldError{Field: "name", Reason: err}
	}
	if len(p.Filters) > MaxFilters {
		return &FieldError{Field: "filters", Reason: fmt.Sprintf("%d filters; a policy holds at most %d", len(p.Filters), MaxFilters)}
	}
	seen := map[string]int{}
	for i := range p.Filters {
		prefix := fmt.Sprintf("filters[%d].", i)
		if err := p.Filters[i].validate(prefix); err != nil {
			return err
		}
		if j, dup := seen[p.Filters[i].Name]; dup {
			return &FieldError{Field: prefix + "name", Reason: fmt.Sprintf("%q is also the name of filters[%d]", p.Filters[i].Name, j)}
		}
		seen[p.Filters[i].Name] = i
	}
	for i := range p.Flows {
		if err := p.Flows[i].validate(fmt.Sprintf("flows[%d].", i)); err != nil {
			return err
		}
	}
	return nil
}

// Initiator says which side opens a flow.
type Initiator int

// Initiators.
const (
	HostInitiates Initiator = iota // the host connects to the peer
	PeerInitiates                  // the peer connects to the host
)

func (i Initiator) String() string {
	if i == PeerInitiates {
		return "peer"
	}
	return "host"
}

// Flow describes traffic the machine needs, without direction: the packets
// of both directions that carry it follow from it (filters are stateless, so
// a TCP connection from the host to S:443 needs Tx to S port 443 and Rx from
// S source port 443).
type Flow struct {
	Name      string   // label for reports; defaults to a description
	Protocol  Protocol // TCP, UDP, ICMP, ICMPv6, or ProtoAny with ARP
	ARP       bool     // an ARP exchange (Ethernet, no IP header)
	Peer      Addr     // the other end; unset means any peer
	PeerPorts *PortRange
	// HostPorts are the host's ports; unset means any (an ephemeral port
	// for the initiating side).
	HostPorts *PortRange
	// Host is the host's own address, when known; unset means any.
	Host      netip.Addr
	Initiator Initiator
}

func (f *Flow) validate(prefix string) error {
	fe := func(field, format string, args ...any) error {
		return &FieldError{Field: prefix + field, Reason: fmt.Sprintf(format, args...)}
	}
	if f.ARP {
		if f.Protocol != ProtoAny || !f.Peer.IsZero() || f.PeerPorts != nil || f.HostPorts != nil || f.Host.IsValid() {
			return fe("protocol", "an ARP flow has no protocol, addresses or ports")
		}
		return nil
	}
	if f.Protocol == ProtoAny {
		return fe("protocol", "required (tcp, udp, icmp, icmpv6 or a number)")
	}
	if err := f.Peer.validate(); err != nil {
		return fe("peer", "%v", err)
	}
	if (f.PeerPorts != nil || f.HostPorts != nil) && f.Protocol != ProtoTCP && f.Protocol != ProtoUDP {
		return fe("ports", "ports need protocol tcp or udp")
	}
	for _, r := range []struct {
		n string
		p *PortRange
	}{{"peer_ports", f.PeerPorts}, {"host_ports", f.HostPorts}} {
		if r.p != nil && r.p.End < r.p.Start {
			return fe(r.n, "range ends before it starts")
		}
	}
	if f.Host.IsValid() && f.Peer.version() != 0 && (f.Host.Unmap().Is4() != (f.Peer.version() == 4)) {
		return fe("host", "address family differs from the peer's")
	}
	return nil
}

// String describes the flow, e.g. "tcp host -> 10.0.0.5:443".
func (f Flow) String() string {
	if f.Name != "" {
		return f.Name
	}
	return f.describe()
}

func (f Flow) describe() string {
	if f.ARP {
		return "arp"
	}
	peer := f.Peer.String()
	if f.PeerPorts != nil {
		peer += ":" + f.PeerPorts.String()
	}
	host := "host"
	if f.Host.IsValid() {
		host = f.Host.String()
	}
	if f.HostPorts != nil {
		host += ":" + f.HostPorts.String()
	}
	if f.Initiator == PeerInitiates {
		return f.Protocol.String() + " " + peer + " -> " + host
	}
	return f.Protocol.String() + " " + host + " -> " + peer
}
