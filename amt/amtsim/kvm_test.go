package amtsim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startKVM starts a KVMR session as MeshCommander does (b1 = 0x01) and
// returns the reply status.
func (tc *testConsole) startKVM() (byte, error) {
	if err := tc.write([]byte{0x10, 0x01, 0, 0, 'K', 'V', 'M', 'R'}); err != nil {
		return 0, err
	}
	r, err := tc.read(13)
	if err != nil {
		return 0, err
	}
	require.Equal(tc.t, byte(0x11), r[0])
	_, err = tc.read(int(r[12]))
	return r[1], err
}

// TestKVMSession: a KVMR session is answered as protocol.md §3.7 says:
// StartRedirectionSessionReply status 0, digest authentication, then 0x41
// to the console's 40 00 00 00 00 00 00 00 and an RFB stream; the access
// point shows EnabledState 2 while it lasts and 6 after; a second session
// is busy, and power cycle and off are refused while it is open.
func TestKVMSession(t *testing.T) {
	t.Parallel()
	sim := startSim(t, redirOpts())
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	kvmURI := capturedURI("CIM_KVMRedirectionSAP")
	assert.Equal(t, "6", getProp(t, wc, kvmURI, "CIM_KVMRedirectionSAP", "EnabledState"))

	tc := dialConsole(t, d.RedirectAddr(), nil)
	st, err := tc.startKVM()
	require.NoError(t, err)
	require.Equal(t, byte(0), st)
	st, err = tc.login(4, testUser, testPass)
	require.NoError(t, err)
	require.Equal(t, byte(0), st, "authentication status")
	require.NoError(t, tc.write([]byte{0x40, 0, 0, 0, 0, 0, 0, 0}))
	r, err := tc.read(8)
	require.NoError(t, err)
	assert.Equal(t, byte(0x41), r[0])
	greeting, err := tc.read(12)
	require.NoError(t, err)
	assert.Equal(t, "RFB 003.008\n", string(greeting), "the stream is RFB")

	assert.True(t, d.KVMSessionOpen())
	assert.True(t, d.RedirectionSessionOpen())
	assert.Equal(t, "2", getProp(t, wc, kvmURI, "CIM_KVMRedirectionSAP", "EnabledState"), "enabled, with a session")
	second := dialConsole(t, d.RedirectAddr(), nil)
	st, err = second.startKVM()
	require.NoError(t, err)
	assert.Equal(t, byte(2), st, "busy")
	assert.Equal(t, rvInvalidTransition, wc.returnValue(powerReq(powerCycle)))

	tc.c.Close()
	require.Eventually(t, func() bool { return !d.KVMSessionOpen() }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, "6", getProp(t, wc, kvmURI, "CIM_KVMRedirectionSAP", "EnabledState"))
	assert.False(t, d.RedirectionSessionOpen())

	// A disabled access point refuses the session.
	_, _ = wc.post(invokeReq("CIM_KVMRedirectionSAP", "RequestStateChange", "<h:RequestedState>3</h:RequestedState>"))
	assert.Equal(t, byte(1), startStatus(t, d, "KVMR"))
}

// TestKVMConsent: KVM needs user consent whenever OptInRequired is not 0
// (always in client control mode); with the code sent it opens.
func TestKVMConsent(t *testing.T) {
	t.Parallel()
	o := redirOpts()
	o.ProvisioningMode = 4
	sim := startSim(t, o)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	assert.Equal(t, byte(3), startStatus(t, d, "KVMR"), "consent required")
	require.Equal(t, 0, wc.returnValue(optInReq("StartOptIn", "")))
	require.Equal(t, 0, wc.returnValue(sendCodeReq(d.OptInCode())))
	tc := dialConsole(t, d.RedirectAddr(), nil)
	tc.session("KVMR", 4)
	assert.True(t, d.KVMSessionOpen())
}
