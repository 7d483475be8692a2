package sysdefense

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clock is a test clock the unit reads.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

var (
	hostIP  = netip.MustParseAddr("192.168.1.20")
	hostMAC = net.HardwareAddr{0xa4, 0xae, 0x12, 0x34, 0x56, 0x78}
	server  = netip.MustParseAddr("10.0.0.5")
)

func newUnit(t *testing.T, cfg Config) (*Unit, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg.Now = c.now
	cfg.HostMAC, cfg.HostIPv4 = hostMAC, hostIP
	u, err := New(cfg)
	require.NoError(t, err)
	return u, c
}

// kv builds a body from name, value pairs.
func kv(pairs ...string) []Field {
	var out []Field
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Field{Name: pairs[i], Value: pairs[i+1]})
	}
	return out
}

func placeholders() []string {
	return []string{"InstanceID", "0", "CreationClassName", "n/a", "SystemName", "n/a", "SystemCreationClassName", "n/a"}
}

func ipFilter(name string, dir, profile int, extra ...string) []Field {
	p := append(placeholders(), "Name", name, "FilterDirection", strconv.Itoa(dir),
		"FilterProfile", strconv.Itoa(profile), "ActionEventOnMatch", "false")
	return kv(append(p, extra...)...)
}

func ethFilter(name string, dir, profile int, etherType uint16, extra ...string) []Field {
	p := append(placeholders(), "Name", name, "FilterDirection", strconv.Itoa(dir),
		"FilterProfile", strconv.Itoa(profile), "ActionEventOnMatch", "false",
		"HdrProtocolID8021", strconv.Itoa(int(etherType)))
	return kv(append(p, extra...)...)
}

func policyBody(name string, precedence int, txDrop, rxDrop bool, handles []string, extra ...string) []Field {
	p := []string{"InstanceID", "0", "PolicyName", name, "PolicyPrecedence", strconv.Itoa(precedence),
		"TxDefaultCount", "false", "TxDefaultDrop", boolText(txDrop), "TxDefaultMatchEvent", "false",
		"RxDefaultCount", "false", "RxDefaultDrop", boolText(rxDrop), "RxDefaultMatchEvent", "false"}
	p = append(p, extra...)
	for _, h := range handles {
		p = append(p, "FilterCreationHandles", h)
	}
	return kv(p...)
}

func create(t *testing.T, u *Unit, class string, body []Field) string {
	t.Helper()
	epr, err := u.Create(class, body)
	require.NoError(t, err)
	for _, s := range epr.Selectors {
		if s.Name == "InstanceID" {
			return s.Value
		}
	}
	return ""
}

func portRef(n int) Field {
	e := portEPR(n)
	e.Selectors = e.Selectors[1:] // DeviceID only, as protocol.md §4.4 sends it
	return Field{Name: "Antecedent", EPR: &e}
}

func policyRef(id string) Field {
	return Field{Name: "Dependent", EPR: &EPR{ResourceURI: URI(ClassPolicy), Selectors: []Selector{{Name: "InstanceID", Value: id}}}}
}

func enable(u *Unit, class string, port int, policyID string) error {
	_, err := u.Create(class, []Field{portRef(port), policyRef(policyID)})
	return err
}

func requireStatus(t *testing.T, err error, status int) {
	t.Helper()
	var f *Fault
	require.True(t, errors.As(err, &f), "want a fault, got %v", err)
	require.Equal(t, FaultInternalError, f.Code, "fault %v", f)
	require.Equal(t, status, f.Status, "fault %v", f)
}

func requireCode(t *testing.T, err error, code FaultCode) {
	t.Helper()
	var f *Fault
	require.True(t, errors.As(err, &f), "want a fault, got %v", err)
	require.Equal(t, code, f.Code, "fault %v", f)
}

func tcp(dir Direction, src, dst netip.Addr, sport, dport uint16) Packet {
	return Packet{Port: PortWired, Direction: dir, Src: src, Dst: dst, Protocol: 6, SrcPort: sport, DstPort: dport}
}

// quarantine creates a policy dropping everything but TCP with server
// port 443 in both directions (stateless: Tx to 443, Rx from 443) and
// ARP, enabled on the wired port.
func quarantine(t *testing.T, u *Unit) (policyID string, filters []string) {
	t.Helper()
	filters = []string{
		create(t, u, ClassIPHeadersFilter, ipFilter("https-out", DirTx, ProfileStatsPass,
			"HdrIPVersion", "4", "HdrDestAddress", "0A000005", "HdrProtocolID", "6", "HdrDestPortStart", "443", "HdrDestPortEnd", "443")),
		create(t, u, ClassIPHeadersFilter, ipFilter("https-in", DirRx, ProfileStatsPass,
			"HdrIPVersion", "4", "HdrSrcAddress", "0A000005", "HdrProtocolID", "6", "HdrSrcPortStart", "443", "HdrSrcPortEnd", "443")),
		create(t, u, ClassHdr8021Filter, ethFilter("arp-out", DirTx, ProfilePass, EtherTypeARP)),
		create(t, u, ClassHdr8021Filter, ethFilter("arp-in", DirRx, ProfilePass, EtherTypeARP)),
	}
	policyID = create(t, u, ClassPolicy, kv("PolicyName", "quarantine", "PolicyPrecedence", "10",
		"TxDefaultCount", "true", "TxDefaultDrop", "true", "TxDefaultMatchEvent", "false",
		"RxDefaultCount", "false", "RxDefaultDrop", "true", "RxDefaultMatchEvent", "false",
		"FilterCreationHandles", filters[0], "FilterCreationHandles", filters[1],
		"FilterCreationHandles", filters[2], "FilterCreationHandles", filters[3]))
	require.NoError(t, enable(u, ClassPortPolicy, PortWired, policyID))
	return policyID, filters
}

