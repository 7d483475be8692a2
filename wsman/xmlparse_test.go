package wsman

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flatten lists elements in document order as "{space}local=text" lines,
// with the text of leaves only.
func flatten(n *xnode, out *[]string) {
	line := "{" + n.space + "}" + n.local
	if len(n.children) == 0 {
		line += "=" + n.text
	}
	*out = append(*out, line)
	for _, c := range n.children {
		flatten(c, out)
	}
}

// flattenStd does the same with encoding/xml, the reference.
func flattenStd(data []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	type frame struct {
		line     string
		text     strings.Builder
		children int
		index    int
	}
	var out []string
	var stack []*frame
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > 0 {
				stack[len(stack)-1].children++
			}
			f := &frame{line: "{" + t.Name.Space + "}" + t.Name.Local, index: len(out)}
			out = append(out, "")
			stack = append(stack, f)
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.children == 0 {
				f.line += "=" + f.text.String()
			}
			out[f.index] = f.line
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
}

func TestXMLParserAgreesWithEncodingXML(t *testing.T) {
	doc := `<?xml version="1.0"?><!-- c --><a:E xmlns:a="urn:a" xmlns="urn:d"><a:H x="1" a:y='2'/><B>t&amp;&lt;&#65;&#x42;<![CDATA[<raw>]]></B><C>` + "l1\r\nl2" + `</C></a:E>`
	root, err := parseXML([]byte(doc), false)
	require.NoError(t, err)
	var got []string
	flatten(root, &got)
	want, err := flattenStd([]byte(doc))
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, "1", root.children[0].attr("x"))
}

func TestXMLParserRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"mismatched":        `<a></b>`,
		"unclosed":          `<a><b></b>`,
		"two roots":         `<a/><b/>`,
		"text after root":   `<a/>x`,
		"undeclared prefix": `<p:a/>`,
		"undeclared attr":   `<a p:x="1"/>`,
		"unquoted attr":     `<a x=1/>`,
		"duplicate attr":    `<a x="1" x="2"/>`,
		"lt in attr":        `<a x="<"/>`,
		"bad entity":        `<a>&nbsp;</a>`,
		"bad char ref":      `<a>&#0;</a>`,
		"doctype":           `<!DOCTYPE a><a/>`,
		"control char":      "<a>\x01</a>",
		"invalid utf8":      "<a>\xff</a>",
		"empty":             ``,
		"cdata end in text": `<a>]]></a>`,
		"bad name":          `<1a/>`,
		"empty ns prefix":   `<p:a xmlns:p=""/>`,
		"deep":              strings.Repeat("<a>", maxXMLDepth+2) + strings.Repeat("</a>", maxXMLDepth+2),
	} {
		_, err := parseXML([]byte(doc), false)
		assert.ErrorIs(t, err, errXMLSyntax, name)
	}
}

// FuzzXMLParser checks the scanner against encoding/xml: whatever the
// scanner accepts, encoding/xml accepts too, with the same elements,
// namespaces and leaf text. (The scanner may refuse more: DTDs, text
// outside the root, several roots.)
func FuzzXMLParser(f *testing.F) {
	f.Add([]byte(`<a:E xmlns:a="urn:a"><a:P>1</a:P><a:Q x="y"/></a:E>`))
	f.Add([]byte(`<E xmlns="urn:d"><![CDATA[x]]>&amp;<F/></E>`))
	f.Add([]byte(faultEnvelope("e:AccessDenied", "AMT-STATUS 16")))
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := parseXML(data, false)
		if err != nil {
			return
		}
		for _, c := range data {
			if c >= 0x80 {
				return // name rules for non-ASCII letters differ in detail
			}
		}
		var got []string
		flatten(root, &got)
		want, err := flattenStd(data)
		if err != nil {
			t.Fatalf("scanner accepted what encoding/xml refuses (%v): %q", err, data)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("scanner and encoding/xml differ on %q:\n got %q\nwant %q", data, got, want)
		}
	})
}
