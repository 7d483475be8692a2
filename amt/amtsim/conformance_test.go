package amtsim

import (
	"cmp"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/amtkit/amtkit/internal/recordings"
	"github.com/beevik/etree"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The conformance test holds the simulator's envelopes against firmware
// captures: namespace declarations (prefix and URI, in order), the header
// element sequence and the body element structure, compared by namespace
// URI and local name. Values are not compared.
//
// provenance.json marks captures as genuine ("firmware-capture") or as
// firmware output whose body or MessageID was edited by hand
// ("firmware-capture, edited" / "possibly edited"). Genuine captures are
// used wherever one exists for a class and operation; only where edited
// captures are all there is are they used, and then only for element names
// and namespaces, compared as sets: their order, their namespace
// declarations and their values are not trusted.

// recordingsDir finds the capture corpus through $AMT_RECORDINGS or by
// walking up to a directory that holds shared/recordings.
// recordingsDir is the recordings folder (internal/recordings): a test
// that needs it fails in CI when it is missing and skips elsewhere.
func recordingsDir(t *testing.T) string {
	t.Helper()
	dir := recordings.Dir(t)
	if _, err := os.Stat(filepath.Join(dir, "provenance.json")); err != nil {
		t.Fatalf("%s holds no provenance.json: %v", dir, err)
	}
	return dir
}

// authenticity of a response capture.
type authenticity int

const (
	authReal   authenticity = iota + 1 // genuine firmware output
	authEdited                         // firmware output edited by hand
)

// captureIndex maps response files to their authenticity.
type captureIndex map[string]authenticity

// realCaptures indexes the responses that are firmware output, genuine or
// edited.
func realCaptures(t *testing.T, dir string) captureIndex {
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
	out := captureIndex{}
	for _, f := range prov.Files {
		if f.Kind != "resp" {
			continue
		}
		switch {
		case f.Authenticity == "firmware-capture":
			out[filepath.ToSlash(f.File)] = authReal
		case strings.HasPrefix(f.Authenticity, "firmware-capture,"):
			out[filepath.ToSlash(f.File)] = authEdited
		}
	}
	require.NotEmpty(t, out, "provenance.json lists no real captures")
	return out
}

type capture struct {
	name   string
	root   *etree.Element
	edited bool
}

// loadCaptures reads the captures matching topic/pattern: the genuine ones
// if there are any, else the edited ones.
func loadCaptures(t *testing.T, dir string, idx captureIndex, topic, pattern string) []capture {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, topic, pattern))
	require.NoError(t, err)
	sort.Strings(matches)
	var real, edited []capture
	for _, m := range matches {
		rel := topic + "/" + filepath.Base(m)
		a := idx[rel]
		if a == 0 {
			continue
		}
		doc := etree.NewDocument()
		require.NoError(t, doc.ReadFromFile(m), rel)
		c := capture{name: rel, root: doc.Root(), edited: a == authEdited}
		if c.edited {
			edited = append(edited, c)
		} else {
			real = append(real, c)
		}
	}
	if len(real) > 0 {
		return real
	}
	return edited
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
	if capturedByName[class.name] != nil {
		return cimInstances(root)
	}
	ic := class.instanceClass()
	return findAll(root, ic.uri, ic.name)
}

// cimInstances returns the instance elements of a Get/Put or Pull body
// whatever their class: an enumeration of a parent class returns
// instances of its subclasses, each in its own class namespace.
func cimInstances(root *etree.Element) []*etree.Element {
	var out []*etree.Element
	var walk func(*etree.Element)
	walk = func(x *etree.Element) {
		ns := x.NamespaceURI()
		if strings.HasSuffix(ns, "/"+x.Tag) && capturedURI(x.Tag) == ns {
			out = append(out, x)
			return
		}
		for _, c := range x.ChildElements() {
			walk(c)
		}
	}
	walk(find(root, soap.NSSOAP, "Body"))
	return out
}

