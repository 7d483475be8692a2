package soap

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amtkit/amtkit/internal/recordings"
)

// dumpTree renders a tree with everything Node exposes: names, attributes
// in order, the trimmed value and the children.
func dumpTree(b *strings.Builder, n *Node, depth int) {
	fmt.Fprintf(b, "%s{%s}%s", strings.Repeat(" ", depth), n.Space, n.Local)
	for _, a := range n.Attrs {
		fmt.Fprintf(b, " {%s}%s=%q", a.Name.Space, a.Name.Local, a.Value)
	}
	fmt.Fprintf(b, " %q\n", n.Value())
	for _, c := range n.Children {
		dumpTree(b, c, depth+1)
	}
}

func dump(n *Node) string {
	var b strings.Builder
	dumpTree(&b, n, 0)
	return b.String()
}

// checkSame fails when the fast parser accepts a document encoding/xml
// refuses, or reads it differently.
func checkSame(t *testing.T, name string, data []byte) (fast bool) {
	t.Helper()
	got, ok := parseFast(data)
	want, err := parseXML(data)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("%s: fast parser accepted a document encoding/xml refuses (%v):\n%s", name, err, data)
	}
	if g, w := dump(got), dump(want); g != w {
		t.Fatalf("%s: trees differ\nfast:\n%s\nencoding/xml:\n%s", name, g, w)
	}
	return true
}

var parseSamples = []string{
	`<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header><a:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</w:ResourceURI><a:MessageID>1</a:MessageID><w:SelectorSet><w:Selector Name="Name">a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;</w:Selector></w:SelectorSet></s:Header><s:Body/></s:Envelope>`,
	"<?xml version=\"1.0\"?>\n<e xmlns=\"urn:d\" xmlns:p='urn:p'>\n  <p:a  x = 'v' y=\"w\" >  text\t<b/> more </p:a >\n<c p:z=\"1\" q:u=\"2\"/><q:d/>\n</e>\n",
	`<r><a xmlns="urn:1"><b/></a><b/></r>`,
	`<r xmlns:p="urn:1"><p:a xmlns:p="urn:2"><p:b/></p:a><p:c/></r>`,
	`<a:b:c/>`, `<a/><b/>`, `<a>`, `</a>`, `<a></b>`, `<p:a></q:a>`, `<a x=1/>`, `<a x/>`, `<a x="<"/>`,
	`<a>&nbsp;</a>`, `<a>&#65;</a>`, `<a>]]></a>`, `<a><!-- c --></a>`, `<a><![CDATA[x]]></a>`, "<a>\r\n</a>",
	`<?xml version="1.1"?><a/>`, `<?xml version="1.0" encoding="latin1"?><a/>`, ` <?xml version="1.0"?><a/>`,
	`x<a/>`, `<a/>x`, `<a/> `, ``, ` `, `<`, `<a`, `<a x="1"`, `<a x="1">`, `<1a/>`, `<:a/>`, `<a:/>`, `<a x="1"y="2"/>`,
	`<xmlns:a/>`, `<xml:a/>`, `<a xml:lang="en"/>`, `<a xmlns:p=""><p:b/></a>`, `<a>é</a>`, `<a/ >`, `<a x="1" x="2"/>`,
	`<a>&amp</a>`, `<a>&;</a>`, `<a>&lt;&gt;</a>`, `<a>  </a>`, `<a> x <b/> y </a>`, `<a><b>1</b>2<c>3</c>4</a>`,
}

func TestParseFastMatchesEncodingXML(t *testing.T) {
	fast := 0
	for i, s := range parseSamples {
		if checkSame(t, fmt.Sprintf("sample %d", i), []byte(s)) {
			fast++
		}
	}
	if fast < 8 {
		t.Fatalf("the fast parser took only %d of the samples", fast)
	}
}

// TestParseFastRecordedRequests parses every recorded request both ways:
// the fast parser must take them (they are what clients send) and read
// them as encoding/xml does.
func TestParseFastRecordedRequests(t *testing.T) {
	dir := recordings.Dir(t)
	var files []string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".req.xml") {
			files = append(files, path)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no recorded requests")
	}
	taken := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if checkSame(t, f, data) {
			taken++
		}
	}
	t.Logf("fast parser took %d of %d recorded requests", taken, len(files))
	if taken*2 < len(files) {
		t.Fatalf("fast parser took only %d of %d recorded requests", taken, len(files))
	}
}

func FuzzParseFast(f *testing.F) {
	for _, s := range parseSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSame(t, "input", data)
	})
}
