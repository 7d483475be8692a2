package amtsim

import (
	"bytes"
	"net/http"
	"regexp"
	"testing"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	messageIDRE   = regexp.MustCompile(`^uuid:00000000-8086-8086-8086-[0-9A-F]{12}$`)
	enumContextRE = regexp.MustCompile(`^[0-9A-F]{8}-0000-0000-0000-000000000000$`)
)

func TestGetResponseShape(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	resp, data := wc.post(envelope(soap.ActGet, uriGeneral, "42", nil, ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	assert.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"), "AMT 11 as captured")
	assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	assert.Equal(t, "Intel(R) Active Management Technology 11.8.50.3425", resp.Header.Get("Server"))
	assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)
	assert.Empty(t, resp.Header.Get("Content-Length"))
	assert.True(t, bytes.HasPrefix(data, []byte(`<?xml version="1.0" encoding="UTF-8"?><a:Envelope `)))
	assert.NotContains(t, string(data), "\n")

	root := parseDoc(t, data)
	assert.Equal(t, "42", textOf(root, soap.NSAddr, "RelatesTo"))
	assert.Regexp(t, messageIDRE, textOf(root, soap.NSAddr, "MessageID"))
	assert.Equal(t, soap.ActGet+"Response", textOf(root, soap.NSAddr, "Action"))
	gs := find(root, uriGeneral, "AMT_GeneralSettings")
	require.NotNil(t, gs)
	assert.Equal(t, d.Realm(), textOf(gs, uriGeneral, "DigestRealm"))
	assert.Equal(t, "amtsim-127-0-0-1", textOf(gs, uriGeneral, "HostName"))
	assert.Equal(t, d.Hostname(), "amtsim-127-0-0-1")

	// Selectors on a singleton must match when given.
	resp, _ = wc.post(getReq(uriGeneral, sel{"InstanceID", "Intel(r) AMT: General Settings"}))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, data = wc.post(getReq(uriGeneral, sel{"InstanceID", "nope"}))
	requireFault(t, resp, data, "e:InvalidSelectors")

	// Multi-instance classes by key; EPR-valued properties.
	resp, data = wc.post(getReq(uriSoftware, sel{"InstanceID", "AMT"}))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "11.8.50", textOf(parseDoc(t, data), uriSoftware, "VersionString"))
	resp, data = wc.post(getReq(uriSoftware, sel{"InstanceID", "Build Number"}))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "3425", textOf(parseDoc(t, data), uriSoftware, "VersionString"))
	resp, data = wc.post(getReq(uriPackage))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	pkg := parseDoc(t, data)
	assert.Equal(t, d.PlatformGUID(), textOf(pkg, uriPackage, "PlatformGUID"))
	assert.Len(t, findAll(pkg, soap.NSWSMan, "Selector"), 4)
	resp, data = wc.post(getReq(uriEthernet, sel{"InstanceID", "Intel(r) AMT Ethernet Port Settings 0"}))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	eth := parseDoc(t, data)
	assert.Nil(t, find(eth, uriEthernet, "IPAddress"), "a DHCP port's Get has no IPAddress, as captured")
	assert.Equal(t, "a4-ae-7f-00-00-01", textOf(eth, uriEthernet, "MACAddress"))
	assert.Len(t, findAll(eth, uriEthernet, "LinkPolicy"), 2)
	resp, data = wc.post(getReq(uriSetup))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "2", textOf(parseDoc(t, data), uriSetup, "ProvisioningState"))
}

func TestProvisioningOptions(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.ProvisioningState = -1 // 0: pre-provisioning
	opts.ProvisioningMode = 4
	opts.SKU = 16400
	opts.DomainName = "example.test"
	opts.Version = "16.1.27.2176"
	sim := startSim(t, opts)
	wc := newClient(t, sim.URL(), testUser, testPass)
	_, data := wc.post(getReq(uriSetup))
	root := parseDoc(t, data)
	assert.Equal(t, "0", textOf(root, uriSetup, "ProvisioningState"))
	assert.Equal(t, "4", textOf(root, uriSetup, "ProvisioningMode"))
	_, data = wc.post(getReq(uriSoftware, sel{"InstanceID", "Sku"}))
	assert.Equal(t, "16400", textOf(parseDoc(t, data), uriSoftware, "VersionString"))
	_, data = wc.post(getReq(uriGeneral))
	root = parseDoc(t, data)
	assert.Equal(t, "example.test", textOf(root, uriGeneral, "DomainName"))
	assert.Equal(t, "1", textOf(root, uriGeneral, "DHCPSyncRequiresHostname"), "16.x reports newer properties")
	resp, data := newRawClient(t, sim.URL()).send(identifyBody, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "AMT 16.1", textOf(parseDoc(t, data), soap.NSIdentity, "ProductVersion"))
	assert.Equal(t, "Intel(R) Active Management Technology 16.1.27.2176", resp.Header.Get("Server"))
}

