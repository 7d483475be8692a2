package discovery_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/discovery"
	"github.com/amtkit/amtkit/credentials"
)

const (
	user     = "admin"
	password = "P@ssw0rd1"
)

func ptr(n int) *int { return &n }

// mixedFleet is every kind of device the scanner must tell apart.
func mixedFleet() *amtsim.FleetSpec {
	return &amtsim.FleetSpec{Groups: []amtsim.DeviceGroup{
		{Name: "acm-11", Weight: 1, Version: "11.8.50.3425", ProvisioningMode: ptr(1)},
		{Name: "ccm-16", Weight: 1, Version: "16.1.25.2124", ProvisioningMode: ptr(4)},
		{Name: "unprovisioned", Weight: 1, Version: "12.0.67.1579", ProvisioningState: ptr(0)},
		{Name: "ism", Weight: 1, Version: "15.0.42.2235", SKU: 16400, ProvisioningMode: ptr(4)},
		{Name: "tls-only", Weight: 1, Version: "16.1.25.2124", TLSOnly: true, ProvisioningMode: ptr(1)},
		{Name: "no-rmcp", Weight: 1, Version: "11.8.50.3425", NoRMCP: true, ProvisioningMode: ptr(1)},
		{Name: "other-password", Weight: 1, Version: "12.0.67.1579", ProvisioningMode: ptr(1),
			Accounts: []amtsim.Account{{User: user, Password: "0ther!Passw0rd"}}},
	}}
}

// newFleet starts the mixed fleet: 14 devices among the 62 addresses of
// cidr, the others empty.
func newFleet(t testing.TB, cidr string, count int) *amtsim.Server {
	t.Helper()
	sim, err := amtsim.New(amtsim.Options{DevicesCIDR: cidr, DeviceCount: count, Seed: 7, Fleet: mixedFleet()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sim.Close()) })
	return sim
}

func simOptions(sim *amtsim.Server) discovery.Options {
	return discovery.Options{
		RMCPPort: sim.RMCPPort(), HTTPPort: sim.HTTPPort(), TLSPort: sim.TLSPort(),
		RMCPRetry: 20 * time.Millisecond, RMCPWait: 300 * time.Millisecond,
	}
}

func scanAll(t *testing.T, ctx context.Context, targets string, opts discovery.Options) map[netip.Addr]*discovery.Result {
	t.Helper()
	tg, err := discovery.ParseTargets(targets)
	require.NoError(t, err)
	got := map[netip.Addr]*discovery.Result{}
	for r, err := range discovery.Scan(ctx, tg, opts) {
		require.NoError(t, err)
		require.NotContains(t, got, r.Address, "one result per address")
		got[r.Address] = r
	}
	return got
}

// expect checks the unauthenticated view of one device.
func expect(t *testing.T, sim *amtsim.Server, d *amtsim.Device, r *discovery.Result) {
	t.Helper()
	msg := d.Group() + " " + d.IP()
	require.NotNil(t, r, msg)
	assert.True(t, r.AMT, msg)
	assert.Equal(t, d.RMCPEnabled(), r.RMCP, msg)
	assert.Equal(t, d.Version(), r.Version, msg)
	assert.Equal(t, d.Realm(), r.Realm, msg)
	// The pong of a device serving TLS advertises 16993 (unprovisioned
	// devices advertise no port).
	servesTLS := d.TLSOnly() || d.RMCPEnabled() && d.ProvisioningState() != 0 && d.TLSAddr() != ""
	assert.Equal(t, servesTLS, r.TLS, msg)
	assert.Equal(t, amt.ProvisioningState(d.ProvisioningState()).String(), r.ProvisioningState, msg)
	if servesTLS {
		assert.Equal(t, sim.TLSPort(), r.Port, msg)
		assert.Equal(t, sim.CertificateSHA256(), r.CertSHA256, msg)
	} else {
		assert.Equal(t, sim.HTTPPort(), r.Port, msg)
	}
	if d.ProvisioningState() == 2 {
		assert.Equal(t, discovery.Provisioned, r.Classification, msg)
	} else {
		assert.Equal(t, discovery.NotProvisioned, r.Classification, msg)
	}
	assert.True(t, r.DASH, msg)
	assert.Equal(t, "AMT "+strings.Join(strings.Split(d.Version(), ".")[:2], "."), r.ProductVersion, msg)
	if d.RMCPEnabled() {
		require.NotNil(t, r.Pong, msg)
		major, _ := strconv.Atoi(strings.Split(d.Version(), ".")[0])
		assert.Equal(t, major, r.Pong.Major, msg)
	}
}

