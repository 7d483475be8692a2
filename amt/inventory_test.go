package amt_test

import (
	"context"
	"crypto/x509"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
)

// wantPorts is the simulator's wired and wireless port of the device at ip.
// wantPorts is the ports of a simulated device: a DHCP port reports no
// IPAddress, as firmware's Get and Pull captures show.
func wantPorts(_, mac string) []amt.EthernetPort {
	return []amt.EthernetPort{
		{InstanceID: "Intel(r) AMT Ethernet Port Settings 0", MAC: mac, DHCP: true, LinkUp: true},
		{InstanceID: "Intel(r) AMT Ethernet Port Settings 1", Wireless: true, MAC: "00-00-00-00-00-00", DHCP: true},
	}
}

func TestInventory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  amtsim.Options
		ip    string
		mac   string
		amt   string
		build string
		sku   amt.SKU
		kind  string
		state amt.ProvisioningState
		mode  amt.ProvisioningMode
	}{
		{
			name: "defaults: AMT 11.8, full AMT, ACM",
			opts: amtsim.Options{},
			ip:   "127.0.0.1", mac: "a4-ae-7f-00-00-01",
			amt: "11.8.50", build: "3425",
			sku: 16392, kind: "AMT",
			state: amt.PostProvisioning, mode: amt.ModeACM,
		},
		{
			name: "AMT 16.1, Standard Manageability, CCM, domain",
			opts: amtsim.Options{Addr: "127.0.0.2", Version: "16.1.25.2124", SKU: 16400, ProvisioningMode: 4, DomainName: "corp.example.com"},
			ip:   "127.0.0.2", mac: "a4-ae-7f-00-00-02",
			amt: "16.1.25", build: "2124",
			sku: 16400, kind: "ISM",
			state: amt.PostProvisioning, mode: amt.ModeCCM,
		},
		{
			name: "AMT 12.0 not provisioned",
			opts: amtsim.Options{Addr: "127.0.0.3", Version: "12.0.67.1579", ProvisioningState: -1, ProvisioningMode: -1},
			ip:   "127.0.0.3", mac: "a4-ae-7f-00-00-03",
			amt: "12.0.67", build: "1579",
			sku: 16392, kind: "AMT",
			state: amt.PreProvisioning, mode: amt.ModeNone,
		},
		{
			name: "in provisioning",
			opts: amtsim.Options{Addr: "127.0.0.4", ProvisioningState: 1},
			ip:   "127.0.0.4", mac: "a4-ae-7f-00-00-04",
			amt: "11.8.50", build: "3425",
			sku: 16392, kind: "AMT",
			state: amt.InProvisioning, mode: amt.ModeACM,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, dev := newSim(t, tt.opts)
			c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password))

			inv, err := c.Inventory(context.Background())
			require.NoError(t, err)
			assert.Equal(t, dev.HTTPAddr(), inv.Host)
			assert.Equal(t, tt.amt, inv.AMTVersion)
			assert.Equal(t, tt.build, inv.Build)
			assert.Equal(t, tt.amt, inv.FlashVersion)
			assert.Equal(t, tt.sku, inv.SKU)
			assert.Equal(t, tt.kind, inv.SKU.Kind())
			assert.Equal(t, tt.state, inv.ProvisioningState)
			assert.Equal(t, tt.mode, inv.ProvisioningMode)
			assert.Equal(t, dev.Realm(), inv.DigestRealm)
			assert.Regexp(t, `^Digest:[0-9A-F]{32}$`, inv.DigestRealm)
			assert.Equal(t, dev.Hostname(), inv.Hostname)
			assert.Equal(t, tt.opts.DomainName, inv.DomainName)
			assert.Equal(t, dev.PlatformGUID(), inv.PlatformGUID)
			assert.Equal(t, amt.GUIDToUUID(dev.PlatformGUID()), inv.UUID)
			assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, inv.UUID)
			assert.Equal(t, wantPorts(tt.ip, tt.mac), inv.Ports)
			assert.Equal(t, map[string]string{
				"Flash": tt.amt, "Netstack": tt.amt, "AMTApps": tt.amt, "AMT": tt.amt,
				"Sku": strconv.Itoa(int(tt.sku)), "VendorID": "8086",
				"Build Number": tt.build, "Recovery Version": tt.amt, "Recovery Build Num": tt.build,
				"Legacy Mode": "False", "AMT FW Core Version": tt.amt,
			}, inv.SoftwareIdentity)
			assert.Zero(t, dev.Stats().FailedLogins)
		})
	}
}

func TestInventoryOverTLS(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{HTTPPort: -1})
	roots := x509.NewCertPool()
	roots.AddCert(sim.Certificate())

	for name, opt := range map[string]amt.Option{
		"pinned certificate": amt.WithPinnedCertificate(sim.CertificateSHA256()),
		"private root":       amt.WithRootCAs(roots),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, dev.TLSAddr(), opt, amt.WithCredentials(user, password))
			assert.Equal(t, "https://"+dev.TLSAddr()+"/wsman", c.WSMan().Endpoint())

			id, err := c.Identify(context.Background())
			require.NoError(t, err)
			assert.Equal(t, "11.8.50.3425", id.Firmware)

			inv, err := c.Inventory(context.Background())
			require.NoError(t, err)
			assert.Equal(t, dev.TLSAddr(), inv.Host)
			assert.Equal(t, "11.8.50", inv.AMTVersion)
			assert.Equal(t, amt.PostProvisioning, inv.ProvisioningState)
			assert.Equal(t, dev.Realm(), inv.DigestRealm)
			assert.Equal(t, amt.GUIDToUUID(dev.PlatformGUID()), inv.UUID)
		})
	}
}