func TestFaults(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.Accounts = []Account{{User: "viewer", Password: "V1ewer!!", ReadOnly: true}}
	sim := startSim(t, opts)
	wc := newClient(t, sim.URL(), testUser, testPass)
	ro := newClient(t, sim.URL(), "viewer", "V1ewer!!")

	t.Run("DestinationUnreachable", func(t *testing.T) {
		resp, data := wc.post(getReq(soap.PrefixAMT + "AMT_NoSuchClass"))
		root := requireFault(t, resp, data, "b:DestinationUnreachable")
		assert.Equal(t, soap.ActFaultAddr, textOf(root, soap.NSAddr, "Action"))
		assert.Equal(t, "a:Sender", textOf(find(root, soap.NSSOAP, "Code"), soap.NSSOAP, "Value"))
		assert.Equal(t, "1", textOf(root, soap.NSAddr, "RelatesTo"))
		assert.Regexp(t, messageIDRE, textOf(root, soap.NSAddr, "MessageID"))
	})
	t.Run("InvalidSelectors", func(t *testing.T) {
		for _, req := range []string{
			getReq(uriEthernet), // missing on a multi-instance class
			getReq(uriEthernet, sel{"InstanceID", "Intel(r) AMT Ethernet Port Settings 7"}),
			getReq(uriSoftware, sel{"Name", "AMT"}),
			getReq(uriSoftware, sel{"InstanceID", "AMT"}, sel{"InstanceID", "Flash"}),
		} {
			resp, data := wc.post(req)
			root := requireFault(t, resp, data, "e:InvalidSelectors")
			assert.Equal(t, soap.ActFaultWSMan, textOf(root, soap.NSAddr, "Action"))
		}
	})
	t.Run("ActionNotSupported", func(t *testing.T) {
		for _, req := range []string{
			envelope(soap.ActCreate, uriGeneral, "1", nil, `<g:AMT_GeneralSettings xmlns:g="`+uriGeneral+`"/>`),
			envelope(soap.ActDelete, uriGeneral, "1", nil, ""),
			envelope(soap.ActPut, uriSoftware, "1", []sel{{"InstanceID", "AMT"}}, ""),
			envelope(uriSetup+"/NoSuchMethod", uriSetup, "1", nil, ""),
			envelope(uriGeneral+"/CommitChanges", uriGeneral, "1", nil, ""),
			envelope("http://schemas.xmlsoap.org/ws/2004/08/eventing/Subscribe", uriGeneral, "1", nil, ""),
		} {
			resp, data := wc.post(req)
			requireFault(t, resp, data, "b:ActionNotSupported")
		}
	})
	t.Run("AccessDenied", func(t *testing.T) {
		resp, _ := ro.post(getReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode, "a read-only account may read")
		resp, data := ro.post(envelope(soap.ActPut, uriGeneral, "1", nil,
			`<g:AMT_GeneralSettings xmlns:g="`+uriGeneral+`"><g:HostName>x</g:HostName></g:AMT_GeneralSettings>`))
		requireFault(t, resp, data, "e:AccessDenied")
		resp, data = ro.post(envelope(uriSetup+"/CommitChanges", uriSetup, "1", nil, `<h:CommitChanges_INPUT xmlns:h="`+uriSetup+`"/>`))
		requireFault(t, resp, data, "e:AccessDenied")
		assert.Equal(t, "amtsim-127-0-0-1", sim.Devices()[0].Hostname())
	})
	t.Run("InvalidEnumerationContext", func(t *testing.T) {
		resp, data := wc.post(pullReq(uriGeneral, "DEADBEEF-0000-0000-0000-000000000000", 1))
		root := requireFault(t, resp, data, "c:InvalidEnumerationContext")
		assert.Equal(t, "a:Receiver", textOf(find(root, soap.NSSOAP, "Code"), soap.NSSOAP, "Value"))
		assert.Equal(t, soap.ActFaultEnum, textOf(root, soap.NSAddr, "Action"))

		// A finished enumeration and a released one are gone.
		_, data = wc.post(enumerateReq(uriGeneral))
		id := textOf(parseDoc(t, data), soap.NSEnum, "EnumerationContext")
		resp, _ = wc.post(pullReq(uriGeneral, id, 10))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, data = wc.post(pullReq(uriGeneral, id, 10))
		requireFault(t, resp, data, "c:InvalidEnumerationContext")

		_, data = wc.post(enumerateReq(uriSoftware))
		id = textOf(parseDoc(t, data), soap.NSEnum, "EnumerationContext")
		resp, data = wc.post(envelope(soap.ActRelease, uriSoftware, "9", nil,
			`<n:Release xmlns:n="`+soap.NSEnum+`"><n:EnumerationContext>`+id+`</n:EnumerationContext></n:Release>`))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		assert.Equal(t, soap.ActRelease+"Response", textOf(parseDoc(t, data), soap.NSAddr, "Action"))
		resp, data = wc.post(pullReq(uriSoftware, id, 1))
		requireFault(t, resp, data, "c:InvalidEnumerationContext")
	})
	t.Run("MissingAction", func(t *testing.T) {
		resp, data := wc.post(envelope("", uriGeneral, "1", nil, ""))
		requireFault(t, resp, data, "b:MessageInformationHeaderRequired")
	})
}

