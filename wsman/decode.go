package wsman

import (
	"strings"

	"github.com/beevik/etree"
)

// maxNodeDepth bounds the nesting of structured property values, so that a
// hostile response cannot exhaust the stack.
const maxNodeDepth = 32

// Message is a decoded WS-Management response envelope. Elements are matched
// by namespace URI and local name, never by prefix: AMT writes generated
// prefixes (a:, b:, c:, ...).
type Message struct {
	Action      string
	To          string
	RelatesTo   string
	MessageID   string
	ResourceURI string

	header  *etree.Element
	payload *etree.Element // first element child of Body, nil for an empty body
}

// ParseMessage decodes a SOAP 1.2 envelope. It checks the envelope shape
// only; the accessors decode the body as a particular response.
func ParseMessage(data []byte) (*Message, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, malformed("not XML", err)
	}
	root := doc.Root()
	if root == nil {
		return nil, malformed("empty document", nil)
	}
	if !is(root, NSSOAP, "Envelope") {
		return nil, malformed("root is "+qname(root).String()+", not a SOAP 1.2 Envelope", nil)
	}
	m := &Message{}
	var body *etree.Element
	for _, c := range root.ChildElements() {
		switch {
		case is(c, NSSOAP, "Header") && m.header == nil:
			m.header = c
		case is(c, NSSOAP, "Body") && body == nil:
			body = c
		}
	}
	if body == nil {
		return nil, malformed("envelope has no Body", nil)
	}
	if m.header != nil {
		for _, h := range m.header.ChildElements() {
			switch {
			case is(h, NSAddressing, "Action"):
				m.Action = strings.TrimSpace(h.Text())
			case is(h, NSAddressing, "To"):
				m.To = strings.TrimSpace(h.Text())
			case is(h, NSAddressing, "RelatesTo"):
				m.RelatesTo = strings.TrimSpace(h.Text())
			case is(h, NSAddressing, "MessageID"):
				m.MessageID = strings.TrimSpace(h.Text())
			case is(h, NSWSMan, "ResourceURI"):
				m.ResourceURI = strings.TrimSpace(h.Text())
			}
		}
	}
	if kids := body.ChildElements(); len(kids) > 0 {
		m.payload = kids[0]
	}
	return m, nil
}

// is reports whether e has the namespace URI ns and local name local.
func is(e *etree.Element, ns, local string) bool {
	return e.Tag == local && e.NamespaceURI() == ns
}

func qname(e *etree.Element) QName { return QName{Space: e.NamespaceURI(), Local: e.Tag} }

// child returns the first child element of e named {ns}local.
func child(e *etree.Element, ns, local string) *etree.Element {
	if e == nil {
		return nil
	}
	for _, c := range e.ChildElements() {
		if is(c, ns, local) {
			return c
		}
	}
	return nil
}

// childLocal returns the first child element of e with the local name,
// whatever its namespace.
func childLocal(e *etree.Element, local string) *etree.Element {
	for _, c := range e.ChildElements() {
		if c.Tag == local {
			return c
		}
	}
	return nil
}

// resolveQName resolves the prefix of a QName written as text inside e.
func resolveQName(e *etree.Element, text string) QName {
	text = strings.TrimSpace(text)
	prefix, local, ok := strings.Cut(text, ":")
	if !ok {
		prefix, local = "", text
	}
	for el := e; el != nil; el = el.Parent() {
		for _, a := range el.Attr {
			if (prefix == "" && a.Space == "" && a.Key == "xmlns") || (prefix != "" && a.Space == "xmlns" && a.Key == prefix) {
				return QName{Space: a.Value, Local: local}
			}
		}
	}
	return QName{Local: local}
}

// HasBody reports whether the Body holds an element. AMT answers some Put
// requests with an empty body.
func (m *Message) HasBody() bool { return m.payload != nil }

