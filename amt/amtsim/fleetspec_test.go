package amtsim

import (
	"crypto/tls"
	"errors"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goodSpec = `{
  "groups": [
    {"name": "ent", "weight": 6, "version": "16.1.25.2124", "provisioning_mode": 1},
    {"name": "branch", "weight": 2.5, "version": "11.8.50.3425", "sku": 16400, "provisioning_mode": 4,
     "tls_only": true, "accounts": [{"user": "admin", "password": "Br4nch!pass"}, {"user": "audit", "password": "Aud1t!pass", "read_only": true}]},
    {"name": "new", "weight": 1, "provisioning_state": 0, "no_rmcp": true, "power_state": "off", "no_os_agent": true, "no_os_power_saving": true}
  ]
}`

func TestParseFleetSpec(t *testing.T) {
	t.Parallel()
	spec, err := ParseFleetSpec(strings.NewReader(goodSpec))
	require.NoError(t, err)
	require.Len(t, spec.Groups, 3)
	g := spec.Groups[1]
	assert.Equal(t, "branch", g.Name)
	assert.InDelta(t, 2.5, g.Weight, 0)
	assert.Equal(t, 16400, g.SKU)
	assert.Nil(t, g.ProvisioningState)
	assert.Equal(t, 4, *g.ProvisioningMode)
	assert.True(t, g.TLSOnly)
	assert.Equal(t, []Account{{User: "admin", Password: "Br4nch!pass"}, {User: "audit", Password: "Aud1t!pass", ReadOnly: true}}, g.Accounts)
	n := spec.Groups[2]
	assert.Equal(t, 0, *n.ProvisioningState)
	assert.True(t, n.NoRMCP)
	assert.Equal(t, "off", n.PowerState)

	dir := t.TempDir()
	path := filepath.Join(dir, "fleet.json")
	require.NoError(t, os.WriteFile(path, []byte(goodSpec), 0o600))
	fromFile, err := ReadFleetSpecFile(path)
	require.NoError(t, err)
	assert.Equal(t, spec, fromFile)
	_, err = ReadFleetSpecFile(filepath.Join(dir, "missing.json"))
	require.Error(t, err)
	require.NoError(t, os.WriteFile(path, []byte(`{"groups": [{"name": "x", "weight": 1, "colour": "red"}]}`), 0o600))
	_, err = ReadFleetSpecFile(path)
	require.ErrorContains(t, err, path)

	for _, tc := range []struct{ spec, msg string }{
		{`{"groups": [{"name": "a", "weight": 1, "sku_typo": 3}]}`, `unknown field "sku_typo"`},
		{`{"groups": [], "extra": true}`, `unknown field "extra"`},
		{`{"groups": [{"name": "a", "weight": 0}]}`, "weight must be a positive number"},
		{`{"groups": [{"name": "a", "weight": -2}]}`, "weight must be a positive number"},
		{`{"groups": [{"name": "a"}]}`, "weight must be a positive number"},
		{`{"groups": [{"name": "a", "weight": "1"}]}`, "cannot unmarshal string"},
		{`{"groups": [{"name": "a", "weight": 1, "version": "11.8"}]}`, `version "11.8" is not maj.min.hotfix.build`},
		{`{"groups": [{"name": "a", "weight": 1, "version": "11.x.1.1"}]}`, "not maj.min.hotfix.build"},
		{`{"groups": [{"name": "a", "weight": 1, "version": "300.1.1.1"}]}`, "major must be 1-255"},
		{`{"groups": [{"name": "a", "weight": 1, "version": "0.1.1.1"}]}`, "major must be 1-255"},
		{`{"groups": [{"name": "a", "weight": 1, "provisioning_state": 3}]}`, "provisioning_state 3"},
		{`{"groups": [{"name": "a", "weight": 1, "provisioning_mode": 7}]}`, "provisioning_mode 7"},
		{`{"groups": [{"name": "a", "weight": 1, "power_state": "standby"}]}`, `power_state "standby"`},
		{`{"groups": [{"name": "a", "weight": 1, "sku": -1}]}`, "sku must not be negative"},
		{`{"groups": [{"name": "a", "weight": 1, "accounts": [{"user": "x"}]}]}`, "empty user or password"},
		{`{"groups": [{"name": "a", "weight": 1, "accounts": [{"user": "x", "password": "p"}, {"user": "x", "password": "q"}]}]}`, `duplicate account "x"`},
		{`{"groups": [{"name": "a", "weight": 1}, {"name": "a", "weight": 1}]}`, `group 2 ("a"): duplicate name`},
		{`{"groups": [{"weight": 1}]}`, "name is required"},
		{`{"groups": []}`, "no groups"},
		{`{}`, "no groups"},
		{`{"groups": [{"name": "a", "weight": 1}]} {}`, "unexpected data"},
		{`[1]`, "cannot unmarshal array"},
		{``, "EOF"},
	} {
		_, err := ParseFleetSpec(strings.NewReader(tc.spec))
		require.Error(t, err, tc.spec)
		assert.Contains(t, err.Error(), tc.msg, tc.spec)
		assert.True(t, strings.HasPrefix(err.Error(), "amtsim: fleet spec: "), err.Error())
	}

	// A spec given directly in Options is validated too.
	_, err = New(Options{Fleet: &FleetSpec{Groups: []DeviceGroup{{Name: "a", Weight: math.NaN()}}}})
	require.ErrorContains(t, err, "weight must be a positive number")
	_, err = New(Options{TLSPort: -1, Fleet: &FleetSpec{Groups: []DeviceGroup{{Name: "a", Weight: 1, TLSOnly: true}}}})
	require.ErrorContains(t, err, "TLS-only but TLS is disabled")
}

func TestGroupQuotas(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []int{500, 300, 200}, groupQuotas([]float64{5, 3, 2}, 1000))
	assert.Equal(t, []int{4, 3, 3}, groupQuotas([]float64{1, 1, 1}, 10))
	assert.Equal(t, []int{997, 1, 1, 1}, groupQuotas([]float64{1000, 0.01, 0.01, 0.01}, 1000), "every group gets a device")
	assert.Equal(t, []int{1, 0, 0}, groupQuotas([]float64{5, 3, 2}, 1))
	assert.Equal(t, []int{1, 1}, groupQuotas([]float64{1, 1}, 2))
	for n := range 50 {
		q := groupQuotas([]float64{0.7, 0.2, 0.1}, n)
		sum := 0
		for _, v := range q {
			sum += v
		}
		assert.Equal(t, n, sum)
	}
}

