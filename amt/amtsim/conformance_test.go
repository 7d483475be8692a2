package amtsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/stretchr/testify/require"
)

// The conformance test holds the simulator's envelopes against real
// firmware captures: namespace declarations (prefix and URI, in order), the
// header element sequence and the body element structure, compared by
// namespace URI and local name. Values are not compared.

// recordingsDir finds the capture corpus through $AMT_RECORDINGS or by
// walking up to a directory that holds shared/recordings.
func recordingsDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("AMT_RECORDINGS"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "provenance.json")); err == nil {
			return dir
		}
		t.Skipf("AMT_RECORDINGS=%s holds no provenance.json; skipping the conformance test", dir)
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "recordings")
		if _, err := os.Stat(filepath.Join(cand, "provenance.json")); err == nil {
			return cand
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	t.Skip("firmware recordings not found: set AMT_RECORDINGS or place them in ../shared/recordings beside the repository; skipping the conformance test")
	return ""
}

// realCaptures lists the responses marked as genuine firmware output.
func realCaptures(t *testing.T, dir string) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "provenance.json"))
	require.NoError(t, err)
	var prov struct {
		Files []struct {
			File         string `json:"file"`
			Kind         string `json:"kind"`
			Authenticity string `json:"authenticity"`
		} `json:"files"`
	}
	require.NoError(t, json.Unmarshal(raw, &prov))
	out := map[string]bool{}
	for _, f := range prov.Files {
		if f.Kind == "resp" && f.Authenticity == "firmware-capture" {
			out[filepath.ToSlash(f.File)] = true
		}
	}
	require.NotEmpty(t, out, "provenance.json lists no real captures")
	return out
}

type capture struct {
	name string
	root *etree.Element
}

// loadCaptures reads the real captures matching topic/pattern.
func loadCaptures(t *testing.T, dir string, real map[string]bool, topic, pattern string) []capture {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, topic, pattern))
	require.NoError(t, err)
	sort.Strings(matches)
	var out []capture
	for _, m := range matches {
		rel := topic + "/" + filepath.Base(m)
		if !real[rel] {
			continue
		}
		doc := etree.NewDocument()
		require.NoError(t, doc.ReadFromFile(m), rel)
		out = append(out, capture{name: rel, root: doc.Root()})
	}
	return out
}

type qname struct{ ns, local string }

func (q qname) String() string { return "{" + q.ns + "}" + q.local }

func qn(e *etree.Element) qname { return qname{e.NamespaceURI(), e.Tag} }

// nsDecls returns the root's namespace declarations in document order.
func nsDecls(e *etree.Element) []string {
	var out []string
	for _, a := range e.Attr {
		if a.Space == "xmlns" {
			out = append(out, a.Key+"="+a.Value)
		}
	}
	return out
}

func childNames(e *etree.Element) []qname {
	var out []qname
	if e == nil {
		return out
	}
	for _, c := range e.ChildElements() {
		out = append(out, qn(c))
	}
	return out
}

// structure lists every element below e (e excluded) in document order.
func structure(e *etree.Element) []qname {
	var out []qname
	for _, c := range e.ChildElements() {
		out = append(out, qn(c))
		out = append(out, structure(c)...)
	}
	return out
}

// propSeq is an instance's property names in order, repeated array
// elements collapsed into one (array length is data, not structure).
func propSeq(inst *etree.Element) []string {
	var out []string
	for _, c := range inst.ChildElements() {
		if len(out) == 0 || out[len(out)-1] != c.Tag {
			out = append(out, c.Tag)
		}
	}
	return out
}

func diffSeq[T comparable](got, want []T) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w any = "(missing)", "(missing)"
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("element #%d: simulator has %v, capture has %v", i, g, w)
		}
	}
	return ""
}

// relativeOrderOK reports whether the names both sequences share appear in
// the same order.
func relativeOrderOK(a, b []string) bool {
	var ca, cb []string
	for _, x := range a {
		if slices.Contains(b, x) {
			ca = append(ca, x)
		}
	}
	for _, x := range b {
		if slices.Contains(a, x) {
			cb = append(cb, x)
		}
	}
	return slices.Equal(ca, cb)
}

// instanceKey identifies an instance across captures: its InstanceID, or
// "" for classes without one (singletons).
func instanceKey(inst *etree.Element) string {
	for _, c := range inst.ChildElements() {
		if c.Tag == "InstanceID" {
			return c.Text()
		}
	}
	return ""
}

