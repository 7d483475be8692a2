package amtsim

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/beevik/etree"
	"github.com/stretchr/testify/require"
)

// The System Defense tests speak raw WS-Management: every request below is
// written out as a console would put it on the wire (protocol.md §4.4).

const (
	uriHdrFilter   = soap.PrefixAMT + "AMT_Hdr8021Filter"
	uriIPFilter    = soap.PrefixAMT + "AMT_IPHeadersFilter"
	uriNetFilter   = soap.PrefixAMT + "AMT_NetworkFilter"
	uriSDPolicy    = soap.PrefixAMT + "AMT_SystemDefensePolicy"
	uriPortPolicy  = soap.PrefixAMT + "AMT_NetworkPortSystemDefensePolicy"
	uriPortDefault = soap.PrefixAMT + "AMT_NetworkPortDefaultSystemDefensePolicy"
	uriFilterStats = soap.PrefixAMT + "AMT_ActiveFilterStatistics"
	uriGenSDCaps   = soap.PrefixAMT + "AMT_GeneralSystemDefenseCapabilities"
	uriPortSDCaps  = soap.PrefixAMT + "AMT_NetworkPortSystemDefenseCapabilities"
	uriEthPort     = soap.PrefixCIM + "CIM_EthernetPort"
	wiredPort      = "Intel(r) AMT Ethernet Port 0"
)

// rawEnvelope builds a request whose SelectorSet content is given as XML.
func rawEnvelope(action, uri, selectorsXML, body string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>`)
	fmt.Fprintf(&b, `<a:Action>%s</a:Action><a:To>/wsman</a:To><w:ResourceURI>%s</w:ResourceURI><a:MessageID>7</a:MessageID>`, esc(action), esc(uri))
	b.WriteString(`<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout>`)
	if selectorsXML != "" {
		b.WriteString(`<w:SelectorSet>` + selectorsXML + `</w:SelectorSet>`)
	}
	b.WriteString(`</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
	return b.String()
}

func textSel(name, value string) string {
	return `<w:Selector Name="` + name + `">` + esc(value) + `</w:Selector>`
}

// eprContent is the inside of an endpoint reference.
func eprContent(uri, selectorsXML string) string {
	return `<a:Address>` + soap.URIAnon + `</a:Address><a:ReferenceParameters><w:ResourceURI>` + uri +
		`</w:ResourceURI><w:SelectorSet>` + selectorsXML + `</w:SelectorSet></a:ReferenceParameters>`
}

func eprSel(name, uri, selectorsXML string) string {
	return `<w:Selector Name="` + name + `"><a:EndpointReference>` + eprContent(uri, selectorsXML) + `</a:EndpointReference></w:Selector>`
}

// instanceBody is <g:Class xmlns:g=uri> with the given children (already
// prefixed g:).
func instanceBody(class, uri, children string) string {
	return `<g:` + class + ` xmlns:g="` + uri + `">` + children + `</g:` + class + `>`
}

func props(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(&b, "<g:%s>%s</g:%s>", pairs[i], esc(pairs[i+1]), pairs[i])
	}
	return b.String()
}

func filterPlaceholders() []string {
	return []string{"InstanceID", "0", "CreationClassName", "n/a", "SystemName", "n/a", "SystemCreationClassName", "n/a"}
}

func ipFilterBody(name string, dir, profile int, extra ...string) string {
	p := append(filterPlaceholders(), "Name", name, "FilterDirection", fmt.Sprint(dir), "FilterProfile", fmt.Sprint(profile),
		"ActionEventOnMatch", "false")
	return instanceBody("AMT_IPHeadersFilter", uriIPFilter, props(append(p, extra...)...))
}

func sdPolicyBody(name string, precedence int, txDrop, rxDrop, txCount bool, handles ...string) string {
	p := []string{"InstanceID", "0", "PolicyName", name, "PolicyPrecedence", fmt.Sprint(precedence),
		"TxDefaultCount", fmt.Sprint(txCount), "TxDefaultDrop", fmt.Sprint(txDrop), "TxDefaultMatchEvent", "false",
		"RxDefaultCount", "false", "RxDefaultDrop", fmt.Sprint(rxDrop), "RxDefaultMatchEvent", "false"}
	for _, h := range handles {
		p = append(p, "FilterCreationHandles", h)
	}
	return instanceBody("AMT_SystemDefensePolicy", uriSDPolicy, props(p...))
}

