package defense

import (
	"fmt"
	"net/netip"
	"strings"
)

// Endpoint is a server a quarantined machine may still reach: an address or
// range, its ports, and the protocol. With no ports, every port (or, with
// ProtoAny, every protocol) to and from the address is allowed.
type Endpoint struct {
	Addr     Addr
	Ports    []PortRange
	Protocol Protocol // TCP, UDP, or ProtoAny (no ports then)
}

func (e Endpoint) String() string {
	s := e.Addr.String()
	if e.Addr.version() == 6 && len(e.Ports) > 0 {
		s = "[" + s + "]"
	}
	if len(e.Ports) > 0 {
		ps := make([]string, len(e.Ports))
		for i, p := range e.Ports {
			ps[i] = p.String()
		}
		s += ":" + strings.Join(ps, ",")
	}
	if e.Protocol != ProtoAny {
		s += "/" + e.Protocol.String()
	}
	return s
}

// ParseEndpoint reads ADDR[/MASK|/BITS|-ADDR][:PORT[-PORT],...][/tcp|/udp];
// an IPv6 address with ports is written in brackets ([2001:db8::1]:443).
// Ports without a protocol mean TCP.
func ParseEndpoint(s string) (Endpoint, error) {
	orig := s
	s = strings.TrimSpace(s)
	var e Endpoint
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		switch strings.ToLower(s[i+1:]) {
		case "tcp":
			e.Protocol, s = ProtoTCP, s[:i]
		case "udp":
			e.Protocol, s = ProtoUDP, s[:i]
		}
	}
	addr, ports := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return Endpoint{}, fmt.Errorf("endpoint %q: missing ]", orig)
		}
		rest := s[end+1:]
		addr = s[1:end]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return Endpoint{}, fmt.Errorf("endpoint %q: expected :PORT after ]", orig)
			}
			ports = rest[1:]
		}
	} else if strings.Count(s, ":") == 1 {
		addr, ports, _ = strings.Cut(s, ":")
		if ports == "" {
			return Endpoint{}, fmt.Errorf("endpoint %q: no port after the colon", orig)
		}
	}
	a, err := ParseAddr(addr)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: %w", orig, err)
	}
	if !a.Addr.IsValid() {
		return Endpoint{}, fmt.Errorf("endpoint %q: an address is required", orig)
	}
	e.Addr = a
	if ports != "" {
		for _, p := range strings.Split(ports, ",") {
			r, err := ParsePortRange(p)
			if err != nil {
				return Endpoint{}, fmt.Errorf("endpoint %q: %w", orig, err)
			}
			e.Ports = append(e.Ports, r)
		}
		if e.Protocol == ProtoAny {
			e.Protocol = ProtoTCP
		}
	}
	return e, e.validate()
}

func (e Endpoint) validate() error {
	if err := e.Addr.validate(); err != nil {
		return fmt.Errorf("endpoint %s: %w", e.Addr, err)
	}
	if !e.Addr.Addr.IsValid() {
		return fmt.Errorf("endpoint: an address is required")
	}
	if len(e.Ports) > 0 && e.Protocol != ProtoTCP && e.Protocol != ProtoUDP {
		return fmt.Errorf("endpoint %s: ports need tcp or udp", e.Addr)
	}
	if e.Protocol != ProtoAny && e.Protocol != ProtoTCP && e.Protocol != ProtoUDP {
		return fmt.Errorf("endpoint %s: protocol must be tcp or udp", e.Addr)
	}
	for _, p := range e.Ports {
		if p.End < p.Start {
			return fmt.Errorf("endpoint %s: port range %s ends before it starts", e.Addr, p)
		}
	}
	return nil
}

// QuarantineOptions configure Quarantine.
type QuarantineOptions struct {
	Name       string // policy name; default "quarantine"
	Precedence uint32 // default 1
	// Allow lists the servers the machine must still reach (management,
	// patch and package servers). Each gets a Tx and an Rx filter per port
	// range.
	Allow []Endpoint
	// DNS lists the resolvers the machine may query (UDP 53).
	DNS []netip.Addr
	// NoDHCP leaves DHCP out (a machine with a static address).
	NoDHCP bool
	// AntiSpoofing drops packets the host sends with another source identity.
	AntiSpoofing bool
	// Statistics counts the packets each filter and each default matches,
	// at the cost of counters of the port.
	Statistics bool
}

// builder accumulates filters and flows with short unique names.
type builder struct {
	p     Policy
	stats bool
	ipv6  bool
}

// newBuilder starts a preset's policy: named name (defaultName when empty),
// of precedence prec (1 when 0).
func newBuilder(name, defaultName string, prec uint32, antiSpoofing, stats bool) *builder {
	b := &builder{stats: stats}
	b.p.Name, b.p.Precedence, b.p.AntiSpoofing = name, prec, antiSpoofing
	if b.p.Name == "" {
		b.p.Name = defaultName
	}
	if b.p.Precedence == 0 {
		b.p.Precedence = 1
	}
	return b
}

func (b *builder) add(f Filter) {
	f.Statistics = b.stats && f.Action != RateLimit
	b.p.Filters = append(b.p.Filters, f)
}

// pair adds the Tx and Rx filters a host-initiated flow to e needs.
func (b *builder) pair(name string, proto Protocol, peer Addr, peerPorts, hostPorts *PortRange) {
	tx := Filter{Kind: IPHeader, Name: name + "-tx", Direction: Tx, Action: Pass, Dst: peer, Protocol: proto, DstPorts: peerPorts, SrcPorts: hostPorts}
	rx := Filter{Kind: IPHeader, Name: name + "-rx", Direction: Rx, Action: Pass, Src: peer, Protocol: proto, SrcPorts: peerPorts, DstPorts: hostPorts}
	b.add(tx)
	b.add(rx)
	if peer.version() == 6 {
		b.ipv6 = true
	}
}