// bodyInstances returns the instance elements of a Get/Put or Pull body.
func bodyInstances(root *etree.Element, class *classDef) []*etree.Element {
	return findAll(root, class.uri, class.name)
}

func compareEnvelope(t *testing.T, kind string, sim *etree.Element, caps []capture) {
	t.Helper()
	for _, c := range caps {
		if d := diffSeq(nsDecls(sim), nsDecls(c.root)); d != "" {
			t.Errorf("%s: namespace declarations differ from %s: %s", kind, c.name, d)
		}
		sh, ch := find(sim, nsSOAP, "Header"), find(c.root, nsSOAP, "Header")
		if d := diffSeq(childNames(sh), childNames(ch)); d != "" {
			t.Errorf("%s: header differs from %s: %s", kind, c.name, d)
		}
	}
}

func TestConformance(t *testing.T) {
	dir := recordingsDir(t)
	real := realCaptures(t, dir)
	// Firmware generations report slightly different property sets; each
	// version must produce a set seen from real firmware.
	for _, version := range []string{"8.1.71.3608", "11.8.50.3425", "12.0.67.1579", "15.0.23.1706", "16.1.27.2176"} {
		t.Run(version, func(t *testing.T) {
			opts := plainOpts()
			opts.Version = version
			conformance(t, dir, real, opts)
		})
	}
}

func conformance(t *testing.T, dir string, real map[string]bool, opts Options) {
	sim := startSim(t, opts)
	wc := newClient(t, sim.URL(), testUser, testPass)
	d := sim.Devices()[0]

	for _, class := range classTable {
		t.Run(class.name, func(t *testing.T) {
			gets := loadCaptures(t, dir, real, class.name, "GetResponse__*.resp.xml")
			pulls := loadCaptures(t, dir, real, class.name, "PullResponse__*.resp.xml")
			puts := loadCaptures(t, dir, real, class.name, "PutResponse__*.resp.xml")
			enums := loadCaptures(t, dir, real, class.name, "EnumerateResponse__*.resp.xml")
			if len(gets)+len(pulls) == 0 {
				t.Fatalf("no real Get or Pull capture of %s in %s", class.name, dir)
			}

			// Pool of real instance shapes by key, for the exact-match rule.
			// Put responses carry the same instance representation as Get.
			pool := map[string][]capture{}
			for _, c := range slices.Concat(gets, pulls, puts) {
				for _, inst := range bodyInstances(c.root, class) {
					k := instanceKey(inst)
					pool[k] = append(pool[k], capture{name: c.name, root: inst})
				}
			}

			checkInstance := func(kind string, inst *etree.Element) {
				t.Helper()
				key := instanceKey(inst)
				seq := propSeq(inst)
				candidates := pool[key]
				if len(candidates) == 0 {
					t.Errorf("%s: instance %q has no counterpart in any real capture", kind, key)
					return
				}
				exact := false
				var diffs []string
				for _, c := range candidates {
					want := propSeq(c.root)
					if !relativeOrderOK(seq, want) {
						t.Errorf("%s: instance %q: properties not in the order of %s:\n sim %v\n cap %v", kind, key, c.name, seq, want)
					}
					if d := diffSeq(seq, want); d == "" {
						exact = true
					} else {
						diffs = append(diffs, c.name+": "+d)
					}
					// Nested (EPR) structure of shared properties must agree.
					for _, p := range inst.ChildElements() {
						if len(p.ChildElements()) == 0 {
							continue
						}
						cp := c.root.SelectElement(p.Tag)
						if cp == nil {
							cp = findChild(c.root, p.Tag)
						}
						if cp == nil {
							continue
						}
						if d := diffSeq(structure(p), structure(cp)); d != "" {
							t.Errorf("%s: instance %q property %s differs from %s: %s", kind, key, p.Tag, c.name, d)
						}
					}
				}
				if !exact {
					t.Errorf("%s: instance %q (%d properties) matches no real capture exactly:\n %s", kind, key, len(seq), strings.Join(diffs, "\n "))
				}
			}

			// Get every instance.
			var simInsts []*etree.Element
			if class.singleton {
				resp, data := wc.post(getReq(class.uri))
				require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
				simInsts = append(simInsts, parseDoc(t, data))
			} else {
				d.mu.Lock()
				var keys []string
				for _, inst := range d.instances[class.name] {
					v, _ := inst.get(class.keys[0])
					keys = append(keys, v)
				}
				d.mu.Unlock()
				for _, k := range keys {
					resp, data := wc.post(getReq(class.uri, sel{class.keys[0], k}))
					require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
					simInsts = append(simInsts, parseDoc(t, data))
				}
			}
			for _, root := range simInsts {
				compareEnvelope(t, "Get", root, gets)
				body := find(root, nsSOAP, "Body")
				for _, c := range gets {
					if d := diffSeq(childNames(body), childNames(find(c.root, nsSOAP, "Body"))); d != "" {
						t.Errorf("Get: body differs from %s: %s", c.name, d)
					}
				}
				insts := bodyInstances(root, class)
				require.Len(t, insts, 1)
				checkInstance("Get", insts[0])
			}

			// Enumerate and pull everything at once.
			resp, data := wc.post(enumerateReq(class.uri))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
			enumRoot := parseDoc(t, data)
			compareEnvelope(t, "Enumerate", enumRoot, enums)
			for _, c := range enums {
				if d := diffSeq(structure(find(enumRoot, nsSOAP, "Body")), structure(find(c.root, nsSOAP, "Body"))); d != "" {
					t.Errorf("Enumerate: body differs from %s: %s", c.name, d)
				}
			}
			id := textOf(enumRoot, nsEnum, "EnumerationContext")
			resp, data = wc.post(pullReq(class.uri, id, 999))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
			pullRoot := parseDoc(t, data)
			compareEnvelope(t, "Pull", pullRoot, pulls)
			pr := find(pullRoot, nsEnum, "PullResponse")
			for _, c := range pulls {
				cpr := find(c.root, nsEnum, "PullResponse")
				if d := diffSeq(childNames(pr), childNames(cpr)); d != "" {
					t.Errorf("Pull: PullResponse differs from %s: %s", c.name, d)
				}
				capItems := childNames(find(cpr, nsEnum, "Items"))
				simItems := childNames(find(pr, nsEnum, "Items"))
				if len(capItems) > 0 && (len(simItems) == 0 || simItems[0] != capItems[0]) {
					t.Errorf("Pull: items are %v, %s has %v", simItems, c.name, capItems[0])
				}
				// Same instances, in the same order, where keyed.
				var simKeys, capKeys []string
				for _, inst := range bodyInstances(pullRoot, class) {
					simKeys = append(simKeys, instanceKey(inst))
				}
				for _, inst := range bodyInstances(c.root, class) {
					capKeys = append(capKeys, instanceKey(inst))
				}
				if d := diffSeq(simKeys, capKeys); d != "" {
					t.Errorf("Pull: instances differ from %s: %s", c.name, d)
				}
			}
			for _, inst := range bodyInstances(pullRoot, class) {
				checkInstance("Pull", inst)
			}
		})
	}
}

