package wsman

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/internal/recordings"
)

// canonical renders XML with prefixes resolved to namespace URIs, namespace
// declarations dropped, attributes sorted and whitespace-only text ignored,
// so that two envelopes compare equal when they mean the same.
func canonical(t *testing.T, data []byte) string {
	t.Helper()
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromBytes(data))
	var b strings.Builder
	var walk func(e *etree.Element, depth int)
	walk = func(e *etree.Element, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString("{" + e.NamespaceURI() + "}" + e.Tag)
		var attrs []string
		for _, a := range e.Attr {
			if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
				continue
			}
			attrs = append(attrs, "{"+a.NamespaceURI()+"}"+a.Key+"="+a.Value)
		}
		sort.Strings(attrs)
		if len(attrs) > 0 {
			b.WriteString(" [" + strings.Join(attrs, " ") + "]")
		}
		if kids := e.ChildElements(); len(kids) == 0 {
			if txt := strings.TrimSpace(e.Text()); txt != "" {
				b.WriteString(" = " + txt)
			}
			b.WriteString("\n")
		} else {
			b.WriteString("\n")
			for _, c := range kids {
				walk(c, depth+1)
			}
		}
	}
	walk(doc.Root(), 0)
	return b.String()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing; run with UPDATE_GOLDEN=1")
	assert.Equal(t, canonical(t, want), canonical(t, got))
}

func TestEncodeGet(t *testing.T) {
	r := &request{action: ActionGet, resourceURI: PrefixAMT + "AMT_EthernetPortSettings", messageID: "1",
		timeout: 60 * time.Second, selectors: []Selector{Sel("InstanceID", "Intel(r) AMT Ethernet Port Settings 0")}}
	b, err := r.encode()
	require.NoError(t, err)
	golden(t, "get.xml", b)
}

func TestEncodeIdentify(t *testing.T) {
	b, err := (&request{identify: true}).encode()
	require.NoError(t, err)
	golden(t, "identify.xml", b)
}

func TestEncodeInvokeWithReference(t *testing.T) {
	uri := PrefixCIM + "CIM_PowerManagementService"
	r := &request{action: uri + "/RequestPowerStateChange", resourceURI: uri, messageID: "7", timeout: 60 * time.Second,
		body: func(b *etree.Element) {
			writeInstanceElement(b, uri, "RequestPowerStateChange_INPUT", []Property{
				Param("PowerState", "10"),
				RefParam("ManagedElement", EPR{ResourceURI: PrefixCIM + "CIM_ComputerSystem", Selectors: []Selector{
					Sel("CreationClassName", "CIM_ComputerSystem"), Sel("Name", "ManagedSystem"),
				}}),
			})
		}}
	b, err := r.encode()
	require.NoError(t, err)
	golden(t, "invoke.xml", b)
}

func TestEncodeSelectorWithReference(t *testing.T) {
	uri := PrefixCIM + "CIM_ComputerSystemPackage"
	r := &request{action: ActionGet, resourceURI: uri, messageID: "3", selectors: []Selector{{
		Name: "Dependent",
		Ref: &EPR{ResourceURI: PrefixCIM + "CIM_ComputerSystem", Selectors: []Selector{
			Sel("CreationClassName", "CIM_ComputerSystem"), Sel("Name", "ManagedSystem")}},
	}}}
	b, err := r.encode()
	require.NoError(t, err)
	golden(t, "get_epr_selector.xml", b)
}

func TestEncodeEscapesValues(t *testing.T) {
	uri := PrefixAMT + "AMT_GeneralSettings"
	r := &request{action: ActionPut, resourceURI: uri, messageID: "<&>", body: func(b *etree.Element) {
		writeInstanceElement(b, uri, "AMT_GeneralSettings", []Property{Param("HostName", `a<b>&"c'`)})
	}}
	b, err := r.encode()
	require.NoError(t, err)
	msg := etree.NewDocument()
	require.NoError(t, msg.ReadFromBytes(b), "the envelope stays well-formed")
	assert.Equal(t, `a<b>&"c'`, msg.FindElement("//HostName").Text())
	assert.Equal(t, "<&>", msg.FindElement("//MessageID").Text())
}

