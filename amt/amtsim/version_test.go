package amtsim

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// capturedVersions maps the firmware evidence of the recordings to the
// full version a device is started with (the build numbers are those the
// same captures report).
var capturedVersions = map[string]string{
	"8.1.71":       "8.1.71.3608",
	"11.8.50.3425": "11.8.50.3425",
	"12.0.67":      "12.0.67.1579",
	"15.0.23.1706": "15.0.23.1706",
}

// TestPropertySetsByVersion: for every Get or Pull capture whose firmware
// version the recordings know (provenance.json), a device of that version
// (and provisioning state, from the realm) answers each instance the
// capture holds with exactly the capture's property names in its order:
// property sets are chosen by firmware version, not matched against any
// capture of any version.
func TestPropertySetsByVersion(t *testing.T) {
	t.Parallel()
	dir := recordingsDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "provenance.json"))
	require.NoError(t, err)
	var prov map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &prov))
	type entry struct {
		File        string     `json:"file"`
		Action      string     `json:"action"`
		FW          [][]string `json:"fw"`
		DigestRealm *string    `json:"digest_realm"`
	}
	checked := 0
	n := 0
	for _, v := range prov {
		var entries []entry
		if json.Unmarshal(v, &entries) != nil {
			continue
		}
		for _, e := range entries {
			if len(e.FW) == 0 || (e.Action != "GetResponse" && e.Action != "PullResponse") {
				continue
			}
			version := capturedVersions[e.FW[0][1]]
			require.NotEmpty(t, version, "%s: firmware %v has no version to start a device with", e.File, e.FW)
			topic := filepath.Dir(e.File)
			class := classByURI[capturedURI(topic)]
			require.NotNil(t, class, "%s is served", topic)
			n++
			t.Run(e.File, func(t *testing.T) {
				opts := Options{Addr: "127.145.0." + itoa(n), TLSPort: -1, RedirectTLSPort: -1, Version: version}
				if e.DigestRealm != nil && strings.HasSuffix(*e.DigestRealm, strings.Repeat("0", 28)) {
					opts.ProvisioningState = -1
				}
				sim := startSim(t, opts)
				wc := newClient(t, sim.URL(), testUser, testPass)
				capRoot := captureDoc(t, e.File)
				var simInsts = map[string][]string{}
				if e.Action == "GetResponse" {
					capInsts := bodyInstances(capRoot, class)
					require.Len(t, capInsts, 1)
					var sels []sel
					if !class.singleton {
						for _, k := range class.keys {
							sels = append(sels, sel{k, textOf(capInsts[0], class.uri, k)})
						}
					}
					resp, data := wc.post(getReq(class.uri, sels...))
					require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
					for _, in := range bodyInstances(parseDoc(t, data), class) {
						simInsts[instanceKey(in)] = propSeq(in)
					}
				} else {
					resp, data := wc.post(enumerateReq(class.uri))
					require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
					resp, data = wc.post(pullReq(class.uri, textOf(parseDoc(t, data), soap.NSEnum, "EnumerationContext"), 999))
					require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
					for _, in := range bodyInstances(parseDoc(t, data), class) {
						simInsts[instanceKey(in)] = propSeq(in)
					}
				}
				for _, in := range bodyInstances(capRoot, class) {
					key := instanceKey(in)
					got, ok := simInsts[key]
					if assert.True(t, ok, "%s: no instance %q at %s", e.File, key, version) {
						assert.Equal(t, propSeq(in), got, "%s: instance %q at %s", e.File, key, version)
						checked++
					}
				}
			})
		}
	}
	t.Logf("%d instances of %d version-known captures compared with a device of their version", checked, n)
	assert.GreaterOrEqual(t, n, 6)
}
