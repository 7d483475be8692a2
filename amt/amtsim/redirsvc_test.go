package amtsim

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func redirStateReq(state string) string {
	body := `<h:RequestStateChange_INPUT xmlns:h="` + uriRedirectionService + `">`
	if state != "" {
		body += `<h:RequestedState>` + state + `</h:RequestedState>`
	}
	return envelope(uriRedirectionService+"/RequestStateChange", uriRedirectionService, "20", nil, body+`</h:RequestStateChange_INPUT>`)
}

func terminateReq(typ int) string {
	return envelope(uriRedirectionService+"/TerminateSession", uriRedirectionService, "21", nil,
		`<h:TerminateSession_INPUT xmlns:h="`+uriRedirectionService+`"><h:SessionType>`+strconv.Itoa(typ)+`</h:SessionType></h:TerminateSession_INPUT>`)
}

// redirPutReq is a Put of the whole instance as read back, with the given
// ListenerEnabled and EnabledState.
func redirPutReq(state int, listener bool) string {
	return envelope(soap.ActPut, uriRedirectionService, "22", nil, `<r:AMT_RedirectionService xmlns:r="`+uriRedirectionService+`">`+
		`<r:CreationClassName>AMT_RedirectionService</r:CreationClassName><r:ElementName>Intel(r) AMT Redirection Service</r:ElementName>`+
		`<r:EnabledState>`+strconv.Itoa(state)+`</r:EnabledState><r:ListenerEnabled>`+strconv.FormatBool(listener)+`</r:ListenerEnabled>`+
		`<r:Name>Intel(r) AMT Redirection Service</r:Name><r:SystemCreationClassName>CIM_ComputerSystem</r:SystemCreationClassName>`+
		`<r:SystemName>Intel(r) AMT</r:SystemName></r:AMT_RedirectionService>`)
}

func optInReq(method, body string) string {
	return envelope(uriOptInService+"/"+method, uriOptInService, "23", nil,
		`<h:`+method+`_INPUT xmlns:h="`+uriOptInService+`">`+body+`</h:`+method+`_INPUT>`)
}

func sendCodeReq(code string) string {
	return optInReq("SendOptInCode", `<h:OptInCode>`+code+`</h:OptInCode>`)
}

// startStatus dials the redirection port and returns the status of
// StartRedirectionSession for tag.
func startStatus(t *testing.T, d *Device, tag string) byte {
	t.Helper()
	tc := dialConsole(t, d.RedirectAddr(), nil)
	st, err := tc.start(tag)
	require.NoError(t, err)
	tc.c.Close()
	return st
}

func getProp(t *testing.T, wc *wsClient, uri, class, name string) string {
	t.Helper()
	resp, data := wc.post(getReq(uri))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	return textOf(find(parseDoc(t, data), uri, class), uri, name)
}