// portPolicyBody enables (or makes default) a policy on a port, as
// protocol.md §4.4 writes it.
func portPolicyBody(class, uri, port, policyID string) string {
	return `<g:` + class + ` xmlns:g="` + uri + `"><g:Antecedent>` + eprContent(uriEthPort, textSel("DeviceID", port)) +
		`</g:Antecedent><g:Dependent>` + eprContent(uriSDPolicy, textSel("InstanceID", policyID)) + `</g:Dependent></g:` + class + `>`
}

func portPolicySelectors(port, policyID string) string {
	return eprSel("Antecedent", uriEthPort, textSel("CreationClassName", "CIM_EthernetPort")+textSel("DeviceID", port)) +
		eprSel("Dependent", uriSDPolicy, textSel("InstanceID", policyID))
}

// sdCreate posts a Create and returns the InstanceID selector of the
// ResourceCreated reference.
func sdCreate(t *testing.T, c *wsClient, uri, body string) string {
	t.Helper()
	resp, data := c.post(rawEnvelope(soap.ActCreate, uri, "", body))
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", data)
	root := parseDoc(t, data)
	require.Equal(t, soap.ActCreate+"Response", textOf(root, soap.NSAddr, "Action"))
	rc := find(root, soap.NSTransfer, "ResourceCreated")
	require.NotNil(t, rc, "%s", data)
	require.Equal(t, uri, textOf(rc, soap.NSWSMan, "ResourceURI"))
	for _, s := range findAll(rc, soap.NSWSMan, "Selector") {
		if s.SelectAttrValue("Name", "") == "InstanceID" {
			return s.Text()
		}
	}
	return ""
}

func requireAMTStatus(t *testing.T, resp *http.Response, data []byte, status int) {
	t.Helper()
	root := requireFault(t, resp, data, "e:InternalError")
	require.Equal(t, fmt.Sprintf("AMT-STATUS %d", status), textOf(root, soap.NSSOAP, "Detail"))
}

func sdInvoke(t *testing.T, c *wsClient, method, policyID, input string) *etree.Element {
	t.Helper()
	resp, data := c.post(rawEnvelope(uriSDPolicy+"/"+method, uriSDPolicy, textSel("InstanceID", policyID),
		`<h:`+method+`_INPUT xmlns:h="`+uriSDPolicy+`" xmlns:a="`+soap.NSAddr+`" xmlns:w="`+soap.NSWSMan+`">`+input+`</h:`+method+`_INPUT>`))
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", data)
	root := parseDoc(t, data)
	out := find(root, uriSDPolicy, method+"_OUTPUT")
	require.NotNil(t, out, "%s", data)
	return out
}

// sdEnumerate enumerates a class to the end, one item per Pull.
func sdEnumerate(t *testing.T, c *wsClient, uri string) []*etree.Element {
	t.Helper()
	resp, data := c.post(enumerateReq(uri))
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", data)
	ctxID := textOf(parseDoc(t, data), soap.NSEnum, "EnumerationContext")
	var items []*etree.Element
	for {
		resp, data = c.post(pullReq(uri, ctxID, 1))
		require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", data)
		root := parseDoc(t, data)
		items = append(items, find(root, soap.NSEnum, "Items").ChildElements()...)
		if find(root, soap.NSEnum, "EndOfSequence") != nil {
			return items
		}
		ctxID = textOf(root, soap.NSEnum, "EnumerationContext")
	}
}

func defenseSim(t *testing.T, opts Options) (*Device, *wsClient) {
	t.Helper()
	s := startSim(t, opts)
	d := s.Devices()[0]
	return d, newClient(t, "http://"+d.HTTPAddr(), testUser, testPass)
}

