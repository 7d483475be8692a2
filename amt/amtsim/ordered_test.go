package amtsim

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWildcardBootOrder replays the dashcli session's association
// enumeration of the boot order and compares the answers with the
// captures: envelope, body structure (names and order, EPR nesting) and
// the ordered components' values; after ChangeBootOrder the selected
// source comes first. An unfiltered Enumerate is refused.
func TestWildcardBootOrder(t *testing.T) {
	t.Parallel()
	dir := recordingsDir(t)
	idx := realCaptures(t, dir)
	topic := "CIM_OrderedComponent__via_wildcard_association"
	sim := startSim(t, Options{Addr: "127.144.0.1", TLSPort: -1, RedirectTLSPort: -1})
	wc := newClient(t, sim.URL(), testUser, testPass)
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, topic, name))
		require.NoError(t, err)
		return string(data)
	}
	pullOrder := func() []string {
		resp, data := wc.post(read("Enumerate__goamt__1.req.xml"))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		root := parseDoc(t, data)
		compareEnvelope(t, "Enumerate", root, loadCaptures(t, dir, idx, topic, "EnumerateResponse__*.resp.xml"))
		ctx := textOf(root, soap.NSEnum, "EnumerationContext")
		resp, data = wc.post(string(enumCtxRE.ReplaceAll([]byte(read("Pull__goamt__1.req.xml")), []byte("${1}"+ctx+"${2}"))))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		root = parseDoc(t, data)
		caps := loadCaptures(t, dir, idx, topic, "PullResponse__*.resp.xml")
		require.NotEmpty(t, caps)
		compareEnvelope(t, "Pull", root, caps)
		for _, c := range caps {
			assert.Empty(t, diffSeq(structure(find(root, soap.NSSOAP, "Body")), structure(find(c.root, soap.NSSOAP, "Body"))), "Pull body as %s", c.name)
		}
		var order []string
		for _, oc := range findAll(root, uriOrderedComponent, "CIM_OrderedComponent") {
			part := find(oc, uriOrderedComponent, "PartComponent")
			order = append(order, textOf(oc, uriOrderedComponent, "AssignedSequence")+" "+find(part, soap.NSWSMan, "Selector").Text())
		}
		return order
	}
	assert.Equal(t, []string{"1 " + sourceHDD, "2 " + sourcePXE}, pullOrder(), "the captured order")
	require.Equal(t, 0, wc.returnValue(changeBootOrderReq(sourcePXE)))
	assert.Equal(t, []string{"1 " + sourcePXE, "2 " + sourceHDD}, pullOrder(), "the selected source first")

	resp, data := wc.post(enumerateReq(uriCIMWildcard))
	requireFault(t, resp, data, "e:UnsupportedFeature")
	resp, data = wc.post(getReq(uriCIMWildcard))
	requireFault(t, resp, data, "b:ActionNotSupported")
}