func TestEncodePutRoundTrip(t *testing.T) {
	// An instance decoded from a response, with a structured value and a
	// nil, is written back with the same properties in the same order.
	in := &Instance{ResourceURI: PrefixCIM + "CIM_Example", Class: "CIM_Example", Properties: []Property{
		{Name: "A", Value: "1"},
		{Name: "Arr", Value: "x"},
		{Name: "Arr", Value: "y"},
		{Name: "Date", Node: &Node{Children: []*Node{{Space: "http://schemas.dmtf.org/wbem/wscim/1/common", Local: "Datetime", Text: "2020-01-01T00:00:00Z"}}}},
		{Name: "N", Nil: true},
	}}
	r := &request{action: ActionPut, resourceURI: in.ResourceURI, messageID: "1", body: func(b *etree.Element) {
		writeInstanceElement(b, in.ResourceURI, in.Class, in.Properties)
	}}
	data, err := r.encode()
	require.NoError(t, err)
	msg, err := ParseMessage(data)
	require.NoError(t, err)
	out, err := msg.Instance()
	require.NoError(t, err)
	assert.Equal(t, in, out)
	assert.Equal(t, "2020-01-01T00:00:00Z", out.String("Date"))
	assert.Equal(t, []string{"x", "y"}, out.Values("Arr"))
}

func TestXSDuration(t *testing.T) {
	assert.Equal(t, "PT60S", xsDuration(60*time.Second))
	assert.Equal(t, "PT1.500S", xsDuration(1500*time.Millisecond))
}

// bodyOf returns the canonical form of the Body of an envelope and the set
// of header element names.
func bodyOf(t *testing.T, data []byte) (string, []string) {
	t.Helper()
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromBytes(data))
	var body *etree.Element
	var header []string
	for _, c := range doc.Root().ChildElements() {
		switch c.Tag {
		case "Body":
			body = c
		case "Header":
			for _, h := range c.ChildElements() {
				if h.Tag == "OperationTimeout" {
					continue
				}
				header = append(header, "{"+h.NamespaceURI()+"}"+h.Tag)
			}
		}
	}
	require.NotNil(t, body)
	sort.Strings(header)
	// Keep the root's namespace declarations, so that the copied body's
	// prefixes still resolve.
	root := doc.Root().Copy()
	for _, c := range root.ChildElements() {
		root.RemoveChild(c)
	}
	root.AddChild(body.Copy())
	b, err := etree.NewDocumentWithRoot(root).WriteToBytes()
	require.NoError(t, err)
	return canonical(t, b), header
}

// TestRequestMatchesRecordedRequest holds an encoded Invoke against a
// request that a console sent to real AMT.
func TestRequestMatchesRecordedRequest(t *testing.T) {
	dir := recordings.Dir(t)
	recorded, err := os.ReadFile(filepath.Join(dir, "CIM_PowerManagementService", "RequestPowerStateChange__amtc__1.req.xml"))
	require.NoError(t, err)
	uri := PrefixCIM + "CIM_PowerManagementService"
	r := &request{action: uri + "/RequestPowerStateChange", resourceURI: uri, messageID: "uuid:1",
		selectors: []Selector{
			Sel("Name", "Intel(r) AMT Power Management Service"), Sel("SystemName", "Intel(r) AMT"),
			Sel("CreationClassName", "CIM_PowerManagementService"), Sel("SystemCreationClassName", "CIM_ComputerSystem"),
		},
		body: func(b *etree.Element) {
			writeInstanceElement(b, uri, "RequestPowerStateChange_INPUT", []Property{
				Param("PowerState", "8"),
				RefParam("ManagedElement", EPR{ResourceURI: PrefixCIM + "CIM_ComputerSystem", Selectors: []Selector{
					Sel("Name", "ManagedSystem"), Sel("CreationClassName", "CIM_ComputerSystem"),
				}}),
			})
		}}
	ours, err := r.encode()
	require.NoError(t, err)
	wantBody, wantHeader := bodyOf(t, recorded)
	gotBody, gotHeader := bodyOf(t, ours)
	assert.Equal(t, wantBody, gotBody)
	assert.Equal(t, wantHeader, gotHeader)
}
