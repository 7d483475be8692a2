package amtsim

import (
	"net/http"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/beevik/etree"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// propertyNames lists the property element names of the first instance of
// class in a document, in order.
func propertyNames(t *testing.T, root *etree.Element, uri, class string) []string {
	t.Helper()
	inst := find(root, uri, class)
	require.NotNil(t, inst, "no %s", class)
	var names []string
	for _, p := range inst.ChildElements() {
		names = append(names, p.Tag)
	}
	return names
}

func captureDoc(t *testing.T, rel string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromFile(filepath.Join(recordingsDir(t), rel)))
	return doc.Root()
}

// TestUnprovisionedIdentity: devices in pre-provisioning have realms of
// four hex digits and zeros that differ between devices, as the two
// captured unprovisioned devices do (A407…, D29C…); an unprovisioned AMT
// 11.8 answers AMT_GeneralSettings with the property set and the empty
// HostName of its capture, an older one with the set of the older capture
// and its host name.
func TestUnprovisionedIdentity(t *testing.T) {
	t.Parallel()
	realmRE := regexp.MustCompile(`^Digest:[0-9A-F]{4}0{28}$`)
	realms := map[string]string{}
	for _, tc := range []struct {
		addr, version, capture string
		emptyHost              bool
	}{
		{"127.141.0.1", "11.8.50.3425", "AMT_GeneralSettings/GetResponse__rps__2.resp.xml", true},
		{"127.141.0.2", "11.8.50.3425", "AMT_GeneralSettings/GetResponse__rps__2.resp.xml", true},
		{"127.141.0.3", "8.1.71.3608", "AMT_GeneralSettings/GetResponse__mps__1.resp.xml", false},
	} {
		sim := startSim(t, Options{Addr: tc.addr, Version: tc.version, ProvisioningState: -1, TLSPort: -1, RedirectTLSPort: -1})
		d := sim.Devices()[0]
		assert.Regexp(t, realmRE, d.Realm())
		realms[d.Realm()] = tc.addr
		wc := newClient(t, sim.URL(), testUser, testPass)
		resp, data := wc.post(getReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		root := parseDoc(t, data)
		want := captureDoc(t, tc.capture)
		assert.Equal(t, propertyNames(t, want, uriGeneral, "AMT_GeneralSettings"), propertyNames(t, root, uriGeneral, "AMT_GeneralSettings"),
			"%s: the property set of %s", tc.version, tc.capture)
		assert.Equal(t, d.Realm(), textOf(root, uriGeneral, "DigestRealm"))
		assert.Equal(t, "", textOf(root, uriGeneral, "DomainName"))
		if tc.emptyHost {
			assert.Equal(t, "", textOf(root, uriGeneral, "HostName"), "as %s", tc.capture)
		} else {
			assert.NotEqual(t, "", textOf(root, uriGeneral, "HostName"), "as %s", tc.capture)
		}
	}
	assert.Len(t, realms, 3, "every unprovisioned device has its own realm")
}

// TestUnprovisionedRefusesWork: a device in pre-provisioning answers reads
// but refuses writes and methods with INVALID_PROVISIONING_STATE (a fault
// with AMT-STATUS 32 for Put, ReturnValue 32 or 32800 for methods), except
// on the setup services; SetRefuseWhenUnprovisioned(false) lifts it.
func TestUnprovisionedRefusesWork(t *testing.T) {
	t.Parallel()
	sim := startSim(t, Options{Addr: "127.141.1.1", ProvisioningState: -1, TLSPort: -1, RedirectTLSPort: -1})
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	put := envelope(soap.ActPut, uriGeneral, "5", nil,
		`<g:AMT_GeneralSettings xmlns:g="`+uriGeneral+`"><g:HostName>renamed</g:HostName></g:AMT_GeneralSettings>`)

	resp, data := wc.post(put)
	f := requireFault(t, resp, data, "e:InternalError")
	assert.Contains(t, f.FindElement(".//Detail").Text(), "AMT-STATUS 32")
	assert.Equal(t, "", d.Hostname(), "nothing changed")
	assert.Equal(t, 32800, wc.returnValue(powerReq(2)), "CIM method: 32768 + 32")
	assert.Empty(t, d.PowerRequests(), "no power change was taken")
	assert.Equal(t, 32, wc.returnValue(invokeReq("AMT_TimeSynchronizationService", "SetHighAccuracyTimeSynch",
		`<h:Ta0>1</h:Ta0><h:Tm1>1</h:Tm1><h:Tm2>1</h:Tm2>`)), "AMT method")
	assert.Equal(t, 0, wc.returnValue(envelope(uriSetup+"/CommitChanges", uriSetup, "6", nil,
		`<h:CommitChanges_INPUT xmlns:h="`+uriSetup+`"/>`)), "the setup service still works")
	resp, _ = wc.post(getReq(uriAPMS))
	assert.Equal(t, http.StatusOK, resp.StatusCode, "reads are answered")

	d.SetRefuseWhenUnprovisioned(false)
	resp, data = wc.post(put)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	assert.Equal(t, "renamed", d.Hostname())
	assert.Equal(t, 0, wc.returnValue(powerReq(2)))
}
