package defense

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/internal/recordings"
	"github.com/amtkit/amtkit/wsman"
)

// The only capture of a System Defense class is a hand-edited
// AMT_Hdr8021Filter (FilterDirection 2, no FilterProfile): the decoder must
// say what is wrong with it, naming the property, and decode the same shape
// once the values are the protocol's.
func TestDecodeRecordedHdr8021Filter(t *testing.T) {
	dir := filepath.Join(recordings.Dir(t), "AMT_Hdr8021Filter")
	for _, name := range []string{"GetResponse__gwm__1.resp.xml", "PullResponse__gwm__1.resp.xml"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		msg, err := wsman.ParseMessage(data)
		require.NoError(t, err)
		var in *wsman.Instance
		if strings.HasPrefix(name, "Pull") {
			page, err := msg.Pull()
			require.NoError(t, err)
			require.Len(t, page.Items, 1)
			in = page.Items[0]
		} else {
			in, err = msg.Instance()
			require.NoError(t, err)
		}
		_, err = decodeFilter(in)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "FilterDirection = 2 is above 1", name)

		in.Set("FilterDirection", "1")
		_, err = decodeFilter(in)
		assert.ErrorContains(t, err, "no FilterProfile")
		in.Set("FilterProfile", "4")
		in.Set("HdrProtocolID8021", "2054")
		in.Set("InstanceID", "7")
		d, err := decodeFilter(in)
		require.NoError(t, err, name)
		assert.Equal(t, "7", d.ID)
		assert.Equal(t, Ethernet, d.Filter.Kind)
		assert.Equal(t, Rx, d.Filter.Direction)
		assert.Equal(t, Drop, d.Filter.Action)
		assert.Equal(t, EtherARP, d.Filter.EtherType)
		assert.Equal(t, "Intel(r) AMT Hdr8021 Filter", d.Filter.Name)
		assert.False(t, d.ours(), "another console's filter")
	}
}

func roundTrip(t *testing.T, f Filter) Filter {
	t.Helper()
	in := encodeFilter(&f, Marker+" x")
	// Through the wire form: the instance as the device would return it.
	d, err := decodeFilter(in)
	require.NoError(t, err)
	assert.True(t, d.ours())
	return d.Filter
}

func TestFilterEncodingRoundTrips(t *testing.T) {
	label := uint32(0xABCDE)
	prio, vlan := uint8(5), uint16(100)
	for _, f := range []Filter{
		{Kind: IPHeader, Name: "a", Direction: Tx, Action: Pass, Statistics: true, IPVersion: 4, Dst: mustParse("10.0.0.0/24"), Protocol: ProtoTCP, DstPorts: Ports(80, 88), SrcPorts: Port(5)},
		{Kind: IPHeader, Name: "b", Direction: Rx, Action: RateLimit, RatePPS: 100, IPVersion: 6, Src: mustParse("2001:db8::1-2001:db8::9"), FlowLabel: &label, DSCP: []uint8{0, 46}},
		{Kind: IPHeader, Name: "c", Direction: Rx, Action: Drop, IPVersion: 4, Src: mustParse("10.1.2.3/255.0.255.0"), Protocol: ProtoICMP, EventOnMatch: true},
		{Kind: Ethernet, Name: "d", Direction: Tx, Action: Drop, EtherType: EtherIPv6, SrcMAC: MAC{Addr: net.HardwareAddr{0, 1, 2, 3, 4, 5}, Mask: net.HardwareAddr{255, 255, 255, 0, 0, 0}}, DstMAC: MAC{Addr: net.HardwareAddr{6, 7, 8, 9, 10, 11}}, Priority: &prio, VLAN: &vlan},
	} {
		assert.Equal(t, f, roundTrip(t, f), f.Name)
	}
	in := encodeFilter(&Filter{Kind: IPHeader, Name: "x", Direction: Tx, Action: Pass, Dst: mustParse("192.168.1.0/24")}, "m")
	assert.Equal(t, "C0A80100", in.String("HdrDestAddress"))
	assert.Equal(t, "FFFFFF00", in.String("HdrDestMask"))
	assert.Equal(t, "4", in.String("HdrIPVersion"), "addresses need HdrIPVersion")
	assert.Equal(t, "3", in.String("FilterProfile"))
	assert.Equal(t, "0", in.String("FilterDirection"))
}

func mustParse(s string) Addr {
	a, err := ParseAddr(s)
	if err != nil {
		panic(err)
	}
	return a
}

func TestPolicyEncoding(t *testing.T) {
	p := &Policy{Name: "q", Precedence: 5, TxDefaultDrop: true, RxDefaultCount: true, AntiSpoofing: true}
	in := encodePolicy(p, []string{"3", "4"}, "amtkit 1", 3)
	assert.Equal(t, []string{"3", "4"}, in.Values("FilterCreationHandles"))
	assert.Equal(t, "3", in.String("AntiSpoofingSupport"))
	in.Set("InstanceID", "9")
	d, err := decodePolicy(in)
	require.NoError(t, err)
	assert.Equal(t, &devPolicy{ID: "9", ElementName: "amtkit 1", Name: "q", Precedence: 5, AntiMode: 3, Handles: []string{"3", "4"}, TxDrop: true, RxCount: true}, d)
	bad := in.Clone()
	bad.Set("TxDefaultDrop", "maybe")
	_, err = decodePolicy(bad)
	assert.Error(t, err)
}

const envelopeHead = `<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:c="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:h="`