// Fault returns the SOAP fault carried by the message, or nil.
func (m *Message) Fault() *Fault {
	if m.payload == nil || !is(m.payload, NSSOAP, "Fault") {
		return nil
	}
	f := &Fault{Action: m.Action}
	fe := m.payload
	if code := child(fe, NSSOAP, "Code"); code != nil {
		if v := child(code, NSSOAP, "Value"); v != nil {
			f.Code = resolveQName(v, v.Text())
		}
		if sub := child(code, NSSOAP, "Subcode"); sub != nil {
			if v := child(sub, NSSOAP, "Value"); v != nil {
				f.Subcode = resolveQName(v, v.Text())
			}
		}
	}
	if reason := child(fe, NSSOAP, "Reason"); reason != nil {
		if t := child(reason, NSSOAP, "Text"); t != nil {
			f.Reason = strings.TrimSpace(t.Text())
		}
	}
	if d := child(fe, NSSOAP, "Detail"); d != nil {
		f.Detail = strings.Join(strings.Fields(allText(d)), " ")
		f.PTStatus, f.HasPTStatus = parsePTStatus(f.Detail)
	}
	return f
}

// allText concatenates the character data of e and its descendants.
func allText(e *etree.Element) string {
	var b strings.Builder
	var walk func(*etree.Element, int)
	walk = func(e *etree.Element, depth int) {
		if depth > maxNodeDepth {
			return
		}
		for _, t := range e.Child {
			switch t := t.(type) {
			case *etree.CharData:
				b.WriteString(t.Data)
				b.WriteByte(' ')
			case *etree.Element:
				walk(t, depth+1)
			}
		}
	}
	walk(e, 0)
	return b.String()
}

// Instance decodes the body as a single instance: the answer to Get and
// Put, or the _OUTPUT element of a method.
func (m *Message) Instance() (*Instance, error) {
	if m.payload == nil {
		return nil, malformed("empty body, expected an instance", nil)
	}
	if f := m.Fault(); f != nil {
		return nil, f
	}
	return parseInstance(m.payload)
}

// EnumerationContext decodes the body of an EnumerateResponse.
func (m *Message) EnumerationContext() (string, error) {
	if f := m.Fault(); f != nil {
		return "", f
	}
	if m.payload == nil || !is(m.payload, NSEnumeration, "EnumerateResponse") {
		return "", malformed("expected an EnumerateResponse", nil)
	}
	ctx := child(m.payload, NSEnumeration, "EnumerationContext")
	if ctx == nil || strings.TrimSpace(ctx.Text()) == "" {
		return "", malformed("EnumerateResponse has no EnumerationContext", nil)
	}
	return strings.TrimSpace(ctx.Text()), nil
}

// PullPage is the content of a PullResponse.
type PullPage struct {
	Items []*Instance
	// Context is the enumeration context to pull next; empty at the end.
	Context string
	// End is true when the response carried EndOfSequence.
	End bool
}

// Pull decodes the body of a PullResponse.
func (m *Message) Pull() (*PullPage, error) {
	if f := m.Fault(); f != nil {
		return nil, f
	}
	if m.payload == nil || !is(m.payload, NSEnumeration, "PullResponse") {
		return nil, malformed("expected a PullResponse", nil)
	}
	page := &PullPage{}
	for _, c := range m.payload.ChildElements() {
		switch {
		case is(c, NSEnumeration, "Items"):
			for _, it := range c.ChildElements() {
				in, err := parseInstance(it)
				if err != nil {
					return nil, err
				}
				page.Items = append(page.Items, in)
			}
		case is(c, NSEnumeration, "EnumerationContext"):
			page.Context = strings.TrimSpace(c.Text())
		case is(c, NSEnumeration, "EndOfSequence"):
			page.End = true
		}
	}
	if page.End {
		page.Context = ""
	} else if page.Context == "" {
		return nil, malformed("PullResponse has neither EnumerationContext nor EndOfSequence", nil)
	}
	return page, nil
}

// ResourceCreated decodes the body of a CreateResponse.
func (m *Message) ResourceCreated() (*EPR, error) {
	if f := m.Fault(); f != nil {
		return nil, f
	}
	if m.payload == nil || !is(m.payload, NSTransfer, "ResourceCreated") {
		return nil, malformed("expected ResourceCreated", nil)
	}
	return parseEPR(m.payload)
}

// Identity is the answer to Identify.
type Identity struct {
	ProtocolVersion  string
	ProductVendor    string
	ProductVersion   string // "AMT <major>.<minor>" on Intel AMT
	DASHVersion      string
	SecurityProfiles []string
	// Server is the HTTP Server header of the response, which on AMT names
	// the full firmware version. Filled in by Client.Identify.
	Server string
}