func TestGroupAssignmentDeterministic(t *testing.T) {
	t.Parallel()
	addrs := make([]uint32, 5000)
	for i := range addrs {
		addrs[i] = 0x7F4D0000 + uint32(i)*7
	}
	weights := []float64{0.5, 0.3, 0.15, 0.05}
	a := assignGroups(addrs, weights, 1)
	assert.Equal(t, a, assignGroups(addrs, weights, 1), "same seed, same mix")
	b := assignGroups(addrs, weights, 2)
	assert.NotEqual(t, a, b, "another seed, another mix")
	for _, mix := range [][]int{a, b} {
		counts := make([]int, len(weights))
		for _, g := range mix {
			counts[g]++
		}
		assert.Equal(t, []int{2500, 1500, 750, 250}, counts, "weights honoured")
	}
	// Groups are spread over the range, not laid out in blocks.
	firstHalf := 0
	for _, g := range a[:2500] {
		if g == 3 {
			firstHalf++
		}
	}
	assert.InDelta(t, 125, firstHalf, 50)

	// Through New: the same seed gives every address the same group.
	spec := mixedFleet()
	groupsOf := func(seed int64) map[string]string {
		sim := startSim(t, Options{DevicesCIDR: "127.77.23.0/27", TLSPort: -1, RMCPPort: -1, Seed: seed,
			Fleet: &FleetSpec{Groups: []DeviceGroup{spec.Groups[0], spec.Groups[1], spec.Groups[2], spec.Groups[4]}}})
		out := map[string]string{}
		for _, d := range sim.Devices() {
			out[d.IP()] = d.Group()
		}
		require.NoError(t, sim.Close())
		return out
	}
	first := groupsOf(7)
	assert.Len(t, first, 30)
	assert.Equal(t, first, groupsOf(7))
	assert.NotEqual(t, first, groupsOf(8))
}

