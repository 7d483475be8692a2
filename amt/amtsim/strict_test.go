package amtsim

import (
	"net/http"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFaultDelayAnswer shows a request the device executes and answers
// after the client's deadline: one reset is recorded by the device while
// the client sees a timeout, and other requests are not delayed.
func TestFaultDelayAnswer(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, sim *Server) {
		d := sim.Devices()[0]
		wc := newClient(t, sim.URL(), testUser, testPass)
		// Log in first so that the short deadline covers only the call.
		resp, _ := wc.post(getReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		wc.hc.Timeout = 300 * time.Millisecond
		_, _, err := wc.tryPost(powerReq(powerReset))
		require.Error(t, err, "the answer comes after the client's deadline")
		assert.Equal(t, []int{powerReset}, d.PowerRequests(), "the device executed the change once")
		require.Len(t, d.Boots(), 1)
		assert.Equal(t, CauseReset, d.Boots()[0].Cause)
		assert.Equal(t, 1, d.Stats().Actions[uriPowerService+"/RequestPowerStateChange"])
		resp, _ = wc.post(getReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode, "other methods answer at once")
	}
	t.Run("Options", func(t *testing.T) {
		t.Parallel()
		opts := plainOpts()
		opts.FaultAnswerDelay = time.Minute // Close aborts it
		opts.FaultMethod = "RequestPowerStateChange"
		check(t, startSim(t, opts))
	})
	t.Run("InjectFault", func(t *testing.T) {
		t.Parallel()
		sim := startSim(t, plainOpts())
		sim.Devices()[0].InjectFault(Fault{Kind: FaultDelayAnswer, Action: "RequestPowerStateChange", Delay: time.Minute})
		check(t, sim)
	})
	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		_, err := New(Options{FaultMethod: "Get"})
		assert.ErrorContains(t, err, "fault method needs a fault answer delay")
		_, err = New(Options{FaultAnswerDelay: -time.Second})
		assert.Error(t, err)
		_, err = New(Options{FaultForgetNoncesEvery: -1})
		assert.Error(t, err)
	})
}

// TestForgetNonces shows a device dropping its nonces as firmware may: a
// correct digest reusing a forgotten nonce gets 401 stale="false", not
// counted as a failed login, and the fresh challenge works.
func TestForgetNonces(t *testing.T) {
	t.Parallel()
	t.Run("OnDemand", func(t *testing.T) {
		t.Parallel()
		opts := plainOpts()
		opts.LockoutAfter = 1 // a miscounted failure would lock the device
		sim := startSim(t, opts)
		d := sim.Devices()[0]
		c := newRawClient(t, sim.URL())
		chal := c.challenge()
		resp, _ := c.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, 1))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		d.ForgetNonces()
		resp, _ = c.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, 2))
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `stale="false"`)
		assert.Equal(t, 1, d.Stats().ForgottenNonces)
		assert.Equal(t, 0, d.Stats().FailedLogins)
		assert.False(t, d.LockedOut())
		// Forgotten stays forgotten, whatever the count.
		resp, _ = c.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, 3))
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		fresh := c.challenge()
		resp, _ = c.send(getReq(uriGeneral), authHeader(t, fresh, testUser, testPass, 1))
		require.Equal(t, http.StatusOK, resp.StatusCode)

		// Server.ForgetNonces does the same for every device.
		sim.ForgetNonces()
		resp, _ = c.send(getReq(uriGeneral), authHeader(t, fresh, testUser, testPass, 2))
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, 3, d.Stats().ForgottenNonces)
		assert.Equal(t, 0, d.Stats().FailedLogins)
	})
	t.Run("Every", func(t *testing.T) {
		t.Parallel()
		opts := plainOpts()
		opts.FaultForgetNoncesEvery = 2
		sim := startSim(t, opts)
		d := sim.Devices()[0]
		c := newRawClient(t, sim.URL())
		chal := c.challenge()
		resp, _ := c.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, 1))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, _ = c.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, 2))
		require.Equal(t, http.StatusOK, resp.StatusCode, "the second login is served, then the nonces are forgotten")
		resp, _ = c.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, 3))
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `stale="false"`)
		assert.Equal(t, 1, d.Stats().ForgottenNonces)

		// A library transport that retries on a fresh challenge keeps
		// working.
		d.SetForgetNoncesEvery(1)
		wc := newClient(t, sim.URL(), testUser, testPass)
		for range 3 {
			resp, _ := wc.post(getReq(uriGeneral))
			require.Equal(t, http.StatusOK, resp.StatusCode)
		}
		assert.Equal(t, 0, d.Stats().FailedLogins)
	})
}

