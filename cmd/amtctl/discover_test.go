package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/statedb"
)

// discoverCLI runs "amtctl discover ARGS..." in-process, like run, on a
// root command that has the discover command whether or not main
// registers it yet.
func discoverCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCommand(&stdout, &stderr)
	if c, _, err := root.Find([]string{"discover"}); err != nil || c == root {
		root.AddCommand(newDiscoverCommand())
	}
	started := false
	root.PersistentPreRun = func(*cobra.Command, []string) { started = true }
	root.SetArgs(withTestState(t, append([]string{"discover"}, args...)))
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return exitOK, stdout.String(), stderr.String()
	}
	if !started {
		err = usageError{err}
	}
	fmt.Fprintln(&stderr, "amtctl:", err)
	return exitCode(err), stdout.String(), stderr.String()
}

func ptrInt(n int) *int { return &n }

func discoverFleet(t *testing.T, cidr string) *amtsim.Server {
	t.Helper()
	sim, err := amtsim.New(amtsim.Options{DevicesCIDR: cidr, DeviceCount: 8, Seed: 3, Fleet: &amtsim.FleetSpec{Groups: []amtsim.DeviceGroup{
		{Name: "acm", Weight: 1, Version: "16.1.25.2124", ProvisioningMode: ptrInt(1)},
		{Name: "ccm-ism", Weight: 1, Version: "11.8.50.3425", ProvisioningMode: ptrInt(4), SKU: 16400},
		{Name: "new", Weight: 1, Version: "12.0.67.1579", ProvisioningState: ptrInt(0)},
		{Name: "tls", Weight: 1, TLSOnly: true, NoRMCP: true},
		{Name: "locked-away", Weight: 1, Accounts: []amtsim.Account{{User: user, Password: "An0ther!pass"}}},
	}}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sim.Close()) })
	return sim
}

func simFlags(sim *amtsim.Server) []string {
	return []string{
		"--rmcp-port", fmt.Sprint(sim.RMCPPort()), "--http-port", fmt.Sprint(sim.HTTPPort()),
		"--tls-port", fmt.Sprint(sim.TLSPort()), "--rmcp-wait", "300ms",
	}
}

func decodeLines(t *testing.T, stdout string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out[m["address"].(string)] = m
	}
	return out
}

func TestDiscoverJSON(t *testing.T) {
	t.Parallel()
	sim := discoverFleet(t, "127.78.20.0/27")
	code, stdout, stderr := discoverCLI(t, append(simFlags(sim), "--output", "json", "127.78.20.0/27")...)
	require.Equal(t, exitOK, code, stderr)
	got := decodeLines(t, stdout)
	require.Len(t, got, len(sim.Devices()), "one line per device, none for empty addresses")
	for _, d := range sim.Devices() {
		rec := got[d.IP()]
		require.NotNil(t, rec, d.IP())
		for _, k := range []string{"address", "amt", "firmware", "inventory", "sku", "cert_sha256", "provisioning_state", "tls", "realm", "classification"} {
			assert.Contains(t, rec, k, d.Group())
		}
		assert.Equal(t, true, rec["amt"])
		assert.Equal(t, d.Version(), rec["firmware"])
		assert.Equal(t, d.Realm(), rec["realm"])
		assert.Equal(t, d.TLSOnly() || d.RMCPEnabled() && d.ProvisioningState() != 0 && d.TLSAddr() != "", rec["tls"], "TLS as the pong advertises it")
		want := "provisioned"
		if d.ProvisioningState() == 0 {
			want = "not_provisioned"
		}
		assert.Equal(t, want, rec["classification"], d.Group())
		assert.Nil(t, rec["inventory"])
	}
	assert.Contains(t, stderr, "scanned 30 addresses")
	assert.Contains(t, stderr, fmt.Sprintf("%d AMT", len(sim.Devices())))
	assert.NotContains(t, stderr, "\r", "no progress when stderr is not a terminal")
}

