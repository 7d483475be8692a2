package wsman

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// request describes one WS-Management request message.
type request struct {
	action      string // empty for Identify
	resourceURI string
	messageID   string
	selectors   []Selector
	timeout     time.Duration
	identify    bool
	body        func(body *etree.Element) // fills s:Body; nil leaves it empty
}

// encode builds the SOAP envelope of r with etree, which escapes every value.
func (r *request) encode() ([]byte, error) {
	doc := etree.NewDocument()
	doc.WriteSettings.CanonicalEndTags = false
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	env := doc.CreateElement("s:Envelope")
	env.CreateAttr("xmlns:s", NSSOAP)
	if r.identify {
		env.CreateAttr("xmlns:wsmid", NSIdentity)
		env.CreateElement("s:Header")
		env.CreateElement("s:Body").CreateElement("wsmid:Identify")
		return writeDoc(doc)
	}
	env.CreateAttr("xmlns:a", NSAddressing)
	env.CreateAttr("xmlns:w", NSWSMan)
	hdr := env.CreateElement("s:Header")
	hdr.CreateElement("a:Action").SetText(r.action)
	hdr.CreateElement("a:To").SetText("/wsman")
	hdr.CreateElement("w:ResourceURI").SetText(r.resourceURI)
	hdr.CreateElement("a:MessageID").SetText(r.messageID)
	hdr.CreateElement("a:ReplyTo").CreateElement("a:Address").SetText(AddressAnonymous)
	if r.timeout > 0 {
		hdr.CreateElement("w:OperationTimeout").SetText(xsDuration(r.timeout))
	}
	if len(r.selectors) > 0 {
		writeSelectorSet(hdr, r.selectors)
	}
	body := env.CreateElement("s:Body")
	if r.body != nil {
		r.body(body)
	}
	return writeDoc(doc)
}

func writeDoc(doc *etree.Document) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(1024)
	if _, err := doc.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("wsman: encode envelope: %w", err)
	}
	return buf.Bytes(), nil
}

// messageIDPlaceholder marks where the MessageID goes in a cached envelope.
const messageIDPlaceholder = "urn:amtkit:message-id"

// envelopeTemplate is an encoded envelope split around its MessageID, so
// that requests without a body (Get, Delete) are encoded once per resource
// and selectors, and then only have their MessageID filled in.
type envelopeTemplate struct {
	head, tail []byte
}

// templateKey returns the cache key of a bodiless request, or false when
// the request cannot be cached.
func (r *request) templateKey() (string, bool) {
	if r.body != nil || r.identify {
		return "", false
	}
	var b strings.Builder
	b.WriteString(r.action)
	b.WriteByte(0)
	b.WriteString(r.resourceURI)
	b.WriteByte(0)
	b.WriteString(strconv.FormatInt(int64(r.timeout), 10))
	for _, s := range r.selectors {
		if s.Ref != nil {
			return "", false
		}
		b.WriteByte(0)
		b.WriteString(s.Name)
		b.WriteByte(0)
		b.WriteString(s.Value)
	}
	return b.String(), true
}

func (r *request) template() (*envelopeTemplate, error) {
	cp := *r
	cp.messageID = messageIDPlaceholder
	data, err := cp.encode()
	if err != nil {
		return nil, err
	}
	i := bytes.Index(data, []byte(messageIDPlaceholder))
	if i < 0 || bytes.Count(data, []byte(messageIDPlaceholder)) != 1 {
		return nil, fmt.Errorf("wsman: envelope template has no unique MessageID")
	}
	return &envelopeTemplate{head: data[:i], tail: data[i+len(messageIDPlaceholder):]}, nil
}

func (t *envelopeTemplate) fill(messageID string) []byte {
	var b bytes.Buffer
	b.Grow(len(t.head) + len(messageID) + len(t.tail) + 8)
	b.Write(t.head)
	_ = xml.EscapeText(&b, []byte(messageID))
	b.Write(t.tail)
	return b.Bytes()
}

// xsDuration formats d as an xs:duration in seconds, e.g. PT60S or PT1.5S.
func xsDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return "PT" + strconv.FormatInt(int64(d/time.Second), 10) + "S"
	}
	return "PT" + strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + "S"
}

// writeSelectorSet appends w:SelectorSet to parent; the prefixes a and w
// must be in scope.
func writeSelectorSet(parent *etree.Element, sels []Selector) {
	set := parent.CreateElement("w:SelectorSet")
	for _, s := range sels {
		e := set.CreateElement("w:Selector")
		e.CreateAttr("Name", s.Name)
		if s.Ref != nil {
			writeEPR(e.CreateElement("a:EndpointReference"), s.Ref)
		} else {
			e.SetText(s.Value)
		}
	}
}

// writeEPR fills parent with the children of an endpoint reference.
func writeEPR(parent *etree.Element, ref *EPR) {
	addr := ref.Address
	if addr == "" {
		addr = AddressAnonymous
	}
	parent.CreateElement("a:Address").SetText(addr)
	rp := parent.CreateElement("a:ReferenceParameters")
	rp.CreateElement("w:ResourceURI").SetText(ref.ResourceURI)
	if len(ref.Selectors) > 0 {
		writeSelectorSet(rp, ref.Selectors)
	}
}

// writeInstanceElement appends <h:name xmlns:h="ns"> with the properties as
// children in the same namespace.
func writeInstanceElement(parent *etree.Element, ns, name string, props []Property) {
	el := parent.CreateElement("h:" + name)
	el.CreateAttr("xmlns:h", ns)
	for _, p := range props {
		c := el.CreateElement("h:" + p.Name)
		switch {
		case p.Nil:
			if el.SelectAttr("xmlns:xsi") == nil {
				el.CreateAttr("xmlns:xsi", NSXSI)
			}
			c.CreateAttr("xsi:nil", "true")
		case p.Ref != nil:
			writeEPR(c, p.Ref)
		case p.Node != nil:
			fillNode(c, p.Node, map[string]string{ns: "h", NSAddressing: "a", NSWSMan: "w"})
		default:
			c.SetText(p.Value)
		}
	}
}

// writeNode appends n under parent, declaring a prefix for every namespace
// not yet in scope.
func writeNode(parent *etree.Element, n *Node, prefixes map[string]string) {
	tag := n.Local
	if n.Space != "" {
		p, ok := prefixes[n.Space]
		if !ok {
			p = "x" + strconv.Itoa(len(prefixes))
			prefixes[n.Space] = p
			defer delete(prefixes, n.Space)
		}
		tag = p + ":" + n.Local
		e := parent.CreateElement(tag)
		if !ok {
			e.CreateAttr("xmlns:"+p, n.Space)
		}
		fillNode(e, n, prefixes)
		return
	}
	fillNode(parent.CreateElement(tag), n, prefixes)
}

func fillNode(e *etree.Element, n *Node, prefixes map[string]string) {
	if len(n.Children) == 0 {
		e.SetText(n.Text)
		return
	}
	for _, c := range n.Children {
		writeNode(e, c, prefixes)
	}
}