func TestDefenseQuarantineOverTheWire(t *testing.T) {
	opts := plainOpts()
	d, c := defenseSim(t, opts)
	host := netip.MustParseAddr(d.IP())
	srv := netip.MustParseAddr("10.0.0.5")

	// Capabilities first, as a careful console reads them.
	caps := sdEnumerate(t, c, uriPortSDCaps)
	require.Len(t, caps, 2)
	require.Equal(t, "16", textOf(caps[0], uriPortSDCaps, "IPv4_MaxTxFilters"))
	resp, data := c.post(getReq(uriGenSDCaps))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	require.Equal(t, "8", textOf(parseDoc(t, data), uriGenSDCaps, "GlobalMaxSupportedPolicies"))

	out := sdCreate(t, c, uriIPFilter, ipFilterBody("https-out", 0, 0, "HdrIPVersion", "4", "HdrDestAddress", "0A000005",
		"HdrProtocolID", "6", "HdrDestPortStart", "443", "HdrDestPortEnd", "443"))
	in := sdCreate(t, c, uriIPFilter, ipFilterBody("https-in", 1, 0, "HdrIPVersion", "4", "HdrSrcAddress", "0A000005",
		"HdrProtocolID", "6", "HdrSrcPortStart", "443", "HdrSrcPortEnd", "443"))
	arp := sdCreate(t, c, uriHdrFilter, instanceBody("AMT_Hdr8021Filter", uriHdrFilter,
		props(append(filterPlaceholders(), "Name", "arp", "HdrProtocolID8021", "2054", "FilterProfile", "3",
			"FilterDirection", "1", "ActionEventOnMatch", "false")...)))
	require.Equal(t, []string{"1", "2", "3"}, []string{out, in, arp}, "the device assigns the creation handles")
	pol := sdCreate(t, c, uriSDPolicy, sdPolicyBody("quarantine", 1, true, true, true, out, in, arp))

	// The filter reads back with the keys the device filled in.
	resp, data = c.post(rawEnvelope(soap.ActGet, uriIPFilter, textSel("InstanceID", out), ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	f := find(parseDoc(t, data), uriIPFilter, "AMT_IPHeadersFilter")
	require.Equal(t, "CIM_ComputerSystem", textOf(f, uriIPFilter, "SystemCreationClassName"))
	require.Equal(t, "0A000005", textOf(f, uriIPFilter, "HdrDestAddress"))

	// Before the policy is enabled nothing is filtered.
	require.Equal(t, RuleNoPolicy, d.HostPacket(Packet{Direction: HostTransmit, Src: host, Dst: srv, Protocol: 6, DstPort: 80}).Rule)

	resp, data = c.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, pol)))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	rc := find(parseDoc(t, data), soap.NSTransfer, "ResourceCreated")
	sels := findAll(rc, soap.NSWSMan, "Selector")
	require.Equal(t, "Antecedent", sels[0].SelectAttrValue("Name", ""))
	require.NotNil(t, find(sels[0], soap.NSAddr, "EndpointReference"), "EPR-valued selectors nest an EndpointReference")
	require.Equal(t, pol, d.ActiveDefensePolicy(0))

	// Host traffic: HTTPS to the server both ways passes, the rest drops.
	pass := []Packet{
		{Direction: HostTransmit, Src: host, Dst: srv, Protocol: 6, SrcPort: 50000, DstPort: 443},
		{Direction: HostReceive, Src: srv, Dst: host, Protocol: 6, SrcPort: 443, DstPort: 50000},
		{Direction: HostReceive, EtherType: 0x0806},
	}
	for _, p := range pass {
		require.True(t, d.HostPacket(p).Pass, "%+v", p)
	}
	drop := []Packet{
		{Direction: HostTransmit, Src: host, Dst: srv, Protocol: 6, SrcPort: 50000, DstPort: 80},
		{Direction: HostTransmit, Src: host, Dst: netip.MustParseAddr("10.0.0.6"), Protocol: 6, DstPort: 443},
		{Direction: HostTransmit, EtherType: 0x0806},
	}
	for _, p := range drop {
		v := d.HostPacket(p)
		require.False(t, v.Pass, "%+v", p)
		require.Equal(t, RuleDefault, v.Rule)
	}

	// Statistics: UpdateStatistics, then enumerate the active filters.
	stats := sdEnumerate(t, c, uriFilterStats)
	require.Len(t, stats, 3) // two statistics filters and the Tx default counter
	require.Equal(t, "0", textOf(stats[0], uriFilterStats, "ReadCount"), "not refreshed yet")
	ret := sdInvoke(t, c, "UpdateStatistics", pol,
		`<h:NetworkInterface>`+eprContent(uriEthPort, textSel("CreationClassName", "CIM_EthernetPort")+textSel("DeviceID", wiredPort))+
			`</h:NetworkInterface><h:ResetOnRead>true</h:ResetOnRead>`)
	require.Equal(t, "0", textOf(ret, uriSDPolicy, "ReturnValue"))
	stats = sdEnumerate(t, c, uriFilterStats)
	got := map[string]string{}
	for _, s := range stats {
		dep := find(s, uriFilterStats, "Dependent")
		// The filter's name sits in the nested Dependent EPR's selectors.
		var name string
		for _, sel := range findAll(dep, soap.NSWSMan, "Selector") {
			if sel.SelectAttrValue("Name", "") == "Name" {
				name = sel.Text()
			}
		}
		got[name] = textOf(s, uriFilterStats, "ReadCount")
		require.Equal(t, wiredPort, selectorValue(find(s, uriFilterStats, "Antecedent"), "DeviceID"))
		dt := textOf(find(s, uriFilterStats, "ActivationTime"), soap.NSCommon, "Datetime")
		_, err := time.Parse(time.RFC3339, dt)
		require.NoError(t, err, "ActivationTime %q", dt)
	}
	require.Equal(t, map[string]string{"https-out": "1", "https-in": "1", "TxDefault": "3"}, got)

	// Every filter is visible through AMT_NetworkFilter, owned by the policy.
	nf := sdEnumerate(t, c, uriNetFilter)
	require.Len(t, nf, 3)
	for _, e := range nf {
		require.Equal(t, pol, textOf(e, uriNetFilter, "OwnerID"))
	}
	ports := sdEnumerate(t, c, uriEthPort)
	require.NotEmpty(t, ports)
	require.Equal(t, wiredPort, textOf(ports[0], uriEthPort, "DeviceID"))
}