// Identity decodes the body of an IdentifyResponse.
func (m *Message) Identity() (*Identity, error) {
	if f := m.Fault(); f != nil {
		return nil, f
	}
	if m.payload == nil || !is(m.payload, NSIdentity, "IdentifyResponse") {
		return nil, malformed("expected an IdentifyResponse", nil)
	}
	id := &Identity{}
	for _, c := range m.payload.ChildElements() {
		switch c.Tag {
		case "ProtocolVersion":
			if id.ProtocolVersion == "" {
				id.ProtocolVersion = strings.TrimSpace(c.Text())
			}
		case "ProductVendor":
			id.ProductVendor = strings.TrimSpace(c.Text())
		case "ProductVersion":
			id.ProductVersion = strings.TrimSpace(c.Text())
		case "DASHVersion":
			id.DASHVersion = strings.TrimSpace(c.Text())
		case "SecurityProfiles":
			for _, p := range c.ChildElements() {
				if p.Tag == "SecurityProfileName" {
					id.SecurityProfiles = append(id.SecurityProfiles, strings.TrimSpace(p.Text()))
				}
			}
		}
	}
	return id, nil
}

// parseInstance decodes a class element into an Instance.
func parseInstance(el *etree.Element) (*Instance, error) {
	in := &Instance{ResourceURI: el.NamespaceURI(), Class: el.Tag}
	kids := el.ChildElements()
	in.Properties = make([]Property, 0, len(kids))
	for _, c := range kids {
		p := Property{Name: c.Tag}
		if a := nilAttr(c); a {
			p.Nil = true
		} else if grand := c.ChildElements(); len(grand) > 0 {
			if child(c, NSAddressing, "ReferenceParameters") != nil || child(c, NSAddressing, "Address") != nil {
				ref, err := parseEPR(c)
				if err != nil {
					return nil, err
				}
				p.Ref = ref
			} else {
				n, err := parseNode(c, 0)
				if err != nil {
					return nil, err
				}
				p.Node = &Node{Children: n.Children}
			}
		} else {
			p.Value = c.Text()
		}
		in.Properties = append(in.Properties, p)
	}
	return in, nil
}

func nilAttr(e *etree.Element) bool {
	for i := range e.Attr {
		a := &e.Attr[i]
		if a.Key == "nil" && a.NamespaceURI() == NSXSI {
			return strings.TrimSpace(a.Value) == "true"
		}
	}
	return false
}

func parseNode(e *etree.Element, depth int) (*Node, error) {
	if depth > maxNodeDepth {
		return nil, malformed("property value nested too deeply", nil)
	}
	n := &Node{Space: e.NamespaceURI(), Local: e.Tag}
	kids := e.ChildElements()
	if len(kids) == 0 {
		n.Text = e.Text()
		return n, nil
	}
	for _, c := range kids {
		cn, err := parseNode(c, depth+1)
		if err != nil {
			return nil, err
		}
		n.Children = append(n.Children, cn)
	}
	return n, nil
}

// parseEPR decodes an element holding Address and ReferenceParameters.
func parseEPR(e *etree.Element) (*EPR, error) {
	return parseEPRDepth(e, 0)
}

func parseEPRDepth(e *etree.Element, depth int) (*EPR, error) {
	if depth > maxNodeDepth {
		return nil, malformed("endpoint reference nested too deeply", nil)
	}
	ref := &EPR{}
	if a := child(e, NSAddressing, "Address"); a != nil {
		ref.Address = strings.TrimSpace(a.Text())
	}
	rp := child(e, NSAddressing, "ReferenceParameters")
	if rp == nil {
		return nil, malformed("endpoint reference "+e.Tag+" has no ReferenceParameters", nil)
	}
	if u := child(rp, NSWSMan, "ResourceURI"); u != nil {
		ref.ResourceURI = strings.TrimSpace(u.Text())
	}
	if set := child(rp, NSWSMan, "SelectorSet"); set != nil {
		for _, s := range set.ChildElements() {
			if !is(s, NSWSMan, "Selector") {
				continue
			}
			sel := Selector{Name: s.SelectAttrValue("Name", "")}
			if inner := child(s, NSAddressing, "EndpointReference"); inner != nil {
				r, err := parseEPRDepth(inner, depth+1)
				if err != nil {
					return nil, err
				}
				sel.Ref = r
			} else {
				sel.Value = s.Text()
			}
			ref.Selectors = append(ref.Selectors, sel)
		}
	}
	return ref, nil
}
