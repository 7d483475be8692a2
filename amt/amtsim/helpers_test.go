package amtsim

import (
	"bytes"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/beevik/etree"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testUser = "admin"
	testPass = "P@ssw0rd1"

	uriGeneral  = soap.PrefixAMT + "AMT_GeneralSettings"
	uriSoftware = soap.PrefixCIM + "CIM_SoftwareIdentity"
	uriSetup    = soap.PrefixAMT + "AMT_SetupAndConfigurationService"
	uriEthernet = soap.PrefixAMT + "AMT_EthernetPortSettings"
	uriPackage  = soap.PrefixCIM + "CIM_ComputerSystemPackage"
)

// startSim starts a simulator with plain HTTP only unless opts says
// otherwise, and closes it when the test ends.
func startSim(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func plainOpts() Options { return Options{TLSPort: -1, RedirectTLSPort: -1} }

// wsClient posts envelopes through an independent digest implementation.
type wsClient struct {
	t   *testing.T
	hc  *http.Client
	url string
}

func newClient(t *testing.T, baseURL, user, pass string) *wsClient {
	return newClientTLS(t, baseURL, user, pass, nil)
}

func newClientTLS(t *testing.T, baseURL, user, pass string, tc *tls.Config) *wsClient {
	t.Helper()
	base := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: false}
	t.Cleanup(base.CloseIdleConnections)
	var rt http.RoundTripper = base
	if user != "" {
		rt = &digest.Transport{Username: user, Password: pass, Transport: base}
	}
	return &wsClient{t: t, hc: &http.Client{Transport: rt}, url: baseURL + "/wsman"}
}

// post sends body and returns the response with its body read.
func (c *wsClient) post(body string) (*http.Response, []byte) {
	c.t.Helper()
	resp, data, err := c.tryPost(body)
	require.NoError(c.t, err)
	return resp, data
}

func (c *wsClient) tryPost(body string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

type sel struct{ name, value string }

// envelope builds a request in the layout clients send.
func envelope(action, resourceURI, messageID string, sels []sel, body string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>`)
	fmt.Fprintf(&b, `<a:Action>%s</a:Action><a:To>/wsman</a:To><w:ResourceURI>%s</w:ResourceURI><a:MessageID>%s</a:MessageID>`,
		esc(action), esc(resourceURI), esc(messageID))
	b.WriteString(`<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout>`)
	if len(sels) > 0 {
		b.WriteString(`<w:SelectorSet>`)
		for _, s := range sels {
			fmt.Fprintf(&b, `<w:Selector Name="%s">%s</w:Selector>`, esc(s.name), esc(s.value))
		}
		b.WriteString(`</w:SelectorSet>`)
	}
	b.WriteString(`</s:Header><s:Body>`)
	b.WriteString(body)
	b.WriteString(`</s:Body></s:Envelope>`)
	return b.String()
}

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

const identifyBody = `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>`

func getReq(uri string, sels ...sel) string {
	return envelope(soap.ActGet, uri, "1", sels, "")
}

func enumerateReq(uri string) string {
	return envelope(soap.ActEnumerate, uri, "2", nil, `<n:Enumerate xmlns:n="`+soap.NSEnum+`"/>`)
}

func pullReq(uri, ctxID string, maxElements int) string {
	me := ""
	if maxElements > 0 {
		me = fmt.Sprintf("<n:MaxElements>%d</n:MaxElements>", maxElements)
	}
	return envelope(soap.ActPull, uri, "3", nil, `<n:Pull xmlns:n="`+soap.NSEnum+`"><n:EnumerationContext>`+ctxID+`</n:EnumerationContext>`+me+`</n:Pull>`)
}

// parseDoc parses a response body with etree.
func parseDoc(t *testing.T, data []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromBytes(data), "body: %s", data)
	require.NotNil(t, doc.Root())
	return doc.Root()
}

// find returns the first element in document order with the given
// namespace and local name.
func find(e *etree.Element, ns, local string) *etree.Element {
	if e == nil {
		return nil
	}
	if e.NamespaceURI() == ns && e.Tag == local {
		return e
	}
	for _, c := range e.ChildElements() {
		if f := find(c, ns, local); f != nil {
			return f
		}
	}
	return nil
}

func findAll(e *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	var walk func(*etree.Element)
	walk = func(x *etree.Element) {
		if x.NamespaceURI() == ns && x.Tag == local {
			out = append(out, x)
		}
		for _, c := range x.ChildElements() {
			walk(c)
		}
	}
	walk(e)
	return out
}

// requireFault checks a fault answer and its subcode QName, e.g.
// "e:InvalidSelectors".
func requireFault(t *testing.T, resp *http.Response, data []byte, subcode string) *etree.Element {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body: %s", data)
	root := parseDoc(t, data)
	f := find(root, soap.NSSOAP, "Fault")
	require.NotNil(t, f, "no fault in %s", data)
	sub := find(find(f, soap.NSSOAP, "Subcode"), soap.NSSOAP, "Value")
	require.NotNil(t, sub)
	require.Equal(t, subcode, sub.Text())
	require.Nil(t, find(root, soap.NSWSMan, "ResourceURI"), "fault header must not carry a ResourceURI")
	return root
}

func textOf(e *etree.Element, ns, local string) string {
	if f := find(e, ns, local); f != nil {
		return f.Text()
	}
	return ""
}

// bootConfigRef is the BootConfigSetting EPR parameter of SetBootConfigRole
// with the given prefix for the CIM_BootService namespace.
func bootConfigRef(pfx string) string {
	return `<` + pfx + `:BootConfigSetting xmlns:a="` + soap.NSAddr + `" xmlns:w="` + soap.NSWSMan + `"><a:Address>` + soap.URIAnon +
		`</a:Address><a:ReferenceParameters><w:ResourceURI>` + uriBootConfigSetting +
		`</w:ResourceURI><w:SelectorSet><w:Selector Name="InstanceID">` + bootConfigID +
		`</w:Selector></w:SelectorSet></a:ReferenceParameters></` + pfx + `:BootConfigSetting>`
}