func TestDefenseTimeoutExpiresAndHandsOver(t *testing.T) {
	opts := plainOpts()
	opts.SystemDefense = &SystemDefenseOptions{MaxEnabledPerPort: 2}
	d, c := defenseSim(t, opts)
	host := netip.MustParseAddr(d.IP())
	web := Packet{Direction: HostTransmit, Src: host, Dst: netip.MustParseAddr("10.0.0.9"), Protocol: 6, DstPort: 80}

	strict := sdCreate(t, c, uriSDPolicy, sdPolicyBody("strict", 10, true, true, false))
	open := sdCreate(t, c, uriSDPolicy, sdPolicyBody("open", 1, false, false, false))
	for _, p := range []string{strict, open} {
		resp, data := c.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, p)))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	}
	ret := sdInvoke(t, c, "SetTimeout", strict, `<h:Timeout>30</h:Timeout>`)
	require.Equal(t, "0", textOf(ret, uriSDPolicy, "ReturnValue"))
	require.False(t, d.HostPacket(web).Pass)
	require.Equal(t, strict, d.ActiveDefensePolicy(0))

	d.AdvanceDefenseClock(20 * time.Minute)
	ret = sdInvoke(t, c, "GetTimeout", strict, "")
	require.Equal(t, "10", textOf(ret, uriSDPolicy, "Timeout"), "minutes left")

	d.AdvanceDefenseClock(10 * time.Minute)
	v := d.HostPacket(web)
	require.True(t, v.Pass, "the next enabled policy took over")
	require.Equal(t, open, v.Policy)
	active := map[string]string{}
	for _, e := range sdEnumerate(t, c, uriPortPolicy) {
		dep := find(e, uriPortPolicy, "Dependent")
		active[textOf(dep, soap.NSWSMan, "Selector")] = textOf(e, uriPortPolicy, "Active")
	}
	require.Equal(t, map[string]string{strict: "false", open: "true"}, active)

	// With the default of one enabled policy per port, an expiring
	// policy leaves the machine unfiltered: reachable again.
	d2, c2 := defenseSim(t, plainOpts())
	q := sdCreate(t, c2, uriSDPolicy, sdPolicyBody("q", 1, true, true, false))
	resp, data := c2.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, q)))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	other := sdCreate(t, c2, uriSDPolicy, sdPolicyBody("other", 5, true, true, false))
	resp, data = c2.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, other)))
	requireAMTStatus(t, resp, data, 23)
	sdInvoke(t, c2, "SetTimeout", q, `<h:Timeout>1</h:Timeout>`)
	web.Src = netip.MustParseAddr(d2.IP())
	require.False(t, d2.HostPacket(web).Pass)
	d2.AdvanceDefenseClock(time.Minute)
	require.Equal(t, Verdict{Pass: true, Rule: RuleNoPolicy}, d2.HostPacket(web))
}