func TestCreateAssignsHandlesAndOverwritesKeys(t *testing.T) {
	u, _ := newUnit(t, Config{})
	epr, err := u.Create(ClassHdr8021Filter, ethFilter("blockARP", DirTx, ProfileDrop, EtherTypeARP))
	require.NoError(t, err)
	require.Equal(t, URI(ClassHdr8021Filter), epr.ResourceURI)
	require.Equal(t, []Selector{
		{Name: "CreationClassName", Value: ClassHdr8021Filter},
		{Name: "InstanceID", Value: "1"},
		{Name: "Name", Value: "blockARP"},
		{Name: "SystemCreationClassName", Value: "CIM_ComputerSystem"},
		{Name: "SystemName", Value: "Intel(r) AMT"},
	}, epr.Selectors)
	in, err := u.Get(ClassHdr8021Filter, []Selector{{Name: "InstanceID", Value: "1"}})
	require.NoError(t, err)
	var names []string
	for _, p := range in.Props {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"ActionEventOnMatch", "CreationClassName", "FilterDirection", "FilterProfile",
		"HdrProtocolID8021", "InstanceID", "Name", "SystemCreationClassName", "SystemName"}, names)
	v, _ := in.Get("CreationClassName")
	require.Equal(t, ClassHdr8021Filter, v)

	id2 := create(t, u, ClassIPHeadersFilter, ipFilter("web", DirRx, ProfilePass, "HdrIPVersion", "4", "HdrProtocolID", "6"))
	require.Equal(t, "2", id2)
	pid := create(t, u, ClassPolicy, policyBody("p", 1, true, true, []string{id2}))
	require.Equal(t, "3", pid)

	nf, err := u.Enumerate(ClassNetworkFilter)
	require.NoError(t, err)
	require.Len(t, nf, 2)
	_, owned := nf[0].Get("OwnerID")
	require.False(t, owned)
	owner, _ := nf[1].Get("OwnerID")
	require.Equal(t, pid, owner)

	fip, err := u.Enumerate(ClassFilterInPolicy)
	require.NoError(t, err)
	require.Len(t, fip, 1)
	pis, err := u.Enumerate(ClassPolicyInService)
	require.NoError(t, err)
	require.Len(t, pis, 1)

	// A wrong selector value, an unknown key and a missing key.
	_, err = u.Get(ClassHdr8021Filter, []Selector{{Name: "InstanceID", Value: "9"}})
	requireCode(t, err, FaultInvalidSelectors)
	_, err = u.Get(ClassHdr8021Filter, []Selector{{Name: "Bogus", Value: "1"}})
	requireCode(t, err, FaultInvalidSelectors)
	_, err = u.Get(ClassHdr8021Filter, []Selector{{Name: "Name", Value: "blockARP"}})
	requireCode(t, err, FaultInvalidSelectors)
	_, err = u.Get(ClassHdr8021Filter, []Selector{{Name: "InstanceID", Value: "1"}, {Name: "Name", Value: "other"}})
	requireCode(t, err, FaultInvalidSelectors)
}