func TestRedirectionServiceStates(t *testing.T) {
	t.Parallel()
	sim := startSim(t, redirOpts())
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	prop := func(name string) string { return getProp(t, wc, uriRedirectionService, "AMT_RedirectionService", name) }

	assert.Equal(t, "32771", prop("EnabledState"))
	assert.Equal(t, "true", prop("ListenerEnabled"))
	assert.Equal(t, redirStateAll, d.RedirectionState())
	assert.True(t, d.ListenerEnabled())

	// IDE-R only: SOL is refused.
	require.Equal(t, 0, wc.returnValue(redirStateReq("32769")))
	assert.Equal(t, "32769", prop("EnabledState"))
	assert.Equal(t, byte(redirStatusRefused), startStatus(t, d, "SOL "))
	assert.Equal(t, byte(0), startStatus(t, d, "IDER"))
	// SOL only: IDE-R is refused.
	require.Equal(t, 0, wc.returnValue(redirStateReq("32770")))
	assert.Equal(t, byte(redirStatusRefused), startStatus(t, d, "IDER"))
	assert.Equal(t, byte(0), startStatus(t, d, "SOL "))
	// Both off, then both on.
	require.Equal(t, 0, wc.returnValue(redirStateReq("32768")))
	assert.Equal(t, byte(redirStatusRefused), startStatus(t, d, "SOL "))
	assert.Equal(t, byte(redirStatusRefused), startStatus(t, d, "IDER"))
	require.Equal(t, 0, wc.returnValue(redirStateReq("32771")))
	assert.Equal(t, byte(0), startStatus(t, d, "IDER"))

	// Other values are invalid parameters and change nothing.
	for _, v := range []string{"2", "3", "32767", "32772", "", "x"} {
		assert.Equal(t, rvInvalidParameter, wc.returnValue(redirStateReq(v)), "RequestedState %q", v)
	}
	assert.Equal(t, redirStateAll, d.RedirectionState())

	// The listener: a Put of the instance as read back closes it, and the
	// port refuses every session.
	resp, data := wc.post(redirPutReq(redirStateAll, false))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	assert.Equal(t, "false", textOf(parseDoc(t, data), uriRedirectionService, "ListenerEnabled"))
	assert.False(t, d.ListenerEnabled())
	assert.Equal(t, byte(redirStatusRefused), startStatus(t, d, "IDER"))
	assert.Equal(t, byte(redirStatusRefused), startStatus(t, d, "SOL "))
	// EnabledState may change by Put too (the amtc captures), within
	// 32768..32771.
	resp, data = wc.post(redirPutReq(32772, true))
	requireFault(t, resp, data, "e:InternalError")
	assert.False(t, d.ListenerEnabled(), "a refused Put changes nothing")
	resp, data = wc.post(redirPutReq(32770, true))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	assert.Equal(t, 32770, d.RedirectionState())
	resp, data = wc.post(redirPutReq(redirStateAll, true))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	assert.Equal(t, byte(0), startStatus(t, d, "IDER"))
}

func TestRedirectionServiceOptions(t *testing.T) {
	t.Parallel()
	opts := redirOpts()
	opts.RedirectionState = 32768
	opts.ListenerDisabled = true
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	assert.Equal(t, "32768", getProp(t, wc, uriRedirectionService, "AMT_RedirectionService", "EnabledState"))
	assert.Equal(t, "false", getProp(t, wc, uriRedirectionService, "AMT_RedirectionService", "ListenerEnabled"))
	assert.Equal(t, byte(redirStatusRefused), startStatus(t, d, "IDER"))

	// The enabling sequence of a console.
	require.Equal(t, 0, wc.returnValue(redirStateReq("32771")))
	assert.Equal(t, byte(redirStatusRefused), startStatus(t, d, "IDER"), "the listener is still closed")
	resp, data := wc.post(redirPutReq(redirStateAll, true))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	tc := dialConsole(t, d.RedirectAddr(), nil)
	tc.session("IDER", 4)
	tc.openIDER(0x09)

	// No AccessLog: no Get or Pull capture has one.
	assert.Empty(t, getProp(t, wc, uriRedirectionService, "AMT_RedirectionService", "AccessLog"))

	// TerminateSession ends it; the slot is free at once.
	assert.Equal(t, ptInvalidParameter, wc.returnValue(terminateReq(7)))
	assert.Equal(t, 0, wc.returnValue(terminateReq(sessionTypeSOL)), "no SOL session: nothing to end")
	require.True(t, d.RedirectionSessionOpen())
	assert.Equal(t, 0, wc.returnValue(terminateReq(sessionTypeIDER)))
	assert.False(t, d.RedirectionSessionOpen())
	expectClosed(t, tc)
	again := dialConsole(t, d.RedirectAddr(), nil)
	again.session("IDER", 4)

	for _, bad := range []Options{{RedirectionState: 5}, {RedirectionState: 32772}, {OptInRequired: 2}} {
		_, err := New(bad)
		assert.Error(t, err, "%+v", bad)
	}
}