func TestDefenseDeletionRefusedWhileInUse(t *testing.T) {
	_, c := defenseSim(t, plainOpts())
	f := sdCreate(t, c, uriIPFilter, ipFilterBody("f", 0, 4, "HdrProtocolID", "17"))
	p := sdCreate(t, c, uriSDPolicy, sdPolicyBody("p", 1, false, false, false, f))
	resp, data := c.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, p)))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	// The same association again.
	resp, data = c.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, p)))
	requireFault(t, resp, data, "e:AlreadyExists")

	resp, data = c.post(rawEnvelope(soap.ActDelete, uriIPFilter, textSel("InstanceID", f), ""))
	requireAMTStatus(t, resp, data, 16)
	resp, data = c.post(rawEnvelope(soap.ActDelete, uriSDPolicy, textSel("InstanceID", p), ""))
	requireAMTStatus(t, resp, data, 16)

	resp, data = c.post(rawEnvelope(soap.ActDelete, uriPortPolicy, portPolicySelectors(wiredPort, p), ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	require.Equal(t, soap.ActDelete+"Response", textOf(parseDoc(t, data), soap.NSAddr, "Action"))
	resp, data = c.post(rawEnvelope(soap.ActDelete, uriIPFilter, textSel("InstanceID", f), ""))
	requireAMTStatus(t, resp, data, 16) // still in the policy
	resp, data = c.post(rawEnvelope(soap.ActDelete, uriSDPolicy, textSel("InstanceID", p), ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	resp, data = c.post(rawEnvelope(soap.ActDelete, uriIPFilter, textSel("InstanceID", f), ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	resp, data = c.post(rawEnvelope(soap.ActGet, uriIPFilter, textSel("InstanceID", f), ""))
	requireFault(t, resp, data, "e:InvalidSelectors")
	require.Empty(t, sdEnumerate(t, c, uriNetFilter))
	require.Empty(t, sdEnumerate(t, c, uriSDPolicy))
}

func TestDefenseRefusedInCCM(t *testing.T) {
	opts := plainOpts()
	opts.ProvisioningMode = 4
	_, c := defenseSim(t, opts)
	resp, data := c.post(rawEnvelope(soap.ActCreate, uriIPFilter, "", ipFilterBody("f", 0, 4)))
	requireAMTStatus(t, resp, data, 3)
	resp, data = c.post(rawEnvelope(soap.ActCreate, uriSDPolicy, "", sdPolicyBody("p", 1, true, true, false)))
	requireAMTStatus(t, resp, data, 3)
	// The capabilities still answer, and nothing was created.
	require.Len(t, sdEnumerate(t, c, uriPortSDCaps), 2)
	require.Empty(t, sdEnumerate(t, c, uriNetFilter))
	require.Empty(t, sdEnumerate(t, c, uriSDPolicy))
}

func TestDefenseLimits(t *testing.T) {
	opts := plainOpts()
	limits := SystemDefensePortLimits{IPv4MaxTxFilters: 2, IPv4MaxRxFilters: 2, IPv4MaxTxCounters: 1, IPv4MaxRxCounters: 1,
		IPv6MaxTxFilters: 1, IPv6MaxRxFilters: 1, IPv6MaxTxCounters: 1, IPv6MaxRxCounters: 1, IPv6ToIPv4Ratio: 2, IPv4AntiSpoofing: true}
	opts.SystemDefense = &SystemDefenseOptions{MaxFilters: 3, MaxPolicies: 1, Wired: &limits, LimitStatus: 11}
	_, c := defenseSim(t, opts)
	caps := sdEnumerate(t, c, uriPortSDCaps)
	require.Equal(t, "2", textOf(caps[0], uriPortSDCaps, "IPv4_MaxTxFilters"), "the capabilities report the limits enforced")
	require.Equal(t, "16", textOf(caps[1], uriPortSDCaps, "IPv4_MaxTxFilters"))
	var fs []string
	for i := range 3 {
		fs = append(fs, sdCreate(t, c, uriIPFilter, ipFilterBody(fmt.Sprint("f", i), 0, 3)))
	}
	resp, data := c.post(rawEnvelope(soap.ActCreate, uriIPFilter, "", ipFilterBody("f4", 0, 3)))
	requireAMTStatus(t, resp, data, 11)
	p := sdCreate(t, c, uriSDPolicy, sdPolicyBody("p", 1, true, true, false, fs...))
	resp, data = c.post(rawEnvelope(soap.ActCreate, uriSDPolicy, "", sdPolicyBody("p2", 1, true, true, false)))
	requireAMTStatus(t, resp, data, 11)
	// Three Tx filters do not fit the wired port's two; the wireless port
	// takes them.
	resp, data = c.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, p)))
	requireAMTStatus(t, resp, data, 11)
	require.Empty(t, sdEnumerate(t, c, uriPortPolicy))
	resp, data = c.post(rawEnvelope(soap.ActCreate, uriPortDefault, "", portPolicyBody("AMT_NetworkPortDefaultSystemDefensePolicy", uriPortDefault, "Intel(r) AMT Ethernet Port 1", p)))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	def := sdEnumerate(t, c, uriPortDefault)
	require.Len(t, def, 1)
	require.Equal(t, "true", textOf(def[0], uriPortDefault, "Active"))
}

func TestDefenseBadRequests(t *testing.T) {
	opts := plainOpts()
	opts.Accounts = []Account{{User: "viewer", Password: "V1ewer!pass", ReadOnly: true}}
	d, c := defenseSim(t, opts)
	// A field outside the class namespace, a wrong root element, an
	// unknown property, a name over 16 characters.
	bad := []string{
		`<g:AMT_IPHeadersFilter xmlns:g="` + uriIPFilter + `" xmlns:x="urn:x"><x:Name>f</x:Name></g:AMT_IPHeadersFilter>`,
		instanceBody("AMT_Hdr8021Filter", uriHdrFilter, props("Name", "f")),
		ipFilterBody("f", 0, 3, "Colour", "blue"),
		"",
	}
	for _, b := range bad {
		resp, data := c.post(rawEnvelope(soap.ActCreate, uriIPFilter, "", b))
		requireFault(t, resp, data, "e:SchemaValidationError")
	}
	resp, data := c.post(rawEnvelope(soap.ActCreate, uriIPFilter, "", ipFilterBody("abcdefghijklmnopq", 0, 3)))
	requireAMTStatus(t, resp, data, 36)
	resp, data = c.post(rawEnvelope(soap.ActPut, uriIPFilter, textSel("InstanceID", "1"), ipFilterBody("f", 0, 3)))
	requireFault(t, resp, data, "b:ActionNotSupported")
	resp, data = c.post(rawEnvelope(soap.ActCreate, uriFilterStats, "", ""))
	requireFault(t, resp, data, "b:ActionNotSupported")
	resp, data = c.post(rawEnvelope(uriSDPolicy+"/Frobnicate", uriSDPolicy, textSel("InstanceID", "1"), ""))
	requireFault(t, resp, data, "b:ActionNotSupported")
	resp, data = c.post(rawEnvelope(soap.ActGet, uriEthPort, textSel("DeviceID", "Intel(r) AMT Ethernet Port 9"), ""))
	requireFault(t, resp, data, "e:InvalidSelectors")

	viewer := newClient(t, "http://"+d.HTTPAddr(), "viewer", "V1ewer!pass")
	resp, data = viewer.post(rawEnvelope(soap.ActCreate, uriIPFilter, "", ipFilterBody("f", 0, 3)))
	requireFault(t, resp, data, "e:AccessDenied")
	require.Len(t, sdEnumerate(t, viewer, uriPortSDCaps), 2)
	require.Empty(t, sdEnumerate(t, c, uriNetFilter), "nothing was created")
}

// selectorValue returns the first selector of that name under e.
func selectorValue(e *etree.Element, name string) string {
	for _, s := range findAll(e, soap.NSWSMan, "Selector") {
		if s.SelectAttrValue("Name", "") == name {
			return s.Text()
		}
	}
	return ""
}

func TestDefenseHostTrafficMovesStatistics(t *testing.T) {
	spec, err := ParseFleetSpec(strings.NewReader(`{"groups": [{"name": "desks", "weight": 1,
		"system_defense": {"max_policies": 4, "timeout_minute": "1s"},
		"host_traffic": [{"peer": "10.0.0.5", "protocol": "tcp", "port": 443, "interval": "5ms"},
		                 {"peer": "10.0.0.53", "protocol": "udp", "port": 53, "interval": "5ms"}]}]}`))
	require.NoError(t, err)
	opts := plainOpts()
	opts.Fleet = spec
	_, c := defenseSim(t, opts)
	resp, data := c.post(getReq(uriGenSDCaps))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	require.Equal(t, "4", textOf(parseDoc(t, data), uriGenSDCaps, "GlobalMaxSupportedPolicies"))

	https := sdCreate(t, c, uriIPFilter, ipFilterBody("https", 0, 0, "HdrProtocolID", "6", "HdrDestPortStart", "443", "HdrDestPortEnd", "443"))
	p := sdCreate(t, c, uriSDPolicy, sdPolicyBody("watch", 1, false, false, true, https))
	resp, data = c.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, p)))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)

	counts := func() map[string]int {
		sdInvoke(t, c, "UpdateStatistics", p, `<h:NetworkInterface>`+eprContent(uriEthPort, textSel("DeviceID", wiredPort))+
			`</h:NetworkInterface><h:ResetOnRead>false</h:ResetOnRead>`)
		out := map[string]int{}
		for _, s := range sdEnumerate(t, c, uriFilterStats) {
			var n int
			_, _ = fmt.Sscan(textOf(s, uriFilterStats, "ReadCount"), &n)
			out[selectorValue(find(s, uriFilterStats, "Dependent"), "Name")] = n
		}
		return out
	}
	// The trickle runs on its own: wait until both counters have moved.
	require.Eventually(t, func() bool {
		c := counts()
		return c["https"] > 0 && c["TxDefault"] > 0
	}, 20*time.Second, 20*time.Millisecond)
}

