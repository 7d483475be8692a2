package soap

import (
	"bytes"
	"sync"
)

// baseNamespaces are declared, in this order, on the root of every
// non-fault response; body namespaces follow as g, h, i, ... and xsi last.
var baseNamespaces = []Attr{
	{"a", NSSOAP},
	{"b", NSAddr},
	{"c", NSWSMan},
	{"d", NSTrust},
	{"e", NSWSSec},
	{"f", NSCIMBind},
}

// faultNamespaces is the firmware's fixed declaration order on fault
// envelopes, which differs from that of ordinary responses.
var faultNamespaces = []Attr{
	{"g", NSCIMBind},
	{"f", NSEventing},
	{"e", NSWSMan},
	{"d", NSTransfer},
	{"c", NSEnum},
	{"b", NSAddr},
	{"a", NSSOAP},
	{"h", NSTrust},
	{"i", NSWSSec},
	{"xsi", NSXSI},
}

func nsAttrs(decls []Attr) []Attr {
	out := make([]Attr, len(decls))
	for i, d := range decls {
		out[i] = Attr{"xmlns:" + d.Name, d.Value}
	}
	return out
}

// bodyPrefixes are the prefixes of body namespaces, in order.
var bodyPrefixes = func() []string {
	out := make([]string, 'x'-'g')
	for i := range out {
		out[i] = string(rune('g' + i))
	}
	return out
}()

// responseHead is the start of every ordinary response up to the body
// namespace declarations: the XML declaration and the root element with
// the base declarations.
var responseHead = func() string {
	w := NewWriter()
	w.Start("a:Envelope", nsAttrs(baseNamespaces)...)
	b := w.Bytes()
	return string(b[:len(b)-1]) // without the closing '>'
}()

// BodyFunc writes a response body; pfx holds the prefix bound to each of
// the body's namespaces, in the order they were given.
type BodyFunc func(w *Writer, pfx []string)

// Response writes a complete response. bodyNS are the namespaces the body
// uses, in order of first use; body receives the prefix of each.
func Response(relatesTo, messageID, action, resourceURI string, bodyNS []string, body BodyFunc) []byte {
	var pfx []string
	if len(bodyNS) <= len(bodyPrefixes) {
		pfx = bodyPrefixes[:len(bodyNS):len(bodyNS)]
	} else {
		pfx = make([]string, len(bodyNS))
		for i := range bodyNS {
			pfx[i] = string(rune('g' + i))
		}
	}
	w := &Writer{buf: *bytes.NewBuffer(takeBuffer())}
	w.buf.Grow(4096)
	w.buf.WriteString(responseHead)
	for i, ns := range bodyNS {
		w.buf.WriteString(" xmlns:")
		w.buf.WriteString(pfx[i])
		w.buf.WriteString(`="`)
		w.escape(ns)
		w.buf.WriteByte('"')
	}
	w.buf.WriteString(` xmlns:xsi="`)
	w.escape(NSXSI)
	w.buf.WriteString(`">`)
	w.Start("a:Header")
	w.Elem("b:To", URIAnon)
	w.Elem("b:RelatesTo", relatesTo)
	w.Elem("b:Action", action, mustUnderstand...)
	w.Elem("b:MessageID", messageID)
	if resourceURI != "" {
		w.Elem("c:ResourceURI", resourceURI)
	}
	w.End("a:Header")
	w.Start("a:Body")
	if body != nil {
		body(w, pfx)
	}
	w.End("a:Body")
	w.End("a:Envelope")
	return w.Bytes()
}

var mustUnderstand = []Attr{{"a:mustUnderstand", "true"}}

// Response buffers given back by Recycle wait in buffers; holders keeps
// the empty boxes they travel in.
var buffers, holders sync.Pool

// Recycle gives the buffer of an answer Response wrote back for another
// answer, once nothing reads it any more.
func Recycle(b []byte) {
	if cap(b) == 0 || cap(b) > 64<<10 {
		return
	}
	h, _ := holders.Get().(*[]byte)
	if h == nil {
		h = new([]byte)
	}
	*h = b[:0]
	buffers.Put(h)
}

// takeBuffer is a recycled buffer, or nil.
func takeBuffer() []byte {
	h, _ := buffers.Get().(*[]byte)
	if h == nil {
		return nil
	}
	b := *h
	*h = nil
	holders.Put(h)
	return b
}

// Identify answers wsmid:Identify. The firmware uses its own short
// declaration list here: SOAP, the identity namespace and DASH.
func Identify(productVersion string, tls bool) []byte {
	w := NewWriter()
	w.Start("a:Envelope", nsAttrs([]Attr{{"a", NSSOAP}, {"b", NSIdentity}, {"c", NSDASH}})...)
	w.Start("a:Header")
	w.End("a:Header")
	w.Start("a:Body")
	w.Start("b:IdentifyResponse")
	w.Elem("b:ProtocolVersion", URIProtocol)
	w.Elem("b:ProductVendor", "Intel(r)")
	w.Elem("b:ProductVersion", productVersion)
	w.Elem("c:DASHVersion", "1.0.0")
	w.Start("b:SecurityProfiles")
	scheme := "http"
	if tls {
		scheme = "https"
	}
	w.Elem("b:SecurityProfileName", "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/"+scheme+"/digest")
	w.End("b:SecurityProfiles")
	w.End("b:IdentifyResponse")
	w.End("a:Body")
	w.End("a:Envelope")
	return w.Bytes()
}

// EPR is an endpoint reference to write: the address, the resource URI
// and selectors, each a value or a nested reference.
type EPR struct {
	Address     string // URIAnon when empty
	ResourceURI string
	Selectors   []EPRSelector
}

// EPRSelector is one selector of an EPR.
type EPRSelector struct {
	Name, Value string
	EPR         *EPR
}

// WriteEPR writes the content of an endpoint reference with the envelope
// prefixes b (addressing) and c (wsman); an EPR-valued selector nests a
// b:EndpointReference, as the firmware's ResourceCreated does.
func WriteEPR(w *Writer, e *EPR) {
	addr := e.Address
	if addr == "" {
		addr = URIAnon
	}
	w.Elem("b:Address", addr)
	w.Start("b:ReferenceParameters")
	w.Elem("c:ResourceURI", e.ResourceURI)
	w.Start("c:SelectorSet")
	for _, s := range e.Selectors {
		if s.EPR != nil {
			w.Start("c:Selector", Attr{"Name", s.Name})
			w.Start("b:EndpointReference")
			WriteEPR(w, s.EPR)
			w.End("b:EndpointReference")
			w.End("c:Selector")
			continue
		}
		w.Elem("c:Selector", s.Value, Attr{"Name", s.Name})
	}
	w.End("c:SelectorSet")
	w.End("b:ReferenceParameters")
}

// WriteEndpointReference writes <b:EndpointReference> around WriteEPR, as
// the EPR enumeration modes do.
func WriteEndpointReference(w *Writer, e *EPR) {
	w.Start("b:EndpointReference")
	WriteEPR(w, e)
	w.End("b:EndpointReference")
}