// TestNonceCountRedirection refuses a redirection login that replays a
// nonce with the same nonce count, without counting a failed login.
func TestNonceCountRedirection(t *testing.T) {
	t.Parallel()
	sim := startSim(t, redirOpts())
	d := sim.Devices()[0]
	tc := dialConsole(t, d.RedirectAddr(), nil)
	st, err := tc.start("SOL ")
	require.NoError(t, err)
	require.Equal(t, byte(0), st)
	st, err = tc.login(4, testUser, testPass)
	require.NoError(t, err)
	require.Equal(t, byte(0), st)

	replay := func(nc string) byte {
		t.Helper()
		rc := dialConsole(t, d.RedirectAddr(), nil)
		st, err := rc.start("SOL ")
		require.NoError(t, err)
		require.Equal(t, byte(0), st)
		require.NoError(t, rc.write(authMsg(4, digestAnswer(4, testUser, testPass, tc.realm, tc.nonce, nc))))
		st, _, _, err = rc.authReply()
		require.NoError(t, err)
		return st
	}
	require.NoError(t, tc.write([]byte{0x12, 0, 0, 0})) // end the first session
	assert.NotEqual(t, byte(0), replay("00000002"), "the same count is refused")
	assert.NotEqual(t, byte(0), replay("00000001"), "a lower count is refused")
	assert.Equal(t, 2, d.Stats().RejectedNonceCounts)
	assert.Equal(t, 0, d.Stats().FailedLogins)
	assert.Equal(t, byte(0), replay("00000003"), "a higher count on a live nonce is accepted")
}

// TestMessageIDRequired answers a request without wsa:MessageID with
// wsa:MessageInformationHeaderRequired and executes nothing.
func TestMessageIDRequired(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	resp, data := wc.post(envelope(soap.ActGet, uriGeneral, "", nil, ""))
	requireFault(t, resp, data, "b:MessageInformationHeaderRequired")
	body := `<h:RequestPowerStateChange_INPUT xmlns:h="` + uriPowerService + `"><h:PowerState>10</h:PowerState>` +
		managedElementXML("h", "ManagedSystem") + `</h:RequestPowerStateChange_INPUT>`
	resp, data = wc.post(envelope(uriPowerService+"/RequestPowerStateChange", uriPowerService, "", nil, body))
	requireFault(t, resp, data, "b:MessageInformationHeaderRequired")
	assert.Empty(t, d.PowerRequests(), "nothing executed")
	assert.Empty(t, d.Boots())
	// Identify carries no addressing headers and needs none.
	resp, _ = newRawClient(t, sim.URL()).send(identifyBody, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestLockoutAcrossPorts counts failed logins per device across WS-Man
// HTTP, WS-Man TLS and both redirection ports.
func TestLockoutAcrossPorts(t *testing.T) {
	t.Parallel()
	opts := Options{LockoutAfter: 4, LockoutDuration: time.Minute}
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	tlsConf := pinned(sim.CertificateSHA256())
	wsLogin := func(url, pass string) int {
		t.Helper()
		resp, _, err := newClientTLS(t, url, testUser, pass, tlsConf).tryPost(getReq(uriGeneral))
		require.NoError(t, err)
		return resp.StatusCode
	}
	redirLogin := func(addr string, useTLS bool, pass string) byte {
		t.Helper()
		var tc *testConsole
		if useTLS {
			tc = dialConsole(t, addr, tlsConf)
		} else {
			tc = dialConsole(t, addr, nil)
		}
		st, err := tc.start("SOL ")
		require.NoError(t, err)
		require.Equal(t, byte(0), st)
		st, err = tc.login(4, testUser, pass)
		require.NoError(t, err)
		return st
	}
	require.Equal(t, http.StatusUnauthorized, wsLogin(sim.URL(), "wrong"))
	require.Equal(t, http.StatusUnauthorized, wsLogin(sim.TLSURL(), "wrong"))
	require.NotEqual(t, byte(0), redirLogin(d.RedirectAddr(), false, "wrong"))
	require.False(t, d.LockedOut(), "three failures of four")
	require.NotEqual(t, byte(0), redirLogin(d.RedirectTLSAddr(), true, "wrong"))
	require.True(t, d.LockedOut(), "the fourth failure, on the fourth port, locks the device")
	assert.Equal(t, 4, d.Stats().FailedLogins)

	// Every port refuses even the right password now.
	assert.Equal(t, http.StatusUnauthorized, wsLogin(sim.URL(), testPass))
	assert.Equal(t, http.StatusUnauthorized, wsLogin(sim.TLSURL(), testPass))
	assert.NotEqual(t, byte(0), redirLogin(d.RedirectAddr(), false, testPass))
	assert.NotEqual(t, byte(0), redirLogin(d.RedirectTLSAddr(), true, testPass))
	assert.Equal(t, 4, d.Stats().FailedLogins, "refusals during the lockout are not counted")
}

// TestPowerOnWhileOn answers power on (2) of a host that is on with 0 and
// changes nothing, as protocol.md says.
func TestPowerOnWhileOn(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.TransitionTime = time.Hour // nothing may be pending afterwards
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	require.Equal(t, rvOK, wc.returnValue(powerReq(powerOn)))
	assert.Equal(t, powerOn, d.PowerState())
	assert.Empty(t, d.PowerEvents())
	assert.Empty(t, d.Boots())
	assert.Equal(t, []int{powerOn}, d.PowerRequests())
	inst := wc.powerInstance()
	assert.Nil(t, find(inst, uriAPMS, "TransitioningToPowerState"), "no change in progress")
	require.Equal(t, rvOK, wc.returnValue(powerReq(powerReset)), "the device is free for the next change")
}
