package defense

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func web(t *testing.T) Flow {
	return Flow{Name: "web", Protocol: ProtoTCP, Peer: mustAddr(t, "10.0.0.5"), PeerPorts: Port(443)}
}

func legs(r *Report) []Leg { return r.Flows[0].Legs }

// A TCP connection needs both directions: a policy with only the Tx filter
// cuts it off at the Rx default.
func TestCheckStatelessNeedsBothDirections(t *testing.T) {
	p := &Policy{Name: "p", TxDefaultDrop: true, RxDefaultDrop: true, Filters: []Filter{
		{Kind: IPHeader, Name: "out", Direction: Tx, Action: Pass, Dst: mustAddr(t, "10.0.0.5"), Protocol: ProtoTCP, DstPorts: Port(443)},
	}}
	r := Check(p, []Flow{web(t)})
	require.False(t, r.OK())
	l := legs(r)
	assert.Equal(t, Passed, l[0].Verdict)
	assert.Equal(t, "out", l[0].By)
	assert.Equal(t, Rx, l[1].Direction)
	assert.Equal(t, Dropped, l[1].Verdict)
	assert.Equal(t, "rx default", l[1].By)
	assert.True(t, l[1].Certain)
	assert.Contains(t, r.Flows[0].Reason(), "rx dropped (tcp 10.0.0.5:443 -> host) by rx default")

	// The Rx filter must match the server's source port, not its destination.
	p.Filters = append(p.Filters, Filter{Kind: IPHeader, Name: "in-wrong", Direction: Rx, Action: Pass, Src: mustAddr(t, "10.0.0.5"), Protocol: ProtoTCP, DstPorts: Port(443)})
	assert.False(t, Check(p, []Flow{web(t)}).OK())
	p.Filters = append(p.Filters, Filter{Kind: IPHeader, Name: "in", Direction: Rx, Action: Pass, Src: mustAddr(t, "10.0.0.5"), Protocol: ProtoTCP, SrcPorts: Port(443)})
	r = Check(p, []Flow{web(t)})
	assert.True(t, r.OK(), r.String())
	assert.Equal(t, "in", legs(r)[1].By)
}

func TestCheckDropWinsOverPass(t *testing.T) {
	p := &Policy{Name: "p", Filters: []Filter{
		{Kind: IPHeader, Name: "pass-all", Direction: Tx, Action: Pass},
		{Kind: IPHeader, Name: "no-web", Direction: Tx, Action: Drop, Protocol: ProtoTCP, DstPorts: Port(443)},
	}}
	r := Check(p, []Flow{web(t)})
	require.False(t, r.OK())
	assert.Equal(t, "no-web", legs(r)[0].By)
	assert.Equal(t, Dropped, legs(r)[0].Verdict)
	assert.Contains(t, r.String(), "DROP  web: tx dropped (tcp host -> 10.0.0.5:443) by filter no-web")
}

func TestCheckRateLimitCountsAsDrop(t *testing.T) {
	p := &Policy{Name: "p", Filters: []Filter{
		{Kind: IPHeader, Name: "slow", Direction: Rx, Action: RateLimit, RatePPS: 10, Src: mustAddr(t, "10.0.0.0/8")},
	}}
	r := Check(p, []Flow{web(t)})
	require.False(t, r.OK())
	assert.Equal(t, RateLimited, legs(r)[1].Verdict)
	assert.Equal(t, "slow", legs(r)[1].By)
	assert.Contains(t, r.Flows[0].Reason(), "rate-limited")
}

func TestCheckDefaultsPass(t *testing.T) {
	p := &Policy{Name: "open"}
	assert.True(t, Check(p, []Flow{web(t), {ARP: true}}).OK())
	p.RxDefaultDrop = true
	r := Check(p, []Flow{{ARP: true}})
	assert.False(t, r.OK())
	assert.Equal(t, "rx default", legs(r)[1].By)
}

// A flow stands for all its packets: a pass filter that covers only some
// of them leaves the rest to the default, and Check says so.
func TestCheckPartialCoverIsNotEnough(t *testing.T) {
	p := &Policy{Name: "p", TxDefaultDrop: true, Filters: []Filter{
		{Kind: IPHeader, Name: "part", Direction: Tx, Action: Pass, Dst: mustAddr(t, "10.0.0.0/25"), Protocol: ProtoTCP, DstPorts: Port(443)},
	}}
	f := Flow{Protocol: ProtoTCP, Peer: mustAddr(t, "10.0.0.0/24"), PeerPorts: Port(443)}
	r := Check(p, []Flow{f})
	require.False(t, r.OK())
	l := legs(r)[0]
	assert.Equal(t, Dropped, l.Verdict)
	assert.False(t, l.Certain)
	assert.Contains(t, r.Flows[0].Reason(), "may be dropped")

	// Ephemeral host ports: a filter limited to 49152-65535 does not cover
	// every source port the host may pick.
	p.Filters[0] = Filter{Kind: IPHeader, Name: "eph", Direction: Tx, Action: Pass, Protocol: ProtoTCP, SrcPorts: Ports(49152, 65535), DstPorts: Port(443)}
	assert.False(t, Check(p, []Flow{web(t)}).OK())
	w := web(t)
	w.HostPorts = Ports(50000, 50010)
	assert.True(t, Check(p, []Flow{w}).OK())
}

