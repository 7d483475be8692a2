package defense

import (
	"fmt"
	"math/big"
	"net/netip"
	"strings"
)

// Verdict is what the filters do with a packet.
type Verdict int

// Verdicts.
const (
	Passed      Verdict = iota + 1
	Dropped             // a drop filter or the default drops it
	RateLimited         // a rate-limit filter drops it above its rate
)

func (v Verdict) String() string {
	switch v {
	case Passed:
		return "pass"
	case Dropped:
		return "drop"
	case RateLimited:
		return "rate-limited"
	}
	return "unknown"
}

// Leg is one direction of a flow as Check evaluated it.
type Leg struct {
	Direction Direction
	Packet    string // the packets, e.g. "udp 10.0.0.53:53 -> host"
	Verdict   Verdict
	// By names what decides: a filter name, "tx default" or "rx default".
	By string
	// Certain is false when the flow does not pin down every field the
	// deciding filter matches on (MAC addresses, VLAN, DSCP, a range the
	// filter covers only in part): Check then assumes the worst.
	Certain bool
}

// FlowResult is the verdict on one flow.
type FlowResult struct {
	Flow   Flow
	Passes bool // every leg passes for every packet of the flow
	Legs   []Leg
}

// Reason says why a flow fails, naming the filter or default.
func (r FlowResult) Reason() string {
	var parts []string
	for _, l := range r.Legs {
		if l.Verdict == Passed {
			continue
		}
		verb := "dropped"
		if l.Verdict == RateLimited {
			verb = "rate-limited"
		}
		if !l.Certain {
			verb = "may be " + verb
		}
		by := l.By
		if !strings.HasSuffix(by, "default") && by != "anti-spoofing" {
			by = "filter " + by
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s) by %s", l.Direction, verb, l.Packet, by))
	}
	return strings.Join(parts, "; ")
}

// Report is the outcome of Check.
type Report struct {
	Policy string
	Flows  []FlowResult
}

// OK reports whether every flow passes.
func (r *Report) OK() bool {
	for _, f := range r.Flows {
		if !f.Passes {
			return false
		}
	}
	return true
}

// Failed returns the flows that would be dropped.
func (r *Report) Failed() []FlowResult {
	var out []FlowResult
	for _, f := range r.Flows {
		if !f.Passes {
			out = append(out, f)
		}
	}
	return out
}

// String lists every flow with its verdict, one a line.
func (r *Report) String() string {
	var b strings.Builder
	for _, f := range r.Flows {
		if f.Passes {
			fmt.Fprintf(&b, "pass  %s\n", f.Flow)
		} else {
			fmt.Fprintf(&b, "DROP  %s: %s\n", f.Flow, f.Reason())
		}
	}
	return b.String()
}

// Check evaluates the filters of p against each flow as the firmware does
// (protocol.md §4.3): anti-spoofing first (a flow is the host's own traffic,
// so it passes), then every filter of the direction: any matching drop or
// rate-limit filter drops; else a matching pass filter passes; else the
// direction's default decides. Filters are stateless, so each flow is
// checked in both directions: a TCP connection from the host to S:443 needs
// Tx to S port 443 and Rx from S source port 443.
//
// A flow stands for many packets (any ephemeral port, any MAC address);
// it passes only if all of them pass, so Check never approves a policy that
// might cut a required flow. Check does no I/O.
func Check(p *Policy, flows []Flow) *Report {
	r := &Report{Policy: p.Name}
	for _, fl := range flows {
		res := FlowResult{Flow: fl, Passes: true}
		for _, pk := range fl.packets() {
			leg := evaluate(p, pk)
			res.Legs = append(res.Legs, leg)
			if leg.Verdict != Passed {
				res.Passes = false
			}
		}
		r.Flows = append(r.Flows, res)
	}
	return r
}

// packetSet is the set of packets of one direction of a flow. Unset fields
// are unknown (any value).
type packetSet struct {
	dir      Direction
	arp      bool
	version  int // 4 or 6
	src, dst Addr
	proto    Protocol
	sport    *PortRange
	dport    *PortRange
}

func (s packetSet) String() string {
	if s.arp {
		return "arp"
	}
	end := func(a Addr, p *PortRange, host bool) string {
		str := a.String()
		if host && !a.Addr.IsValid() {
			str = "host"
		}
		if p != nil {
			str += ":" + p.String()
		}
		return str
	}
	return fmt.Sprintf("%s %s -> %s", s.proto, end(s.src, s.sport, s.dir == Tx), end(s.dst, s.dport, s.dir == Rx))
}

// packets returns the two directions of a flow.
func (f Flow) packets() []packetSet {
	if f.ARP {
		return []packetSet{{dir: Tx, arp: true}, {dir: Rx, arp: true}}
	}
	version := f.Peer.version()
	if version == 0 && f.Host.IsValid() {
		version = 4
		if !f.Host.Unmap().Is4() {
			version = 6
		}
	}
	if version == 0 {
		version = 4
		if f.Protocol == ProtoICMPv6 {
			version = 6
		}
	}
	host := Addr{}
	if f.Host.IsValid() {
		host = Addr{Addr: f.Host.Unmap()}
	}
	out := packetSet{dir: Tx, version: version, src: host, dst: f.Peer, proto: f.Protocol, sport: f.HostPorts, dport: f.PeerPorts}
	in := packetSet{dir: Rx, version: version, src: f.Peer, dst: host, proto: f.Protocol, sport: f.PeerPorts, dport: f.HostPorts}
	if f.Initiator == PeerInitiates {
		return []packetSet{in, out}
	}
	return []packetSet{out, in}
}

// tri is a three-valued match: the filter matches every packet of the set,
// none, or some.
type tri int