func TestEnumerationBound(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.MaxEnumerations = 2
	sim := startSim(t, opts)
	wc := newClient(t, sim.URL(), testUser, testPass)
	var ids []string
	for range 3 {
		_, data := wc.post(enumerateReq(uriSoftware))
		ids = append(ids, textOf(parseDoc(t, data), soap.NSEnum, "EnumerationContext"))
	}
	resp, data := wc.post(pullReq(uriSoftware, ids[0], 1))
	requireFault(t, resp, data, "c:InvalidEnumerationContext")
	resp, _ = wc.post(pullReq(uriSoftware, ids[2], 1))
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestEnumeratePullPaging(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	wc := newClient(t, sim.URL(), testUser, testPass)
	resp, data := wc.post(enumerateReq(uriSoftware))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	root := parseDoc(t, data)
	assert.Equal(t, soap.ActEnumerate+"Response", textOf(root, soap.NSAddr, "Action"))
	id := textOf(root, soap.NSEnum, "EnumerationContext")
	require.Regexp(t, enumContextRE, id)

	var got []string
	pull := func(maxElements, wantItems int, wantEnd bool) {
		t.Helper()
		resp, data := wc.post(pullReq(uriSoftware, id, maxElements))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		root := parseDoc(t, data)
		pr := find(root, soap.NSEnum, "PullResponse")
		require.NotNil(t, pr)
		items := findAll(pr, uriSoftware, "CIM_SoftwareIdentity")
		require.Len(t, items, wantItems)
		for _, it := range items {
			got = append(got, textOf(it, uriSoftware, "InstanceID"))
		}
		if wantEnd {
			assert.NotNil(t, find(pr, soap.NSEnum, "EndOfSequence"))
			assert.Nil(t, find(pr, soap.NSEnum, "EnumerationContext"))
		} else {
			assert.Nil(t, find(pr, soap.NSEnum, "EndOfSequence"))
			assert.Equal(t, id, textOf(pr, soap.NSEnum, "EnumerationContext"))
			// The context precedes the items, as the firmware writes it.
			assert.Equal(t, "EnumerationContext", pr.ChildElements()[0].Tag)
		}
	}
	pull(4, 4, false)
	pull(0, 1, false) // no MaxElements: one element
	pull(100, 6, true)
	assert.Equal(t, []string{"Flash", "Netstack", "AMTApps", "AMT", "Sku", "VendorID", "Build Number",
		"Recovery Version", "Recovery Build Num", "Legacy Mode", "AMT FW Core Version"}, got)

	resp, data = wc.post(pullReq(uriSoftware, id, 1))
	requireFault(t, resp, data, "c:InvalidEnumerationContext")
}

func TestPutUpdatesState(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)

	// A partial instance, as amtc sends it, with the key echoed.
	put := envelope(soap.ActPut, uriGeneral, "5", []sel{{"InstanceID", "Intel(r) AMT: General Settings"}},
		`<g:AMT_GeneralSettings xmlns:g="`+uriGeneral+`">
<g:InstanceID>Intel(r) AMT: General Settings</g:InstanceID>
<g:PingResponseEnabled>false</g:PingResponseEnabled>
<g:HostName>renamed &amp; co</g:HostName>
</g:AMT_GeneralSettings>`)
	resp, data := wc.post(put)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	root := parseDoc(t, data)
	assert.Equal(t, soap.ActPut+"Response", textOf(root, soap.NSAddr, "Action"))
	assert.Equal(t, "false", textOf(root, uriGeneral, "PingResponseEnabled"))
	assert.Equal(t, "renamed & co", textOf(root, uriGeneral, "HostName"))
	assert.Equal(t, "renamed & co", d.Hostname())

	_, data = wc.post(getReq(uriGeneral))
	assert.Equal(t, "false", textOf(parseDoc(t, data), uriGeneral, "PingResponseEnabled"))

	// Changing a read-only property is refused and changes nothing.
	resp, data = wc.post(envelope(soap.ActPut, uriGeneral, "6", nil,
		`<g:AMT_GeneralSettings xmlns:g="`+uriGeneral+`"><g:HostName>other</g:HostName><g:DigestRealm>Digest:00</g:DigestRealm></g:AMT_GeneralSettings>`))
	requireFault(t, resp, data, "d:InvalidRepresentation")
	assert.Equal(t, "renamed & co", d.Hostname())

	// Wrong types and wrong elements fail schema validation.
	resp, data = wc.post(envelope(soap.ActPut, uriGeneral, "7", nil,
		`<g:AMT_GeneralSettings xmlns:g="`+uriGeneral+`"><g:PingResponseEnabled>yes</g:PingResponseEnabled></g:AMT_GeneralSettings>`))
	requireFault(t, resp, data, "e:SchemaValidationError")
	resp, data = wc.post(envelope(soap.ActPut, uriGeneral, "8", nil, `<g:Other xmlns:g="`+uriGeneral+`"/>`))
	requireFault(t, resp, data, "e:SchemaValidationError")

	// A whole instance with read-only values echoed unchanged is accepted.
	resp, data = wc.post(envelope(soap.ActPut, uriEthernet, "9", []sel{{"InstanceID", "Intel(r) AMT Ethernet Port Settings 0"}},
		`<r:AMT_EthernetPortSettings xmlns:r="`+uriEthernet+`"><r:DHCPEnabled>false</r:DHCPEnabled><r:ElementName>Intel(r) AMT Ethernet Port Settings</r:ElementName><r:IPAddress>192.168.1.53</r:IPAddress><r:InstanceID>Intel(r) AMT Ethernet Port Settings 0</r:InstanceID><r:LinkPolicy>1</r:LinkPolicy><r:LinkPolicy>14</r:LinkPolicy><r:LinkPolicy>16</r:LinkPolicy><r:MACAddress>a4-ae-7f-00-00-01</r:MACAddress><r:SharedStaticIp>true</r:SharedStaticIp></r:AMT_EthernetPortSettings>`))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	root = parseDoc(t, data)
	assert.Equal(t, "192.168.1.53", textOf(root, uriEthernet, "IPAddress"))
	assert.Len(t, findAll(root, uriEthernet, "LinkPolicy"), 3)
	assert.Equal(t, 5, d.Stats().Actions[soap.ActPut], "every Put executed, faulting ones included")
}

func TestMethods(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	wc := newClient(t, sim.URL(), testUser, testPass)
	resp, data := wc.post(envelope(uriSetup+"/CommitChanges", uriSetup, "3", nil, `<h:CommitChanges_INPUT xmlns:h="`+uriSetup+`"/>`))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	root := parseDoc(t, data)
	assert.Equal(t, uriSetup+"/CommitChangesResponse", textOf(root, soap.NSAddr, "Action"))
	out := find(root, uriSetup, "CommitChanges_OUTPUT")
	require.NotNil(t, out)
	assert.Equal(t, "0", textOf(out, uriSetup, "ReturnValue"))

	resp, data = wc.post(envelope(uriSetup+"/GetUuid", uriSetup, "4", nil, ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	out = find(parseDoc(t, data), uriSetup, "GetUuid_OUTPUT")
	require.NotNil(t, out)
	assert.Len(t, textOf(out, uriSetup, "UUID"), 24)
	assert.Equal(t, []string{"UUID", "ReturnValue"}, []string{out.ChildElements()[0].Tag, out.ChildElements()[1].Tag})
}