func TestDefenseFleetSpecValidation(t *testing.T) {
	for _, bad := range []string{
		`"system_defense": {"bogus": 1}`,
		`"system_defense": {"timeout_minute": "soon"}`,
		`"system_defense": {"max_filters": -1}`,
		`"host_traffic": [{"peer": "nowhere", "protocol": "tcp", "port": 1}]`,
		`"host_traffic": [{"peer": "10.0.0.1", "protocol": "sctp", "port": 1}]`,
		`"host_traffic": [{"peer": "10.0.0.1", "protocol": "tcp", "port": 0}]`,
		`"host_traffic": [{"peer": "10.0.0.1", "protocol": "icmp", "port": 7}]`,
		`"host_traffic": [{"peer": "10.0.0.1", "protocol": "tcp", "port": 1, "interval": "1us"}]`,
		`"host_traffic": [{"peer": "10.0.0.1", "protocol": "tcp", "port": 1, "interface": "fibre"}]`,
		`"host_traffic": [{"peer": "10.0.0.1", "protocol": "tcp", "port": 1, "colour": "red"}]`,
	} {
		_, err := ParseFleetSpec(strings.NewReader(`{"groups": [{"name": "g", "weight": 1, ` + bad + `}]}`))
		require.Error(t, err, bad)
	}
	_, err := New(Options{HostTraffic: []HostTraffic{{Peer: "10.0.0.1", Protocol: "udp"}}})
	require.ErrorContains(t, err, "port 0")
}