// FuzzDecoders: whatever an answer holds, the decoders of filters,
// policies, bindings, statistics and capabilities return a value or an
// error, never panic.
func FuzzDecoders(f *testing.F) {
	if dir, ok := recordings.Find(); ok {
		for _, n := range []string{"GetResponse__gwm__1.resp.xml", "PullResponse__gwm__1.resp.xml"} {
			if data, err := os.ReadFile(filepath.Join(dir, "AMT_Hdr8021Filter", n)); err == nil {
				f.Add(data)
			}
		}
	}
	body := func(class, inner string) []byte {
		return []byte(envelopeHead + wsman.PrefixAMT + class + `"><a:Header/><a:Body><h:` + class + `>` + inner + `</h:` + class + `></a:Body></a:Envelope>`)
	}
	f.Add(body("AMT_IPHeadersFilter", `<h:InstanceID>3</h:InstanceID><h:Name>x</h:Name><h:FilterDirection>1</h:FilterDirection><h:FilterProfile>2</h:FilterProfile><h:FilterProfileData>5</h:FilterProfileData><h:HdrIPVersion>4</h:HdrIPVersion><h:HdrSrcAddress>0A000001</h:HdrSrcAddress><h:HdrSrcMask>FFFF0000</h:HdrSrcMask><h:HdrProtocolID>6</h:HdrProtocolID><h:HdrSrcPortStart>1</h:HdrSrcPortStart><h:HdrSrcPortEnd>9</h:HdrSrcPortEnd><h:HdrDSCP>4</h:HdrDSCP><h:HdrFlowLabel>0ABCDE</h:HdrFlowLabel>`))
	f.Add(body("AMT_Hdr8021Filter", `<h:FilterDirection>0</h:FilterDirection><h:FilterProfile>4</h:FilterProfile><h:HdrProtocolID8021>2054</h:HdrProtocolID8021><h:HdrSrcMACAddr8021>AAECAwQF</h:HdrSrcMACAddr8021><h:HdrVLANID8021>7</h:HdrVLANID8021>`))
	f.Add(body("AMT_SystemDefensePolicy", `<h:InstanceID>5</h:InstanceID><h:PolicyName>q</h:PolicyName><h:PolicyPrecedence>1</h:PolicyPrecedence><h:AntiSpoofingSupport>0</h:AntiSpoofingSupport><h:FilterCreationHandles>3</h:FilterCreationHandles><h:TxDefaultDrop>true</h:TxDefaultDrop>`))
	f.Add(body("AMT_NetworkPortSystemDefensePolicy", `<h:Antecedent><b:Address>x</b:Address><b:ReferenceParameters><c:ResourceURI>http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_EthernetPort</c:ResourceURI><c:SelectorSet><c:Selector Name="DeviceID">Intel(r) AMT Ethernet Port 0</c:Selector></c:SelectorSet></b:ReferenceParameters></h:Antecedent><h:Dependent><b:Address>x</b:Address><b:ReferenceParameters><c:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SystemDefensePolicy</c:ResourceURI><c:SelectorSet><c:Selector Name="InstanceID">5</c:Selector></c:SelectorSet></b:ReferenceParameters></h:Dependent><h:Enabled>true</h:Enabled><h:Active>true</h:Active>`))
	f.Add(body("AMT_ActiveFilterStatistics", `<h:Antecedent><b:ReferenceParameters><c:ResourceURI>CIM_EthernetPort</c:ResourceURI><c:SelectorSet><c:Selector Name="DeviceID">Port 1</c:Selector></c:SelectorSet></b:ReferenceParameters></h:Antecedent><h:Dependent><b:ReferenceParameters><c:ResourceURI>AMT_FilterInSystemDefensePolicy</c:ResourceURI><c:SelectorSet><c:Selector Name="Dependent"><b:EndpointReference><b:ReferenceParameters><c:ResourceURI>AMT_IPHeadersFilter</c:ResourceURI><c:SelectorSet><c:Selector Name="InstanceID">3</c:Selector></c:SelectorSet></b:ReferenceParameters></b:EndpointReference></c:Selector></c:SelectorSet></b:ReferenceParameters></h:Dependent><h:ReadCount>12</h:ReadCount>`))
	f.Add(body("AMT_NetworkPortSystemDefenseCapabilities", `<h:InstanceID>Caps 1</h:InstanceID><h:IPv4_MaxTxFilters>16</h:IPv4_MaxTxFilters><h:IPv4_MaxTxCounters>8</h:IPv4_MaxTxCounters><h:IPv4_MaxRxFilters>16</h:IPv4_MaxRxFilters><h:IPv4_MaxRxCounters>8</h:IPv4_MaxRxCounters><h:IPv4_AntiSpoofingCapable>true</h:IPv4_AntiSpoofingCapable><h:IPv6_to_IPv4_Ratio>2</h:IPv6_to_IPv4_Ratio>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := wsman.ParseMessage(data)
		if err != nil {
			return
		}
		var items []*wsman.Instance
		if in, err := msg.Instance(); err == nil {
			items = append(items, in)
		}
		if page, err := msg.Pull(); err == nil {
			items = append(items, page.Items...)
		}
		for _, in := range items {
			if d, err := decodeFilter(in); err == nil {
				// What decodes encodes again without loss of what Check uses.
				_ = encodeFilter(&d.Filter, "m")
				_ = Check(&Policy{Name: "p", Filters: []Filter{d.Filter}}, []Flow{{Protocol: ProtoTCP, PeerPorts: Port(1)}, {ARP: true}})
			}
			_, _ = decodePolicy(in)
			_, _ = decodeBinding(in)
			_, _, _, _, _ = decodeStat(in)
			_, _ = decodePortCaps(in, 0)
		}
	})
}
