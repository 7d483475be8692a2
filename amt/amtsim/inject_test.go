package amtsim

import (
	"net/http"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/beevik/etree"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func hostPut(name string) string {
	return envelope(soap.ActPut, uriGeneral, "1", nil,
		`<g:AMT_GeneralSettings xmlns:g="`+uriGeneral+`"><g:HostName>`+name+`</g:HostName></g:AMT_GeneralSettings>`)
}

func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)

	t.Run("Delay", func(t *testing.T) {
		const delay = 150 * time.Millisecond
		d.InjectFault(Fault{Kind: FaultDelay, Action: "Get", Delay: delay, Times: 1})
		start := time.Now()
		resp, _ := wc.post(getReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.GreaterOrEqual(t, time.Since(start), delay)
	})
	t.Run("Status", func(t *testing.T) {
		before := d.Stats().Actions[soap.ActGet]
		d.InjectFault(Fault{Kind: FaultStatus, Status: http.StatusServiceUnavailable, Times: 2})
		for range 2 {
			resp, _ := wc.post(getReq(uriGeneral))
			require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.NotEmpty(t, resp.Header.Get("Server"))
		}
		assert.Equal(t, before, d.Stats().Actions[soap.ActGet], "not executed")
		resp, _ := wc.post(getReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode, "Times exhausted")
	})
	t.Run("ResetAfterRequest", func(t *testing.T) {
		d.InjectFault(Fault{Kind: FaultResetAfterRequest, Action: soap.ActPut, Times: 1})
		_, _, err := wc.tryPost(hostPut("after-reset"))
		require.Error(t, err)
		assert.Equal(t, "after-reset", d.Hostname(), "executed before the reset")
		assert.Equal(t, 1, d.Stats().Actions[soap.ActPut])
	})
	t.Run("ResetMidResponse", func(t *testing.T) {
		d.InjectFault(Fault{Kind: FaultResetMidResponse, Action: "Put", Times: 1})
		resp, _, err := wc.tryPost(hostPut("mid-reset"))
		require.Error(t, err)
		if resp != nil {
			assert.Equal(t, http.StatusOK, resp.StatusCode, "status line and headers arrive")
		}
		assert.Equal(t, "mid-reset", d.Hostname())
	})
	t.Run("MalformedBody", func(t *testing.T) {
		d.InjectFault(Fault{Kind: FaultMalformedBody, Times: 1})
		resp, data := wc.post(getReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotEmpty(t, data)
		assert.Error(t, etree.NewDocument().ReadFromBytes(data))
	})
	t.Run("MatchingAndClear", func(t *testing.T) {
		d.InjectFault(Fault{Kind: FaultStatus, Status: 500, Action: "Enumerate"})
		resp, _ := wc.post(getReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode, "other actions unaffected")
		for range 3 {
			resp, _ = wc.post(enumerateReq(uriGeneral))
			require.Equal(t, http.StatusInternalServerError, resp.StatusCode, "Times 0 means every time")
		}
		d.ClearFaults()
		resp, _ = wc.post(enumerateReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})
	t.Run("OnlyAfterAuthentication", func(t *testing.T) {
		d.InjectFault(Fault{Kind: FaultStatus, Status: 500})
		defer d.ClearFaults()
		raw := newRawClient(t, sim.URL())
		resp, _ := raw.send(getReq(uriGeneral), "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		resp, _ = wc.post(getReq(uriGeneral))
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	})
}

func TestCloseAbortsDelay(t *testing.T) {
	t.Parallel()
	sim, err := New(plainOpts())
	require.NoError(t, err)
	sim.Devices()[0].InjectFault(Fault{Kind: FaultDelay, Delay: time.Hour})
	wc := newClient(t, sim.URL(), testUser, testPass)
	done := make(chan error, 1)
	go func() {
		_, _, err := wc.tryPost(getReq(uriGeneral))
		done <- err
	}()
	require.Eventually(t, func() bool { return sim.Devices()[0].Stats().Authenticated == 1 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, sim.Close())
	require.Error(t, <-done)
}