func TestDeviceCountPlacement(t *testing.T) {
	t.Parallel()
	const cidr, count = "127.78.0.0/16", 400
	sim := startSim(t, Options{DevicesCIDR: cidr, DeviceCount: count, TLSPort: -1, Seed: 42})
	devs := sim.Devices()
	require.Len(t, devs, count)
	_, ipnet, _ := net.ParseCIDR(cidr)
	start, n, err := cidrRange(cidr)
	require.NoError(t, err)
	require.Equal(t, 65534, n)
	want := pickAddresses(start, n, count, 42)
	assert.Equal(t, want, pickAddresses(start, n, count, 42), "reproducible")
	assert.NotEqual(t, want, pickAddresses(start, n, count, 43))
	present := map[string]bool{}
	thirdOctets := map[byte]bool{}
	for i, d := range devs {
		ip := net.ParseIP(d.IP())
		require.True(t, ipnet.Contains(ip))
		assert.Equal(t, uint32IP(want[i]).String(), d.IP(), "address order and seeded choice")
		present[d.IP()] = true
		thirdOctets[ip.To4()[2]] = true
		assert.Equal(t, "255.255.0.0", d.netmask)
	}
	assert.Greater(t, len(thirdOctets), 200, "spread over the whole range")

	// Empty addresses refuse TCP and stay silent on RMCP.
	p := newPinger(t)
	var empties []string
	for i := 1; len(empties) < 5; i += 97 {
		ip := uint32IP(start + uint32(i)).String()
		if !present[ip] {
			empties = append(empties, ip)
		}
	}
	for _, ip := range empties {
		assert.Nil(t, sim.Device(ip))
		_, err := net.DialTimeout("tcp", net.JoinHostPort(ip, itoa(sim.HTTPPort())), time.Second)
		require.Error(t, err, ip)
		assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "%s: %v", ip, err)
		p.send(net.JoinHostPort(ip, itoa(sim.RMCPPort())), presencePing(0xFF, 5))
	}
	p.send(devs[0].RMCPAddr(), presencePing(0xFF, 6))
	got := p.await(1)
	assert.Equal(t, devs[0].RMCPAddr(), got[0].from)
	assert.Empty(t, p.collect(150*time.Millisecond), "no answer from empty addresses")
	c, err := net.DialTimeout("tcp", devs[count-1].HTTPAddr(), time.Second)
	require.NoError(t, err)
	require.NoError(t, c.Close())
}

func TestEmptyFractionAndErrors(t *testing.T) {
	t.Parallel()
	sim := startSim(t, Options{DevicesCIDR: "127.77.24.0/24", EmptyFraction: 0.25, TLSPort: -1, RMCPPort: -1})
	assert.Len(t, sim.Devices(), 254-64)
	start, n, _ := cidrRange("127.77.24.0/24")
	assert.Equal(t, pickAddresses(start, n, 190, 1), func() []uint32 {
		var out []uint32
		for _, d := range sim.Devices() {
			out = append(out, ipUint32(net.ParseIP(d.IP())))
		}
		return out
	}(), "default seed 1")

	for _, bad := range []Options{
		{DevicesCIDR: "127.77.25.0/24", DeviceCount: 10, EmptyFraction: 0.5},
		{DevicesCIDR: "127.77.25.0/24", DeviceCount: 255},
		{DevicesCIDR: "127.77.25.0/24", DeviceCount: -1},
		{DevicesCIDR: "127.77.25.0/24", EmptyFraction: 1},
		{DevicesCIDR: "127.77.25.0/24", EmptyFraction: -0.1},
		{DevicesCIDR: "127.77.25.0/24", EmptyFraction: math.NaN()},
		{DevicesCIDR: "127.77.25.0/30", EmptyFraction: 0.9},
		{DeviceCount: 5},
		{EmptyFraction: 0.5},
		{RMCPPort: -2},
		{RMCPPort: 65536},
		{SKU: -1},
	} {
		_, err := New(bad)
		assert.Error(t, err, "%+v", bad)
	}
}