func TestScanMixedFleet(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, "127.78.1.0/26", 14)
	got := scanAll(t, context.Background(), "127.78.1.0/26", simOptions(sim))

	kinds := map[string]int{}
	for _, d := range sim.Devices() {
		kinds[d.Group()]++
		expect(t, sim, d, got[netip.MustParseAddr(d.IP())])
		assert.Nil(t, got[netip.MustParseAddr(d.IP())].Inventory)
	}
	assert.Len(t, kinds, 7, "every kind of device is in the fleet")
	assert.Len(t, got, len(sim.Devices()), "nothing reported where there is no device")
}

func TestScanInventory(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, "127.78.2.0/26", 14)
	opts := simOptions(sim)
	opts.Inventory = true
	// A guard of its own: the process's guard remembers the failed logins of
	// an earlier run of this test (-count) against the same addresses.
	guard := credentials.NewGuard(credentials.DefaultMaxFailures, credentials.DefaultWindow)
	opts.Source = credentials.StaticWithGuard(credentials.Credential{User: user, Password: password}, guard)
	got := scanAll(t, context.Background(), "127.78.2.0/26", opts)
	require.Len(t, got, len(sim.Devices()))

	for _, d := range sim.Devices() {
		r := got[netip.MustParseAddr(d.IP())]
		msg := d.Group() + " " + d.IP()
		switch {
		case d.Group() == "other-password":
			assert.Equal(t, discovery.AuthFailed, r.Classification, msg)
			assert.ErrorIs(t, r.Err, amt.ErrAuthFailed, msg)
			assert.Nil(t, r.Inventory, msg)
		case d.ProvisioningState() != 2:
			assert.Equal(t, discovery.NotProvisioned, r.Classification, msg)
			assert.Nil(t, r.Inventory, msg, "no login to an unprovisioned device")
		default:
			assert.Equal(t, discovery.Provisioned, r.Classification, msg)
			require.NotNil(t, r.Inventory, msg)
			inv := r.Inventory
			mode := amt.ProvisioningMode(d.ProvisioningMode()).String()
			assert.Equal(t, mode, r.ProvisioningMode, msg)
			assert.Equal(t, amt.SKU(d.SKU()).Kind(), r.SKU, msg)
			assert.Equal(t, d.Version(), r.Version, msg)
			assert.Equal(t, d.Hostname(), inv.Hostname, msg)
			assert.Equal(t, amt.GUIDToUUID(d.PlatformGUID()), inv.UUID, msg)
			assert.Contains(t, inv.Boot, "ider", msg)
			assert.Equal(t, "on", inv.PowerState, msg)
			assert.Equal(t, "task", inv.CredentialOrigin, msg)
			if d.SKU() == 16400 {
				assert.Equal(t, "ISM", r.SKU, msg)
			}
			// Classes the simulator does not serve are unknown, not failures.
			for _, part := range []string{"redirection", "user_consent", "system_defense"} {
				if _, missing := inv.Unavailable[part]; !missing {
					continue
				}
				switch part {
				case "redirection":
					assert.Nil(t, inv.Redirection, msg)
				case "system_defense":
					assert.Nil(t, inv.SystemDefense, msg)
				case "user_consent":
					assert.Empty(t, inv.UserConsent, msg)
				}
			}
		}
	}
}

func TestScanReportAllAndJSON(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, "127.78.3.0/28", 3)
	opts := simOptions(sim)
	opts.ReportAll = true
	got := scanAll(t, context.Background(), "127.78.3.0/28", opts)
	require.Len(t, got, 14, "every address with ReportAll")
	amtCount := 0
	for _, r := range got {
		if sim.Device(r.Address.String()) == nil {
			assert.Equal(t, discovery.NoAMT, r.Classification)
			assert.False(t, r.AMT)
			continue
		}
		amtCount++
		b, err := json.Marshal(r)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		for _, k := range []string{"address", "amt", "version", "provisioning_state", "tls", "realm", "classification"} {
			assert.Contains(t, m, k)
		}
	}
	assert.Equal(t, 3, amtCount)
}

