package soap

import (
	"bytes"
	"encoding/xml"
	"slices"
	"sync"
)

// parseFast builds the same tree as the encoding/xml path of Parse for
// the plain documents WS-Management clients send: an optional standard
// XML declaration, elements, double- or single-quoted attributes,
// namespace declarations and ASCII text with the five predefined
// entities. It accepts a document only where it is sure encoding/xml
// accepts it too and reads it the same; anything else (comments, CDATA,
// processing instructions, character references, non-ASCII bytes,
// carriage returns, unusual names, any syntax error) makes it give up, so
// that Parse falls back to encoding/xml, whose verdict stands.
func parseFast(data []byte) (*Node, bool) {
	for _, c := range data {
		if c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n') {
			return nil, false
		}
	}
	if bytes.Contains(data, []byte("]]>")) {
		return nil, false
	}
	i := 0
	for _, decl := range xmlDecls {
		if bytes.HasPrefix(data, decl) {
			i = len(decl)
			break
		}
	}
	nStart := bytes.Count(data, []byte("<")) - bytes.Count(data, []byte("</"))
	if nStart <= 0 {
		return nil, false
	}
	sc := scratchPool.Get().(*fastScratch)
	defer scratchPool.Put(sc)
	p := fastParser{
		data:   data,
		nodes:  make([]Node, 0, nStart),
		attrs:  make([]xml.Attr, 0, bytes.Count(data, []byte("="))),
		parent: sc.parent[:0],
		attrAt: sc.attrAt[:0],
		ns:     sc.ns[:0],
		stack:  sc.stack[:0],
		buf:    sc.buf[:0],
		count:  sc.count[:0],
	}
	ok := p.run(i)
	if ok {
		p.link()
	}
	// Keep the grown scratch slices for the next document; they hold
	// no reference into this one once cleared.
	clear(p.stack[:cap(p.stack)])
	clear(p.ns[:cap(p.ns)])
	sc.parent, sc.attrAt, sc.ns, sc.stack, sc.buf, sc.count = p.parent, p.attrAt, p.ns, p.stack, p.buf, p.count
	if !ok {
		return nil, false
	}
	return &p.nodes[0], true
}

// fastScratch holds a parse's working slices between documents.
type fastScratch struct {
	parent []int32
	attrAt [][2]int32
	ns     []nsBinding
	stack  []openElem
	buf    []byte
	count  []int32
}

var scratchPool = sync.Pool{New: func() any {
	return &fastScratch{
		parent: make([]int32, 0, 64),
		attrAt: make([][2]int32, 0, 64),
		ns:     make([]nsBinding, 0, 16),
		stack:  make([]openElem, 0, 16),
		count:  make([]int32, 0, 128),
	}
}}

var xmlDecls = [][]byte{
	[]byte(`<?xml version="1.0" encoding="UTF-8"?>`),
	[]byte(`<?xml version="1.0" encoding="utf-8"?>`),
	[]byte(`<?xml version="1.0"?>`),
}

type fastParser struct {
	data   []byte
	nodes  []Node  // in document order; nodes[0] is the root
	parent []int32 // index of each node's parent, -1 for the root
	attrs  []xml.Attr
	attrAt [][2]int32 // each node's range in attrs
	ns     []nsBinding
	stack  []openElem
	buf    []byte
	count  []int32 // scratch of link
}

type nsBinding struct{ prefix, uri string }