func TestPerGroupAccounts(t *testing.T) {
	t.Parallel()
	spec := &FleetSpec{Groups: []DeviceGroup{
		{Name: "x", Weight: 1, Accounts: []Account{{User: "admin", Password: "X-pass1!"}}},
		{Name: "y", Weight: 1, Accounts: []Account{{User: "admin", Password: "Y-pass1!"}, {User: "ops", Password: "0ps!pass", ReadOnly: true}}},
	}}
	opts := Options{DevicesCIDR: "127.77.26.0/30", TLSPort: -1, RMCPPort: -1, LockoutAfter: 3, Fleet: spec}
	sim := startSim(t, opts)
	g := byGroup(t, sim)
	a, b := g["x"], g["y"]
	require.NotNil(t, a)
	require.NotNil(t, b)
	assert.Equal(t, []Account{{User: "admin", Password: "X-pass1!"}}, a.Accounts())

	login := func(d *Device, user, pass string) int {
		c := newRawClient(t, "http://"+d.HTTPAddr())
		resp, _ := c.send(getReq(uriGeneral), authHeader(t, c.challenge(), user, pass, 1))
		return resp.StatusCode
	}
	// Device a accepts X and rejects Y, device b the reverse.
	assert.Equal(t, http.StatusOK, login(a, "admin", "X-pass1!"))
	assert.Equal(t, http.StatusUnauthorized, login(a, "admin", "Y-pass1!"))
	assert.Equal(t, http.StatusUnauthorized, login(a, "ops", "0ps!pass"))
	assert.Equal(t, http.StatusOK, login(a, "admin", "X-pass1!"))
	assert.Equal(t, http.StatusUnauthorized, login(a, testUser, testPass), "the group replaces the default account")
	assert.Equal(t, http.StatusOK, login(a, "admin", "X-pass1!"))
	assert.Equal(t, http.StatusOK, login(b, "admin", "Y-pass1!"))
	assert.Equal(t, http.StatusUnauthorized, login(b, "admin", "X-pass1!"))
	assert.Equal(t, http.StatusOK, login(b, "ops", "0ps!pass"))
	assert.False(t, a.LockedOut())
	assert.False(t, b.LockedOut())

	// Three consecutive failures, over any accounts, lock a and only a.
	assert.Equal(t, http.StatusUnauthorized, login(a, "admin", "wrong"))
	assert.Equal(t, http.StatusUnauthorized, login(a, "ops", "wrong"))
	assert.Equal(t, http.StatusUnauthorized, login(a, "admin", "Y-pass1!"))
	assert.True(t, a.LockedOut())
	assert.False(t, b.LockedOut())
	assert.Equal(t, http.StatusUnauthorized, login(a, "admin", "X-pass1!"), "locked out: even the right password fails")
	assert.Equal(t, 6, a.Stats().FailedLogins, "logins refused during the lockout are not counted")
	assert.Equal(t, http.StatusOK, login(b, "admin", "Y-pass1!"))

	// SetAccounts replaces the accounts of one device; Accounts is a copy.
	accts := b.Accounts()
	accts[0].Password = "mutated"
	assert.Equal(t, "Y-pass1!", b.Accounts()[0].Password)
	b.SetAccounts([]Account{{User: "admin", Password: "Z-pass1!"}})
	assert.Equal(t, []Account{{User: "admin", Password: "Z-pass1!"}}, b.Accounts())
	assert.Equal(t, http.StatusOK, login(b, "admin", "Z-pass1!"))
	assert.Equal(t, http.StatusUnauthorized, login(b, "admin", "Y-pass1!"))
	assert.Equal(t, http.StatusUnauthorized, login(b, "ops", "0ps!pass"))
	assert.False(t, b.LockedOut())
	assert.Equal(t, http.StatusUnauthorized, login(b, "admin", "X-pass1!"))
	assert.True(t, b.LockedOut(), "the lockout applies unchanged after SetAccounts")
}

