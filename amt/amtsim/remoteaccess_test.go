package amtsim

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
)

// pulled enumerates a class and returns its items' elements.
func pulled(t *testing.T, wc *wsClient, class string) int {
	t.Helper()
	uri := capturedURI(class)
	resp, data := wc.post(enumerateReq(uri))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	ctx := textOf(parseDoc(t, data), soap.NSEnum, "EnumerationContext")
	resp, data = wc.post(pullReq(uri, ctx, 20))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	return len(findAll(parseDoc(t, data), uri, class))
}

// TestUserInitiatedConnectionStateChange: RequestStateChange sets
// EnabledState within 32768..32771 and returns 0, as the captures show;
// anything else returns 5 and changes nothing.
func TestUserInitiatedConnectionStateChange(t *testing.T) {
	opts := plainOpts()
	opts.Version = "16.1.27.2176"
	sim := startSim(t, opts)
	wc := newClient(t, sim.URL(), testUser, testPass)
	const class = "AMT_UserInitiatedConnectionService"
	state := func() string {
		resp, data := wc.post(getReq(capturedURI(class)))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		return textOf(parseDoc(t, data), capturedURI(class), "EnabledState")
	}
	require.Equal(t, "32771", state(), "as captured")
	for _, tc := range []struct{ body, rv, state string }{
		{"<h:RequestedState>32769</h:RequestedState>", "0", "32769"},
		{"<h:RequestedState>32768</h:RequestedState>", "0", "32768"},
		{"<h:RequestedState>2</h:RequestedState>", "5", "32768"},
		{"<h:RequestedState>32772</h:RequestedState>", "5", "32768"},
		{"", "5", "32768"},
		{"<h:RequestedState>32771</h:RequestedState>", "0", "32771"},
	} {
		resp, data := wc.post(invokeReq(class, "RequestStateChange", tc.body))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		root := parseDoc(t, data)
		assert.Equal(t, capturedURI(class)+"/RequestStateChangeResponse", textOf(root, soap.NSAddr, "Action"))
		assert.Equal(t, []string{tc.rv}, outputValues(root, class, "ReturnValue"), tc.body)
		assert.Equal(t, tc.state, state(), tc.body)
	}
}

// TestRemoteAccessPolicyRuleDelete: a Delete naming the rule by
// PolicyRuleName (as the recorded Delete does) removes it and its links
// to the management presence servers; a rule the device does not hold,
// or a selector that is not a key, is w:InvalidSelectors.
func TestRemoteAccessPolicyRuleDelete(t *testing.T) {
	opts := plainOpts()
	opts.Version = "16.1.27.2176"
	sim := startSim(t, opts)
	wc := newClient(t, sim.URL(), testUser, testPass)
	const rule, link = "AMT_RemoteAccessPolicyRule", "AMT_RemoteAccessPolicyAppliesToMPS"
	require.Equal(t, 1, pulled(t, wc, rule), "the captured Periodic rule")
	require.Equal(t, 1, pulled(t, wc, link))
	del := func(sels ...sel) (*http.Response, []byte) {
		return wc.post(envelope(soap.ActDelete, capturedURI(rule), "5", sels, ""))
	}
	resp, data := del(sel{"PolicyRuleName", "User Initiated"})
	requireFault(t, resp, data, "e:InvalidSelectors")
	resp, data = del(sel{"InstanceID", "Periodic"})
	requireFault(t, resp, data, "e:InvalidSelectors")
	resp, data = del(sel{"SystemName", "Intel(r) AMT"})
	requireFault(t, resp, data, "e:InvalidSelectors")
	resp, data = del(sel{"PolicyRuleName", "Periodic"}, sel{"SystemName", "another"})
	requireFault(t, resp, data, "e:InvalidSelectors")
	require.Equal(t, 1, pulled(t, wc, rule), "nothing deleted by a refused Delete")

	resp, data = del(sel{"PolicyRuleName", "Periodic"})
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	root := parseDoc(t, data)
	assert.Equal(t, soap.ActDelete+"Response", textOf(root, soap.NSAddr, "Action"))
	assert.Empty(t, find(root, soap.NSSOAP, "Body").ChildElements(), "the empty DeleteResponse body the captures show")
	assert.Equal(t, 0, pulled(t, wc, rule))
	assert.Equal(t, 0, pulled(t, wc, link), "the policy's links go with it")
	resp, data = del(sel{"PolicyRuleName", "Periodic"})
	requireFault(t, resp, data, "e:InvalidSelectors")
}

// TestRemoteAccessPolicyAppliesToMPSPut: the recorded Put (no selectors,
// the link's references echoed) sets MpsType and OrderOfAccess and
// answers the link; a reference to another rule, or an MpsType outside
// 0..2, is refused and changes nothing.
func TestRemoteAccessPolicyAppliesToMPSPut(t *testing.T) {
	dir := recordingsDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "AMT_RemoteAccessPolicyAppliesToMPS", "Put__rps__1.req.xml"))
	require.NoError(t, err)
	put := string(raw)
	opts := plainOpts()
	opts.Version = "16.1.27.2176"
	sim := startSim(t, opts)
	wc := newClient(t, sim.URL(), testUser, testPass)
	const class = "AMT_RemoteAccessPolicyAppliesToMPS"
	uri := capturedURI(class)
	mpsType := func() string {
		resp, data := wc.post(getReq(uri))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		return textOf(parseDoc(t, data), uri, "MpsType")
	}
	require.Equal(t, "0", mpsType(), "as captured")

	resp, data := wc.post(put)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	root := parseDoc(t, data)
	assert.Equal(t, soap.ActPut+"Response", textOf(root, soap.NSAddr, "Action"))
	assert.Equal(t, "2", textOf(root, uri, "MpsType"), "the PutResponse is the link as set")
	assert.Equal(t, "2", mpsType())

	other := strings.Replace(strings.Replace(put, "<h:MpsType>2<", "<h:MpsType>1<", 1),
		`<w:Selector Name="PolicyRuleName">Periodic<`, `<w:Selector Name="PolicyRuleName">Alert<`, 1)
	require.NotEqual(t, put, other)
	resp, data = wc.post(other)
	requireFault(t, resp, data, "d:InvalidRepresentation")
	for _, bad := range []string{
		strings.Replace(put, "<h:MpsType>2<", "<h:MpsType>3<", 1),
		strings.Replace(put, "<h:OrderOfAccess>0<", "<h:OrderOfAccess>first<", 1),
		strings.Replace(put, "<h:MpsType>2</h:MpsType>", "<h:MpsType>1</h:MpsType><h:MpsType>1</h:MpsType>", 1),
	} {
		require.NotEqual(t, put, bad)
		resp, data = wc.post(bad)
		requireFault(t, resp, data, "e:SchemaValidationError")
	}
	assert.Equal(t, "2", mpsType(), "a refused Put changes nothing")
}