func TestInventoryOverMutualTLS(t *testing.T) {
	t.Parallel()
	ca := newClientCA(t)
	sim, dev := newSim(t, amtsim.Options{HTTPPort: -1, ClientCAs: ca.pool})
	ctx := context.Background()

	c := newClient(t, dev.TLSAddr(),
		amt.WithPinnedCertificate(sim.CertificateSHA256()),
		amt.WithClientCertificate(ca.issue(t, "console")),
		amt.WithCredentials(user, password))
	inv, err := c.Inventory(ctx)
	require.NoError(t, err)
	assert.Equal(t, "11.8.50", inv.AMTVersion)
	assert.Equal(t, dev.Realm(), inv.DigestRealm)

	// Without a client certificate the device refuses the connection
	// before any HTTP is exchanged.
	without := newClient(t, dev.TLSAddr(), amt.WithPinnedCertificate(sim.CertificateSHA256()), amt.WithCredentials(user, password))
	before := dev.Stats().HTTPRequests
	_, err = without.Inventory(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, amt.ErrTLS, "%v", err)
	assert.Equal(t, before, dev.Stats().HTTPRequests)
	assert.Zero(t, dev.Stats().FailedLogins)

	_, err = without.Identify(ctx)
	assert.ErrorIs(t, err, amt.ErrTLS, "%v", err)

	// A certificate from another CA is refused the same way.
	other := newClient(t, dev.TLSAddr(),
		amt.WithPinnedCertificate(sim.CertificateSHA256()),
		amt.WithClientCertificate(newClientCA(t).issue(t, "intruder")),
		amt.WithCredentials(user, password))
	_, err = other.Inventory(ctx)
	assert.ErrorIs(t, err, amt.ErrTLS, "%v", err)
}

func TestClientConcurrentInventory(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL(), amt.WithCredentials(user, password))

	const workers = 8
	var wg sync.WaitGroup
	results := make([]*amt.Inventory, workers)
	errs := make([]error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.Inventory(context.Background())
		}()
	}
	wg.Wait()
	for i := range workers {
		require.NoError(t, errs[i])
		assert.Equal(t, results[0], results[i])
	}
	assert.Equal(t, dev.Realm(), results[0].DigestRealm)
	assert.Zero(t, dev.Stats().FailedLogins)
}

func TestGUIDToUUID(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "55e3ae13-bfd2-61bb-17a0-88aedd7037ea", amt.GUIDToUUID("13AEE355D2BFBB6117A088AEDD7037EA"))
	assert.Equal(t, "55e3ae13-bfd2-61bb-17a0-88aedd7037ea", amt.GUIDToUUID(" 13aee355d2bfbb6117a088aedd7037ea "))
	assert.Equal(t, "03020100-0504-0706-0809-0a0b0c0d0e0f", amt.GUIDToUUID("000102030405060708090A0B0C0D0E0F"))
	for _, bad := range []string{
		"",
		"13AEE355D2BFBB6117A088AEDD7037E",   // 31 digits
		"13AEE355D2BFBB6117A088AEDD7037EA0", // 33 digits
		"13AEE355D2BFBB6117A088AEDD7037EG",
		"55e3ae13-bfd2-61bb-17a0-88aedd7037ea",
	} {
		assert.Empty(t, amt.GUIDToUUID(bad), "%q", bad)
	}
}

func TestSKU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sku      amt.SKU
		kind     string
		features []string
		str      string
	}{
		{16392, "AMT", []string{"AMT", "Corporate"}, "AMT (16392: AMT+Corporate)"},
		{16400, "ISM", []string{"ISM", "Corporate"}, "ISM (16400: ISM+Corporate)"},
		{amt.SKUFullAMT | amt.SKUAntiTheft, "AMT", []string{"AMT", "AT-p"}, "AMT (8200: AMT+AT-p)"},
		{amt.SKUiQST | amt.SKUASF | amt.SKUTPM | amt.SKUHomeIT | amt.SKUWOX | amt.SKUManageabilityUpgrade, "unknown",
			[]string{"iQST", "ASF", "TPM", "HomeIT", "WOX", "LevelIIIUpgrade"}, "unknown (34086: iQST+ASF+TPM+HomeIT+WOX+LevelIIIUpgrade)"},
		{0, "unknown", nil, "unknown (0)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.kind, tt.sku.Kind(), "%d", tt.sku)
		assert.Equal(t, tt.features, tt.sku.Features(), "%d", tt.sku)
		assert.Equal(t, tt.str, tt.sku.String(), "%d", tt.sku)
	}
}

func TestProvisioningStrings(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "pre-provisioning", amt.PreProvisioning.String())
	assert.Equal(t, "in-provisioning", amt.InProvisioning.String())
	assert.Equal(t, "post-provisioning", amt.PostProvisioning.String())
	assert.Equal(t, "state 7", amt.ProvisioningState(7).String())

	assert.Equal(t, "none", amt.ModeNone.String())
	assert.Equal(t, "ACM", amt.ModeACM.String())
	assert.Equal(t, "small business", amt.ModeSmallBusiness.String())
	assert.Equal(t, "remote connectivity", amt.ModeRemoteConnectivity.String())
	assert.Equal(t, "CCM", amt.ModeCCM.String())
	assert.Equal(t, "mode 9", amt.ProvisioningMode(9).String())
}
