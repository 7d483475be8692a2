package amtsim

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFleet(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.DevicesCIDR = "127.77.0.0/29"
	opts.LockoutAfter = 1
	sim := startSim(t, opts)
	devs := sim.Devices()
	require.Len(t, devs, 6)
	assert.Equal(t, "127.77.0.1", devs[0].IP())
	assert.Equal(t, "127.77.0.6", devs[5].IP())
	assert.Same(t, devs[2], sim.Device("127.77.0.3"))
	assert.Nil(t, sim.Device("127.77.0.7"))

	_, port, err := net.SplitHostPort(devs[0].HTTPAddr())
	require.NoError(t, err)
	realms, guids, hosts := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, d := range devs {
		_, p, _ := net.SplitHostPort(d.HTTPAddr())
		assert.Equal(t, port, p, "every device on the same port")
		realms[d.Realm()], guids[d.PlatformGUID()], hosts[d.Hostname()] = true, true, true
		assert.Regexp(t, `^Digest:[0-9A-F]{32}$`, d.Realm())
		assert.Regexp(t, `^[0-9A-F]{32}$`, d.PlatformGUID())

		wc := newClient(t, "http://"+d.HTTPAddr(), testUser, testPass)
		resp, data := wc.post(getReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		root := parseDoc(t, data)
		assert.Equal(t, d.Realm(), textOf(root, uriGeneral, "DigestRealm"))
		assert.Equal(t, "amtsim-"+strings.ReplaceAll(d.IP(), ".", "-"), textOf(root, uriGeneral, "HostName"))
		_, data = wc.post(getReq(uriPackage))
		assert.Equal(t, d.PlatformGUID(), textOf(parseDoc(t, data), uriPackage, "PlatformGUID"))
		_, data = wc.post(getReq(uriEthernet, sel{"InstanceID", "Intel(r) AMT Ethernet Port Settings 0"}))
		eth := parseDoc(t, data)
		assert.Nil(t, find(eth, uriEthernet, "IPAddress"), "DHCP: no IPAddress, as captured")
		assert.Equal(t, "255.255.255.248", textOf(eth, uriEthernet, "SubnetMask"))
		assert.Equal(t, "127.77.0.1", textOf(eth, uriEthernet, "DefaultGateway"))
	}
	assert.Len(t, realms, 6)
	assert.Len(t, guids, 6)
	assert.Len(t, hosts, 6)
	assert.Equal(t, "amtsim: ready devices=6 version=11.8.50.3425 http=127.77.0.1-127.77.0.6:"+port+
		" tls=off rmcp=127.77.0.1-127.77.0.6:"+strconv.Itoa(sim.RMCPPort())+
		" redirect=127.77.0.1-127.77.0.6:"+strconv.Itoa(sim.RedirectPort())+" redirect-tls=off", sim.ReadyLine())

	// State and anti-hammering are per device.
	c := newRawClient(t, "http://"+devs[0].HTTPAddr())
	resp, _ := c.send(getReq(uriGeneral), authHeader(t, c.challenge(), testUser, "wrong", 1))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.True(t, devs[0].LockedOut())
	assert.False(t, devs[1].LockedOut())
	// A nonce from one device is foreign to another.
	other := newRawClient(t, "http://"+devs[1].HTTPAddr())
	chal := c.challenge()
	chal.Realm = devs[1].Realm()
	resp, _ = other.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, 1))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, 0, devs[1].Stats().FailedLogins)
}

func TestFleetSmallPrefixes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cidr  string
		first string
		n     int
	}{{"127.77.1.0/31", "127.77.1.0", 2}, {"127.77.1.9/32", "127.77.1.9", 1}, {"127.77.2.0/30", "127.77.2.1", 2}} {
		opts := plainOpts()
		opts.DevicesCIDR = tc.cidr
		sim := startSim(t, opts)
		require.Len(t, sim.Devices(), tc.n, tc.cidr)
		assert.Equal(t, tc.first, sim.Devices()[0].IP())
	}
}

func TestFixedPortAndErrors(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.77.3.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	opts := plainOpts()
	opts.Addr = "127.77.3.1"
	opts.HTTPPort = port
	sim := startSim(t, opts)
	assert.Equal(t, "http://127.77.3.1:"+strconv.Itoa(port), sim.URL())
	assert.Empty(t, sim.TLSURL())
	assert.Nil(t, sim.Certificate())

	// The port is taken now.
	_, err = New(opts)
	require.Error(t, err)

	for _, bad := range []Options{
		{Addr: "not-an-ip"},
		{DevicesCIDR: "127.0.0.0/33"},
		{DevicesCIDR: "::1/120"},
		{DevicesCIDR: "10.0.0.0/8"},
		{Version: "11.8"},
		{HTTPPort: -1, TLSPort: -1},
		{HTTPPort: 70000},
		{Accounts: []Account{{User: "admin", Password: "x"}}},
	} {
		_, err := New(bad)
		assert.Error(t, err, "%+v", bad)
	}
}
