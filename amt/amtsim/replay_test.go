package amtsim

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/beevik/etree"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replayExplained are the recorded requests amtsim answers otherwise than
// the recordings show, each with why: none is a behaviour amtsim lacks.
// Every other recorded request with a recorded answer must agree, and
// each listed one must still disagree (so that the list is kept exact).
var replayExplained = map[string]string{
	// A library's fixture, not a recorded exchange (PROVENANCE.md:
	// library-generated), echoing read-only values of another machine
	// (RPEEnabled, WinREBootEnabled, ... false where this device reports
	// true); the responses filed beside it are older fixtures, not its
	// answer. protocol.md: read-only fields in a Put are refused
	// (wxf:InvalidRepresentation), and firmware rejects the full struct
	// unless it echoes them as read.
	"AMT_BootSettingData/Put__gwm__1.req.xml": "d:InvalidRepresentation",
	// A library's fixture echoing another machine's MACAddress, a
	// read-only value: refused as protocol.md says.
	"AMT_EthernetPortSettings/Put__mps__1.req.xml": "d:InvalidRepresentation",
	// Deletes the rule "User Initiated", which the device the recording
	// came from held; the captured rule of the simulated device is
	// "Periodic" (its Delete is served: TestRemoteAccessPolicyRuleDelete).
	"AMT_RemoteAccessPolicyRule/Delete__mps__1.req.xml": "e:InvalidSelectors",
}

var enumCtxRE = regexp.MustCompile(`(<(?:[A-Za-z0-9]+:)?EnumerationContext[^>]*>)[^<]*(</)`)

// TestReplayRecordedRequests sends every recorded request (*.req.xml) to
// amtsim and compares the kind of answer with the recordings: success
// where the topic holds a response to the action, the fault where a fault
// is recorded for it. Pull and Release get the context of a fresh
// Enumerate of the same class. Requests whose answer the recordings do not
// show are counted apart.
func TestReplayRecordedRequests(t *testing.T) {
	dir := recordingsDir(t)
	reqs, err := filepath.Glob(filepath.Join(dir, "*", "*.req.xml"))
	require.NoError(t, err)
	sort.Strings(reqs)
	require.NotEmpty(t, reqs)

	opts := plainOpts()
	opts.Version = "16.1.27.2176"
	opts.PowerState = powerOn
	sim := startSim(t, opts)
	wc := newClient(t, sim.URL(), testUser, testPass)

	var replayed, agree, explained, unknown int
	var disagree []string
	for _, path := range reqs {
		topic := filepath.Base(filepath.Dir(path))
		action, _, _ := strings.Cut(filepath.Base(path), "__")
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		doc := etree.NewDocument()
		if doc.ReadFromBytes(raw) != nil || doc.Root() == nil {
			continue // not an envelope (e.g. a firmware-originated event)
		}
		resURI := ""
		if e := doc.FindElement("//ResourceURI"); e != nil {
			resURI = strings.TrimSpace(e.Text())
		}
		if action == "Event" || resURI == "" {
			continue // sent by firmware, not to it
		}
		body := raw
		if action == "Pull" || action == "Release" {
			// The context comes from the recorded Enumerate of the same
			// session when there is one, else from a plain Enumerate.
			enum := enumerateReq(resURI)
			_, rest, _ := strings.Cut(filepath.Base(path), "__")
			if rec, err := os.ReadFile(filepath.Join(dir, topic, "Enumerate__"+rest)); err == nil {
				enum = string(rec)
			}
			resp, data := wc.post(enum)
			if resp.StatusCode == http.StatusOK {
				ctx := textOf(parseDoc(t, data), soap.NSEnum, "EnumerationContext")
				body = enumCtxRE.ReplaceAll(raw, []byte("${1}"+ctx+"${2}"))
			}
		}
		resp, data, err := wc.tryPost(string(body))
		require.NoError(t, err, path)
		replayed++
		got := "success"
		if resp.StatusCode != http.StatusOK {
			got = "fault"
			if sub := faultSubcode(data); sub != "" {
				got = "fault " + sub
			}
		}
		okResp, _ := filepath.Glob(filepath.Join(dir, topic, action+"Response__*.resp.xml"))
		var want string
		switch {
		case len(okResp) > 0:
			want = "success"
		default:
			unknown++
			continue
		}
		if got == want {
			agree++
			continue
		}
		name := topic + "/" + filepath.Base(path)
		if sub, ok := replayExplained[name]; ok && got == "fault "+sub {
			explained++
			continue
		}
		disagree = append(disagree, name+": recorded "+want+", amtsim "+got)
	}
	t.Logf("replayed %d recorded requests: %d agree with the recordings, %d disagree for the reasons replayExplained gives, %d without a recorded answer",
		replayed, agree, explained, unknown)
	assert.Empty(t, disagree, "recorded requests amtsim answers otherwise than the recordings show")
	assert.Equal(t, len(replayExplained), explained, "replayExplained lists requests that no longer disagree as it says")
}

// faultSubcode returns the prefixed subcode of a fault envelope.
func faultSubcode(data []byte) string {
	doc := etree.NewDocument()
	if doc.ReadFromBytes(bytes.TrimSpace(data)) != nil {
		return ""
	}
	if e := doc.FindElement("//Subcode/Value"); e != nil {
		return e.Text()
	}
	return ""
}
