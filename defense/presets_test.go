package defense

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.5:443":              "10.0.0.5:443/tcp",
		"10.0.0.5:443,8443/tcp":     "10.0.0.5:443,8443/tcp",
		"10.0.0.0/24:1024-2048/udp": "10.0.0.0/24:1024-2048/udp",
		"10.0.0.5-10.0.0.9":         "10.0.0.5-10.0.0.9",
		"10.0.0.5/udp":              "10.0.0.5/udp",
		"[2001:db8::1]:443":         "[2001:db8::1]:443/tcp",
		"2001:db8::1":               "2001:db8::1",
		"10.0.0.0/255.255.255.0:80": "10.0.0.0/24:80/tcp",
	} {
		e, err := ParseEndpoint(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, e.String(), in)
	}
	for _, bad := range []string{"", "any:80", "10.0.0.5:70000", "10.0.0.5:90-80", "[2001:db8::1", "[::1]x", "host.example:80", "10.0.0.5:"} {
		_, err := ParseEndpoint(bad)
		assert.Error(t, err, bad)
	}
}

func threeServers(t *testing.T) QuarantineOptions {
	t.Helper()
	var allow []Endpoint
	for _, s := range []string{"10.0.0.10:443", "10.0.0.20:80,443", "10.0.1.0/24:8000-8100/udp"} {
		e, err := ParseEndpoint(s)
		require.NoError(t, err)
		allow = append(allow, e)
	}
	return QuarantineOptions{Allow: allow, DNS: []netip.Addr{netip.MustParseAddr("10.0.0.53")}}
}

func TestQuarantinePassesItsOwnFlows(t *testing.T) {
	p, err := Quarantine(threeServers(t))
	require.NoError(t, err)
	require.NoError(t, p.Validate())
	assert.Equal(t, "quarantine", p.Name)
	assert.True(t, p.TxDefaultDrop)
	assert.True(t, p.RxDefaultDrop)
	// ARP 2, DHCP 2, DNS 2, servers 2 + 4 + 2.
	assert.Len(t, p.Filters, 14)
	r := Check(p, p.Flows)
	assert.True(t, r.OK(), r.String())
	assert.Len(t, r.Flows, 7) // arp, dhcp, dns, 4 server flows

	// Everything else is dropped, in both directions.
	other := []Flow{
		{Protocol: ProtoTCP, Peer: mustAddr(t, "10.0.0.10"), PeerPorts: Port(22)},
		{Protocol: ProtoTCP, Peer: mustAddr(t, "192.0.2.1"), PeerPorts: Port(443)},
		{Protocol: ProtoUDP, Peer: mustAddr(t, "8.8.8.8"), PeerPorts: Port(53)},
		{Protocol: ProtoICMP, Peer: mustAddr(t, "10.0.0.10")},
		{Protocol: ProtoTCP, Peer: mustAddr(t, "10.0.0.10"), HostPorts: Port(3389), Initiator: PeerInitiates},
	}
	r = Check(p, other)
	for _, f := range r.Flows {
		assert.False(t, f.Passes, f.Flow.String())
	}
}

func TestQuarantineOptions(t *testing.T) {
	o := threeServers(t)
	o.NoDHCP, o.AntiSpoofing, o.Statistics, o.Name, o.Precedence = true, true, true, "lockdown", 7
	p, err := Quarantine(o)
	require.NoError(t, err)
	assert.Equal(t, "lockdown", p.Name)
	assert.Equal(t, uint32(7), p.Precedence)
	assert.True(t, p.AntiSpoofing)
	assert.True(t, p.TxDefaultCount)
	for _, f := range p.Filters {
		assert.NotContains(t, f.Name, "dhcp")
		assert.True(t, f.Statistics, f.Name)
	}
	dhcp := Flow{Name: "dhcp", Protocol: ProtoUDP, PeerPorts: Port(67), HostPorts: Port(68)}
	r := Check(p, []Flow{dhcp})
	require.False(t, r.OK())
	assert.Equal(t, "tx default", r.Flows[0].Legs[0].By)

	_, err = Quarantine(QuarantineOptions{})
	assert.Equal(t, "allow", fieldOf(t, err))
	_, err = Quarantine(QuarantineOptions{Allow: o.Allow, Name: "name-of-seventeen"})
	assert.Equal(t, "name", fieldOf(t, err))
	_, err = Quarantine(QuarantineOptions{DNS: []netip.Addr{{}}})
	assert.Equal(t, "dns[0]", fieldOf(t, err))
}

func TestQuarantineIPv6AddsNeighbourDiscovery(t *testing.T) {
	e, err := ParseEndpoint("[2001:db8::10]:443")
	require.NoError(t, err)
	p, err := Quarantine(QuarantineOptions{Allow: []Endpoint{e}})
	require.NoError(t, err)
	r := Check(p, append(p.Flows, Flow{Protocol: ProtoICMPv6, Peer: mustAddr(t, "fe80::1")}))
	assert.True(t, r.OK(), r.String())
}

func TestPingOnly(t *testing.T) {
	p, err := PingOnly(PingOnlyOptions{AntiSpoofing: true})
	require.NoError(t, err)
	assert.Equal(t, "ping-only", p.Name)
	assert.True(t, p.AntiSpoofing)
	r := Check(p, p.Flows)
	assert.True(t, r.OK(), r.String())
	r = Check(p, []Flow{{Protocol: ProtoTCP, Peer: mustAddr(t, "10.0.0.10"), PeerPorts: Port(443)}, {Protocol: ProtoUDP, PeerPorts: Port(53)}})
	assert.False(t, r.Flows[0].Passes)
	assert.False(t, r.Flows[1].Passes)
}
