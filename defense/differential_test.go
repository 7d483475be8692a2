package defense_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/defense"
)

// gen makes random policies and concrete flows over a small address and
// port space, so that filters and flows often meet.
type gen struct {
	r    *rand.Rand
	host netip.Addr
}

var peers = []string{"10.0.0.1", "10.0.0.2", "10.0.0.5", "10.0.0.6", "10.0.0.9", "192.0.2.1"}
var portPool = []uint16{53, 67, 68, 80, 443, 8080, 50000}

func (g *gen) addr() defense.Addr {
	pick := func() netip.Addr {
		if g.r.IntN(5) == 0 {
			return g.host
		}
		return netip.MustParseAddr(peers[g.r.IntN(len(peers))])
	}
	switch g.r.IntN(6) {
	case 0, 1:
		return defense.Addr{}
	case 2:
		return defense.Addr{Addr: pick()}
	case 3:
		bits := []int{8, 24, 29, 30, 32}[g.r.IntN(5)]
		a, _ := defense.ParseAddr(fmt.Sprintf("%s/%d", pick(), bits))
		return a
	case 4:
		lo, hi := pick(), pick()
		if hi.Less(lo) {
			lo, hi = hi, lo
		}
		return defense.Addr{Addr: lo, End: hi}
	}
	// A mask with holes.
	a, _ := defense.ParseAddr(pick().String() + "/255.0.0.253")
	return a
}

func (g *gen) ports() *defense.PortRange {
	switch g.r.IntN(3) {
	case 0:
		return nil
	case 1:
		return defense.Port(portPool[g.r.IntN(len(portPool))])
	}
	a, b := portPool[g.r.IntN(len(portPool))], portPool[g.r.IntN(len(portPool))]
	return defense.Ports(min(a, b), max(a, b))
}

func (g *gen) filter(i int) defense.Filter {
	f := defense.Filter{Name: fmt.Sprintf("f%d", i), Direction: defense.Direction(g.r.IntN(2))}
	switch g.r.IntN(10) {
	case 0, 1, 2, 3, 4:
		f.Action = defense.Pass
	case 5, 6, 7, 8:
		f.Action = defense.Drop
	default:
		f.Action, f.RatePPS = defense.RateLimit, uint32(1+g.r.IntN(3))
	}
	if g.r.IntN(6) == 0 {
		f.Kind = defense.Ethernet
		f.EtherType = []uint16{defense.EtherARP, defense.EtherIPv4, defense.EtherIPv6}[g.r.IntN(3)]
		return f
	}
	f.Kind = defense.IPHeader
	f.Src, f.Dst = g.addr(), g.addr()
	if g.r.IntN(4) == 0 {
		f.IPVersion = 4
	}
	f.Protocol = []defense.Protocol{defense.ProtoAny, defense.ProtoTCP, defense.ProtoUDP, defense.ProtoICMP}[g.r.IntN(4)]
	if f.Protocol == defense.ProtoTCP || f.Protocol == defense.ProtoUDP {
		f.SrcPorts, f.DstPorts = g.ports(), g.ports()
		if f.SrcPorts != nil && f.DstPorts != nil && !f.SrcPorts.Single() && !f.DstPorts.Single() {
			f.SrcPorts = nil
		}
	}
	return f
}

func (g *gen) policy() *defense.Policy {
	p := &defense.Policy{Name: "diff", Precedence: 1, TxDefaultDrop: g.r.IntN(2) == 0, RxDefaultDrop: g.r.IntN(2) == 0, AntiSpoofing: g.r.IntN(4) == 0}
	n := g.r.IntN(9)
	for i := range n {
		p.Filters = append(p.Filters, g.filter(i))
	}
	return p
}

