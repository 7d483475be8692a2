package amtsim

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/amtkit/amtkit/internal/recordings"
)

// TestDefenseAgainstCaptures compares what the System Defense classes
// answer with the captures there are: CIM_EthernetPort (real), the
// hand-edited AMT_Hdr8021Filter, a real association CreateResponse with
// EPR-valued selectors (AMT_TLSCredentialContext) and the real
// AlreadyExists fault.
func TestDefenseAgainstCaptures(t *testing.T) {
	dir := recordings.Dir(t)
	idx := realCaptures(t, dir)
	_, c := defenseSim(t, plainOpts())

	// CIM_EthernetPort: envelope, declarations and property sequence.
	resp, data := c.post(getReq(uriEthPort, sel{"DeviceID", wiredPort}))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	got := parseDoc(t, data)
	caps := loadCaptures(t, dir, idx, "CIM_EthernetPort", "GetResponse__*.resp.xml")
	require.NotEmpty(t, caps)
	compareEnvelope(t, "CIM_EthernetPort Get", got, caps)
	inst := find(got, uriEthPort, "CIM_EthernetPort")
	for _, cp := range caps {
		require.Equal(t, propSeq(find(cp.root, uriEthPort, "CIM_EthernetPort")), propSeq(inst), cp.name)
	}
	ports := sdEnumerate(t, c, uriEthPort)
	pulls := loadCaptures(t, dir, idx, "CIM_EthernetPort", "PullResponse__*.resp.xml")
	require.NotEmpty(t, pulls)
	require.Equal(t, propSeq(find(pulls[0].root, uriEthPort, "CIM_EthernetPort")), propSeq(ports[0]))
	resp, data = c.post(enumerateReq(uriEthPort))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, data = c.post(pullReq(uriEthPort, textOf(parseDoc(t, data), soap.NSEnum, "EnumerationContext"), 1))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	compareEnvelope(t, "CIM_EthernetPort Pull", parseDoc(t, data), pulls)

	// AMT_Hdr8021Filter: the edited capture's envelope and the key values
	// the device fills in.
	id := sdCreate(t, c, uriHdrFilter, instanceBody("AMT_Hdr8021Filter", uriHdrFilter,
		props(append(filterPlaceholders(), "Name", "vlan", "HdrProtocolID8021", "2048", "FilterProfile", "3",
			"FilterDirection", "1", "ActionEventOnMatch", "false", "ElementName", "HDR 802.1 Filter")...)))
	resp, data = c.post(rawEnvelope(soap.ActGet, uriHdrFilter, textSel("InstanceID", id), ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	got = parseDoc(t, data)
	hcaps := loadCaptures(t, dir, idx, "AMT_Hdr8021Filter", "GetResponse__*.resp.xml")
	require.NotEmpty(t, hcaps)
	compareEnvelope(t, "AMT_Hdr8021Filter Get", got, hcaps)
	mine := find(got, uriHdrFilter, "AMT_Hdr8021Filter")
	theirs := find(hcaps[0].root, uriHdrFilter, "AMT_Hdr8021Filter")
	for _, name := range []string{"CreationClassName", "ElementName", "SystemCreationClassName", "SystemName"} {
		require.Equal(t, textOf(theirs, uriHdrFilter, name), textOf(mine, uriHdrFilter, name), name)
	}

	// ResourceCreated of an association: the structure of the captured
	// AMT_TLSCredentialContext answer, EPR-valued selectors nested.
	p := sdCreate(t, c, uriSDPolicy, sdPolicyBody("p", 1, false, false, false))
	resp, data = c.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, p)))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	got = parseDoc(t, data)
	ccaps := loadCaptures(t, dir, idx, "AMT_TLSCredentialContext", "CreateResponse__*.resp.xml")
	require.NotEmpty(t, ccaps)
	compareEnvelope(t, "association CreateResponse", got, ccaps)
	// Selector counts are data: runs of selectors are compared as one.
	require.Equal(t, collapse(structure(find(ccaps[0].root, soap.NSTransfer, "ResourceCreated"))),
		collapse(structure(find(got, soap.NSTransfer, "ResourceCreated"))))

	// The AlreadyExists fault.
	resp, data = c.post(rawEnvelope(soap.ActCreate, uriPortPolicy, "", portPolicyBody("AMT_NetworkPortSystemDefensePolicy", uriPortPolicy, wiredPort, p)))
	got = requireFault(t, resp, data, "e:AlreadyExists")
	fcaps := loadCaptures(t, dir, idx, "Fault", "AlreadyExists__*.resp.xml")
	require.NotEmpty(t, fcaps)
	for _, fc := range fcaps {
		require.Equal(t, nsDecls(fc.root), nsDecls(got), fc.name)
		require.Equal(t, structure(fc.root), structure(got), fc.name)
		require.Equal(t, textOf(fc.root, soap.NSSOAP, "Text"), textOf(got, soap.NSSOAP, "Text"), fc.name)
	}
}

// collapse drops consecutive repeats from a structure listing.
func collapse(seq []qname) []qname {
	var out []qname
	for _, q := range seq {
		if len(out) == 0 || out[len(out)-1] != q {
			out = append(out, q)
		}
	}
	return out
}