func TestOptInConsentFlow(t *testing.T) {
	t.Parallel()
	opts := redirOpts()
	opts.OptInRequired = optInAll
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	prop := func(name string) string { return getProp(t, wc, uriOptInService, "IPS_OptInService", name) }
	bootPut := func() (*http.Response, []byte) {
		return wc.post(bootPutReq(`<r:IDERBootDevice>1</r:IDERBootDevice><r:UseIDER>true</r:UseIDER>`))
	}
	requireConsentFault := func(resp *http.Response, data []byte) {
		t.Helper()
		root := requireFault(t, resp, data, "e:InternalError")
		assert.Equal(t, "AMT-STATUS 2081", textOf(root, soap.NSSOAP, "Detail"))
	}

	assert.Equal(t, "4294967295", prop("OptInRequired"))
	assert.Equal(t, "0", prop("OptInState"))
	assert.Equal(t, "1", prop("CanModifyOptInPolicy"))
	assert.Equal(t, int64(optInAll), d.OptInRequired())

	// Without consent: sessions and the redirection boot options refused.
	assert.Equal(t, byte(redirStatusConsent), startStatus(t, d, "IDER"))
	assert.Equal(t, byte(redirStatusConsent), startStatus(t, d, "SOL "))
	requireConsentFault(bootPut())
	resp, data := wc.post(bootPutReq(`<r:UseSafeMode>false</r:UseSafeMode><r:UseIDER>false</r:UseIDER>`))
	require.Equal(t, http.StatusOK, resp.StatusCode, "clearing needs no consent: %s", data)

	// Out of turn.
	assert.Equal(t, ptNotReady, wc.returnValue(sendCodeReq("123456")))
	assert.Equal(t, ptNotReady, wc.returnValue(optInReq("CancelOptIn", "")))
	assert.Empty(t, d.OptInCode())

	// Start: a code on the screen.
	require.Equal(t, 0, wc.returnValue(optInReq("StartOptIn", "")))
	code := d.OptInCode()
	require.Regexp(t, `^\d{6}$`, code)
	assert.Equal(t, "2", prop("OptInState"))
	require.Equal(t, 0, wc.returnValue(optInReq("StartOptIn", "")))
	assert.Equal(t, code, d.OptInCode(), "the same code while displayed")

	// A wrong code, a malformed one, then the right one (leading zeros
	// dropped as consoles send it).
	n, _ := strconv.Atoi(code)
	assert.Equal(t, ptUnsupported, wc.returnValue(sendCodeReq(strconv.Itoa((n+1)%1000000))))
	assert.Equal(t, ptInvalidParameter, wc.returnValue(sendCodeReq("abc")))
	assert.Equal(t, ptInvalidParameter, wc.returnValue(optInReq("SendOptInCode", "")))
	assert.Equal(t, optInDisplayed, d.OptInState())
	require.Equal(t, 0, wc.returnValue(sendCodeReq(strconv.Itoa(n))))
	assert.Equal(t, "3", prop("OptInState"))
	assert.Empty(t, d.OptInCode())

	// Now a session is accepted and the consent is in use.
	tc := dialConsole(t, d.RedirectAddr(), nil)
	tc.session("IDER", 4)
	tc.openIDER(0x09)
	assert.Equal(t, "4", prop("OptInState"))
	resp, data = bootPut()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	sol := dialConsole(t, d.RedirectAddr(), nil)
	sol.session("SOL ", 4)

	// The consent lapses when the last session ends.
	require.NoError(t, tc.sendIDER(0x42, 0, nil))
	expectClosed(t, tc)
	assert.Equal(t, optInInSession, d.OptInState(), "SOL still open")
	require.NoError(t, sol.write([]byte{0x12, 0, 0, 0}))
	require.Eventually(t, func() bool { return d.OptInState() == optInNotStarted }, 5*time.Second, time.Millisecond)
	assert.Equal(t, byte(redirStatusConsent), startStatus(t, d, "IDER"))
	requireConsentFault(bootPut())

	// Three wrong codes drop the code; a new start shows a new code.
	require.Equal(t, 0, wc.returnValue(optInReq("StartOptIn", "")))
	code2 := d.OptInCode()
	assert.NotEqual(t, code, code2)
	n2, _ := strconv.Atoi(code2)
	for i := range optInAttempts {
		assert.Equal(t, ptUnsupported, wc.returnValue(sendCodeReq(strconv.Itoa((n2+1+i)%1000000))))
	}
	assert.Equal(t, optInNotStarted, d.OptInState())
	assert.Equal(t, ptNotReady, wc.returnValue(sendCodeReq(strconv.Itoa(n2))), "the code is gone")

	// Cancel drops a displayed code.
	require.Equal(t, 0, wc.returnValue(optInReq("StartOptIn", "")))
	require.Equal(t, 0, wc.returnValue(optInReq("CancelOptIn", "")))
	assert.Equal(t, optInNotStarted, d.OptInState())

	// Cancel during a session ends it.
	require.Equal(t, 0, wc.returnValue(optInReq("StartOptIn", "")))
	require.Equal(t, 0, wc.returnValue(sendCodeReq(d.OptInCode())))
	tc = dialConsole(t, d.RedirectAddr(), nil)
	tc.session("IDER", 4)
	require.Equal(t, 0, wc.returnValue(optInReq("CancelOptIn", "")))
	expectClosed(t, tc)
	assert.False(t, d.RedirectionSessionOpen())

	// The policy may be relaxed in admin control mode.
	resp, data = wc.post(envelope(soap.ActPut, uriOptInService, "24", nil, `<r:IPS_OptInService xmlns:r="`+uriOptInService+`">`+
		`<r:CanModifyOptInPolicy>1</r:CanModifyOptInPolicy><r:OptInRequired>0</r:OptInRequired></r:IPS_OptInService>`))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	assert.Equal(t, byte(0), startStatus(t, d, "IDER"))
}