func TestFilterValidation(t *testing.T) {
	u, _ := newUnit(t, Config{})
	cases := []struct {
		name   string
		class  string
		body   []Field
		code   FaultCode
		status int
	}{
		{"name over 16", ClassIPHeadersFilter, ipFilter("abcdefghijklmnopq", DirTx, ProfilePass), FaultInternalError, 36},
		{"empty name", ClassIPHeadersFilter, ipFilter("", DirTx, ProfilePass), FaultInternalError, 36},
		{"direction 2", ClassIPHeadersFilter, ipFilter("a", 2, ProfilePass), FaultInternalError, 36},
		{"profile 5", ClassIPHeadersFilter, ipFilter("a", DirTx, 5), FaultInternalError, 36},
		{"rate limit without rate", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfileRateLimit), FaultInternalError, 36},
		{"missing direction", ClassIPHeadersFilter, kv("Name", "a", "FilterProfile", "3", "ActionEventOnMatch", "false"), FaultSchemaValidation, 0},
		{"unknown property", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "Bogus", "1"), FaultSchemaValidation, 0},
		{"not a number", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrProtocolID", "tcp"), FaultSchemaValidation, 0},
		{"protocol over 255", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrProtocolID", "256"), FaultSchemaValidation, 0},
		{"scalar twice", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrProtocolID", "6", "HdrProtocolID", "17"), FaultSchemaValidation, 0},
		{"address without version", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrDestAddress", "0A000005"), FaultInternalError, 36},
		{"address size", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrIPVersion", "4", "HdrDestAddress", "0A0000"), FaultInternalError, 36},
		{"mask and range", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrIPVersion", "4", "HdrDestAddress", "0A000005",
			"HdrDestMask", "FFFFFF00", "HdrDestAddressEndOfRange", "0A000009"), FaultInternalError, 36},
		{"range without start", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrIPVersion", "4", "HdrDestAddressEndOfRange", "0A000009"), FaultInternalError, 36},
		{"range below start", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrIPVersion", "4", "HdrDestAddress", "0A000009", "HdrDestAddressEndOfRange", "0A000005"), FaultInternalError, 36},
		{"ports without protocol", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrDestPortStart", "80", "HdrDestPortEnd", "80"), FaultInternalError, 36},
		{"two port ranges", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrProtocolID", "6",
			"HdrSrcPortStart", "1000", "HdrSrcPortEnd", "2000", "HdrDestPortStart", "80", "HdrDestPortEnd", "88"), FaultInternalError, 36},
		{"start above end", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrProtocolID", "6", "HdrDestPortStart", "90", "HdrDestPortEnd", "80"), FaultInternalError, 36},
		{"lone port start", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrProtocolID", "6", "HdrDestPortStart", "90"), FaultInternalError, 36},
		{"flow label on IPv4", ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass, "HdrIPVersion", "4", "HdrFlowLabel", "000001"), FaultInternalError, 36},
		{"ethertype missing", ClassHdr8021Filter, kv("Name", "a", "FilterDirection", "0", "FilterProfile", "3", "ActionEventOnMatch", "false"), FaultSchemaValidation, 0},
		{"MAC size", ClassHdr8021Filter, ethFilter("a", DirTx, ProfilePass, EtherTypeIPv4, "HdrSrcMACAddr8021", "AAAA"), FaultInternalError, 36},
		{"VLAN over 4095", ClassHdr8021Filter, ethFilter("a", DirTx, ProfilePass, EtherTypeIPv4, "HdrVLANID8021", "4096"), FaultInternalError, 36},
		{"priority over 7", ClassHdr8021Filter, ethFilter("a", DirTx, ProfilePass, EtherTypeIPv4, "HdrPriorityValue8021", "8"), FaultInternalError, 36},
		{"IP field on Ethernet filter", ClassHdr8021Filter, ethFilter("a", DirTx, ProfilePass, EtherTypeIPv4, "HdrProtocolID", "6"), FaultSchemaValidation, 0},
		{"reference value", ClassIPHeadersFilter, append(ipFilter("a", DirTx, ProfilePass), Field{Name: "HdrProtocolID", EPR: &EPR{}}), FaultSchemaValidation, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := u.Create(c.class, c.body)
			requireCode(t, err, c.code)
			if c.code == FaultInternalError {
				requireStatus(t, err, c.status)
			}
		})
	}
	all, err := u.Enumerate(ClassNetworkFilter)
	require.NoError(t, err)
	require.Empty(t, all, "a refused Create leaves nothing behind")

	// Accepted edge cases: equal ports on both sides, an IPv6 range, a
	// 20-byte IPv6 address.
	create(t, u, ClassIPHeadersFilter, ipFilter("eq", DirTx, ProfilePass, "HdrProtocolID", "17",
		"HdrSrcPortStart", "53", "HdrSrcPortEnd", "53", "HdrDestPortStart", "53", "HdrDestPortEnd", "53"))
	create(t, u, ClassIPHeadersFilter, ipFilter("v6", DirTx, ProfilePass, "HdrIPVersion", "6",
		"HdrDestAddress", "20010db8000000000000000000000001", "HdrDestAddressEndOfRange", "20010db80000000000000000000000ff"))
	create(t, u, ClassIPHeadersFilter, ipFilter("v6-20", DirTx, ProfilePass, "HdrIPVersion", "6",
		"HdrSrcAddress", "20010db800000000000000000000000100000000"))
}

func TestPolicyCreateAndGlobalLimits(t *testing.T) {
	u, _ := newUnit(t, Config{MaxFilters: 3, MaxPolicies: 2, MaxHandlesPerPolicy: 2})
	f1 := create(t, u, ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass))
	f2 := create(t, u, ClassIPHeadersFilter, ipFilter("b", DirTx, ProfilePass))
	f3 := create(t, u, ClassIPHeadersFilter, ipFilter("c", DirTx, ProfilePass))
	_, err := u.Create(ClassIPHeadersFilter, ipFilter("d", DirTx, ProfilePass))
	requireStatus(t, err, 23)

	_, err = u.Create(ClassPolicy, policyBody("p", 1, true, true, []string{f1, f2, f3}))
	requireStatus(t, err, 23)
	_, err = u.Create(ClassPolicy, policyBody("p", 1, true, true, []string{"99"}))
	requireStatus(t, err, 36)
	_, err = u.Create(ClassPolicy, policyBody("p", 1, true, true, []string{f1, f1}))
	requireStatus(t, err, 36)
	_, err = u.Create(ClassPolicy, policyBody("abcdefghijklmnopq", 1, true, true, nil))
	requireStatus(t, err, 36)
	_, err = u.Create(ClassPolicy, policyBody("p", 1, true, true, nil, "AntiSpoofingSupport", "5"))
	requireStatus(t, err, 36)
	_, err = u.Create(ClassPolicy, kv("PolicyName", "p", "PolicyPrecedence", "1"))
	requireCode(t, err, FaultSchemaValidation)

	p1 := create(t, u, ClassPolicy, policyBody("p1", 1, true, true, []string{f1, f2}))
	create(t, u, ClassPolicy, policyBody("p2", 1, true, true, nil))
	_, err = u.Create(ClassPolicy, policyBody("p3", 1, true, true, nil))
	requireStatus(t, err, 23)

	in, err := u.Get(ClassPolicy, []Selector{{Name: "InstanceID", Value: p1}})
	require.NoError(t, err)
	hs, _ := in.Prop("FilterCreationHandles")
	require.Equal(t, []string{f1, f2}, hs.Values)
	id, _ := in.Get("InstanceID")
	require.Equal(t, p1, id)

	_, err = u.Create(ClassFilterInPolicy, nil)
	requireCode(t, err, FaultActionNotSupported)
	require.ErrorContains(t, u.Delete(ClassGeneralCapabilities, nil), "ActionNotSupported")
}

func TestDeleteRefusedWhileInUse(t *testing.T) {
	u, _ := newUnit(t, Config{})
	pid, filters := quarantine(t, u)
	sel := func(id string) []Selector { return []Selector{{Name: "InstanceID", Value: id}} }

	requireStatus(t, u.Delete(ClassIPHeadersFilter, sel(filters[0])), 16)
	requireStatus(t, u.Delete(ClassPolicy, sel(pid)), 16)
	// A filter of the other class is not found under this one.
	requireCode(t, u.Delete(ClassIPHeadersFilter, sel(filters[2])), FaultInvalidSelectors)

	// Unlink: Delete the association with the EPR-valued selectors of
	// protocol.md §4.4 (CreationClassName and DeviceID).
	pe := portEPR(PortWired)
	assoc := []Selector{
		{Name: "Antecedent", EPR: &pe},
		{Name: "Dependent", EPR: &EPR{ResourceURI: URI(ClassPolicy), Selectors: []Selector{{Name: "InstanceID", Value: pid}}}},
	}
	wrong := []Selector{assoc[0], {Name: "Dependent", EPR: &EPR{ResourceURI: URI(ClassPolicy), Selectors: []Selector{{Name: "InstanceID", Value: "77"}}}}}
	requireCode(t, u.Delete(ClassPortPolicy, wrong), FaultInvalidSelectors)
	requireCode(t, u.Delete(ClassPortPolicy, assoc[:1]), FaultInvalidSelectors)
	require.NoError(t, u.Delete(ClassPortPolicy, assoc))
	require.Equal(t, "", u.Active(PortWired))

	require.NoError(t, u.Delete(ClassPolicy, sel(pid)))
	for _, f := range filters[:2] {
		require.NoError(t, u.Delete(ClassIPHeadersFilter, sel(f)))
	}
	for _, f := range filters[2:] {
		require.NoError(t, u.Delete(ClassHdr8021Filter, sel(f)))
	}
	for _, c := range []string{ClassNetworkFilter, ClassPolicy, ClassFilterInPolicy, ClassPolicyInService, ClassPortPolicy} {
		all, err := u.Enumerate(c)
		require.NoError(t, err)
		require.Empty(t, all, c)
	}

	// A default policy is in use too.
	p := create(t, u, ClassPolicy, policyBody("d", 0, false, false, nil))
	require.NoError(t, enable(u, ClassPortDefaultPolicy, PortWireless, p))
	requireStatus(t, u.Delete(ClassPolicy, sel(p)), 16)
}

func TestCCMRefused(t *testing.T) {
	ccm := false
	u, _ := newUnit(t, Config{CCM: func() bool { return ccm }})
	f := create(t, u, ClassIPHeadersFilter, ipFilter("a", DirTx, ProfilePass))
	pid := create(t, u, ClassPolicy, policyBody("p", 1, false, false, []string{f}))
	ccm = true
	_, err := u.Create(ClassIPHeadersFilter, ipFilter("b", DirTx, ProfilePass))
	requireStatus(t, err, 3)
	requireStatus(t, u.Delete(ClassIPHeadersFilter, []Selector{{Name: "InstanceID", Value: f}}), 3)
	requireStatus(t, enable(u, ClassPortPolicy, PortWired, pid), 3)
	out, err := u.Invoke(ClassPolicy, MethodSetTimeout, []Selector{{Name: "InstanceID", Value: pid}}, kv("Timeout", "5"))
	require.NoError(t, err)
	require.Equal(t, []Field{{Name: "ReturnValue", Value: "3"}}, out)
	// Reads still answer: the capabilities tell a console what it faces.
	caps, err := u.Enumerate(ClassGeneralCapabilities)
	require.NoError(t, err)
	require.Len(t, caps, 1)
	all, err := u.Enumerate(ClassNetworkFilter)
	require.NoError(t, err)
	require.Len(t, all, 1)

	u2, _ := newUnit(t, Config{CCM: func() bool { return true }, CCMStatus: 16})
	_, err = u2.Create(ClassPolicy, policyBody("p", 1, false, false, nil))
	requireStatus(t, err, 16)
}

func TestEvaluatorQuarantine(t *testing.T) {
	u, _ := newUnit(t, Config{})
	other := netip.MustParseAddr("10.0.0.6")
	// No policy: nothing is filtered.
	v := u.HostPacket(tcp(DirTx, hostIP, other, 50000, 80))
	require.Equal(t, Verdict{Pass: true, Rule: RuleNoPolicy}, v)

	pid, filters := quarantine(t, u)
	require.Equal(t, pid, u.Active(PortWired))
	require.Equal(t, "", u.Active(PortWireless))

	// The connection to the server: out to 443, back from 443.
	v = u.HostPacket(tcp(DirTx, hostIP, server, 50000, 443))
	require.True(t, v.Pass)
	require.Equal(t, RulePass, v.Rule)
	require.Equal(t, filters[0], v.Filter)
	require.Equal(t, pid, v.Policy)
	v = u.HostPacket(tcp(DirRx, server, hostIP, 443, 50000))
	require.True(t, v.Pass)
	require.Equal(t, filters[1], v.Filter)
	// Stateless: the reply direction filter does not admit a packet to
	// the server's port 443 received from it.
	v = u.HostPacket(tcp(DirRx, server, hostIP, 50000, 443))
	require.False(t, v.Pass)
	require.Equal(t, RuleDefault, v.Rule)
	// Another port, another server.
	require.False(t, u.HostPacket(tcp(DirTx, hostIP, server, 50000, 80)).Pass)
	require.False(t, u.HostPacket(tcp(DirTx, hostIP, other, 50000, 443)).Pass)
	// UDP to 443 is not TCP.
	udp := tcp(DirTx, hostIP, server, 50000, 443)
	udp.Protocol = 17
	require.False(t, u.HostPacket(udp).Pass)
	// ARP passes both ways through the Ethernet filters.
	arp := Packet{Port: PortWired, Direction: DirTx, EtherType: EtherTypeARP}
	v = u.HostPacket(arp)
	require.True(t, v.Pass)
	require.Equal(t, filters[2], v.Filter)
	arp.Direction = DirRx
	require.True(t, u.HostPacket(arp).Pass)
	// The wireless port has no policy.
	w := tcp(DirTx, hostIP, other, 50000, 80)
	w.Port = PortWireless
	require.Equal(t, RuleNoPolicy, u.HostPacket(w).Rule)

	// Statistics move only when UpdateStatistics is invoked.
	stats := func() map[string]string {
		all, err := u.Enumerate(ClassActiveStatistics)
		require.NoError(t, err)
		out := map[string]string{}
		for _, in := range all {
			dep, _ := in.Prop("Dependent")
			var name string
			for _, s := range dep.EPR.Selectors {
				if s.Name == "Dependent" {
					for _, fs := range s.EPR.Selectors {
						if fs.Name == "Name" {
							name = fs.Value
						}
					}
				}
			}
			rc, _ := in.Get("ReadCount")
			out[name] = rc
		}
		return out
	}
	// The two statistics filters and the Tx default counter; pass-only
	// filters keep no counter.
	require.Equal(t, map[string]string{"https-out": "0", "https-in": "0", "TxDefault": "0"}, stats())
	update := func(reset bool) []Field {
		pe := portEPR(PortWired)
		out, err := u.Invoke(ClassPolicy, MethodUpdateStatistics, []Selector{{Name: "InstanceID", Value: pid}},
			[]Field{{Name: "NetworkInterface", EPR: &pe}, {Name: "ResetOnRead", Value: boolText(reset)}})
		require.NoError(t, err)
		return out
	}
	require.Equal(t, []Field{{Name: "ReturnValue", Value: "0"}}, update(true))
	require.Equal(t, map[string]string{"https-out": "1", "https-in": "1", "TxDefault": "3"}, stats())
	require.Equal(t, []Field{{Name: "ReturnValue", Value: "0"}}, update(false))
	require.Equal(t, map[string]string{"https-out": "0", "https-in": "0", "TxDefault": "0"}, stats())

	// UpdateStatistics for a port the policy is not active on.
	pe := portEPR(PortWireless)
	out, err := u.Invoke(ClassPolicy, MethodUpdateStatistics, []Selector{{Name: "InstanceID", Value: pid}},
		[]Field{{Name: "NetworkInterface", EPR: &pe}, {Name: "ResetOnRead", Value: "false"}})
	require.NoError(t, err)
	require.Equal(t, []Field{{Name: "ReturnValue", Value: "36"}}, out)

	assoc, err := u.Enumerate(ClassPortPolicy)
	require.NoError(t, err)
	require.Len(t, assoc, 1)
	act, _ := assoc[0].Get("Active")
	require.Equal(t, "true", act)
}

func TestEvaluatorDropBeatsPassAndNegation(t *testing.T) {
	u, _ := newUnit(t, Config{})
	pass := create(t, u, ClassIPHeadersFilter, ipFilter("all-tcp", DirTx, ProfilePass, "HdrProtocolID", "6"))
	drop := create(t, u, ClassIPHeadersFilter, ipFilter("no-smb", DirTx, ProfileDrop, "HdrProtocolID", "6",
		"HdrDestPortStart", "445", "HdrDestPortEnd", "445"))
	notNet := create(t, u, ClassIPHeadersFilter, ipFilter("not-lan", DirRx, ProfileDrop, "HdrIPVersion", "4",
		"HdrSrcAddress", "C0A80100", "HdrSrcMask", "FFFFFF00", "IsNegated", "true"))
	pid := create(t, u, ClassPolicy, policyBody("p", 1, true, false, []string{pass, drop, notNet}))
	require.NoError(t, enable(u, ClassPortPolicy, PortWired, pid))

	v := u.HostPacket(tcp(DirTx, hostIP, server, 1000, 445))
	require.False(t, v.Pass)
	require.Equal(t, RuleDrop, v.Rule)
	require.Equal(t, drop, v.Filter)
	require.Equal(t, []string{pass, drop}, v.Matched)
	require.True(t, u.HostPacket(tcp(DirTx, hostIP, server, 1000, 443)).Pass)
	// Negated: anything received from outside 192.168.1.0/24 is dropped.
	require.False(t, u.HostPacket(tcp(DirRx, server, hostIP, 443, 1000)).Pass)
	lan := netip.MustParseAddr("192.168.1.7")
	v = u.HostPacket(tcp(DirRx, lan, hostIP, 443, 1000))
	require.True(t, v.Pass)
	require.Equal(t, RuleDefault, v.Rule) // RxDefaultDrop false
	// Non-IP packets match no IP header filter: Tx default drop.
	require.False(t, u.HostPacket(Packet{Direction: DirTx, EtherType: EtherTypeARP}).Pass)
}

func TestEvaluatorRangesEthernetAndIPv6(t *testing.T) {
	u, _ := newUnit(t, Config{})
	rng := create(t, u, ClassIPHeadersFilter, ipFilter("range", DirTx, ProfilePass, "HdrIPVersion", "4",
		"HdrDestAddress", "0A000001", "HdrDestAddressEndOfRange", "0A00000A", "HdrProtocolID", "17",
		"HdrDestPortStart", "5000", "HdrDestPortEnd", "5010"))
	v6 := create(t, u, ClassIPHeadersFilter, ipFilter("v6", DirTx, ProfilePass, "HdrIPVersion", "6",
		"HdrDestAddress", "20010db8000000000000000000000000", "HdrDestMask", "ffffffff000000000000000000000000"))
	mac := create(t, u, ClassHdr8021Filter, ethFilter("vlan", DirTx, ProfilePass, EtherTypeIPv4,
		"HdrDestMACAddr8021", "AAECAwQF", "HdrVLANID8021", "10"))
	dscp := create(t, u, ClassIPHeadersFilter, ipFilter("ef", DirTx, ProfilePass, "HdrDSCP", "46", "HdrDSCP", "34"))
	syn := create(t, u, ClassIPHeadersFilter, ipFilter("syn", DirTx, ProfilePass, "HdrProtocolID", "6",
		"TCPFlagsOn", "2", "TCPFlagsOff", "16"))
	pid := create(t, u, ClassPolicy, policyBody("p", 1, true, true, []string{rng, v6, mac, dscp, syn}))
	require.NoError(t, enable(u, ClassPortPolicy, PortWired, pid))

	udp := func(dst string, port uint16) Packet {
		return Packet{Direction: DirTx, Src: hostIP, Dst: netip.MustParseAddr(dst), Protocol: 17, SrcPort: 4000, DstPort: port}
	}
	require.True(t, u.HostPacket(udp("10.0.0.1", 5000)).Pass)
	require.True(t, u.HostPacket(udp("10.0.0.10", 5010)).Pass)
	require.False(t, u.HostPacket(udp("10.0.0.11", 5000)).Pass)
	require.False(t, u.HostPacket(udp("10.0.0.5", 5011)).Pass)
	require.True(t, u.HostPacket(Packet{Direction: DirTx, Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8:0:1::9"), Protocol: 58}).Pass)
	require.False(t, u.HostPacket(Packet{Direction: DirTx, Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db9::9"), Protocol: 58}).Pass)
	tagged := Packet{Direction: DirTx, Src: hostIP, Dst: server, Protocol: 1, DstMAC: net.HardwareAddr{0, 1, 2, 3, 4, 5}, Tagged: true, VLANID: 10}
	require.True(t, u.HostPacket(tagged).Pass)
	tagged.VLANID = 11
	require.False(t, u.HostPacket(tagged).Pass)
	require.True(t, u.HostPacket(Packet{Direction: DirTx, Src: hostIP, Dst: server, Protocol: 1, DSCP: 46}).Pass)
	require.False(t, u.HostPacket(Packet{Direction: DirTx, Src: hostIP, Dst: server, Protocol: 1, DSCP: 10}).Pass)
	s := tcp(DirTx, hostIP, server, 1, 2)
	s.TCPFlags = 2
	require.True(t, u.HostPacket(s).Pass)
	s.TCPFlags = 2 | 16
	require.False(t, u.HostPacket(s).Pass)
}

func TestAntiSpoofing(t *testing.T) {
	u, _ := newUnit(t, Config{})
	all := create(t, u, ClassIPHeadersFilter, ipFilter("all-out", DirTx, ProfilePass))
	pid := create(t, u, ClassPolicy, policyBody("as", 1, false, false, []string{all}, "AntiSpoofingSupport", "3"))
	require.NoError(t, enable(u, ClassPortPolicy, PortWired, pid))
	require.True(t, u.HostPacket(tcp(DirTx, hostIP, server, 1, 443)).Pass)
	// A foreign source address is dropped although a pass filter matches.
	v := u.HostPacket(tcp(DirTx, netip.MustParseAddr("192.168.1.99"), server, 1, 443))
	require.False(t, v.Pass)
	require.Equal(t, RuleAntiSpoofing, v.Rule)
	// So is a foreign source MAC.
	p := tcp(DirTx, hostIP, server, 1, 443)
	p.SrcMAC = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	require.Equal(t, RuleAntiSpoofing, u.HostPacket(p).Rule)
	// Received packets are not checked.
	require.True(t, u.HostPacket(tcp(DirRx, server, netip.MustParseAddr("192.168.1.99"), 443, 1)).Pass)

	// A port without anti-spoofing refuses such a policy.
	noAS := DefaultPortLimits
	noAS.IPv4AntiSpoofing = false
	u2, _ := newUnit(t, Config{Wireless: &noAS})
	pid2 := create(t, u2, ClassPolicy, policyBody("as", 1, false, false, nil, "AntiSpoofingSupport", "1"))
	requireStatus(t, enable(u2, ClassPortPolicy, PortWireless, pid2), 2066)
	require.NoError(t, enable(u2, ClassPortPolicy, PortWired, pid2))
}

func TestRateLimit(t *testing.T) {
	u, clk := newUnit(t, Config{})
	rl := create(t, u, ClassIPHeadersFilter, ipFilter("syn-rate", DirTx, ProfileRateLimit, "FilterProfileData", "3",
		"HdrProtocolID", "6"))
	pid := create(t, u, ClassPolicy, policyBody("rl", 1, true, true, []string{rl}))
	require.NoError(t, enable(u, ClassPortPolicy, PortWired, pid))
	pkt := tcp(DirTx, hostIP, server, 1, 443)
	for range 3 {
		v := u.HostPacket(pkt)
		require.True(t, v.Pass)
		require.Equal(t, RulePass, v.Rule)
	}
	v := u.HostPacket(pkt)
	require.False(t, v.Pass)
	require.Equal(t, RuleRateLimit, v.Rule)
	clk.advance(999 * time.Millisecond)
	require.False(t, u.HostPacket(pkt).Pass)
	clk.advance(time.Millisecond)
	require.True(t, u.HostPacket(pkt).Pass)
}

func TestPortLimits(t *testing.T) {
	l := DefaultPortLimits
	l.IPv4MaxTxFilters, l.IPv4MaxTxCounters, l.IPv4MaxRxCounters = 4, 2, 0
	l.IPv6MaxTxFilters, l.IPv6ToIPv4Ratio = 1, 2
	u, _ := newUnit(t, Config{Wired: &l})
	mk := func(name string, profile int, extra ...string) string {
		return create(t, u, ClassIPHeadersFilter, ipFilter(name, DirTx, profile, extra...))
	}
	a, b, c := mk("a", ProfilePass), mk("b", ProfilePass), mk("c", ProfilePass)
	v6 := mk("v6", ProfilePass, "HdrIPVersion", "6")
	v6b := mk("v6b", ProfilePass, "HdrIPVersion", "6")
	s1, s2, s3 := mk("s1", ProfileStatsPass), mk("s2", ProfileStatsDrop), mk("s3", ProfileRateLimit, "FilterProfileData", "5")

	try := func(handles []string, extra ...string) error {
		pid := create(t, u, ClassPolicy, policyBody("p", 1, true, true, handles, extra...))
		defer func() { _ = u.Delete(ClassPolicy, []Selector{{Name: "InstanceID", Value: pid}}) }()
		err := enable(u, ClassPortPolicy, PortWired, pid)
		if err == nil {
			pe := portEPR(PortWired)
			require.NoError(t, u.Delete(ClassPortPolicy, []Selector{{Name: "Antecedent", EPR: &pe},
				{Name: "Dependent", EPR: &EPR{ResourceURI: URI(ClassPolicy), Selectors: []Selector{{Name: "InstanceID", Value: pid}}}}}))
		}
		return err
	}
	require.NoError(t, try([]string{a, b, c}))
	require.NoError(t, try([]string{a, b, v6}))                              // 1 + 1 + 2 slots
	requireStatus(t, try([]string{a, b, c, v6}), 23)                         // 5 slots
	requireStatus(t, try([]string{v6, v6b}), 23)                             // two IPv6 filters, one allowed
	requireStatus(t, try([]string{a, b, c}, "AntiSpoofingSupport", "1"), 23) // 3 + 2 slots
	require.NoError(t, try([]string{a, b}, "AntiSpoofingSupport", "1"))
	require.NoError(t, try([]string{s1, s2}))
	requireStatus(t, try([]string{s1, s2, s3}), 23) // a rate limit takes a counter
	// A default counter takes a counter too.
	pid := create(t, u, ClassPolicy, kv("PolicyName", "p", "PolicyPrecedence", "1",
		"TxDefaultCount", "true", "TxDefaultDrop", "true", "TxDefaultMatchEvent", "false",
		"RxDefaultCount", "false", "RxDefaultDrop", "true", "RxDefaultMatchEvent", "false",
		"FilterCreationHandles", s1, "FilterCreationHandles", s2))
	requireStatus(t, enable(u, ClassPortPolicy, PortWired, pid), 23)
	requireStatus(t, enable(u, ClassPortDefaultPolicy, PortWired, pid), 23)
	require.NoError(t, enable(u, ClassPortPolicy, PortWireless, pid)) // default limits there

	// With rate limits that keep no counter, three fit.
	u2, _ := newUnit(t, Config{Wired: &l, RateLimitNoCounter: true})
	x := create(t, u2, ClassIPHeadersFilter, ipFilter("x", DirTx, ProfileStatsPass))
	y := create(t, u2, ClassIPHeadersFilter, ipFilter("y", DirTx, ProfileStatsPass))
	z := create(t, u2, ClassIPHeadersFilter, ipFilter("z", DirTx, ProfileRateLimit, "FilterProfileData", "5"))
	p2 := create(t, u2, ClassPolicy, policyBody("p", 1, true, true, []string{x, y, z}))
	require.NoError(t, enable(u2, ClassPortPolicy, PortWired, p2))
}

func TestEnableAssociations(t *testing.T) {
	u, _ := newUnit(t, Config{})
	p1 := create(t, u, ClassPolicy, policyBody("one", 1, false, false, nil))
	p2 := create(t, u, ClassPolicy, policyBody("two", 2, false, false, nil))
	epr, err := u.Create(ClassPortPolicy, []Field{portRef(PortWired), policyRef(p1)})
	require.NoError(t, err)
	require.Equal(t, URI(ClassPortPolicy), epr.ResourceURI)
	require.Len(t, epr.Selectors, 2)
	require.Equal(t, "Antecedent", epr.Selectors[0].Name)
	require.Equal(t, URI(ClassEthernetPort), epr.Selectors[0].EPR.ResourceURI)
	// The returned reference names the new association.
	_, err = u.Get(ClassPortPolicy, epr.Selectors)
	require.NoError(t, err)

	requireCode(t, enable(u, ClassPortPolicy, PortWired, p1), FaultAlreadyExists)
	requireStatus(t, enable(u, ClassPortPolicy, PortWired, p2), 23) // one per port
	require.NoError(t, enable(u, ClassPortPolicy, PortWireless, p1))
	requireStatus(t, enable(u, ClassPortPolicy, 7, p1), 36)
	requireStatus(t, enable(u, ClassPortPolicy, PortWired, "99"), 36)
	_, err = u.Create(ClassPortPolicy, []Field{portRef(PortWired)})
	requireCode(t, err, FaultSchemaValidation)
	_, err = u.Create(ClassPortPolicy, []Field{portRef(PortWired), policyRef(p1), {Name: "Enabled", Value: "true"}})
	requireCode(t, err, FaultSchemaValidation)

	require.NoError(t, enable(u, ClassPortDefaultPolicy, PortWired, p2))
	requireCode(t, enable(u, ClassPortDefaultPolicy, PortWired, p2), FaultAlreadyExists)
	requireStatus(t, enable(u, ClassPortDefaultPolicy, PortWired, p1), 23)
	defs, err := u.Enumerate(ClassPortDefaultPolicy)
	require.NoError(t, err)
	require.Len(t, defs, 1)
	act, _ := defs[0].Get("Active")
	require.Equal(t, "false", act, "an enabled policy takes precedence over the default")

	u3, _ := newUnit(t, Config{NoWireless: true})
	p3 := create(t, u3, ClassPolicy, policyBody("one", 1, false, false, nil))
	requireStatus(t, enable(u3, ClassPortPolicy, PortWireless, p3), 36)
	ports, err := u3.Enumerate(ClassEthernetPort)
	require.NoError(t, err)
	require.Len(t, ports, 1)
	require.Equal(t, []int{PortWired}, u3.Ports())
}

func TestPrecedenceTimeoutsAndHandover(t *testing.T) {
	u, clk := newUnit(t, Config{MaxEnabledPerPort: 3})
	low := create(t, u, ClassPolicy, policyBody("low", 1, false, false, nil))
	mid := create(t, u, ClassPolicy, policyBody("mid", 5, false, false, nil))
	high := create(t, u, ClassPolicy, policyBody("high", 9, true, true, nil))
	def := create(t, u, ClassPolicy, policyBody("default", 100, false, false, nil))
	sel := func(id string) []Selector { return []Selector{{Name: "InstanceID", Value: id}} }
	timeout := func(id string, minutes int) {
		out, err := u.Invoke(ClassPolicy, MethodSetTimeout, sel(id), kv("Timeout", strconv.Itoa(minutes)))
		require.NoError(t, err)
		require.Equal(t, []Field{{Name: "ReturnValue", Value: "0"}}, out)
	}
	getTimeout := func(id string) string {
		out, err := u.Invoke(ClassPolicy, MethodGetTimeout, sel(id), nil)
		require.NoError(t, err)
		require.Equal(t, "ReturnValue", out[1].Name)
		require.Equal(t, "0", out[1].Value)
		return out[0].Value
	}

	require.NoError(t, enable(u, ClassPortDefaultPolicy, PortWired, def))
	require.Equal(t, def, u.Active(PortWired), "the default is active while nothing is enabled")
	require.NoError(t, enable(u, ClassPortPolicy, PortWired, low))
	require.Equal(t, low, u.Active(PortWired), "an enabled policy beats the default whatever its precedence")
	require.NoError(t, enable(u, ClassPortPolicy, PortWired, high))
	require.NoError(t, enable(u, ClassPortPolicy, PortWired, mid))
	require.Equal(t, high, u.Active(PortWired))

	timeout(high, 10)
	timeout(mid, 5)
	require.Equal(t, "10", getTimeout(high))
	require.Equal(t, "5", getTimeout(mid), "not active: the configured timeout")
	clk.advance(9*time.Minute + 30*time.Second)
	require.Equal(t, "1", getTimeout(high), "minutes left, rounded up")
	require.False(t, u.HostPacket(tcp(DirTx, hostIP, server, 1, 443)).Pass)

	// high expires at 10 min; mid takes over then and expires at 15 min;
	// low (no timeout) stays. Reading at 16 min settles both.
	clk.advance(6*time.Minute + 30*time.Second)
	require.Equal(t, low, u.Active(PortWired))
	v := u.HostPacket(tcp(DirTx, hostIP, server, 1, 443))
	require.True(t, v.Pass)
	require.Equal(t, low, v.Policy)
	stats, err := u.Enumerate(ClassPortPolicy)
	require.NoError(t, err)
	active := map[string]string{}
	for _, in := range stats {
		dep, _ := in.Prop("Dependent")
		a, _ := in.Get("Active")
		en, _ := in.Get("Enabled")
		require.Equal(t, "true", en, "an expired policy stays enabled")
		active[dep.EPR.Selectors[0].Value] = a
	}
	require.Equal(t, map[string]string{low: "true", mid: "false", high: "false"}, active)

	// SetTimeout re-arms an expired policy: high is active again for 2 min.
	timeout(high, 2)
	require.Equal(t, high, u.Active(PortWired))
	clk.advance(2 * time.Minute)
	require.Equal(t, low, u.Active(PortWired))

	// Removing the last enabled policy hands over to the default.
	pe := portEPR(PortWired)
	for _, id := range []string{low, mid, high} {
		require.NoError(t, u.Delete(ClassPortPolicy, []Selector{{Name: "Antecedent", EPR: &pe},
			{Name: "Dependent", EPR: &EPR{ResourceURI: URI(ClassPolicy), Selectors: sel(id)}}}))
	}
	require.Equal(t, def, u.Active(PortWired))
	// A default policy's timeout does not apply.
	timeout(def, 1)
	clk.advance(time.Hour)
	require.Equal(t, def, u.Active(PortWired))
	require.Equal(t, "1", getTimeout(def))

	out, err := u.Invoke(ClassPolicy, MethodSetTimeout, sel(def), kv("Timeout", "65536"))
	require.NoError(t, err)
	require.Equal(t, []Field{{Name: "ReturnValue", Value: "36"}}, out)
	_, err = u.Invoke(ClassPolicy, "Bogus", sel(def), nil)
	requireCode(t, err, FaultActionNotSupported)
	_, err = u.Invoke(ClassPolicy, MethodGetTimeout, sel("404"), nil)
	requireCode(t, err, FaultInvalidSelectors)
}

func TestSingleEnabledTimeoutFallsBackToNothing(t *testing.T) {
	u, clk := newUnit(t, Config{Minute: time.Second})
	p := create(t, u, ClassPolicy, policyBody("q", 1, true, true, nil))
	require.NoError(t, enable(u, ClassPortPolicy, PortWired, p))
	_, err := u.Invoke(ClassPolicy, MethodSetTimeout, []Selector{{Name: "InstanceID", Value: p}}, kv("Timeout", "3"))
	require.NoError(t, err)
	require.False(t, u.HostPacket(tcp(DirTx, hostIP, server, 1, 443)).Pass)
	clk.advance(3 * time.Second) // three "minutes" of a one-second minute
	v := u.HostPacket(tcp(DirTx, hostIP, server, 1, 443))
	require.Equal(t, Verdict{Pass: true, Rule: RuleNoPolicy}, v, "the machine is reachable again")
	stats, err := u.Enumerate(ClassActiveStatistics)
	require.NoError(t, err)
	require.Empty(t, stats)
}

func TestStatisticsTimes(t *testing.T) {
	u, clk := newUnit(t, Config{})
	f := create(t, u, ClassIPHeadersFilter, ipFilter("s", DirTx, ProfileStatsDrop))
	p := create(t, u, ClassPolicy, policyBody("p", 1, false, false, []string{f}))
	start := clk.now()
	require.NoError(t, enable(u, ClassPortPolicy, PortWireless, p))
	clk.advance(time.Minute)
	wp := tcp(DirTx, hostIP, server, 1, 2)
	wp.Port = PortWireless
	require.False(t, u.HostPacket(wp).Pass)
	pe := portEPR(PortWireless)
	_, err := u.Invoke(ClassPolicy, MethodUpdateStatistics, []Selector{{Name: "InstanceID", Value: p}},
		[]Field{{Name: "NetworkInterface", EPR: &pe}, {Name: "ResetOnRead", Value: "true"}})
	require.NoError(t, err)
	all, err := u.Enumerate(ClassActiveStatistics)
	require.NoError(t, err)
	require.Len(t, all, 1)
	in := all[0]
	act, _ := in.Prop("ActivationTime")
	rst, _ := in.Prop("LastResetTime")
	require.Equal(t, start, *act.Datetime)
	require.Equal(t, start.Add(time.Minute), *rst.Datetime)
	m, _ := in.Get("FilterMatched")
	require.Equal(t, "true", m)
	ante, _ := in.Prop("Antecedent")
	require.Equal(t, portEPR(PortWireless), *ante.EPR)
	// The entry can be fetched by its references.
	dep, _ := in.Prop("Dependent")
	_, err = u.Get(ClassActiveStatistics, []Selector{{Name: "Antecedent", EPR: ante.EPR}, {Name: "Dependent", EPR: dep.EPR}})
	require.NoError(t, err)
}

func TestCapabilitiesAndPorts(t *testing.T) {
	u, _ := newUnit(t, Config{MaxPolicies: 4, MaxFilters: 40})
	g, err := u.Get(ClassGeneralCapabilities, nil)
	require.NoError(t, err)
	v, _ := g.Get("GlobalMaxSupportedPolicies")
	require.Equal(t, "4", v)
	v, _ = g.Get("GlobalMaxSupportedFilters")
	require.Equal(t, "40", v)
	caps, err := u.Enumerate(ClassPortCapabilities)
	require.NoError(t, err)
	require.Len(t, caps, 2)
	v, _ = caps[1].Get("InstanceID")
	require.Equal(t, "Intel(r) AMT Network Port System Defense Capabilities 1", v)
	v, _ = caps[0].Get("IPv6_to_IPv4_Ratio")
	require.Equal(t, "2", v)

	port, err := u.Get(ClassEthernetPort, []Selector{{Name: "DeviceID", Value: "Intel(r) AMT Ethernet Port 0"}})
	require.NoError(t, err)
	v, _ = port.Get("NetworkAddresses")
	require.Equal(t, "a4ae12345678", v)
	svc, err := u.Get(ClassService, nil)
	require.NoError(t, err)
	v, _ = svc.Get("Name")
	require.Equal(t, "Intel(r) AMT System Defense Service", v)
	require.Len(t, Classes(), 13)
}
