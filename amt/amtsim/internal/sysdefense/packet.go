package sysdefense

import (
	"bytes"
	"net"
	"net/netip"
)

// EtherTypes of protocol.md §4.2.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86DD
)

// Direction is the way a host packet goes: DirTx leaves the host, DirRx
// arrives for it (the FilterDirection values).
type Direction int

// Packet is one host packet as System Defense sees it. Filters are
// stateless: they look at this packet's headers only.
type Packet struct {
	// Port is the interface: PortWired or PortWireless.
	Port int
	// Direction is DirTx (sent by the host) or DirRx (received).
	Direction Direction
	// EtherType of the frame; 0 means IPv4 or IPv6 from the addresses.
	EtherType uint16
	// SrcMAC and DstMAC; a nil SrcMAC on a transmitted packet is the
	// host's own MAC.
	SrcMAC, DstMAC net.HardwareAddr
	// Tagged frames carry an 802.1Q VLAN ID and priority.
	Tagged   bool
	VLANID   uint16
	Priority uint8
	// Src and Dst are the IP addresses of an IP packet.
	Src, Dst netip.Addr
	// Protocol is the IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
	Protocol uint8
	// SrcPort and DstPort of TCP and UDP.
	SrcPort, DstPort uint16
	// DSCP is the DSCP / TOS / traffic class value.
	DSCP uint8
	// FlowLabel is the IPv6 flow label (20 bits).
	FlowLabel uint32
	// TCPFlags are the TCP header flags (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32).
	TCPFlags uint16
}

func (p *Packet) normalize() {
	p.Src, p.Dst = p.Src.Unmap(), p.Dst.Unmap()
}

func (p *Packet) etherType() uint16 {
	if p.EtherType != 0 {
		return p.EtherType
	}
	switch {
	case p.Src.Is4() || p.Dst.Is4():
		return EtherTypeIPv4
	case p.Src.Is6() || p.Dst.Is6():
		return EtherTypeIPv6
	}
	return 0
}

// ipVersion is 4 or 6 for an IP packet, 0 otherwise.
func (p *Packet) ipVersion() int {
	switch p.etherType() {
	case EtherTypeIPv4:
		return 4
	case EtherTypeIPv6:
		return 6
	}
	return 0
}

// Rule says what decided a verdict.
type Rule string

// Rules of the packet evaluation (protocol.md §4.3 "Packet processing").
const (
	RuleNoPolicy     Rule = "no-policy"     // no policy active on the port: not filtered
	RuleAntiSpoofing Rule = "anti-spoofing" // a transmitted packet with a foreign source
	RuleDrop         Rule = "drop"          // a matching drop filter
	RuleRateLimit    Rule = "rate-limit"    // a matching rate limit over its rate
	RulePass         Rule = "pass"          // matching filters, none of them dropping
	RuleDefault      Rule = "default"       // no filter matched: the direction's default
)

// Verdict is what System Defense did with a packet.
type Verdict struct {
	Pass bool
	Rule Rule
	// Policy is the InstanceID of the policy active on the port ("" when
	// none).
	Policy string
	// Filter is the InstanceID of the filter that dropped the packet, or
	// of the first matching filter that passed it; "" otherwise.
	Filter string
	// Matched are the InstanceIDs of every matching filter, in the
	// policy's FilterCreationHandles order.
	Matched []string
}

// HostPacket runs one packet through the policy active on its port and
// counts it. Anti-spoofing comes first; then every filter of the policy
// in the packet's direction: any matching drop filter, or a matching
// rate limit over its rate, drops the packet; otherwise a matching filter
// passes it; a packet no filter matches gets the direction's default.
func (u *Unit) HostPacket(p Packet) Verdict {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.cfg.Now()
	u.settle(now)
	p.normalize()
	ps := u.port(p.Port)
	if ps == nil || ps.active == nil {
		return Verdict{Pass: true, Rule: RuleNoPolicy}
	}
	pol := ps.active
	v := Verdict{Policy: pol.id}
	if pol.antiSpoofing != 0 && p.Direction == DirTx && u.spoofed(&p, ps.limits) {
		v.Rule = RuleAntiSpoofing
		return v
	}
	drop, rated := "", false
	first := ""
	for _, h := range pol.handles {
		f := u.filterByHandle(h)
		if f == nil || f.dir != int(p.Direction) || !f.matches(&p) {
			continue
		}
		v.Matched = append(v.Matched, f.id)
		if first == "" {
			first = f.id
		}
		c := ps.counter(f.id)
		if f.counting(&u.cfg) {
			c.live++
		}
		switch {
		case f.drops():
			if drop == "" {
				drop = f.id
			}
		case f.profile == ProfileRateLimit:
			if c.overRate(now, f.rate) && drop == "" {
				drop, rated = f.id, true
			}
		}
	}
	switch {
	case drop != "":
		v.Rule, v.Filter = RuleDrop, drop
		if rated {
			v.Rule = RuleRateLimit
		}
	case first != "":
		v.Pass, v.Rule, v.Filter = true, RulePass, first
	default:
		v.Rule = RuleDefault
		dropDefault, count := pol.rxDrop, pol.rxCount
		if p.Direction == DirTx {
			dropDefault, count = pol.txDrop, pol.txCount
		}
		if count {
			ps.defaults[p.Direction&1].live++
		}
		v.Pass = !dropDefault
	}
	return v
}

// spoofed reports whether a transmitted packet's source is not the
// host's own. A check needs the identity to compare with: a source MAC
// is checked when the host MAC is known, a source address when the host
// address of that IP version is known and the port is anti-spoofing
// capable for that version.
func (u *Unit) spoofed(p *Packet, l *PortLimits) bool {
	if p.SrcMAC != nil && u.cfg.HostMAC != nil && !bytes.Equal(p.SrcMAC, u.cfg.HostMAC) {
		return true
	}
	if p.Src.Is4() && l.IPv4AntiSpoofing && u.cfg.HostIPv4.IsValid() && p.Src != u.cfg.HostIPv4 {
		return true
	}
	if p.Src.Is6() && l.IPv6AntiSpoofing && u.cfg.HostIPv6.IsValid() && p.Src != u.cfg.HostIPv6 {
		return true
	}
	return false
}
