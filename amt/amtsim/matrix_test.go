package amtsim

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// matrixState is one state of the conformance matrix: the options a
// device starts with and what is done to it before every served class is
// read and compared with the captures.
type matrixState struct {
	name    string
	opts    func(o *Options)
	setup   func(t *testing.T, sim *Server, wc *wsClient)
	methods bool          // also run the Put and method output checks
	checked *atomic.Int64 // counts the classes checked
}

// valueKind is the type of a property value as the captures show it.
type valueKind int

const (
	kindText valueKind = iota
	kindInt
	kindBool
	kindBase64
	kindDatetime
)

func (k valueKind) String() string {
	return [...]string{"text", "integer", "boolean", "base64", "datetime"}[k]
}

var (
	intRE    = regexp.MustCompile(`^-?[0-9]+$`)
	base64RE = regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`)
	// CIM datetimes as the captures write them: an xsd:dateTime, or the
	// CIM interval/time form yyyymmddhhmmss.mmmmmmsutc.
	datetimeRE = regexp.MustCompile(`^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?|[0-9]{14}\.[0-9]{6}[+-:][0-9]{3})$`)
)

// kindOf classifies one property element. Text that could be base64 is
// taken as base64 only when it is at least 8 characters long, a multiple
// of 4, and not all digits or letters of one case (so that names and
// numbers stay text).
func kindOf(p *etree.Element) valueKind {
	if len(p.ChildElements()) == 1 && p.ChildElements()[0].Tag == "Datetime" {
		return kindDatetime
	}
	v := strings.TrimSpace(p.Text())
	switch {
	case intRE.MatchString(v):
		return kindInt
	case v == "true" || v == "false":
		return kindBool
	case len(v) >= 8 && len(v)%4 == 0 && base64RE.MatchString(v) &&
		(strings.ContainsAny(v, "+/=") || (strings.ToLower(v) != v && strings.ToUpper(v) != v && strings.ContainsAny(v, "0123456789"))):
		return kindBase64
	}
	return kindText
}

// valueOK checks a simulator value against the kind its captures show.
func valueOK(k valueKind, p *etree.Element) bool {
	v := strings.TrimSpace(p.Text())
	switch k {
	case kindInt:
		return intRE.MatchString(v)
	case kindBool:
		return v == "true" || v == "false"
	case kindBase64:
		_, err := base64.StdEncoding.DecodeString(v)
		return err == nil
	case kindDatetime:
		dt := p.ChildElements()
		return len(dt) == 1 && dt[0].Tag == "Datetime" && datetimeRE.MatchString(strings.TrimSpace(dt[0].Text()))
	}
	return true
}

// enumRanges are the values protocol.md gives enumerated properties, by
// class and property ("" for any class).
var enumRanges = map[string]map[string][]int64{
	"CIM_AssociatedPowerManagementService": {
		// §2.2: PowerState and AvailableRequestedPowerStates share the
		// map (0 Unknown as the ME reports a lost state); the requested
		// state uses the shifted map 0..16 with 12 Not Applicable.
		"PowerState":                    intRange(0, 17),
		"AvailableRequestedPowerStates": intRange(1, 17),
		"RequestedPowerState":           intRange(0, 17),
	},
	"CIM_PowerManagementCapabilities": {
		"PowerStatesSupported": intRange(1, 17),
	},
	"IPS_PowerManagementService": {
		"OSPowerSavingState": {0, 1, 2, 3}, // §2.4
	},
	"AMT_SetupAndConfigurationService": {
		"ProvisioningState": {0, 1, 2},       // §5.5
		"ProvisioningMode":  {0, 1, 2, 3, 4}, // §5.5
		"PasswordModel":     {0, 1, 2},       // §5.5
	},
	"AMT_GeneralSettings": {
		"PreferredAddressFamily": {0, 1},    // §5.6
		"PrivacyLevel":           {0, 1, 2}, // §5.6
	},
	"AMT_EthernetPortSettings": {
		"WLANLinkProtectionLevel": {0, 1, 2, 3}, // §5.7
	},
	"AMT_RedirectionService": {
		"EnabledState": {32768, 32769, 32770, 32771}, // §3.5: 32768 + IDE-R bit + SOL bit
	},
	"CIM_KVMRedirectionSAP": {
		"EnabledState": {2, 3, 6}, // §3.5
	},
	"IPS_OptInService": {
		"OptInState":    {0, 1, 2, 3, 4},    // §3.6
		"OptInRequired": {0, 1, 4294967295}, // §3.6
	},
}

func intRange(from, to int64) []int64 {
	var out []int64
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

// checkValues holds the property values of a simulator instance against
// the types the captures of its class show (integer, boolean, base64,
// datetime; a property whose captures disagree is not checked) and
// against the enumerated ranges of protocol.md.
func checkValues(t *testing.T, kind string, inst *etree.Element, pool instancePool) {
	t.Helper()
	kinds := map[string]valueKind{}
	mixed := map[string]bool{}
	for _, caps := range pool {
		for _, c := range caps {
			if c.root.Tag != inst.Tag {
				continue
			}
			for _, p := range c.root.ChildElements() {
				if len(p.ChildElements()) > 0 && kindOf(p) != kindDatetime {
					continue // references are compared by structure
				}
				if strings.TrimSpace(p.Text()) == "" && len(p.ChildElements()) == 0 {
					continue
				}
				k := kindOf(p)
				if prev, ok := kinds[p.Tag]; ok && prev != k {
					mixed[p.Tag] = true
				}
				kinds[p.Tag] = k
			}
		}
	}
	ranges := enumRanges[inst.Tag]
	for _, p := range inst.ChildElements() {
		if k, ok := kinds[p.Tag]; ok && !mixed[p.Tag] && k != kindText {
			if strings.TrimSpace(p.Text()) == "" && len(p.ChildElements()) == 0 {
				continue
			}
			if !valueOK(k, p) {
				t.Errorf("%s: %s.%s = %q is not a %s as its captures show", kind, inst.Tag, p.Tag, p.Text(), k)
			}
		}
		if r, ok := ranges[p.Tag]; ok {
			n, err := strconv.ParseInt(strings.TrimSpace(p.Text()), 10, 64)
			if err != nil || !containsInt(r, n) {
				t.Errorf("%s: %s.%s = %q is outside the values protocol.md gives", kind, inst.Tag, p.Tag, p.Text())
			}
		}
	}
}

func containsInt(list []int64, v int64) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// bootSettingsPutAsAmtkit writes AMT_BootSettingData back whole with the
// IDE-R CD boot options set, as the power and redirect packages do (a
// read-modify-write of the instance the device returned).
func bootSettingsPutAsAmtkit(t *testing.T, wc *wsClient) {
	t.Helper()
	resp, data := wc.post(getReq(uriBootSettingData))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	inst := find(parseDoc(t, data), uriBootSettingData, "AMT_BootSettingData")
	require.NotNil(t, inst)
	set := map[string]string{"UseIDER": "true", "IDERBootDevice": "1", "BootMediaIndex": "0", "FirmwareVerbosity": "0"}
	var b strings.Builder
	for _, p := range inst.ChildElements() {
		if len(p.ChildElements()) > 0 {
			continue
		}
		v := p.Text()
		if nv, ok := set[p.Tag]; ok {
			v = nv
		}
		b.WriteString(`<r:` + p.Tag + `>` + esc(v) + `</r:` + p.Tag + `>`)
	}
	resp, data = wc.post(bootPutReq(b.String()))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
}

// openIDER starts an IDE-R session on the device's redirection port.
func openIDER(t *testing.T, sim *Server, wc *wsClient) *testConsole {
	t.Helper()
	armIDER(t, wc, 1)
	d := sim.Devices()[0]
	tc := dialConsole(t, d.RedirectAddr(), nil)
	tc.session("IDER", 4)
	require.True(t, d.RedirectionSessionOpen())
	return tc
}

// matrixStates are the states of the conformance matrix besides the
// firmware versions (each version is a state of its own, with the method
// checks).
func matrixStates() []matrixState {
	power := func(ps int) func(o *Options) { return func(o *Options) { o.PowerState = ps } }
	return []matrixState{
		{name: "power-on", opts: power(powerOn)},
		{name: "power-off", opts: power(powerOff)},
		{name: "sleep", opts: power(powerSleep)},
		{name: "hibernate", opts: power(powerHibernate)},
		{name: "ACM", opts: func(o *Options) { o.ProvisioningMode = 1 }},
		{name: "CCM", opts: func(o *Options) { o.ProvisioningMode = 4 }},
		{name: "unprovisioned", opts: func(o *Options) { o.ProvisioningState = -1 }},
		{name: "TLS-only", opts: func(o *Options) { o.HTTPPort, o.TLSPort = -1, 0 }},
		{name: "after-Put-AMT_BootSettingData", setup: func(t *testing.T, _ *Server, wc *wsClient) { bootSettingsPutAsAmtkit(t, wc) }},
		{name: "after-Put-AMT_RedirectionService-listener-off", setup: func(t *testing.T, _ *Server, wc *wsClient) {
			resp, data := wc.post(redirPutReq(redirStateAll, false))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		}},
		{name: "after-Put-AMT_RedirectionService-listener-on", setup: func(t *testing.T, _ *Server, wc *wsClient) {
			resp, data := wc.post(redirPutReq(redirStateAll, false))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
			resp, data = wc.post(redirPutReq(redirStateAll, true))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		}},
		{name: "after-one-time-boot", setup: func(t *testing.T, sim *Server, wc *wsClient) {
			require.Equal(t, 0, wc.returnValue(changeBootOrderReq(sourcePXE)))
			require.Equal(t, 0, wc.returnValue(setRoleReq(roleIsNextSingleUse)))
			n := len(sim.Devices()[0].Boots())
			require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
			require.Len(t, sim.Devices()[0].Boots(), n+1)
		}},
		{name: "during-IDE-R", setup: func(t *testing.T, sim *Server, wc *wsClient) { openIDER(t, sim, wc) }},
		{name: "after-IDE-R", setup: func(t *testing.T, sim *Server, wc *wsClient) {
			tc := openIDER(t, sim, wc)
			tc.c.Close()
			d := sim.Devices()[0]
			require.Eventually(t, func() bool { return !d.RedirectionSessionOpen() }, 5*time.Second, 5*time.Millisecond)
		}},
		{name: "consent-pending", opts: func(o *Options) { o.ProvisioningMode = 4 }, setup: func(t *testing.T, sim *Server, wc *wsClient) {
			require.Equal(t, 0, wc.returnValue(optInReq("StartOptIn", "")))
			require.Equal(t, optInDisplayed, sim.Devices()[0].OptInState())
		}},
	}
}

// matrixVersion is the firmware of the non-version states: the newest in
// the recordings, which serves every class.
const matrixVersion = "16.1.27.2176"

// TestConformanceMatrix runs the conformance checks (property names,
// namespaces and order against the captures, value types against the
// captures' and enumerated values against protocol.md) for every served
// class in every state: each firmware version (with the Put and method
// output checks), power on, off, sleep and hibernate, ACM, CCM,
// unprovisioned, TLS-only, after each Put amtkit sends, after a one-time
// boot, during and after an IDE-R session and with consent pending.
func TestConformanceMatrix(t *testing.T) {
	dir := recordingsDir(t)
	idx := realCaptures(t, dir)
	var checked atomic.Int64
	states := 0
	// The states run in parallel inside one group, so that the count is
	// read once they have all finished.
	t.Run("states", func(t *testing.T) {
		for i, version := range conformanceVersions {
			states++
			t.Run(version, func(t *testing.T) {
				t.Parallel()
				opts := Options{Addr: "127.143.0." + strconv.Itoa(i+1), TLSPort: -1, RedirectTLSPort: -1, Version: version}
				conformanceIn(t, dir, idx, opts, matrixState{methods: true, checked: &checked})
			})
		}
		for i, st := range matrixStates() {
			states++
			st.checked = &checked
			t.Run(st.name, func(t *testing.T) {
				t.Parallel()
				opts := Options{Addr: "127.143.1." + strconv.Itoa(i+1), TLSPort: -1, RedirectTLSPort: -1, Version: matrixVersion,
					RedirectKeepAlive: 15 * time.Millisecond}
				if st.opts != nil {
					st.opts(&opts)
				}
				conformanceIn(t, dir, idx, opts, st)
			})
		}
	})
	t.Logf("conformance matrix: %d states, %d state x class checks", states, checked.Load())
	if !t.Failed() {
		assert.GreaterOrEqual(t, checked.Load(), int64(states*60), "every state checks the served classes")
	}
}
