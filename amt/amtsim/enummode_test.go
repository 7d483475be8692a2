package amtsim

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/beevik/etree"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func enumerateModeReq(uri, mode string) string {
	return envelope(soap.ActEnumerate, uri, "2", nil, `<n:Enumerate xmlns:n="`+soap.NSEnum+`"><w:OptimizeEnumeration/><w:EnumerationMode>`+
		mode+`</w:EnumerationMode><w:MaxElements>250</w:MaxElements></n:Enumerate>`)
}

// pullMode enumerates a class in a mode and pulls everything in one page.
func pullMode(t *testing.T, wc *wsClient, uri, mode string) *etree.Element {
	t.Helper()
	resp, data := wc.post(enumerateModeReq(uri, mode))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	ctx := textOf(parseDoc(t, data), soap.NSEnum, "EnumerationContext")
	require.NotEmpty(t, ctx, "OptimizeEnumeration is ignored, as captured: the items come with Pull")
	resp, data = wc.post(pullReq(uri, ctx, 100))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	return parseDoc(t, data)
}

// TestEnumerationModes serves EnumerateEPR and EnumerateObjectAndEPR: the
// latter as the CIM_BootConfigSetting capture shows it (w:Item holding the
// instance and its EndpointReference), the former as EndpointReference
// items whose selectors address the instances.
func TestEnumerationModes(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	wc := newClient(t, sim.URL(), testUser, testPass)

	t.Run("ObjectAndEPR matches the capture", func(t *testing.T) {
		dir := recordingsDir(t)
		doc := etree.NewDocument()
		require.NoError(t, doc.ReadFromFile(filepath.Join(dir, "CIM_BootConfigSetting", "PullResponse__goamt__1.resp.xml")))
		want := doc.Root()
		got := pullMode(t, wc, uriBootConfigSetting, "EnumerateObjectAndEPR")
		assert.Equal(t, nsDecls(want), nsDecls(got), "namespace declarations")
		assert.Equal(t, structure(find(want, soap.NSSOAP, "Body")), structure(find(got, soap.NSSOAP, "Body")), "body structure")
		epr := find(find(got, soap.NSWSMan, "Item"), soap.NSAddr, "EndpointReference")
		require.NotNil(t, epr)
		assert.Equal(t, uriBootConfigSetting, textOf(epr, soap.NSWSMan, "ResourceURI"))
		assert.Equal(t, bootConfigID, textOf(epr, soap.NSWSMan, "Selector"))
	})

	t.Run("EPR items address the instances", func(t *testing.T) {
		got := pullMode(t, wc, uriBootSourceSetting, "EnumerateEPR")
		items := find(got, soap.NSEnum, "Items")
		require.NotNil(t, items)
		eprs := items.ChildElements()
		require.Len(t, eprs, 3, "hard drive, PXE, CD/DVD")
		assert.Empty(t, findAll(got, uriBootSourceSetting, "CIM_BootSourceSetting"), "no instances in EPR mode")
		for _, a := range got.Attr {
			assert.NotEqual(t, uriBootSourceSetting, a.Value, "no instance namespace declared")
		}
		for _, e := range eprs {
			require.Equal(t, qname{soap.NSAddr, "EndpointReference"}, qn(e))
			assert.Equal(t, uriBootSourceSetting, textOf(e, soap.NSWSMan, "ResourceURI"))
			sels := findAll(e, soap.NSWSMan, "Selector")
			require.Len(t, sels, 1)
			name := sels[0].SelectAttrValue("Name", "")
			require.Equal(t, "InstanceID", name)
			resp, data := wc.post(getReq(uriBootSourceSetting, sel{name, sels[0].Text()}))
			require.Equal(t, http.StatusOK, resp.StatusCode, "the EPR's selectors address the instance: %s", data)
		}
	})

	t.Run("reference keys nest an EndpointReference", func(t *testing.T) {
		got := pullMode(t, wc, uriAPMS, "EnumerateObjectAndEPR")
		item := find(got, soap.NSWSMan, "Item")
		require.NotNil(t, item)
		require.Len(t, item.ChildElements(), 2)
		epr := item.ChildElements()[1]
		sels := epr.FindElements("./ReferenceParameters/SelectorSet/Selector")
		require.Len(t, sels, 2)
		assert.Equal(t, "ServiceProvided", sels[0].SelectAttrValue("Name", ""))
		assert.Equal(t, "UserOfService", sels[1].SelectAttrValue("Name", ""))
		for _, s := range sels {
			inner := find(s, soap.NSAddr, "EndpointReference")
			require.NotNil(t, inner)
			assert.NotEmpty(t, textOf(inner, soap.NSWSMan, "ResourceURI"))
		}
	})

	t.Run("unknown mode", func(t *testing.T) {
		resp, data := wc.post(enumerateModeReq(uriBootSourceSetting, "EnumerateEverything"))
		requireFault(t, resp, data, "e:UnsupportedFeature")
	})
}
