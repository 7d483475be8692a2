package soap

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

// referenceResponse writes a response with the generic writer calls the
// envelope is defined by; Response must produce the same bytes.
func referenceResponse(relatesTo, messageID, action, resourceURI string, bodyNS []string, body BodyFunc) []byte {
	decls := append([]Attr(nil), baseNamespaces...)
	pfx := make([]string, len(bodyNS))
	for i, ns := range bodyNS {
		pfx[i] = string(rune('g' + i))
		decls = append(decls, Attr{pfx[i], ns})
	}
	decls = append(decls, Attr{"xsi", NSXSI})
	w := NewWriter()
	w.Start("a:Envelope", nsAttrs(decls)...)
	w.Start("a:Header")
	w.Elem("b:To", URIAnon)
	w.Elem("b:RelatesTo", relatesTo)
	w.Elem("b:Action", action, Attr{"a:mustUnderstand", "true"})
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

func TestResponseMatchesReference(t *testing.T) {
	body := func(w *Writer, pfx []string) {
		for _, p := range pfx {
			w.Elem(p+":X", `a<b>&"c"'d'`+"\t\n\r\x01é\xff")
		}
	}
	many := make([]string, 20)
	for i := range many {
		many[i] = PrefixAMT + strings.Repeat("C", i) + `&"`
	}
	cases := []struct {
		name   string
		bodyNS []string
		body   BodyFunc
		uri    string
	}{
		{"empty", nil, nil, ""},
		{"one", []string{PrefixAMT + "AMT_GeneralSettings"}, body, PrefixAMT + "AMT_GeneralSettings"},
		{"three", []string{NSEnum, PrefixCIM + "CIM_Chip", NSCommon}, body, PrefixCIM + "CIM_Chip"},
		{"beyond the prefix table", many, body, "x<y"},
	}
	for _, c := range cases {
		got := Response("7&", "8<", ActGet+"Response", c.uri, c.bodyNS, c.body)
		want := referenceResponse("7&", "8<", ActGet+"Response", c.uri, c.bodyNS, c.body)
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}
}

func TestEscapeMatchesEncodingXML(t *testing.T) {
	for _, s := range []string{"", "plain text /wsman PT60S", `<&>"'`, "\t\n\r", "\x00\x1f\x7f", "é", "\xff\xfe", "a\u2028b", "\uFFFD"} {
		var fast Writer
		fast.escape(s)
		var want Writer
		want.buf.Reset()
		wantBuf := &want.buf
		_ = xmlEscapeText(wantBuf, []byte(s))
		if !bytes.Equal(fast.buf.Bytes(), wantBuf.Bytes()) {
			t.Errorf("escape(%q) = %q, want %q", s, fast.buf.Bytes(), wantBuf.Bytes())
		}
	}
}

var xmlEscapeText = xml.EscapeText