func TestDefenseFailTheNthCreate(t *testing.T) {
	d, c := defenseSim(t, plainOpts())
	// Fail the third Create of any class, once, as a device refusing it.
	d.InjectFault(Fault{Kind: FaultInternalError, Action: "Create", Skip: 2, Times: 1, PTStatus: 23})
	f1 := sdCreate(t, c, uriIPFilter, ipFilterBody("a", 0, 3))
	f2 := sdCreate(t, c, uriHdrFilter, instanceBody("AMT_Hdr8021Filter", uriHdrFilter,
		props(append(filterPlaceholders(), "Name", "arp", "HdrProtocolID8021", "2054", "FilterProfile", "3",
			"FilterDirection", "1", "ActionEventOnMatch", "false")...)))
	resp, data := c.post(rawEnvelope(soap.ActCreate, uriSDPolicy, "", sdPolicyBody("p", 1, true, true, false, f1, f2)))
	requireAMTStatus(t, resp, data, 23)
	require.Empty(t, sdEnumerate(t, c, uriSDPolicy), "the refused Create was not executed")
	p := sdCreate(t, c, uriSDPolicy, sdPolicyBody("p", 1, true, true, false, f1, f2))
	require.NotEmpty(t, p)

	// Narrowed to one class: the second policy Create fails, filter
	// Creates in between do not count.
	d.InjectFault(Fault{Kind: FaultInternalError, Action: "Create", ResourceURI: "AMT_SystemDefensePolicy", Skip: 1, Times: 1})
	sdCreate(t, c, uriSDPolicy, sdPolicyBody("q", 1, true, true, false))
	sdCreate(t, c, uriIPFilter, ipFilterBody("b", 0, 3))
	resp, data = c.post(rawEnvelope(soap.ActCreate, uriSDPolicy, "", sdPolicyBody("r", 1, true, true, false)))
	requireAMTStatus(t, resp, data, 1)
	sdCreate(t, c, uriSDPolicy, sdPolicyBody("r", 1, true, true, false))
	require.Len(t, sdEnumerate(t, c, uriSDPolicy), 3)
}