// capturedSources returns, for a class served from its captures, the
// capture its instances were taken from for this firmware, whether that
// capture ended its enumeration, and the classes its instances belong to.
func capturedSources(class *classDef, major int) (source string, complete bool, classes []string, ok bool) {
	cc := capturedByName[class.name]
	if cc == nil {
		return "", false, nil, false
	}
	sh := cc.shape(major)
	seen := map[string]bool{}
	for _, in := range sh.instances {
		if !seen[in.class] {
			seen[in.class] = true
			classes = append(classes, in.class)
		}
	}
	if !sh.complete {
		classes = append(classes, continuations[cc.name]...)
	}
	return sh.source, sh.complete, classes, true
}

// nameSet is the sorted set of qualified names in seq.
func nameSet[T interface{ comparable }](seq []T, str func(T) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range seq {
		k := str(x)
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func qnameString(q qname) string  { return q.String() }
func plainString(s string) string { return s }

// compareNames compares two element sequences: exactly for a genuine
// capture, as sets of names for an edited one.
func compareNames(got, want []qname, edited bool) string {
	if edited {
		return diffSeq(nameSet(got, qnameString), nameSet(want, qnameString))
	}
	return diffSeq(got, want)
}

func compareEnvelope(t *testing.T, kind string, sim *etree.Element, caps []capture) {
	t.Helper()
	for _, c := range caps {
		// Edited captures lost declarations; their header is compared by
		// names only.
		if !c.edited {
			if d := diffSeq(nsDecls(sim), nsDecls(c.root)); d != "" {
				t.Errorf("%s: namespace declarations differ from %s: %s", kind, c.name, d)
			}
		}
		sh, ch := find(sim, soap.NSSOAP, "Header"), find(c.root, soap.NSSOAP, "Header")
		if d := compareNames(childNames(sh), childNames(ch), c.edited); d != "" {
			t.Errorf("%s: header differs from %s: %s", kind, c.name, d)
		}
	}
}

// partialPull reports whether a PullResponse capture stopped before the
// end of the sequence (it holds a context and no EndOfSequence): the
// client asked for fewer elements than there were.
func partialPull(pr *etree.Element) bool {
	return find(pr, soap.NSEnum, "EnumerationContext") != nil && find(pr, soap.NSEnum, "EndOfSequence") == nil
}

// conformanceVersions are firmware generations whose property sets differ;
// each version must produce a set seen from real firmware.
var conformanceVersions = []string{"8.1.71.3608", "9.5.30.1234", "10.0.55.3000", "11.8.50.3425", "12.0.67.1579", "15.0.23.1706", "16.1.27.2176"}

// TestConformanceMatrix (matrix_test.go) runs the checks for each of
// these versions and every other state.

// instancePool holds capture instances by key, for the exact-match rule.
type instancePool map[string][]capture

func (p instancePool) add(caps []capture, class *classDef) {
	for _, c := range caps {
		for _, inst := range bodyInstances(c.root, class) {
			k := instanceKey(inst)
			p[k] = append(p[k], capture{name: c.name, root: inst, edited: c.edited})
		}
	}
}

// checkInstance holds a simulator instance against the capture instances
// with the same key: the property sequence must equal that of a genuine
// capture and keep the relative order of every genuine one; with only
// edited captures, the property names must equal those of one of them.
// Nested (EPR) structure of shared properties must agree.
func checkInstance(t *testing.T, kind string, inst *etree.Element, pool instancePool) {
	t.Helper()
	key := instanceKey(inst)
	seq := propSeq(inst)
	var real, edited []capture
	for _, c := range pool[key] {
		if c.edited {
			edited = append(edited, c)
		} else {
			real = append(real, c)
		}
	}
	candidates := real
	if len(candidates) == 0 {
		candidates = edited
	}
	if len(candidates) == 0 {
		t.Errorf("%s: instance %q has no counterpart in any capture", kind, key)
		return
	}
	match := false
	var diffs []string
	for _, c := range candidates {
		want := propSeq(c.root)
		var d string
		if c.edited {
			d = diffSeq(nameSet(seq, plainString), nameSet(want, plainString))
		} else {
			if !relativeOrderOK(seq, want) {
				t.Errorf("%s: instance %q: properties not in the order of %s:\n sim %v\n cap %v", kind, key, c.name, seq, want)
			}
			d = diffSeq(seq, want)
		}
		if d == "" {
			match = true
		} else {
			diffs = append(diffs, c.name+": "+d)
		}
		for _, p := range inst.ChildElements() {
			if len(p.ChildElements()) == 0 {
				continue
			}
			cp := findChild(c.root, p.Tag)
			if cp == nil {
				continue
			}
			if d := diffSeq(structure(p), structure(cp)); d != "" {
				t.Errorf("%s: instance %q property %s differs from %s: %s", kind, key, p.Tag, c.name, d)
			}
		}
	}
	if !match {
		t.Errorf("%s: instance %q (%d properties) matches no capture:\n %s", kind, key, len(seq), strings.Join(diffs, "\n "))
	}
	checkValues(t, kind, inst, pool)
}

// conformanceIn runs the conformance checks on a device brought into a
// state: the read-only checks of every served class, then (st.methods)
// the Puts and method outputs.
func conformanceIn(t *testing.T, dir string, idx captureIndex, opts Options, st matrixState) {
	sim := startSim(t, opts)
	base := sim.URL()
	var tc *tls.Config
	if opts.HTTPPort < 0 {
		base, tc = sim.TLSURL(), &tls.Config{InsecureSkipVerify: true}
	}
	wc := newClientTLS(t, base, testUser, testPass, tc)
	d := sim.Devices()[0]
	major, _ := parseVersion(opts.Version)
	if st.setup != nil {
		st.setup(t, sim, wc)
	}

	for _, class := range classTable {
		t.Run(class.name, func(t *testing.T) {
			if !class.served(major[0]) {
				resp, data := wc.post(getReq(class.uri))
				requireFault(t, resp, data, "b:DestinationUnreachable")
				return
			}
			ic := class.instanceClass()
			gets := loadCaptures(t, dir, idx, class.name, "GetResponse__*.resp.xml")
			pulls := loadCaptures(t, dir, idx, class.name, "PullResponse__*.resp.xml")
			puts := loadCaptures(t, dir, idx, class.name, "PutResponse__*.resp.xml")
			enums := loadCaptures(t, dir, idx, class.name, "EnumerateResponse__*.resp.xml")
			if st.checked != nil {
				defer func() {
					if !t.Skipped() {
						st.checked.Add(1)
					}
				}()
			}
			if class.ops != nil {
				t.Skipf("%s is served by its family's unit; its own tests check it (System Defense: sysdefense_capture_test.go)", class.name)
			}
			if slices.Contains(protocolClasses, class) {
				t.Skipf("%s has no capture; TestProtocolClasses checks it against protocol.md", class.name)
			}
			if len(gets)+len(pulls) == 0 {
				t.Fatalf("no Get or Pull capture of %s in %s", class.name, dir)
			}
			// A class served from its captures serves, for each firmware
			// generation, the instance set of one capture: its pulls are
			// compared with that capture; instances of every class it
			// holds are checked against all the captures of that class.
			source, complete, instClasses, fromCapture := capturedSources(class, major[0])
			if fromCapture {
				var own []capture
				for _, c := range pulls {
					if class.name+"/"+c.name == source || c.name == source {
						own = append(own, c)
					}
				}
				pulls = own
			}

			// Pool of instance shapes by key. Put responses carry the same
			// representation as Get; an association queried through its
			// parent class returns the instances of its own captures.
			pool := instancePool{}
			pool.add(slices.Concat(gets, pulls, puts), class)
			if ic != class {
				pool.add(loadCaptures(t, dir, idx, ic.name, "GetResponse__*.resp.xml"), class)
				pool.add(loadCaptures(t, dir, idx, ic.name, "PullResponse__*.resp.xml"), class)
			}
			if class == classAssociatedPowerManagementService {
				// Its instances are also captured through the parent class.
				pool.add(loadCaptures(t, dir, idx, classServiceAvailableToElement.name, "PullResponse__*.resp.xml"), class)
			}
			for _, other := range instClasses {
				if other != class.name {
					pool.add(loadCaptures(t, dir, idx, other, "GetResponse__*.resp.xml"), class)
					pool.add(loadCaptures(t, dir, idx, other, "PullResponse__*.resp.xml"), class)
				}
			}
			_ = complete

			// Get every instance.
			var simInsts []*etree.Element
			if class.singleton {
				resp, data := wc.post(getReq(class.uri))
				require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
				simInsts = append(simInsts, parseDoc(t, data))
			} else {
				// Address each instance by all its keys; instances keyed
				// by references are read through the enumeration only.
				d.mu.Lock()
				var keys [][]sel
				for _, inst := range d.instancesOf(class.name) {
					var ks []sel
					for _, k := range class.keys {
						v, ok := inst.get(k)
						if !ok {
							ks = nil
							break
						}
						ks = append(ks, sel{k, v})
					}
					if ks != nil {
						keys = append(keys, ks)
					}
				}
				d.mu.Unlock()
				for _, k := range keys {
					resp, data := wc.post(getReq(class.uri, k...))
					require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
					simInsts = append(simInsts, parseDoc(t, data))
				}
			}
			for _, root := range simInsts {
				if insts := bodyInstances(root, class); len(insts) == 1 && insts[0].Tag != class.name && insts[0].Tag != ic.name {
					// An instance of a subclass read through its parent
					// class: only its own captures compare.
					checkInstance(t, "Get", insts[0], pool)
					continue
				}
				compareEnvelope(t, "Get", root, gets)
				body := find(root, soap.NSSOAP, "Body")
				for _, c := range gets {
					if d := compareNames(childNames(body), childNames(find(c.root, soap.NSSOAP, "Body")), c.edited); d != "" {
						t.Errorf("Get: body differs from %s: %s", c.name, d)
					}
				}
				insts := bodyInstances(root, class)
				require.Len(t, insts, 1)
				checkInstance(t, "Get", insts[0], pool)
			}

			// Enumerate and pull everything at once.
			resp, data := wc.post(enumerateReq(class.uri))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
			enumRoot := parseDoc(t, data)
			compareEnvelope(t, "Enumerate", enumRoot, enums)
			for _, c := range enums {
				if d := compareNames(structure(find(enumRoot, soap.NSSOAP, "Body")), structure(find(c.root, soap.NSSOAP, "Body")), c.edited); d != "" {
					t.Errorf("Enumerate: body differs from %s: %s", c.name, d)
				}
			}
			id := textOf(enumRoot, soap.NSEnum, "EnumerationContext")
			resp, data = wc.post(pullReq(class.uri, id, 999))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
			pullRoot := parseDoc(t, data)
			compareEnvelope(t, "Pull", pullRoot, pulls)
			pr := find(pullRoot, soap.NSEnum, "PullResponse")
			var simKeys []string
			for _, inst := range bodyInstances(pullRoot, class) {
				simKeys = append(simKeys, instanceKey(inst))
			}
			for _, c := range pulls {
				cpr := find(c.root, soap.NSEnum, "PullResponse")
				partial := partialPull(cpr)
				if partial {
					// The client stopped early; only the items it got
					// are comparable.
					if find(pr, soap.NSEnum, "Items") == nil {
						t.Errorf("Pull: no Items, %s has them", c.name)
					}
				} else if d := compareNames(childNames(pr), childNames(cpr), c.edited); d != "" {
					t.Errorf("Pull: PullResponse differs from %s: %s", c.name, d)
				}
				// Items of an EnumerateObjectAndEPR enumeration are wrapped
				// in wsman:Item; the simulator serves EnumerateObject.
				capItems := childNames(find(cpr, soap.NSEnum, "Items"))
				simItems := childNames(find(pr, soap.NSEnum, "Items"))
				if len(capItems) > 0 && capItems[0] != (qname{soap.NSWSMan, "Item"}) &&
					(len(simItems) == 0 || simItems[0] != capItems[0]) {
					t.Errorf("Pull: items are %v, %s has %v", simItems, c.name, capItems[0])
				}
				// Same instances, in the same order (as sets for edited
				// captures, as a prefix for partial ones).
				var capKeys []string
				for _, inst := range bodyInstances(c.root, class) {
					capKeys = append(capKeys, instanceKey(inst))
				}
				got := simKeys
				if partial && len(got) > len(capKeys) {
					got = got[:len(capKeys)]
				}
				var d string
				if c.edited {
					d = diffSeq(nameSet(got, plainString), nameSet(capKeys, plainString))
				} else {
					d = diffSeq(got, capKeys)
				}
				if d != "" {
					t.Errorf("Pull: instances differ from %s: %s", c.name, d)
				}
			}
			for _, inst := range bodyInstances(pullRoot, class) {
				checkInstance(t, "Pull", inst, pool)
			}
		})
	}

	if !st.methods {
		return
	}
	// Methods and Put, after the read-only checks since they change the
	// device.
	// Put of every class with a Put capture: the body each sends changes
	// a writable property (or echoes the instance).
	putCases := []struct {
		class *classDef
		body  string
	}{
		{classBootSettingData, `<r:UseSOL>true</r:UseSOL>`},
		{classRedirectionService, `<r:ListenerEnabled>true</r:ListenerEnabled>`},
		{classOptInService, `<r:OptInRequired>4294967295</r:OptInRequired>`},
	}
	for _, pc := range putCases {
		t.Run("PutResponse/"+pc.class.name, func(t *testing.T) {
			if !pc.class.served(major[0]) {
				t.Skipf("%s is not served by firmware %s", pc.class.name, opts.Version)
			}
			caps := loadCaptures(t, dir, idx, pc.class.name, "PutResponse__*.resp.xml")
			require.NotEmpty(t, caps)
			resp, data := wc.post(envelope(soap.ActPut, pc.class.uri, "7", nil,
				`<r:`+pc.class.name+` xmlns:r="`+pc.class.uri+`">`+pc.body+`</r:`+pc.class.name+`>`))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
			root := parseDoc(t, data)
			compareEnvelope(t, "Put", root, caps)
			pool := instancePool{}
			for _, pattern := range []string{"GetResponse__*.resp.xml", "PullResponse__*.resp.xml", "PutResponse__*.resp.xml"} {
				pool.add(loadCaptures(t, dir, idx, pc.class.name, pattern), pc.class)
			}
			insts := bodyInstances(root, pc.class)
			require.Len(t, insts, 1)
			checkInstance(t, "Put", insts[0], pool)
		})
	}

	type methodCase struct {
		class  *classDef
		method string
		topic  string // capture directory
		body   string
		want   string // ReturnValue; "" for 0
	}
	managed := `<h:ManagedElement xmlns:a="` + soap.NSAddr + `" xmlns:w="` + soap.NSWSMan + `"><a:Address>` + soap.URIAnon + `</a:Address><a:ReferenceParameters><w:ResourceURI>` + soap.PrefixCIM + `CIM_ComputerSystem</w:ResourceURI><w:SelectorSet><w:Selector Name="CreationClassName">CIM_ComputerSystem</w:Selector><w:Selector Name="Name">ManagedSystem</w:Selector></w:SelectorSet></a:ReferenceParameters></h:ManagedElement>`
	cases := []methodCase{
		{classPowerManagementService, "RequestPowerStateChange", "CIM_PowerManagementService",
			`<h:RequestPowerStateChange_INPUT xmlns:h="` + uriPowerService + `"><h:PowerState>10</h:PowerState>` + managed + `</h:RequestPowerStateChange_INPUT>`, ""},
		{classBootConfigSetting, "ChangeBootOrder", "CIM_BootConfigSetting",
			`<h:ChangeBootOrder_INPUT xmlns:h="` + uriBootConfigSetting + `"/>`, ""},
		{classBootService, "SetBootConfigRole", "CIM_BootService",
			`<h:SetBootConfigRole_INPUT xmlns:h="` + uriBootService + `">` + bootConfigRef("h") + `<h:Role>1</h:Role></h:SetBootConfigRole_INPUT>`, ""},
		{classIPSPowerManagementService, "RequestOSPowerSavingStateChange", "IPS_PowerManagementService",
			`<h:RequestOSPowerSavingStateChange_INPUT xmlns:h="` + uriIPSPowerService + `"><h:OSPowerSavingState>3</h:OSPowerSavingState>` + managed + `</h:RequestOSPowerSavingStateChange_INPUT>`, ""},
		{classRedirectionService, "RequestStateChange", "AMT_RedirectionService",
			`<h:RequestStateChange_INPUT xmlns:h="` + uriRedirectionService + `"><h:RequestedState>32771</h:RequestedState></h:RequestStateChange_INPUT>`, ""},
		// The captures answer a code sent, and a cancel, with no opt-in
		// in progress: PT_STATUS 2 (NOT_READY).
		{classOptInService, "SendOptInCode", "IPS_OptInService",
			`<h:SendOptInCode_INPUT xmlns:h="` + uriOptInService + `"><h:OptInCode>1</h:OptInCode></h:SendOptInCode_INPUT>`, "2"},
		{classOptInService, "CancelOptIn", "IPS_OptInService",
			`<h:CancelOptIn_INPUT xmlns:h="` + uriOptInService + `"></h:CancelOptIn_INPUT>`, "2"},
	}
	for _, mc := range cases {
		t.Run(mc.method+"_OUTPUT", func(t *testing.T) {
			if !mc.class.served(major[0]) {
				t.Skipf("%s is not served by firmware %s", mc.class.name, opts.Version)
			}
			caps := loadCaptures(t, dir, idx, mc.topic, mc.method+"*.resp.xml")
			require.NotEmpty(t, caps, "no capture of %s", mc.method)
			resp, data := wc.post(envelope(mc.class.uri+"/"+mc.method, mc.class.uri, "8", nil, mc.body))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
			root := parseDoc(t, data)
			require.Equal(t, cmp.Or(mc.want, "0"), textOf(root, mc.class.uri, "ReturnValue"), "%s", data)
			compareEnvelope(t, mc.method, root, caps)
			for _, c := range caps {
				if d := compareNames(structure(find(root, soap.NSSOAP, "Body")), structure(find(c.root, soap.NSSOAP, "Body")), c.edited); d != "" {
					t.Errorf("%s: body differs from %s: %s", mc.method, c.name, d)
				}
			}
		})
	}

	// After a request the power state keeps a property combination some
	// capture shows, in the captured order.
	t.Run("CIM_AssociatedPowerManagementService/after-request", func(t *testing.T) {
		require.NotEmpty(t, d.PowerRequests())
		resp, data := wc.post(getReq(classAssociatedPowerManagementService.uri))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		inst := bodyInstances(parseDoc(t, data), classAssociatedPowerManagementService)
		require.Len(t, inst, 1)
		seq := propSeq(inst[0])
		var combos [][]string
		for _, topic := range []string{"CIM_AssociatedPowerManagementService", "CIM_ServiceAvailableToElement"} {
			for _, pattern := range []string{"GetResponse__*.resp.xml", "PullResponse__*.resp.xml"} {
				for _, c := range loadCaptures(t, dir, idx, topic, pattern) {
					for _, ci := range bodyInstances(c.root, classAssociatedPowerManagementService) {
						combos = append(combos, propSeq(ci))
					}
				}
			}
		}
		require.NotEmpty(t, combos)
		assert.True(t, slices.ContainsFunc(combos, func(c []string) bool { return slices.Equal(c, seq) }),
			"%v is none of the captured combinations %v", seq, combos)
	})
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
	idx := realCaptures(t, dir)
	caps := loadCaptures(t, dir, idx, "Fault", "*.resp.xml")
	require.NotEmpty(t, caps)
	sim := startSim(t, plainOpts())
	wc := newClient(t, sim.URL(), testUser, testPass)
	resp, data := wc.post(getReq(soap.PrefixAMT + "AMT_NoSuchClass"))
	root := requireFault(t, resp, data, "b:DestinationUnreachable")
	compareEnvelope(t, "Fault", root, caps)
	for _, c := range caps {
		if d := diffSeq(structure(find(root, soap.NSSOAP, "Body")), structure(find(c.root, soap.NSSOAP, "Body"))); d != "" {
			t.Errorf("Fault: body differs from %s: %s", c.name, d)
		}
		if strings.Contains(c.name, "DestinationUnreachable") {
			require.Equal(t, textOf(c.root, soap.NSSOAP, "Text"), textOf(root, soap.NSSOAP, "Text"))
			require.Equal(t, textOf(c.root, soap.NSAddr, "Action"), textOf(root, soap.NSAddr, "Action"))
		}
	}
}