func findChild(e *etree.Element, local string) *etree.Element {
	for _, c := range e.ChildElements() {
		if c.Tag == local {
			return c
		}
	}
	return nil
}

// TestConformanceFaults compares fault envelopes with the real fault
// captures: declarations, header, and the Fault element structure.
func TestConformanceFaults(t *testing.T) {
	dir := recordingsDir(t)
	real := realCaptures(t, dir)
	caps := loadCaptures(t, dir, real, "Fault", "*.resp.xml")
	require.NotEmpty(t, caps)
	sim := startSim(t, plainOpts())
	wc := newClient(t, sim.URL(), testUser, testPass)
	resp, data := wc.post(getReq(prefixAMT + "AMT_NoSuchClass"))
	root := requireFault(t, resp, data, "b:DestinationUnreachable")
	compareEnvelope(t, "Fault", root, caps)
	for _, c := range caps {
		if d := diffSeq(structure(find(root, nsSOAP, "Body")), structure(find(c.root, nsSOAP, "Body"))); d != "" {
			t.Errorf("Fault: body differs from %s: %s", c.name, d)
		}
		if strings.Contains(c.name, "DestinationUnreachable") {
			require.Equal(t, textOf(c.root, nsSOAP, "Text"), textOf(root, nsSOAP, "Text"))
			require.Equal(t, textOf(c.root, nsAddr, "Action"), textOf(root, nsAddr, "Action"))
		}
	}
}