func (b *builder) arp() {
	b.add(Filter{Kind: Ethernet, Name: "arp-tx", Direction: Tx, Action: Pass, EtherType: EtherARP})
	b.add(Filter{Kind: Ethernet, Name: "arp-rx", Direction: Rx, Action: Pass, EtherType: EtherARP})
	b.p.Flows = append(b.p.Flows, Flow{Name: "arp", ARP: true})
}

func (b *builder) finish() Policy {
	if b.ipv6 {
		// IPv6 neighbour discovery rides on ICMPv6; without it no IPv6
		// peer is reachable.
		b.add(Filter{Kind: IPHeader, Name: "icmp6-tx", Direction: Tx, Action: Pass, IPVersion: 6, Protocol: ProtoICMPv6})
		b.add(Filter{Kind: IPHeader, Name: "icmp6-rx", Direction: Rx, Action: Pass, IPVersion: 6, Protocol: ProtoICMPv6})
	}
	b.p.TxDefaultDrop, b.p.RxDefaultDrop = true, true
	b.p.TxDefaultCount, b.p.RxDefaultCount = b.stats, b.stats
	return b.p
}

// Quarantine returns a policy that drops all host traffic except ARP, DHCP
// (unless NoDHCP), DNS to the resolvers given, and traffic to and from each
// allowed endpoint, in both directions the flow needs. Its Flows list what
// it must let through; Apply refuses it if Check finds one dropped.
func Quarantine(opts QuarantineOptions) (*Policy, error) {
	b := newBuilder(opts.Name, "quarantine", opts.Precedence, opts.AntiSpoofing, opts.Statistics)
	if len(opts.Allow) == 0 && len(opts.DNS) == 0 {
		return nil, &FieldError{Field: "allow", Reason: "a quarantine needs at least one allowed server, or the machine can be reached by nobody"}
	}
	b.arp()
	if !opts.NoDHCP {
		b.pair("dhcp", ProtoUDP, Addr{}, Port(67), Port(68))
		b.p.Flows = append(b.p.Flows, Flow{Name: "dhcp", Protocol: ProtoUDP, PeerPorts: Port(67), HostPorts: Port(68)})
	}
	for i, r := range opts.DNS {
		if !r.IsValid() || r.Zone() != "" {
			return nil, &FieldError{Field: fmt.Sprintf("dns[%d]", i), Reason: "not an IP address"}
		}
		peer := Addr{Addr: r.Unmap()}
		b.pair(fmt.Sprintf("dns%d", i+1), ProtoUDP, peer, Port(53), nil)
		b.p.Flows = append(b.p.Flows, Flow{Name: "dns " + peer.String(), Protocol: ProtoUDP, Peer: peer, PeerPorts: Port(53)})
	}
	for i, e := range opts.Allow {
		if err := e.validate(); err != nil {
			return nil, &FieldError{Field: fmt.Sprintf("allow[%d]", i), Reason: err.Error()}
		}
		base := fmt.Sprintf("srv%d", i+1)
		switch {
		case len(e.Ports) == 0 && e.Protocol == ProtoAny:
			b.pair(base, ProtoAny, e.Addr, nil, nil)
			for _, p := range []Protocol{ProtoTCP, ProtoUDP} {
				b.p.Flows = append(b.p.Flows, Flow{Name: e.String() + "/" + p.String(), Protocol: p, Peer: e.Addr})
			}
		case len(e.Ports) == 0:
			b.pair(base, e.Protocol, e.Addr, nil, nil)
			b.p.Flows = append(b.p.Flows, Flow{Name: e.String(), Protocol: e.Protocol, Peer: e.Addr})
		default:
			for j, pr := range e.Ports {
				name := base
				if len(e.Ports) > 1 {
					name = fmt.Sprintf("%sp%d", base, j+1)
				}
				b.pair(name, e.Protocol, e.Addr, &pr, nil)
				one := e
				one.Ports = []PortRange{pr}
				b.p.Flows = append(b.p.Flows, Flow{Name: one.String(), Protocol: e.Protocol, Peer: e.Addr, PeerPorts: &pr})
			}
		}
	}
	p := b.finish()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// PingOnlyOptions configure PingOnly.
type PingOnlyOptions struct {
	Name         string // default "ping-only"
	Precedence   uint32 // default 1
	AntiSpoofing bool
	Statistics   bool
}

// PingOnly returns a policy that drops all host traffic except ARP and
// ICMP, so that the machine still answers ping (IP header filters cannot
// tell echo from other ICMP types).
func PingOnly(opts PingOnlyOptions) (*Policy, error) {
	b := newBuilder(opts.Name, "ping-only", opts.Precedence, opts.AntiSpoofing, opts.Statistics)
	b.arp()
	b.add(Filter{Kind: IPHeader, Name: "icmp-rx", Direction: Rx, Action: Pass, IPVersion: 4, Protocol: ProtoICMP})
	b.add(Filter{Kind: IPHeader, Name: "icmp-tx", Direction: Tx, Action: Pass, IPVersion: 4, Protocol: ProtoICMP})
	b.p.Flows = append(b.p.Flows, Flow{Name: "ping", Protocol: ProtoICMP, Initiator: PeerInitiates})
	p := b.finish()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}