func (g *gen) flow() defense.Flow {
	if g.r.IntN(8) == 0 {
		return defense.Flow{ARP: true}
	}
	f := defense.Flow{Host: g.host, Peer: defense.Addr{Addr: netip.MustParseAddr(peers[g.r.IntN(len(peers))])}, Initiator: defense.Initiator(g.r.IntN(2))}
	f.Protocol = []defense.Protocol{defense.ProtoTCP, defense.ProtoUDP, defense.ProtoICMP}[g.r.IntN(3)]
	if f.Protocol != defense.ProtoICMP {
		f.PeerPorts = defense.Port(portPool[g.r.IntN(len(portPool))])
		f.HostPorts = defense.Port(portPool[g.r.IntN(len(portPool))])
	}
	return f
}

// packet is the simulator's packet for one leg of a concrete flow.
func packet(f defense.Flow, dir defense.Direction) amtsim.Packet {
	if f.ARP {
		d := amtsim.HostTransmit
		if dir == defense.Rx {
			d = amtsim.HostReceive
		}
		return amtsim.Packet{Direction: d, EtherType: defense.EtherARP}
	}
	p := amtsim.Packet{Protocol: uint8(f.Protocol)}
	var hp, pp uint16
	if f.HostPorts != nil {
		hp, pp = f.HostPorts.Start, f.PeerPorts.Start
	}
	if dir == defense.Tx {
		p.Direction, p.Src, p.Dst, p.SrcPort, p.DstPort = amtsim.HostTransmit, f.Host, f.Peer.Addr, hp, pp
	} else {
		p.Direction, p.Src, p.Dst, p.SrcPort, p.DstPort = amtsim.HostReceive, f.Peer.Addr, f.Host, pp, hp
	}
	return p
}

// TestCheckAgreesWithTheSimulator applies random policies to amtsim and
// compares, leg by leg, Check's verdict on concrete flows with what the
// simulator's own evaluator does with the same packets. The two were
// written independently from protocol.md.
func TestCheckAgreesWithTheSimulator(t *testing.T) {
	policies, flowsEach := 400, 25
	if testing.Short() {
		policies = 60
	}
	f := setup(t, amtsim.Options{})
	g := &gen{r: rand.New(rand.NewPCG(12, 1)), host: netip.MustParseAddr(f.dev.IP())}
	ctx := context.Background()
	legs, compared, uncertain, limited, passed := 0, 0, 0, 0, 0
	for pi := range policies {
		p := g.policy()
		_, err := f.svc.Apply(ctx, p, defense.ApplyOptions{NoTimeout: true})
		require.NoError(t, err, "policy %d", pi)
		for range flowsEach {
			fl := g.flow()
			r := defense.Check(p, []defense.Flow{fl})
			for _, leg := range r.Flows[0].Legs {
				legs++
				if !leg.Certain {
					uncertain++
					continue
				}
				compared++
				f.dev.AdvanceDefenseClock(2 * time.Second) // a fresh rate window
				pk := packet(fl, leg.Direction)
				v := f.dev.HostPacket(pk)
				switch leg.Verdict {
				case defense.Passed:
					passed++
					require.True(t, v.Pass, "policy %d %+v\nflow %s leg %s: Check passes by %s, simulator drops by %s %s", pi, p, fl, leg.Direction, leg.By, v.Rule, v.Filter)
				case defense.Dropped:
					require.False(t, v.Pass, "policy %d %+v\nflow %s leg %s: Check drops by %s, simulator passes by %s %s", pi, p, fl, leg.Direction, leg.By, v.Rule, v.Filter)
				case defense.RateLimited:
					limited++
					rate := 0
					for _, fi := range p.Filters {
						if fi.Name == leg.By {
							rate = int(fi.RatePPS)
						}
					}
					require.True(t, v.Pass, "policy %d flow %s leg %s: first packet under the rate of %s dropped by %s", pi, fl, leg.Direction, leg.By, v.Rule)
					for range rate {
						v = f.dev.HostPacket(pk)
					}
					require.False(t, v.Pass, "policy %d flow %s leg %s: packets over the rate of %s pass", pi, fl, leg.Direction, leg.By)
				}
			}
		}
	}
	t.Logf("differential: %d policies, %d flows, %d legs: %d compared and agreeing (%d pass, %d rate-limited, the rest drop), %d left out as uncertain", policies, policies*flowsEach, legs, compared, passed, limited, uncertain)
}
