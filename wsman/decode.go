package wsman

import (
	"strings"
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

	header  *xnode
	payload *xnode // first element child of Body, nil for an empty body
}

// ParseMessage decodes a SOAP 1.2 envelope. It checks the envelope shape
// only; the accessors decode the body as a particular response. data is
// not retained.
func ParseMessage(data []byte) (*Message, error) {
	return parseMessage(data, false)
}

// parseMessage decodes an envelope; with owned, the message keeps
// references into data, which the caller hands over for good.
func parseMessage(data []byte, owned bool) (*Message, error) {
	root, err := parseXML(data, owned)
	if err != nil {
		return nil, malformed("not XML", err)
	}
	if !is(root, NSSOAP, "Envelope") {
		return nil, malformed("root is "+qname(root).String()+", not a SOAP 1.2 Envelope", nil)
	}
	m := &Message{}
	var body *xnode
	for _, c := range root.children {
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
		for _, h := range m.header.children {
			switch {
			case is(h, NSAddressing, "Action"):
				m.Action = strings.TrimSpace(h.text)
			case is(h, NSAddressing, "To"):
				m.To = strings.TrimSpace(h.text)
			case is(h, NSAddressing, "RelatesTo"):
				m.RelatesTo = strings.TrimSpace(h.text)
			case is(h, NSAddressing, "MessageID"):
				m.MessageID = strings.TrimSpace(h.text)
			case is(h, NSWSMan, "ResourceURI"):
				m.ResourceURI = strings.TrimSpace(h.text)
			}
		}
	}
	if len(body.children) > 0 {
		m.payload = body.children[0]
	}
	return m, nil
}

// is reports whether e has the namespace URI ns and local name local.
func is(e *xnode, ns, local string) bool {
	return e.local == local && e.space == ns
}

func qname(e *xnode) QName { return QName{Space: e.space, Local: e.local} }

// child returns the first child element of e named {ns}local.
func child(e *xnode, ns, local string) *xnode {
	if e == nil {
		return nil
	}
	for _, c := range e.children {
		if is(c, ns, local) {
			return c
		}
	}
	return nil
}

// resolveQName resolves the prefix of a QName written as text inside e.
func resolveQName(e *xnode, text string) QName {
	text = strings.TrimSpace(text)
	prefix, local, ok := strings.Cut(text, ":")
	if !ok {
		prefix, local = "", text
	}
	uri, _ := e.scope.lookup(prefix)
	return QName{Space: uri, Local: local}
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
			f.Code = resolveQName(v, v.text)
		}
		if sub := child(code, NSSOAP, "Subcode"); sub != nil {
			if v := child(sub, NSSOAP, "Value"); v != nil {
				f.Subcode = resolveQName(v, v.text)
			}
		}
	}
	if reason := child(fe, NSSOAP, "Reason"); reason != nil {
		if t := child(reason, NSSOAP, "Text"); t != nil {
			f.Reason = strings.TrimSpace(t.text)
		}
	}
	if d := child(fe, NSSOAP, "Detail"); d != nil {
		f.Detail = strings.Join(strings.Fields(allText(d)), " ")
		f.PTStatus, f.HasPTStatus = parsePTStatus(f.Detail)
	}
	return f
}