func TestDiscoverInventory(t *testing.T) {
	t.Parallel()
	sim := discoverFleet(t, "127.78.21.0/27")
	code, stdout, stderr := discoverCLI(t, append(simFlags(sim), "-o", "json", "--inventory", "--password", password, "127.78.21.0/27")...)
	require.Equal(t, exitOK, code, stderr)
	got := decodeLines(t, stdout)
	require.Len(t, got, len(sim.Devices()))
	for _, d := range sim.Devices() {
		rec := got[d.IP()]
		switch {
		case d.Group() == "locked-away":
			assert.Equal(t, "auth_failed", rec["classification"])
			assert.Contains(t, rec["error"], "authentication failed")
		case d.ProvisioningState() == 0:
			assert.Equal(t, "not_provisioned", rec["classification"])
			assert.Nil(t, rec["inventory"])
		default:
			assert.Equal(t, "provisioned", rec["classification"], d.Group())
			inv, ok := rec["inventory"].(map[string]any)
			require.True(t, ok, d.Group())
			assert.Equal(t, d.Hostname(), inv["hostname"])
			assert.NotEmpty(t, inv["uuid"])
			assert.Equal(t, 2.0, inv["power_state"], "the DMTF number, as power status gives it")
			assert.Equal(t, "on", inv["power_state_name"])
			assert.Equal(t, d.Version(), inv["firmware"], "the full version")
			wantMode, wantSKU := "ACM", "AMT"
			if d.Group() == "ccm-ism" {
				wantMode, wantSKU = "CCM", "ISM"
			}
			assert.Equal(t, wantMode, rec["provisioning_mode"], d.Group())
			assert.Equal(t, wantSKU, rec["sku"], d.Group())
		}
	}
	assert.Contains(t, stderr, "1 authentication failed")
}

func TestDiscoverProfile(t *testing.T) {
	t.Parallel()
	sim := discoverFleet(t, "127.78.22.0/28")
	state := filepath.Join(t.TempDir(), "state")
	sdb, err := statedb.Open(context.Background(), filepath.Join(state, statedb.FileName))
	require.NoError(t, err)
	db := sdb.Credentials()
	require.NoError(t, db.PutProfile(context.Background(), credentials.Profile{Name: "lab", Entries: map[credentials.Technology]credentials.Credential{
		credentials.AMT: {User: user, Password: password},
	}}))
	require.NoError(t, sdb.Close())

	code, stdout, stderr := discoverCLI(t, append(simFlags(sim), "-o", "json", "--inventory", "--profile", "lab", "--state", state, "127.78.22.0/28")...)
	require.Equal(t, exitOK, code, stderr)
	provisioned := 0
	for _, rec := range decodeLines(t, stdout) {
		if inv, ok := rec["inventory"].(map[string]any); ok {
			provisioned++
			assert.Equal(t, "profile", inv["credential_origin"])
			assert.Equal(t, "lab", inv["credential_profile"])
		}
	}
	assert.Positive(t, provisioned)

	code, _, stderr = discoverCLI(t, append(simFlags(sim), "--inventory", "--profile", "nope", "--state", state, "127.78.22.0/28")...)
	assert.Equal(t, exitUsage, code, stderr)
	code, _, stderr = discoverCLI(t, append(simFlags(sim), "--inventory", "--state", state, "127.78.22.0/28")...)
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "default profile")
}

func TestDiscoverTable(t *testing.T) {
	t.Parallel()
	sim := discoverFleet(t, "127.78.23.0/28")
	code, stdout, stderr := discoverCLI(t, append(simFlags(sim), "127.78.23.0/28")...)
	require.Equal(t, exitOK, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 1+len(sim.Devices()))
	assert.True(t, strings.HasPrefix(lines[0], "ADDRESS"))
	for _, d := range sim.Devices() {
		assert.Contains(t, stdout, d.IP()+" ")
		assert.Contains(t, stdout, d.Realm())
	}
}

func TestDiscoverUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"10.0.0.0/33"},
		{"-o", "yaml", "127.0.0.1"},
		{"--rate", "x", "127.0.0.1"},
		{"10.0.0.0/8"},
		{"--rate", "0", "127.0.0.1"},
	} {
		code, stdout, stderr := discoverCLI(t, args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, stderr)
		assert.Empty(t, stdout)
	}
}