const (
	never tri = iota
	maybe
	always
)

func and(a, b tri) tri { return min(a, b) }

func evaluate(p *Policy, pk packetSet) Leg {
	leg := Leg{Direction: pk.dir, Packet: pk.String()}
	var drop, limit, pass, passMaybe *Filter
	dropCertain, limitCertain := false, false
	for i := range p.Filters {
		f := &p.Filters[i]
		if f.Direction != pk.dir {
			continue
		}
		m := match(f, pk)
		if m == never {
			continue
		}
		switch f.Action {
		case Drop:
			if drop == nil || (m == always && !dropCertain) {
				drop, dropCertain = f, m == always
			}
		case RateLimit:
			if limit == nil || (m == always && !limitCertain) {
				limit, limitCertain = f, m == always
			}
		case Pass:
			if m == always && pass == nil {
				pass = f
			} else if passMaybe == nil {
				passMaybe = f
			}
		}
	}
	switch {
	case drop != nil && (dropCertain || limit == nil || !limitCertain):
		leg.Verdict, leg.By, leg.Certain = Dropped, drop.Name, dropCertain
	case limit != nil:
		leg.Verdict, leg.By, leg.Certain = RateLimited, limit.Name, limitCertain
	case pass != nil:
		leg.Verdict, leg.By, leg.Certain = Passed, pass.Name, true
	default:
		defDrop, by := p.TxDefaultDrop, "tx default"
		if pk.dir == Rx {
			defDrop, by = p.RxDefaultDrop, "rx default"
		}
		leg.By, leg.Certain = by, true
		leg.Verdict = Passed
		if defDrop {
			leg.Verdict = Dropped
			// Some packets match a pass filter and pass; the rest fall to
			// the default and are dropped.
			leg.Certain = passMaybe == nil
		}
	}
	return leg
}

// match tells whether filter f matches the packets of pk.
func match(f *Filter, pk packetSet) tri {
	if f.Kind == Ethernet {
		et := EtherIPv4
		switch {
		case pk.arp:
			et = EtherARP
		case pk.version == 6:
			et = EtherIPv6
		}
		if f.EtherType != et {
			return never
		}
		m := always
		if !f.SrcMAC.IsZero() || !f.DstMAC.IsZero() || f.Priority != nil || f.VLAN != nil {
			m = maybe // a flow does not say which MACs, VLAN or priority its frames carry
		}
		return m
	}
	if pk.arp {
		return never // an IP header filter matches IP packets only
	}
	if v := f.ipVersion(); v != 0 && v != pk.version {
		return never
	}
	m := always
	m = and(m, addrMatch(f.Src, pk.src, pk.version))
	m = and(m, addrMatch(f.Dst, pk.dst, pk.version))
	if f.Protocol != ProtoAny && f.Protocol != pk.proto {
		return never
	}
	if f.SrcPorts != nil {
		m = and(m, portMatch(*f.SrcPorts, pk.sport))
	}
	if f.DstPorts != nil {
		m = and(m, portMatch(*f.DstPorts, pk.dport))
	}
	if len(f.DSCP) > 0 && len(f.DSCP) < 64 {
		m = and(m, maybe) // the flow does not say which DSCP its packets carry
	}
	if f.FlowLabel != nil {
		m = and(m, maybe)
	}
	return m
}

func portMatch(filter PortRange, pk *PortRange) tri {
	set := PortRange{0, 65535}
	if pk != nil {
		set = *pk
	}
	switch {
	case set.Start >= filter.Start && set.End <= filter.End:
		return always
	case set.End < filter.Start || set.Start > filter.End:
		return never
	}
	return maybe
}

// addrMatch relates a filter's address match to the set of addresses the
// packets carry (any, when unset).
func addrMatch(filter, pk Addr, version int) tri {
	if !filter.Addr.IsValid() {
		return always
	}
	if filter.version() != version {
		return never
	}
	if pk.Addr.IsValid() && !pk.Mask.IsValid() && !pk.End.IsValid() {
		if filter.Contains(pk.Addr) {
			return always
		}
		return never
	}
	flo, fhi, fok := filter.interval()
	plo, phi, pok := pk.interval()
	if !pk.Addr.IsValid() {
		bits := 32
		if version == 6 {
			bits = 128
		}
		plo, phi, pok = new(big.Int), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1)), true
	}
	if !fok || !pok {
		return maybe // a mask with holes: Check does not reason about it
	}
	switch {
	case plo.Cmp(flo) >= 0 && phi.Cmp(fhi) <= 0:
		return always
	case phi.Cmp(flo) < 0 || plo.Cmp(fhi) > 0:
		return never
	}
	return maybe
}

// interval returns the addresses a match covers as one interval, when it
// is one (not for masks with holes).
func (a Addr) interval() (lo, hi *big.Int, ok bool) {
	toInt := func(ip netip.Addr) *big.Int { return new(big.Int).SetBytes(ip.AsSlice()) }
	switch {
	case !a.Addr.IsValid():
		return nil, nil, false
	case a.End.IsValid():
		return toInt(a.Addr), toInt(a.End), true
	case a.Mask.IsValid():
		if _, contiguous := prefixLen(a.Mask); !contiguous {
			return nil, nil, false
		}
		m, x := a.Mask.AsSlice(), a.Addr.AsSlice()
		l, h := make([]byte, len(x)), make([]byte, len(x))
		for i := range x {
			l[i] = x[i] & m[i]
			h[i] = x[i] | ^m[i]
		}
		return new(big.Int).SetBytes(l), new(big.Int).SetBytes(h), true
	}
	return toInt(a.Addr), toInt(a.Addr), true
}
