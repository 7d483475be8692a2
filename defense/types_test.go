package defense

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustAddr(t *testing.T, s string) Addr {
	t.Helper()
	a, err := ParseAddr(s)
	require.NoError(t, err)
	return a
}

func TestParseAddrForms(t *testing.T) {
	for in, want := range map[string]string{
		"any":                    "any",
		"10.0.0.1":               "10.0.0.1",
		"10.0.0.0/24":            "10.0.0.0/24",
		"10.0.0.0/255.255.0.255": "10.0.0.0/255.255.0.255",
		"10.0.0.1-10.0.0.9":      "10.0.0.1-10.0.0.9",
		"2001:db8::/32":          "2001:db8::/32",
		"::ffff:10.0.0.1":        "10.0.0.1",
	} {
		a, err := ParseAddr(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, a.String(), in)
	}
	for _, bad := range []string{"10.0.0", "10.0.0.0/33", "10.0.0.9-10.0.0.1", "10.0.0.1-2001:db8::1", "10.0.0.0/ffff::", "fe80::1%eth0", "x/24"} {
		_, err := ParseAddr(bad)
		assert.Error(t, err, bad)
	}
}

func TestAddrContains(t *testing.T) {
	ip := netip.MustParseAddr
	a := mustAddr(t, "10.1.0.0/16")
	assert.True(t, a.Contains(ip("10.1.200.3")))
	assert.False(t, a.Contains(ip("10.2.0.1")))
	assert.False(t, a.Contains(ip("2001:db8::1")))
	r := mustAddr(t, "10.0.0.5-10.0.0.7")
	assert.True(t, r.Contains(ip("10.0.0.7")))
	assert.False(t, r.Contains(ip("10.0.0.8")))
	holes := mustAddr(t, "10.0.0.1/255.0.0.255")
	assert.True(t, holes.Contains(ip("10.99.98.1")))
	assert.False(t, holes.Contains(ip("10.99.98.2")))
	assert.True(t, Addr{}.Contains(ip("192.0.2.1")))
}

func TestParsePortRange(t *testing.T) {
	r, err := ParsePortRange("1024-65535")
	require.NoError(t, err)
	assert.Equal(t, PortRange{1024, 65535}, r)
	for _, bad := range []string{"65536", "-1", "10-5", "x", "1-70000"} {
		_, err := ParsePortRange(bad)
		assert.Error(t, err, bad)
	}
}

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var fe *FieldError
	require.True(t, errors.As(err, &fe), "want a *FieldError, got %v", err)
	return fe.Field
}