func TestOptInClientControlMode(t *testing.T) {
	t.Parallel()
	opts := redirOpts()
	opts.ProvisioningMode = provModeCCM
	opts.OptInRequired = optInNone // ignored: CCM always requires consent
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	prop := func(name string) string { return getProp(t, wc, uriOptInService, "IPS_OptInService", name) }
	assert.Equal(t, "4294967295", prop("OptInRequired"))
	assert.Equal(t, "0", prop("CanModifyOptInPolicy"))
	assert.Equal(t, byte(redirStatusConsent), startStatus(t, d, "IDER"))

	put := func(v string) (*http.Response, []byte) {
		return wc.post(envelope(soap.ActPut, uriOptInService, "24", nil, `<r:IPS_OptInService xmlns:r="`+uriOptInService+`"><r:OptInRequired>`+v+`</r:OptInRequired></r:IPS_OptInService>`))
	}
	resp, data := put("0")
	root := requireFault(t, resp, data, "e:InternalError")
	assert.Equal(t, "AMT-STATUS 16", textOf(root, soap.NSSOAP, "Detail"))
	resp, data = put("4294967295")
	require.Equal(t, http.StatusOK, resp.StatusCode, "unchanged: %s", data)

	require.Equal(t, 0, wc.returnValue(optInReq("StartOptIn", "")))
	require.Equal(t, 0, wc.returnValue(sendCodeReq(d.OptInCode())))
	tc := dialConsole(t, d.RedirectAddr(), nil)
	tc.session("IDER", 4)

	// Fleet groups: CCM groups require consent whatever they say.
	ccm, acm := provModeCCM, 1
	none := int64(optInNone)
	fo := plainOpts()
	fo.DevicesCIDR = "127.78.0.0/30"
	fo.Fleet = &FleetSpec{Groups: []DeviceGroup{
		{Name: "ccm", Weight: 1, ProvisioningMode: &ccm, OptInRequired: &none, ListenerDisabled: true},
		{Name: "acm", Weight: 1, ProvisioningMode: &acm, RedirectionState: 32769},
	}}
	fleet := startSim(t, fo)
	for _, fd := range fleet.Devices() {
		switch fd.Group() {
		case "ccm":
			assert.Equal(t, int64(optInAll), fd.OptInRequired())
			assert.False(t, fd.ListenerEnabled())
		case "acm":
			assert.Equal(t, int64(optInNone), fd.OptInRequired())
			assert.Equal(t, 32769, fd.RedirectionState())
			assert.True(t, fd.ListenerEnabled())
		}
	}
}

func TestOptInOldFirmware(t *testing.T) {
	t.Parallel()
	opts := redirOpts()
	opts.Version = "5.2.70.1000"
	opts.OptInRequired = optInAll
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	resp, data := wc.post(getReq(uriOptInService))
	requireFault(t, resp, data, "b:DestinationUnreachable")
	assert.Equal(t, int64(0), d.OptInRequired(), "no consent before AMT 6")
	assert.Equal(t, byte(0), startStatus(t, d, "IDER"))
	assert.True(t, strings.HasPrefix(getProp(t, wc, uriRedirectionService, "AMT_RedirectionService", "EnabledState"), "3277"))
}