// allText concatenates the character data of e and its descendants.
func allText(e *xnode) string {
	var b strings.Builder
	var walk func(*xnode)
	walk = func(e *xnode) {
		b.WriteString(e.text)
		b.WriteByte(' ')
		for _, c := range e.children {
			walk(c)
		}
	}
	walk(e)
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
	if ctx == nil || strings.TrimSpace(ctx.text) == "" {
		return "", malformed("EnumerateResponse has no EnumerationContext", nil)
	}
	return strings.TrimSpace(ctx.text), nil
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
	for _, c := range m.payload.children {
		switch {
		case is(c, NSEnumeration, "Items"):
			for _, it := range c.children {
				in, err := parseItem(it)
				if err != nil {
					return nil, err
				}
				page.Items = append(page.Items, in)
			}
		case is(c, NSEnumeration, "EnumerationContext"):
			page.Context = strings.TrimSpace(c.text)
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

// parseItem decodes one item of a PullResponse in any enumeration mode:
// the instance element (EnumerateObject), an a:EndpointReference
// (EnumerateEPR), or a w:Item holding both (EnumerateObjectAndEPR).
func parseItem(it *xnode) (*Instance, error) {
	switch {
	case is(it, NSAddressing, "EndpointReference"):
		ref, err := parseEPR(it)
		if err != nil {
			return nil, err
		}
		return &Instance{ResourceURI: ref.ResourceURI, Class: ClassName(ref.ResourceURI), EPR: ref}, nil
	case is(it, NSWSMan, "Item"):
		var in *Instance
		var ref *EPR
		for _, c := range it.children {
			var err error
			switch {
			case is(c, NSAddressing, "EndpointReference"):
				if ref != nil {
					return nil, malformed("an Item with two endpoint references", nil)
				}
				ref, err = parseEPR(c)
			case in == nil:
				in, err = parseInstance(c)
			default:
				return nil, malformed("an Item with two instances", nil)
			}
			if err != nil {
				return nil, err
			}
		}
		if in == nil {
			return nil, malformed("an Item without an instance", nil)
		}
		in.EPR = ref
		return in, nil
	}
	return parseInstance(it)
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
	for _, c := range m.payload.children {
		switch c.local {
		case "ProtocolVersion":
			if id.ProtocolVersion == "" {
				id.ProtocolVersion = strings.TrimSpace(c.text)
			}
		case "ProductVendor":
			id.ProductVendor = strings.TrimSpace(c.text)
		case "ProductVersion":
			id.ProductVersion = strings.TrimSpace(c.text)
		case "DASHVersion":
			id.DASHVersion = strings.TrimSpace(c.text)
		case "SecurityProfiles":
			for _, p := range c.children {
				if p.local == "SecurityProfileName" {
					id.SecurityProfiles = append(id.SecurityProfiles, strings.TrimSpace(p.text))
				}
			}
		}
	}
	return id, nil
}

// parseInstance decodes a class element into an Instance.
func parseInstance(el *xnode) (*Instance, error) {
	in := &Instance{ResourceURI: el.space, Class: el.local}
	in.Properties = make([]Property, 0, len(el.children))
	for _, c := range el.children {
		p := Property{Name: c.local}
		if nilAttr(c) {
			p.Nil = true
		} else if len(c.children) > 0 {
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
			p.Value = c.text
		}
		in.Properties = append(in.Properties, p)
	}
	return in, nil
}

func nilAttr(e *xnode) bool {
	for _, a := range e.attrs {
		if a.local == "nil" && a.space == NSXSI {
			return strings.TrimSpace(a.value) == "true"
		}
	}
	return false
}

func parseNode(e *xnode, depth int) (*Node, error) {
	if depth > maxNodeDepth {
		return nil, malformed("property value nested too deeply", nil)
	}
	n := &Node{Space: e.space, Local: e.local}
	if len(e.children) == 0 {
		n.Text = e.text
		return n, nil
	}
	for _, c := range e.children {
		cn, err := parseNode(c, depth+1)
		if err != nil {
			return nil, err
		}
		n.Children = append(n.Children, cn)
	}
	return n, nil
}

// parseEPR decodes an element holding Address and ReferenceParameters.
func parseEPR(e *xnode) (*EPR, error) {
	return parseEPRDepth(e, 0)
}

func parseEPRDepth(e *xnode, depth int) (*EPR, error) {
	if depth > maxNodeDepth {
		return nil, malformed("endpoint reference nested too deeply", nil)
	}
	ref := &EPR{}
	if a := child(e, NSAddressing, "Address"); a != nil {
		ref.Address = strings.TrimSpace(a.text)
	}
	rp := child(e, NSAddressing, "ReferenceParameters")
	if rp == nil {
		return nil, malformed("endpoint reference "+e.local+" has no ReferenceParameters", nil)
	}
	if u := child(rp, NSWSMan, "ResourceURI"); u != nil {
		ref.ResourceURI = strings.TrimSpace(u.text)
	}
	if set := child(rp, NSWSMan, "SelectorSet"); set != nil {
		for _, s := range set.children {
			if !is(s, NSWSMan, "Selector") {
				continue
			}
			sel := Selector{Name: s.attr("Name")}
			if inner := child(s, NSAddressing, "EndpointReference"); inner != nil {
				r, err := parseEPRDepth(inner, depth+1)
				if err != nil {
					return nil, err
				}
				sel.Ref = r
			} else {
				sel.Value = s.text
			}
			ref.Selectors = append(ref.Selectors, sel)
		}
	}
	return ref, nil
}