func TestUnprovisionedDevice(t *testing.T) {
	t.Parallel()
	opts := Options{Addr: "127.77.27.1", Version: "12.0.67.1579", ProvisioningState: -1}
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	assert.Equal(t, 0, d.ProvisioningState())
	assert.Equal(t, unprovisionedRealm(d.IP()), d.Realm())
	assert.Regexp(t, `^Digest:[0-9A-F]{4}(0){28}$`, d.Realm())
	for _, base := range []string{sim.URL(), sim.TLSURL()} {
		c := newRawClient(t, base)
		c.hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		resp, _ := c.send(getReq(uriGeneral), "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, "Intel(R) Active Management Technology 12.0.67.1579", resp.Header.Get("Server"))
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `realm="`+d.Realm()+`"`)
		resp, _ = c.send(identifyBody, "")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "Identify without credentials")
	}
	wc := newClient(t, sim.URL(), testUser, testPass)
	resp, data := wc.post(getReq(uriGeneral))
	require.Equal(t, http.StatusOK, resp.StatusCode, "the configured admin account logs in")
	assert.Equal(t, d.Realm(), textOf(parseDoc(t, data), uriGeneral, "DigestRealm"))

	p := newPinger(t)
	p.send(d.RMCPAddr(), presencePing(0xFF, 1))
	pong := p.await(1)[0].data
	assert.Equal(t, []byte{0, 0, 0xC0, 0x00}, pong[16:20], "port 0, version 12.0, state 0")

	// In-provisioning devices keep their derived realm.
	opts = Options{Addr: "127.77.27.2", ProvisioningState: 1, TLSPort: -1}
	in := startSim(t, opts).Devices()[0]
	assert.NotEqual(t, unprovisionedRealm(in.IP()), in.Realm())
	p.send(in.RMCPAddr(), presencePing(0xFF, 2))
	pong = p.await(1)[0].data
	assert.Equal(t, []byte{0x42, 0x60, 0xB8, 0x01}, pong[16:20])
}

func TestTLSOnlyDevices(t *testing.T) {
	t.Parallel()
	spec := &FleetSpec{Groups: []DeviceGroup{{Name: "plain", Weight: 1}, {Name: "tls", Weight: 1, TLSOnly: true}}}
	sim := startSim(t, Options{DevicesCIDR: "127.77.28.0/30", Fleet: spec, RMCPPort: -1})
	g := byGroup(t, sim)
	plain, only := g["plain"], g["tls"]
	assert.False(t, plain.TLSOnly())
	assert.True(t, only.TLSOnly())
	assert.Empty(t, only.HTTPAddr())
	assert.NotEmpty(t, only.TLSAddr())
	_, err := net.DialTimeout("tcp", net.JoinHostPort(only.IP(), itoa(sim.HTTPPort())), time.Second)
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "%v", err)
	c, err := net.DialTimeout("tcp", plain.HTTPAddr(), time.Second)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	wc := newClientTLS(t, "https://"+only.TLSAddr(), testUser, testPass, &tls.Config{InsecureSkipVerify: true})
	resp, _ := wc.post(getReq(uriGeneral))
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// A fleet of TLS-only devices has no plain port at all.
	all := startSim(t, Options{Addr: "127.77.28.9", RMCPPort: -1,
		Fleet: &FleetSpec{Groups: []DeviceGroup{{Name: "tls", Weight: 1, TLSOnly: true}}}})
	assert.Equal(t, -1, all.HTTPPort())
	assert.Positive(t, all.TLSPort())
	assert.Empty(t, all.URL())
	assert.NotEmpty(t, all.TLSURL())
	assert.True(t, slices.ContainsFunc(strings.Fields(all.ReadyLine()), func(f string) bool { return f == "http=off" }))

	// HTTPPort -1 makes every device TLS-only, and the pong says so.
	opts := Options{Addr: "127.77.28.10", HTTPPort: -1}
	off := startSim(t, opts).Devices()[0]
	assert.True(t, off.TLSOnly())
	p := newPinger(t)
	p.send(off.RMCPAddr(), presencePing(0xFF, 1))
	assert.Equal(t, []byte{0x42, 0x61}, p.await(1)[0].data[16:18])
}