func TestScanWithoutRMCP(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, "127.78.4.0/26", 14)
	opts := simOptions(sim)
	opts.DisableRMCP = true
	got := scanAll(t, context.Background(), "127.78.4.0/26", opts)
	require.Len(t, got, len(sim.Devices()))
	for _, d := range sim.Devices() {
		r := got[netip.MustParseAddr(d.IP())]
		assert.True(t, r.AMT)
		assert.False(t, r.RMCP)
		assert.Equal(t, d.Realm(), r.Realm)
		if d.ProvisioningState() == 2 {
			assert.Equal(t, discovery.Provisioned, r.Classification, d.Group())
		} else {
			assert.Equal(t, discovery.NotProvisioned, r.Classification, d.Group(), "told by the mostly-zero realm")
		}
	}
}

func TestScanCancel(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, "127.78.5.0/24", 60)
	opts := simOptions(sim)
	opts.Concurrency = 4
	opts.Rate = 500 // slow enough to cancel in the middle
	tg, err := discovery.ParseTargets("127.78.5.0/24")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var results []*discovery.Result
	var final error
	start := time.Now()
	for r, err := range discovery.Scan(ctx, tg, opts) {
		if err != nil {
			final = err
			continue
		}
		results = append(results, r)
		if len(results) == 5 {
			cancel()
		}
	}
	assert.Less(t, time.Since(start), 5*time.Second, "stops promptly")
	require.ErrorIs(t, final, context.Canceled)
	require.Len(t, results, 5, "nothing after the cancellation")
	for _, r := range results {
		d := sim.Device(r.Address.String())
		require.NotNil(t, d)
		expect(t, sim, d, r) // delivered intact
	}
}

func TestScanBreak(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, "127.78.6.0/26", 14)
	tg, err := discovery.ParseTargets("127.78.6.0/26")
	require.NoError(t, err)
	n := 0
	for _, err := range discovery.Scan(context.Background(), tg, simOptions(sim)) {
		require.NoError(t, err)
		n++
		if n == 2 {
			break
		}
	}
	assert.Equal(t, 2, n) // and goleak checks that everything stopped
}

func TestScanProgress(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, "127.78.7.0/26", 14)
	opts := simOptions(sim)
	var mu sync.Mutex
	var last discovery.Progress
	calls := 0
	opts.ProgressInterval = 50 * time.Millisecond
	opts.Progress = func(p discovery.Progress) {
		mu.Lock()
		defer mu.Unlock()
		last, calls = p, calls+1
	}
	got := scanAll(t, context.Background(), "127.78.7.0/26", opts)
	mu.Lock()
	defer mu.Unlock()
	assert.GreaterOrEqual(t, calls, 1)
	assert.Equal(t, uint64(62), last.Total)
	assert.Equal(t, uint64(62), last.Done)
	assert.Equal(t, uint64(len(got)), last.Found)
	rmcp := 0
	for _, d := range sim.Devices() {
		if d.RMCPEnabled() {
			rmcp++
		}
	}
	assert.Equal(t, uint64(rmcp), last.Pongs)
}

func TestScanRefusesHugeRanges(t *testing.T) {
	t.Parallel()
	tg, err := discovery.ParseTargets("10.0.0.0/8")
	require.NoError(t, err)
	for _, err := range discovery.Scan(context.Background(), tg, discovery.Options{}) {
		require.ErrorIs(t, err, discovery.ErrTooManyAddresses)
		assert.Contains(t, err.Error(), "16777214 addresses")
	}
}

func TestScanInvalidOptions(t *testing.T) {
	t.Parallel()
	tg, err := discovery.ParseTargets("127.0.0.1")
	require.NoError(t, err)
	for _, o := range []discovery.Options{{Rate: -1}, {Concurrency: 1 << 20}, {Inventory: true}, {HTTPPort: 70000}} {
		n := 0
		for r, err := range discovery.Scan(context.Background(), tg, o) {
			assert.Nil(t, r)
			assert.Error(t, err)
			n++
		}
		assert.Equal(t, 1, n)
	}
}