func TestDefenseAntiSpoofingAndRateLimitOverTheWire(t *testing.T) {
	d, c := defenseSim(t, plainOpts())
	host := netip.MustParseAddr(d.IP())
	srv := netip.MustParseAddr("10.0.0.5")
	out := sdCreate(t, c, uriIPFilter, ipFilterBody("out", 0, 3))
	syn := sdCreate(t, c, uriIPFilter, ipFilterBody("syn-in", 1, 2, "FilterProfileData", "2", "HdrProtocolID", "6"))
	body := strings.Replace(sdPolicyBody("guard", 1, true, true, false, out, syn),
		"<g:PolicyPrecedence>", "<g:AntiSpoofingSupport>3</g:AntiSpoofingSupport><g:PolicyPrecedence>", 1)
	p := sdCreate(t, c, uriSDPolicy, body)
	resp, data := c.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, p)))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)

	require.True(t, d.HostPacket(Packet{Direction: HostTransmit, Src: host, Dst: srv, Protocol: 6, DstPort: 443}).Pass)
	v := d.HostPacket(Packet{Direction: HostTransmit, Src: netip.MustParseAddr("10.9.9.9"), Dst: srv, Protocol: 6, DstPort: 443})
	require.False(t, v.Pass)
	require.Equal(t, RuleAntiSpoofing, v.Rule)

	in := Packet{Direction: HostReceive, Src: srv, Dst: host, Protocol: 6, SrcPort: 443, DstPort: 50000}
	require.True(t, d.HostPacket(in).Pass)
	require.True(t, d.HostPacket(in).Pass)
	v = d.HostPacket(in)
	require.Equal(t, RuleRateLimit, v.Rule)
	require.Equal(t, syn, v.Filter)
	d.AdvanceDefenseClock(time.Second)
	require.True(t, d.HostPacket(in).Pass, "a new one-second window")
}

func TestDefenseEnumerationModes(t *testing.T) {
	_, c := defenseSim(t, plainOpts())
	f := sdCreate(t, c, uriIPFilter, ipFilterBody("f", 0, 3))
	p := sdCreate(t, c, uriSDPolicy, sdPolicyBody("p", 1, false, false, false, f))
	resp, data := c.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, p)))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)

	pullAll := func(uri, mode string) *etree.Element {
		resp, data := c.post(enumerateModeReq(uri, mode))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		resp, data = c.post(pullReq(uri, textOf(parseDoc(t, data), soap.NSEnum, "EnumerationContext"), 10))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		return find(parseDoc(t, data), soap.NSEnum, "Items")
	}
	items := pullAll(uriIPFilter, "EnumerateEPR")
	eprs := items.ChildElements()
	require.Len(t, eprs, 1)
	require.Equal(t, "EndpointReference", eprs[0].Tag)
	require.Equal(t, f, selectorValue(eprs[0], "InstanceID"))

	items = pullAll(uriPortPolicy, "EnumerateObjectAndEPR")
	require.Len(t, items.ChildElements(), 1)
	item := items.ChildElements()[0]
	require.Equal(t, "Item", item.Tag)
	require.NotNil(t, find(item, uriPortPolicy, "AMT_NetworkPortSystemDefensePolicy"))
	epr := find(item, soap.NSAddr, "EndpointReference")
	require.NotNil(t, epr)
	// The reference names the association: a Delete with its selectors
	// disables the policy.
	resp, data = c.post(rawEnvelope(soap.ActDelete, uriPortPolicy, selectorsXML(find(epr, soap.NSWSMan, "SelectorSet")), ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	require.Empty(t, sdEnumerate(t, c, uriPortPolicy))

	resp, data = c.post(enumerateModeReq(uriSDPolicy, "EnumerateNothing"))
	requireFault(t, resp, data, "e:UnsupportedFeature")
}

// selectorsXML writes the selectors of a received SelectorSet back with
// the request's prefixes, nested references included.
func selectorsXML(set *etree.Element) string {
	var b strings.Builder
	for _, s := range set.ChildElements() {
		name := s.SelectAttrValue("Name", "")
		if inner := find(s, soap.NSAddr, "EndpointReference"); inner != nil {
			b.WriteString(eprSel(name, textOf(inner, soap.NSWSMan, "ResourceURI"), selectorsXML(find(inner, soap.NSWSMan, "SelectorSet"))))
			continue
		}
		b.WriteString(textSel(name, s.Text()))
	}
	return b.String()
}