// A drop filter that may match some packets of the flow fails it.
func TestCheckDropThatMayMatch(t *testing.T) {
	mac := net.HardwareAddr{0, 1, 2, 3, 4, 5}
	p := &Policy{Name: "p", Filters: []Filter{
		{Kind: Ethernet, Name: "bad-mac", Direction: Rx, Action: Drop, EtherType: EtherIPv4, SrcMAC: MAC{Addr: mac}},
	}}
	r := Check(p, []Flow{web(t)})
	require.False(t, r.OK())
	assert.False(t, legs(r)[1].Certain)
	assert.Equal(t, "bad-mac", legs(r)[1].By)
	// The same filter on IPv6 frames leaves an IPv4 flow alone.
	p.Filters[0].EtherType = EtherIPv6
	assert.True(t, Check(p, []Flow{web(t)}).OK())
}

func TestCheckEthernetAndIPFiltersByKind(t *testing.T) {
	p := &Policy{Name: "p", TxDefaultDrop: true, RxDefaultDrop: true, Filters: []Filter{
		{Kind: IPHeader, Name: "all-ip-tx", Direction: Tx, Action: Pass},
		{Kind: IPHeader, Name: "all-ip-rx", Direction: Rx, Action: Pass},
	}}
	// IP header filters do not match ARP frames.
	r := Check(p, []Flow{{ARP: true}, web(t)})
	assert.False(t, r.Flows[0].Passes)
	assert.True(t, r.Flows[1].Passes)
	p.Filters = append(p.Filters, Filter{Kind: Ethernet, Name: "no-ipv4", Direction: Tx, Action: Drop, EtherType: EtherIPv4})
	r = Check(p, []Flow{web(t)})
	assert.Equal(t, "no-ipv4", legs(r)[0].By)
	assert.True(t, legs(r)[0].Certain)
}

func TestCheckAddressAndVersion(t *testing.T) {
	p := &Policy{Name: "p", TxDefaultDrop: true, Filters: []Filter{
		{Kind: IPHeader, Name: "v6", Direction: Tx, Action: Pass, IPVersion: 6},
		{Kind: IPHeader, Name: "range", Direction: Tx, Action: Pass, Dst: mustAddr(t, "10.0.0.1-10.0.0.9")},
		{Kind: IPHeader, Name: "holes", Direction: Tx, Action: Pass, Dst: mustAddr(t, "172.16.0.1/255.0.255.255")},
	}}
	cases := map[string]bool{
		"2001:db8::1":       true,
		"10.0.0.9":          true,
		"10.0.0.10":         false,
		"10.0.0.2-10.0.0.8": true,
		"10.0.0.0/28":       false,
		"172.99.0.1":        true,
		"172.99.0.2":        false,
		"172.16.0.0/16":     false,
		"2001:db8::/64":     true,
	}
	for peer, want := range cases {
		f := Flow{Protocol: ProtoUDP, Peer: mustAddr(t, peer)}
		assert.Equal(t, want, legs(Check(p, []Flow{f}))[0].Verdict == Passed, peer)
	}
	// The host's own address narrows the source side.
	p.Filters = []Filter{{Kind: IPHeader, Name: "from-me", Direction: Tx, Action: Pass, Src: mustAddr(t, "192.168.1.7")}}
	f := Flow{Protocol: ProtoUDP, Peer: mustAddr(t, "10.0.0.1")}
	assert.Equal(t, Dropped, legs(Check(p, []Flow{f}))[0].Verdict)
	f.Host = netip.MustParseAddr("192.168.1.7")
	assert.Equal(t, Passed, legs(Check(p, []Flow{f}))[0].Verdict)
}

func TestCheckPeerInitiated(t *testing.T) {
	p := &Policy{Name: "p", TxDefaultDrop: true, RxDefaultDrop: true, Filters: []Filter{
		{Kind: IPHeader, Name: "rdp-in", Direction: Rx, Action: Pass, Protocol: ProtoTCP, DstPorts: Port(3389)},
		{Kind: IPHeader, Name: "rdp-out", Direction: Tx, Action: Pass, Protocol: ProtoTCP, SrcPorts: Port(3389)},
	}}
	f := Flow{Protocol: ProtoTCP, Peer: mustAddr(t, "10.0.0.9"), HostPorts: Port(3389), Initiator: PeerInitiates}
	r := Check(p, []Flow{f})
	assert.True(t, r.OK(), r.String())
	assert.Equal(t, Rx, legs(r)[0].Direction)
	assert.Equal(t, "tcp 10.0.0.9 -> host:3389", legs(r)[0].Packet)
}

func TestCheckAntiSpoofingLeavesOwnTrafficAlone(t *testing.T) {
	p, err := PingOnly(PingOnlyOptions{AntiSpoofing: true})
	require.NoError(t, err)
	assert.True(t, Check(p, p.Flows).OK())
}

func TestCheckDSCPAndFlowLabelAreUnknown(t *testing.T) {
	label := uint32(5)
	p := &Policy{Name: "p", Filters: []Filter{
		{Kind: IPHeader, Name: "dscp", Direction: Tx, Action: Drop, DSCP: []uint8{46}},
		{Kind: IPHeader, Name: "label", Direction: Rx, Action: Drop, IPVersion: 6, FlowLabel: &label},
	}}
	r := Check(p, []Flow{web(t), {Protocol: ProtoTCP, Peer: mustAddr(t, "2001:db8::5")}})
	assert.False(t, r.Flows[0].Legs[0].Certain)
	assert.Equal(t, Passed, r.Flows[0].Legs[1].Verdict)
	assert.Equal(t, "label", r.Flows[1].Legs[1].By)
}

func TestReportFailedAndString(t *testing.T) {
	p := &Policy{Name: "p", TxDefaultDrop: true}
	r := Check(p, []Flow{web(t), {ARP: true}})
	assert.Len(t, r.Failed(), 2)
	assert.Equal(t, "p", r.Policy)
	assert.Contains(t, r.String(), "DROP  arp: tx dropped (arp) by tx default")
}