type openElem struct {
	node  int32
	qname []byte // the raw name, which the end tag must repeat
	ns    int    // len(ns) before the element's declarations
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isNameByte(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// name reads a name at i: no colon, or one colon with a non-empty part
// on each side. It returns the raw name, the prefix and local part.
func (p *fastParser) name(i int) (raw, prefix, local []byte, next int, ok bool) {
	d := p.data
	if i >= len(d) || !isNameStart(d[i]) {
		return nil, nil, nil, 0, false
	}
	start, colon := i, -1
	for i < len(d) {
		c := d[i]
		if c == ':' {
			if colon >= 0 || i+1 >= len(d) || !isNameByte(d[i+1]) {
				return nil, nil, nil, 0, false
			}
			colon = i
		} else if !isNameByte(c) {
			break
		}
		i++
	}
	raw = d[start:i]
	if colon < 0 {
		return raw, nil, raw, i, true
	}
	return raw, d[start:colon], d[colon+1 : i], i, true
}

func (p *fastParser) skipSpace(i int) int {
	for i < len(p.data) && isSpace(p.data[i]) {
		i++
	}
	return i
}

// text decodes d[i:end] (which holds no '<'), or gives up.
func (p *fastParser) text(seg []byte) (string, bool) {
	amp := bytes.IndexByte(seg, '&')
	if amp < 0 {
		return internString(seg), true
	}
	p.buf = p.buf[:0]
	for amp >= 0 {
		p.buf = append(p.buf, seg[:amp]...)
		seg = seg[amp:]
		semi := bytes.IndexByte(seg, ';')
		if semi < 0 {
			return "", false
		}
		switch string(seg[1:semi]) {
		case "lt":
			p.buf = append(p.buf, '<')
		case "gt":
			p.buf = append(p.buf, '>')
		case "amp":
			p.buf = append(p.buf, '&')
		case "apos":
			p.buf = append(p.buf, '\'')
		case "quot":
			p.buf = append(p.buf, '"')
		default:
			return "", false
		}
		seg = seg[semi+1:]
		amp = bytes.IndexByte(seg, '&')
	}
	p.buf = append(p.buf, seg...)
	return string(p.buf), true
}

func (p *fastParser) lookup(prefix string) (string, bool) {
	for k := len(p.ns) - 1; k >= 0; k-- {
		if p.ns[k].prefix == prefix {
			return p.ns[k].uri, true
		}
	}
	return "", false
}

func (p *fastParser) run(i int) bool {
	d := p.data
	for i < len(d) {
		if d[i] != '<' {
			j := bytes.IndexByte(d[i:], '<')
			if j < 0 {
				j = len(d) - i
			}
			seg := d[i : i+j]
			i += j
			if len(p.stack) == 0 {
				// Outside the root only white space is accepted.
				for _, c := range seg {
					if !isSpace(c) {
						return false
					}
				}
				continue
			}
			n := &p.nodes[p.stack[len(p.stack)-1].node]
			if n.text == "" && isAllSpace(seg) {
				// Leading white space does not change the trimmed value.
				continue
			}
			s, ok := p.text(seg)
			if !ok {
				return false
			}
			n.text += s
			continue
		}
		i++
		if i >= len(d) {
			return false
		}
		if d[i] == '/' {
			if len(p.stack) == 0 {
				return false
			}
			raw, _, _, next, ok := p.name(i + 1)
			if !ok {
				return false
			}
			next = p.skipSpace(next)
			if next >= len(d) || d[next] != '>' {
				return false
			}
			top := p.stack[len(p.stack)-1]
			if !bytes.Equal(raw, top.qname) {
				return false
			}
			p.closeTop()
			i = next + 1
			continue
		}
		var ok bool
		if i, ok = p.startTag(i); !ok {
			return false
		}
	}
	return len(p.stack) == 0 && len(p.nodes) > 0
}

func isAllSpace(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

func (p *fastParser) closeTop() {
	top := p.stack[len(p.stack)-1]
	p.ns = p.ns[:top.ns]
	p.stack = p.stack[:len(p.stack)-1]
}

// startTag reads a start tag after its '<'.
func (p *fastParser) startTag(i int) (int, bool) {
	d := p.data
	raw, prefix, local, i, ok := p.name(i)
	if !ok || string(prefix) == "xml" || string(prefix) == "xmlns" || (prefix == nil && string(local) == "xmlns") {
		return 0, false
	}
	if len(p.stack) == 0 && len(p.nodes) > 0 {
		return 0, false // a second root element
	}
	if len(p.nodes) == cap(p.nodes) {
		return 0, false
	}
	idx := int32(len(p.nodes))
	parent := int32(-1)
	if len(p.stack) > 0 {
		parent = p.stack[len(p.stack)-1].node
	}
	p.nodes = append(p.nodes, Node{})
	p.parent = append(p.parent, parent)
	nsMark := len(p.ns)
	attr0 := len(p.attrs)
	empty := false
	for {
		j := p.skipSpace(i)
		if j >= len(d) {
			return 0, false
		}
		if d[j] == '>' {
			i = j + 1
			break
		}
		if d[j] == '/' {
			if j+1 >= len(d) || d[j+1] != '>' {
				return 0, false
			}
			i, empty = j+2, true
			break
		}
		if j == i {
			return 0, false // attributes must be separated by white space here
		}
		_, apfx, alocal, k, ok := p.name(j)
		if !ok || string(apfx) == "xml" {
			return 0, false
		}
		k = p.skipSpace(k)
		if k >= len(d) || d[k] != '=' {
			return 0, false
		}
		k = p.skipSpace(k + 1)
		if k >= len(d) || (d[k] != '"' && d[k] != '\'') {
			return 0, false
		}
		q := d[k]
		end := bytes.IndexByte(d[k+1:], q)
		if end < 0 {
			return 0, false
		}
		seg := d[k+1 : k+1+end]
		if bytes.IndexByte(seg, '<') >= 0 {
			return 0, false
		}
		val, ok := p.text(seg)
		if !ok {
			return 0, false
		}
		i = k + 1 + end + 1
		a := xml.Attr{Name: xml.Name{Space: internString(apfx), Local: internString(alocal)}, Value: val}
		switch {
		case a.Name.Space == "xmlns":
			p.ns = append(p.ns, nsBinding{a.Name.Local, val})
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			p.ns = append(p.ns, nsBinding{"", val})
		}
		p.attrs = append(p.attrs, a)
	}
	// Attribute names are translated once all declarations are known.
	for k := attr0; k < len(p.attrs); k++ {
		a := &p.attrs[k]
		if a.Name.Space == "" || a.Name.Space == "xmlns" {
			continue
		}
		if uri, ok := p.lookup(a.Name.Space); ok {
			a.Name.Space = uri
		}
	}
	n := &p.nodes[idx]
	n.Local = internString(local)
	n.Space = internString(prefix)
	if uri, ok := p.lookup(n.Space); ok {
		n.Space = uri
	}
	p.attrAt = append(p.attrAt, [2]int32{int32(attr0), int32(len(p.attrs))})
	p.stack = append(p.stack, openElem{node: idx, qname: raw, ns: nsMark})
	if empty {
		p.closeTop()
	}
	return i, true
}

// link gives every node its attributes and children, each from one
// shared slice.
func (p *fastParser) link() {
	n := len(p.nodes)
	p.count = slices.Grow(p.count[:0], 2*n)[:2*n]
	clear(p.count)
	count, fill := p.count[:n], p.count[n:]
	for _, par := range p.parent[1:] {
		count[par]++
	}
	kids := make([]*Node, n-1)
	off := 0
	for k := range p.nodes {
		fill[k] = int32(off)
		off += int(count[k])
	}
	for k := 1; k < len(p.nodes); k++ {
		par := p.parent[k]
		kids[fill[par]] = &p.nodes[k]
		fill[par]++
	}
	off = 0
	for k := range p.nodes {
		n := &p.nodes[k]
		if c := int(count[k]); c > 0 {
			n.Children = kids[off : off+c : off+c]
			off += c
		}
		r := p.attrAt[k]
		n.Attrs = p.attrs[r[0]:r[1]:r[1]]
	}
}

// internString returns b as a string, without allocating for the names
// and namespaces requests usually carry.
func internString(b []byte) string {
	if s, ok := interned[string(b)]; ok {
		return s
	}
	return string(b)
}

var interned = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		"", "s", "a", "w", "b", "c", "d", "e", "f", "g", "h", "xmlns", "xsi", "wsa", "wsman", "wsen", "env", "soap", "n1", "p",
		"Envelope", "Header", "Body", "Action", "To", "MessageID", "ResourceURI", "ReplyTo", "Address",
		"OperationTimeout", "SelectorSet", "Selector", "Name", "mustUnderstand", "MaxEnvelopeSize", "Locale",
		"OptionSet", "Option", "Identify", "Enumerate", "Pull", "Release", "EnumerationContext", "MaxElements",
		"EnumerationMode", "OptimizeEnumeration", "EndpointReference", "ReferenceParameters", "lang", "true", "false",
		"/wsman", "PT60S", "153600", "EnumerateEPR", "EnumerateObjectAndEPR",
		NSSOAP, NSAddr, NSWSMan, NSTrust, NSWSSec, NSCIMBind, NSEnum, NSTransfer, NSEventing, NSCommon, NSXSI,
		NSIdentity, NSDASH, URIAnon, ActGet, ActPut, ActCreate, ActDelete, ActEnumerate, ActPull, ActRelease,
	} {
		m[s] = s
	}
	return m
}()
