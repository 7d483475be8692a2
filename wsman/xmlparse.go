package wsman

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// The decoder reads responses with a small purpose-built XML scanner rather
// than encoding/xml: AMT answers are short, flat SOAP envelopes, and a
// general decoder spends more time per response than the network round
// trip. The scanner checks well-formedness (matching tags, quoted
// attributes, one root, valid UTF-8, known entities), resolves namespace
// prefixes, refuses DTDs (so no entity expansion) and bounds nesting depth.

// Limits on the shape of a response, far above anything AMT sends: they
// keep a hostile document from costing more than linear time.
const (
	maxXMLDepth = 64
	maxXMLAttrs = 32
	maxSlab     = 1024
)

// xnode is an element of a decoded document.
type xnode struct {
	space    string // namespace URI
	local    string
	attrs    []xattr
	text     string // character data directly inside, concatenated
	children []*xnode
	scope    *nsBinding // innermost namespace binding in scope
}

type xattr struct {
	space, local, value string
}

// nsBinding is one prefix declaration; bindings form a chain to the root.
type nsBinding struct {
	prefix, uri string
	next        *nsBinding
}

func (b *nsBinding) lookup(prefix string) (string, bool) {
	for ; b != nil; b = b.next {
		if b.prefix == prefix {
			return b.uri, true
		}
	}
	switch prefix {
	case "xml":
		return "http://www.w3.org/XML/1998/namespace", true
	case "":
		return "", true
	}
	return "", false
}

var errXMLSyntax = errors.New("XML syntax error")

type xmlSyntaxError struct {
	offset int
	msg    string
}

func (e *xmlSyntaxError) Error() string {
	return "XML syntax error at byte " + strconv.Itoa(e.offset) + ": " + e.msg
}

func (e *xmlSyntaxError) Unwrap() error { return errXMLSyntax }

// parseXML decodes a whole document and returns its root element. The
// returned nodes share memory with data when owned is true, in which case
// the caller must never modify data afterwards.
func parseXML(data []byte, owned bool) (*xnode, error) {
	if !utf8.Valid(data) {
		return nil, &xmlSyntaxError{0, "invalid UTF-8"}
	}
	var s string
	if owned && len(data) > 0 {
		s = unsafe.String(&data[0], len(data))
	} else {
		s = string(data)
	}
	p := &xmlParser{s: s}
	// Every element starts with a '<' that is not an end tag's "</", so
	// this bounds the element count and lets all nodes come from one
	// allocation (half the size a count of every '<' reserves).
	// The slab is capped: a hostile document of nothing but '<' must not
	// reserve memory in proportion.
	elems := bytes.Count(data, []byte{'<'}) - bytes.Count(data, []byte("</"))
	p.slab = make([]xnode, 0, min(elems, maxSlab))
	return p.document()
}

// checkChars refuses the control characters XML does not allow.
func (p *xmlParser) checkChars(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return p.fail("control character in document")
		}
	}
	return nil
}

type xmlParser struct {
	s    string
	pos  int
	slab []xnode
	// kids is where the children lists of finished elements are carved
	// from, stack where the children of open elements wait: a document
	// costs a few allocations for its lists instead of their growth.
	kids  []*xnode
	stack []*xnode
	// scopes is where namespace bindings come from.
	scopes []nsBinding
}

// childList copies the children on the stack above mark into a list of
// their own and pops them.
func (p *xmlParser) childList(mark int) []*xnode {
	k := len(p.stack) - mark
	if k == 0 {
		return nil
	}
	if cap(p.kids)-len(p.kids) < k {
		p.kids = make([]*xnode, 0, max(k, 64))
	}
	n := len(p.kids)
	p.kids = append(p.kids, p.stack[mark:]...)
	p.stack = p.stack[:mark]
	return p.kids[n : n+k : n+k]
}

// binding returns a new namespace binding.
func (p *xmlParser) binding(prefix, uri string, next *nsBinding) *nsBinding {
	if len(p.scopes) == cap(p.scopes) {
		p.scopes = make([]nsBinding, 0, 16)
	}
	p.scopes = append(p.scopes, nsBinding{prefix: prefix, uri: uri, next: next})
	return &p.scopes[len(p.scopes)-1]
}