func TestFilterValidationNamesTheField(t *testing.T) {
	ok := Filter{Kind: IPHeader, Name: "web", Direction: Tx, Action: Pass, Protocol: ProtoTCP, DstPorts: Port(443)}
	require.NoError(t, ok.Validate())
	prio, vlan := uint8(9), uint16(5000)
	label := uint32(1 << 21)
	cases := map[string]func(f *Filter){
		"name":       func(f *Filter) { f.Name = "seventeen-chars-x" },
		"direction":  func(f *Filter) { f.Direction = 7 },
		"action":     func(f *Filter) { f.Action = 0 },
		"rate_pps":   func(f *Filter) { f.Action = RateLimit },
		"statistics": func(f *Filter) { f.Action, f.RatePPS, f.Statistics = RateLimit, 10, true },
		"dst_ports":  func(f *Filter) { f.Protocol = ProtoICMP },
		"src_ports":  func(f *Filter) { f.Protocol, f.SrcPorts, f.DstPorts = ProtoAny, Port(1), nil },
		"ip_version": func(f *Filter) { f.IPVersion = 5 },
		"src":        func(f *Filter) { f.IPVersion, f.Src = 6, Addr{Addr: netip.MustParseAddr("10.0.0.1")} },
		"dscp[1]":    func(f *Filter) { f.DSCP = []uint8{1, 64} },
		"flow_label": func(f *Filter) { f.FlowLabel = &label },
		"kind":       func(f *Filter) { f.EtherType = EtherARP },
	}
	for want, mutate := range cases {
		f := ok
		mutate(&f)
		assert.Equal(t, want, fieldOf(t, f.Validate()), want)
	}
	both := ok
	both.SrcPorts, both.DstPorts = Ports(1000, 2000), Ports(80, 88)
	assert.Equal(t, "dst_ports", fieldOf(t, both.Validate()))
	singles := ok
	singles.SrcPorts, singles.DstPorts = Port(68), Port(67)
	assert.NoError(t, singles.Validate())
	oneRange := ok
	oneRange.SrcPorts, oneRange.DstPorts = Port(5), Ports(80, 88)
	assert.NoError(t, oneRange.Validate())

	eth := Filter{Kind: Ethernet, Name: "arp", Direction: Rx, Action: Drop, EtherType: EtherARP}
	require.NoError(t, eth.Validate())
	for want, mutate := range map[string]func(f *Filter){
		"ether_type": func(f *Filter) { f.EtherType = 0 },
		"priority":   func(f *Filter) { f.Priority = &prio },
		"vlan":       func(f *Filter) { f.VLAN = &vlan },
		"src_mac":    func(f *Filter) { f.SrcMAC = MAC{Addr: net.HardwareAddr{1, 2, 3}} },
		"dst_mac":    func(f *Filter) { f.DstMAC = MAC{Mask: net.HardwareAddr{1, 2, 3, 4, 5, 6}} },
		"kind":       func(f *Filter) { f.Protocol = ProtoTCP },
	} {
		f := eth
		mutate(&f)
		assert.Equal(t, want, fieldOf(t, f.Validate()), want)
	}
}

func TestPolicyValidation(t *testing.T) {
	p := Policy{Name: "q", Filters: []Filter{
		{Kind: Ethernet, Name: "a", Direction: Tx, Action: Pass, EtherType: EtherARP},
		{Kind: Ethernet, Name: "a", Direction: Rx, Action: Pass, EtherType: EtherARP},
	}}
	assert.Equal(t, "filters[1].name", fieldOf(t, p.Validate()))
	p.Filters[1].Name = "b"
	require.NoError(t, p.Validate())
	p.Name = "a-policy-name-too-long"
	assert.Equal(t, "name", fieldOf(t, p.Validate()))
	p.Name = ""
	assert.Equal(t, "name", fieldOf(t, p.Validate()))
	p.Name = "q"
	p.Filters[0].Src = Addr{Addr: netip.MustParseAddr("10.0.0.1")}
	assert.Equal(t, "filters[0].kind", fieldOf(t, p.Validate()))
	p.Filters[0].Src = Addr{}
	p.Flows = []Flow{{Protocol: ProtoICMP, PeerPorts: Port(1)}}
	assert.Equal(t, "flows[0].ports", fieldOf(t, p.Validate()))
	many := Policy{Name: "big"}
	for i := range MaxFilters + 1 {
		many.Filters = append(many.Filters, Filter{Kind: Ethernet, Name: string(rune('A'+i/26)) + string(rune('a'+i%26)), Direction: Tx, Action: Pass, EtherType: EtherARP})
	}
	assert.Equal(t, "filters", fieldOf(t, many.Validate()))
}

func TestProfileRoundTrip(t *testing.T) {
	for _, c := range []struct {
		a     Action
		stats bool
		p     int
	}{{Pass, true, 0}, {Drop, true, 1}, {RateLimit, false, 2}, {Pass, false, 3}, {Drop, false, 4}} {
		assert.Equal(t, c.p, profile(c.a, c.stats))
		a, s, err := actionOfProfile(c.p)
		require.NoError(t, err)
		assert.Equal(t, c.a, a)
		assert.Equal(t, c.stats, s)
	}
	_, _, err := actionOfProfile(5)
	assert.Error(t, err)
}
