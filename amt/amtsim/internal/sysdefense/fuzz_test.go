package sysdefense

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// FuzzCreate feeds arbitrary Create bodies ("name=value" lines) to every
// creatable class, then runs packets through whatever got enabled: the
// unit must answer with a fault or a handle, never panic, and keep its
// invariants (a refused Create adds nothing).
func FuzzCreate(f *testing.F) {
	f.Add("Name=a\nFilterDirection=0\nFilterProfile=2\nFilterProfileData=3\nActionEventOnMatch=false\nHdrIPVersion=4\nHdrSrcAddress=0A000001\nHdrSrcMask=FFFFFF00\nHdrProtocolID=6\nHdrDestPortStart=1\nHdrDestPortEnd=9", uint8(0), uint16(5))
	f.Add("Name=b\nFilterDirection=1\nFilterProfile=4\nActionEventOnMatch=true\nHdrProtocolID8021=2054\nHdrSrcMACAddr8021=AAECAwQF\nHdrVLANID8021=4095", uint8(1), uint16(0))
	f.Add("PolicyName=p\nPolicyPrecedence=1\nTxDefaultDrop=true\nTxDefaultCount=true\nTxDefaultMatchEvent=false\nRxDefaultDrop=false\nRxDefaultCount=false\nRxDefaultMatchEvent=false\nFilterCreationHandles=1\nAntiSpoofingSupport=3", uint8(2), uint16(443))
	f.Add("HdrIPVersion=6\nHdrDestAddress=20010db8000000000000000000000001\nHdrDestAddressEndOfRange=20010db8000000000000000000000000\nHdrFlowLabel=0FFFFF\nTCPFlagsOn=2", uint8(0), uint16(1))
	f.Fuzz(func(t *testing.T, body string, which uint8, port uint16) {
		u, err := New(Config{HostIPv4: netip.MustParseAddr("10.0.0.2")})
		if err != nil {
			t.Fatal(err)
		}
		var fields []Field
		for _, line := range strings.Split(body, "\n") {
			name, value, _ := strings.Cut(line, "=")
			fields = append(fields, Field{Name: name, Value: value})
		}
		// A filter of each class to reference, then the fuzzed body.
		seed := []Field{{Name: "Name", Value: "s"}, {Name: "FilterDirection", Value: "0"}, {Name: "FilterProfile", Value: "0"}, {Name: "ActionEventOnMatch", Value: "false"}}
		if _, err := u.Create(ClassIPHeadersFilter, seed); err != nil {
			t.Fatal(err)
		}
		class := []string{ClassIPHeadersFilter, ClassHdr8021Filter, ClassPolicy}[int(which)%3]
		before, _ := u.Enumerate(class)
		epr, err := u.Create(class, fields)
		after, _ := u.Enumerate(class)
		switch {
		case err != nil && len(after) != len(before):
			t.Fatalf("refused Create changed the state: %v", err)
		case err == nil && (epr == nil || len(after) != len(before)+1):
			t.Fatalf("accepted Create did not add one instance")
		}
		if err == nil && class == ClassPolicy {
			var id string
			for _, s := range epr.Selectors {
				if s.Name == "InstanceID" {
					id = s.Value
				}
			}
			_, _ = u.Create(ClassPortPolicy, []Field{
				{Name: "Antecedent", EPR: &EPR{ResourceURI: URI(ClassEthernetPort), Selectors: []Selector{{Name: "DeviceID", Value: "Intel(r) AMT Ethernet Port 0"}}}},
				{Name: "Dependent", EPR: &EPR{ResourceURI: URI(ClassPolicy), Selectors: []Selector{{Name: "InstanceID", Value: id}}}},
			})
		}
		if err == nil && class != ClassPolicy {
			_, _ = u.Create(ClassPolicy, []Field{{Name: "PolicyPrecedence", Value: "1"}, {Name: "TxDefaultDrop", Value: "true"},
				{Name: "TxDefaultCount", Value: "true"}, {Name: "TxDefaultMatchEvent", Value: "false"}, {Name: "RxDefaultDrop", Value: "false"},
				{Name: "RxDefaultCount", Value: "true"}, {Name: "RxDefaultMatchEvent", Value: "false"},
				{Name: "FilterCreationHandles", Value: "1"}, {Name: "FilterCreationHandles", Value: "2"}})
			_, _ = u.Create(ClassPortPolicy, []Field{
				{Name: "Antecedent", EPR: &EPR{ResourceURI: URI(ClassEthernetPort), Selectors: []Selector{{Name: "DeviceID", Value: "Intel(r) AMT Ethernet Port 0"}}}},
				{Name: "Dependent", EPR: &EPR{ResourceURI: URI(ClassPolicy), Selectors: []Selector{{Name: "InstanceID", Value: "3"}}}},
			})
		}
		for _, p := range []Packet{
			{Direction: DirTx, Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Protocol: 6, SrcPort: port, DstPort: port},
			{Direction: DirRx, Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Protocol: 17, DstPort: port},
			{Direction: DirTx, EtherType: EtherTypeARP, Tagged: true, VLANID: port & 0xFFF},
		} {
			u.HostPacket(p)
		}
		if _, err := u.Enumerate(ClassActiveStatistics); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkHostPacket(b *testing.B) {
	u, err := New(Config{HostIPv4: netip.MustParseAddr("10.0.0.2")})
	if err != nil {
		b.Fatal(err)
	}
	var handles []Field
	for i := range 12 {
		_, err := u.Create(ClassIPHeadersFilter, []Field{{Name: "Name", Value: "f"}, {Name: "FilterDirection", Value: "0"},
			{Name: "FilterProfile", Value: "3"}, {Name: "ActionEventOnMatch", Value: "false"}, {Name: "HdrProtocolID", Value: "6"},
			{Name: "HdrDestPortStart", Value: "1000"}, {Name: "HdrDestPortEnd", Value: "1000"}})
		if err != nil {
			b.Fatal(err)
		}
		handles = append(handles, Field{Name: "FilterCreationHandles", Value: strconv.Itoa(i + 1)})
	}
	body := append([]Field{{Name: "PolicyPrecedence", Value: "1"}, {Name: "TxDefaultDrop", Value: "true"},
		{Name: "TxDefaultCount", Value: "true"}, {Name: "TxDefaultMatchEvent", Value: "false"}, {Name: "RxDefaultDrop", Value: "true"},
		{Name: "RxDefaultCount", Value: "false"}, {Name: "RxDefaultMatchEvent", Value: "false"}}, handles...)
	if _, err := u.Create(ClassPolicy, body); err != nil {
		b.Fatal(err)
	}
	if _, err := u.Create(ClassPortPolicy, []Field{
		{Name: "Antecedent", EPR: &EPR{ResourceURI: URI(ClassEthernetPort), Selectors: []Selector{{Name: "DeviceID", Value: "Intel(r) AMT Ethernet Port 0"}}}},
		{Name: "Dependent", EPR: &EPR{ResourceURI: URI(ClassPolicy), Selectors: []Selector{{Name: "InstanceID", Value: "13"}}}},
	}); err != nil {
		b.Fatal(err)
	}
	p := Packet{Direction: DirTx, Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Protocol: 6, DstPort: 443}
	b.ReportAllocs()
	for b.Loop() {
		u.HostPacket(p)
	}
}