// isBlank reports whether s is white space only.
func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isSpace(s[i]) {
			return false
		}
	}
	return true
}

func (p *xmlParser) newNode() *xnode {
	if len(p.slab) < cap(p.slab) {
		p.slab = p.slab[:len(p.slab)+1]
		return &p.slab[len(p.slab)-1]
	}
	return &xnode{}
}

func (p *xmlParser) fail(msg string) error { return &xmlSyntaxError{p.pos, msg} }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func (p *xmlParser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

// misc skips whitespace, comments and processing instructions.
func (p *xmlParser) misc() error {
	for {
		p.skipSpace()
		switch {
		case strings.HasPrefix(p.s[p.pos:], "<?"):
			p.pos += 2
			target, err := p.name()
			if err != nil {
				return err
			}
			if p.pos < len(p.s) && !strings.HasPrefix(p.s[p.pos:], "?>") && !isSpace(p.s[p.pos]) {
				return p.fail("malformed processing instruction")
			}
			end := strings.Index(p.s[p.pos:], "?>")
			if end < 0 {
				return p.fail("unterminated processing instruction")
			}
			if target == "xml" {
				if err := p.xmlDecl(p.s[p.pos : p.pos+end]); err != nil {
					return err
				}
			}
			p.pos += end + 2
		case strings.HasPrefix(p.s[p.pos:], "<!--"):
			end := strings.Index(p.s[p.pos+4:], "-->")
			if end < 0 {
				return p.fail("unterminated comment")
			}
			p.pos += 4 + end + 3
		case strings.HasPrefix(p.s[p.pos:], "<!"):
			return p.fail("DTDs and declarations are not accepted")
		default:
			return nil
		}
	}
}

func (p *xmlParser) document() (*xnode, error) {
	if strings.HasPrefix(p.s, "\ufeff") {
		p.pos = 3
	}
	if err := p.misc(); err != nil {
		return nil, err
	}
	if p.pos >= len(p.s) || p.s[p.pos] != '<' {
		return nil, p.fail("no root element")
	}
	root, err := p.element(nil, 0)
	if err != nil {
		return nil, err
	}
	if err := p.misc(); err != nil {
		return nil, err
	}
	if p.pos != len(p.s) {
		return nil, p.fail("content after the root element")
	}
	return root, nil
}

// isNameByte reports whether c may appear in an XML name: ASCII letters,
// digits, '.', '-', '_', ':' and any byte of a multi-byte UTF-8 sequence.
func isNameByte(c byte) bool {
	return c >= 0x80 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '-' || c == '_' || c == ':'
}

func (p *xmlParser) name() (string, error) {
	start := p.pos
	for p.pos < len(p.s) && isNameByte(p.s[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", p.fail("expected a name")
	}
	n := p.s[start:p.pos]
	if c := n[0]; c == ':' || c == '-' || c == '.' || c >= '0' && c <= '9' || n[len(n)-1] == ':' || strings.Count(n, ":") > 1 {
		return "", p.fail("invalid name " + strconv.Quote(n))
	}
	return n, nil
}

type rawAttr struct{ name, value string }

// element parses from '<' to the end of the element.
func (p *xmlParser) element(scope *nsBinding, depth int) (*xnode, error) {
	if depth > maxXMLDepth {
		return nil, p.fail("elements nested too deeply")
	}
	p.pos++ // '<'
	qname, err := p.name()
	if err != nil {
		return nil, err
	}
	var rawBuf [4]rawAttr
	raw := rawBuf[:0]
	selfClosing := false
	for {
		hadSpace := p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\r' || p.s[p.pos] == '\n')
		p.skipSpace()
		if p.pos >= len(p.s) {
			return nil, p.fail("unterminated start tag")
		}
		if p.s[p.pos] == '>' {
			p.pos++
			break
		}
		if strings.HasPrefix(p.s[p.pos:], "/>") {
			p.pos += 2
			selfClosing = true
			break
		}
		if !hadSpace {
			return nil, p.fail("expected space before attribute")
		}
		an, err := p.name()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != '=' {
			return nil, p.fail("expected = after attribute name")
		}
		p.pos++
		p.skipSpace()
		if p.pos >= len(p.s) || (p.s[p.pos] != '"' && p.s[p.pos] != '\'') {
			return nil, p.fail("attribute value not quoted")
		}
		q := p.s[p.pos]
		end := strings.IndexByte(p.s[p.pos+1:], q)
		if end < 0 {
			return nil, p.fail("unterminated attribute value")
		}
		rv := p.s[p.pos+1 : p.pos+1+end]
		if strings.IndexByte(rv, '<') >= 0 {
			return nil, p.fail("< in attribute value")
		}
		if err := p.checkChars(rv); err != nil {
			return nil, err
		}
		rv = normalizeNewlines(rv)
		val, err := p.unescape(rv)
		if err != nil {
			return nil, err
		}
		p.pos += end + 2
		if len(raw) >= maxXMLAttrs {
			return nil, p.fail("too many attributes")
		}
		for _, a := range raw {
			if a.name == an {
				return nil, p.fail("duplicate attribute " + strconv.Quote(an))
			}
		}
		raw = append(raw, rawAttr{an, val})
	}
	// Namespace declarations first: they apply to the element's own name
	// and attributes.
	for _, a := range raw {
		switch {
		case a.name == "xmlns":
			scope = p.binding("", a.value, scope)
		case strings.HasPrefix(a.name, "xmlns:"):
			if a.value == "" {
				return nil, p.fail("empty namespace name for prefix " + strconv.Quote(a.name[6:]))
			}
			scope = p.binding(a.name[6:], a.value, scope)
		}
	}
	n := p.newNode()
	n.scope = scope
	prefix, local, found := strings.Cut(qname, ":")
	if !found {
		prefix, local = "", qname
	}
	uri, ok := scope.lookup(prefix)
	if !ok {
		return nil, p.fail("undeclared namespace prefix " + strconv.Quote(prefix))
	}
	n.space, n.local = uri, local
	for _, a := range raw {
		if a.name == "xmlns" || strings.HasPrefix(a.name, "xmlns:") {
			continue
		}
		ap, al, found := strings.Cut(a.name, ":")
		var auri string
		if found {
			if auri, ok = scope.lookup(ap); !ok {
				return nil, p.fail("undeclared namespace prefix " + strconv.Quote(ap))
			}
		} else {
			al = a.name
		}
		n.attrs = append(n.attrs, xattr{space: auri, local: al, value: a.value})
	}
	if selfClosing {
		return n, nil
	}
	// Character data: most elements hold one run without references,
	// which is kept as a slice of the input without copying. Runs of white
	// space only (the indentation between child elements) are dropped
	// once there is other text, and kept only when there is nothing else:
	// the text of an element is its other runs joined.
	var text string
	var more strings.Builder
	runs := 0
	blank := false
	addText := func(t string) {
		b := isBlank(t)
		switch {
		case runs == 0:
			text, blank = t, b
			runs = 1
		case b:
			return
		case blank:
			text, blank = t, false
		case runs == 1:
			more.WriteString(text)
			more.WriteString(t)
			runs++
		default:
			more.WriteString(t)
			runs++
		}
	}
	mark := len(p.stack)
	for {
		if p.pos >= len(p.s) {
			return nil, p.fail("unterminated element " + strconv.Quote(qname))
		}
		lt := strings.IndexByte(p.s[p.pos:], '<')
		if lt < 0 {
			return nil, p.fail("unterminated element " + strconv.Quote(qname))
		}
		if lt > 0 {
			chunk := p.s[p.pos : p.pos+lt]
			if strings.Contains(chunk, "]]>") {
				return nil, p.fail("]]> in character data")
			}
			if err := p.checkChars(chunk); err != nil {
				return nil, err
			}
			chunk = normalizeNewlines(chunk)
			t, err := p.unescape(chunk)
			if err != nil {
				return nil, err
			}
			addText(t)
			p.pos += lt
		}
		rest := p.s[p.pos:]
		switch {
		case strings.HasPrefix(rest, "</"):
			p.pos += 2
			end, err := p.name()
			if err != nil {
				return nil, err
			}
			if end != qname {
				return nil, p.fail("element " + strconv.Quote(qname) + " closed by " + strconv.Quote(end))
			}
			p.skipSpace()
			if p.pos >= len(p.s) || p.s[p.pos] != '>' {
				return nil, p.fail("expected > in end tag")
			}
			p.pos++
			if runs > 1 {
				text = more.String()
			}
			n.text = text
			n.children = p.childList(mark)
			return n, nil
		case strings.HasPrefix(rest, "<![CDATA["):
			end := strings.Index(rest[9:], "]]>")
			if end < 0 {
				return nil, p.fail("unterminated CDATA section")
			}
			if err := p.checkChars(rest[9 : 9+end]); err != nil {
				return nil, err
			}
			addText(normalizeNewlines(rest[9 : 9+end]))
			p.pos += 9 + end + 3
		case strings.HasPrefix(rest, "<!--"), strings.HasPrefix(rest, "<?"):
			if err := p.misc(); err != nil {
				return nil, err
			}
		case strings.HasPrefix(rest, "<!"):
			return nil, p.fail("declarations are not accepted inside elements")
		default:
			c, err := p.element(scope, depth+1)
			if err != nil {
				return nil, err
			}
			p.stack = append(p.stack, c)
		}
	}
}

// xmlDecl checks the XML declaration: version 1.0 and UTF-8, the only
// forms this decoder reads.
func (p *xmlParser) xmlDecl(content string) error {
	if v, ok := declParam(content, "version"); ok && v != "1.0" {
		return p.fail("unsupported XML version " + strconv.Quote(v))
	}
	if e, ok := declParam(content, "encoding"); ok && !strings.EqualFold(e, "utf-8") {
		return p.fail("unsupported encoding " + strconv.Quote(e))
	}
	return nil
}

// declParam reads name="value" (or single quotes) from a declaration.
func declParam(content, name string) (string, bool) {
	i := strings.Index(content, name)
	if i < 0 {
		return "", false
	}
	rest := strings.TrimLeft(content[i+len(name):], " \t\r\n")
	if !strings.HasPrefix(rest, "=") {
		return "", false
	}
	rest = strings.TrimLeft(rest[1:], " \t\r\n")
	if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
		return "", true
	}
	end := strings.IndexByte(rest[1:], rest[0])
	if end < 0 {
		return "", true
	}
	return rest[1 : 1+end], true
}

// normalizeNewlines turns the line ends \r\n and \r into \n, as XML
// requires of a parser.
func normalizeNewlines(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// unescape replaces the predefined and numeric character references.
func (p *xmlParser) unescape(s string) (string, error) {
	amp := strings.IndexByte(s, '&')
	if amp < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for amp >= 0 {
		b.WriteString(s[:amp])
		s = s[amp:]
		semi := strings.IndexByte(s, ';')
		if semi < 0 || semi > 12 {
			return "", p.fail("unterminated character reference")
		}
		ref := s[1:semi]
		switch ref {
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "amp":
			b.WriteByte('&')
		case "quot":
			b.WriteByte('"')
		case "apos":
			b.WriteByte('\'')
		default:
			if len(ref) < 2 || ref[0] != '#' {
				return "", p.fail("unknown entity &" + ref + ";")
			}
			var n uint64
			var err error
			if ref[1] == 'x' {
				n, err = strconv.ParseUint(ref[2:], 16, 32)
			} else {
				n, err = strconv.ParseUint(ref[1:], 10, 32)
			}
			r := rune(n)
			if err != nil || !isXMLChar(r) {
				return "", p.fail("invalid character reference &" + ref + ";")
			}
			b.WriteRune(r)
		}
		s = s[semi+1:]
		amp = strings.IndexByte(s, '&')
	}
	b.WriteString(s)
	return b.String(), nil
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// attr returns the value of an attribute in no namespace.
func (e *xnode) attr(local string) string {
	for _, a := range e.attrs {
		if a.local == local && a.space == "" {
			return a.value
		}
	}
	return ""
}
