package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
)

func defenseWrites(d *amtsim.Device) int {
	n := 0
	for a, c := range d.Stats().Actions {
		if strings.HasSuffix(a, "/Create") || strings.HasSuffix(a, "/Delete") || strings.HasSuffix(a, "/SetTimeout") {
			n += c
		}
	}
	return n
}

func jsonLine(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, lines, 1, stdout)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &m))
	return m
}

func hostPass(d *amtsim.Device, proto uint8, peer string, port uint16) bool {
	host, srv := netip.MustParseAddr(d.IP()), netip.MustParseAddr(peer)
	out := amtsim.Packet{Direction: amtsim.HostTransmit, Src: host, Dst: srv, Protocol: proto, SrcPort: 50000, DstPort: port}
	back := amtsim.Packet{Direction: amtsim.HostReceive, Src: srv, Dst: host, Protocol: proto, SrcPort: port, DstPort: 50000}
	return d.HostPacket(out).Pass && d.HostPacket(back).Pass
}

func TestDefenseQuarantineStatusStatsRemove(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{TLSPort: -1})
	h := []string{"--host", dev.HTTPAddr(), "--password", password}
	args := append([]string{"defense", "quarantine", "--allow", "10.0.0.10:443", "--allow", "10.0.0.20:8080", "--allow", "10.0.0.30:514/udp",
		"--dns", "10.0.0.53", "--timeout", "30m", "--statistics", "-o", "json"}, h...)
	code, stdout, stderr := amtctl(t, args...)
	require.Equal(t, exitOK, code, stderr)
	res := jsonLine(t, stdout)
	assert.Equal(t, true, res["accepted"])
	assert.Equal(t, "quarantine", res["action"])
	assert.Len(t, res["filter_ids"], 12)
	assert.EqualValues(t, 15, res["writes"])
	t.Logf("quarantine of three servers: %v round trips, %v writes", res["round_trips"], res["writes"])
	assert.True(t, hostPass(dev, 6, "10.0.0.10", 443))
	assert.False(t, hostPass(dev, 6, "10.0.0.10", 22))

	code, stdout, stderr = amtctl(t, append([]string{"defense", "status", "-o", "json"}, h...)...)
	require.Equal(t, exitOK, code, stderr)
	st := jsonLine(t, stdout)
	for _, k := range []string{"host", "mode", "interfaces"} {
		assert.Contains(t, st, k)
	}
	assert.Equal(t, "ACM", st["mode"]) // as info writes provisioning_mode
	ifs := st["interfaces"].([]any)
	require.Len(t, ifs, 2)
	wired := ifs[0].(map[string]any)
	for _, k := range []string{"interface", "active_policy", "enabled_policies", "timeout_remaining_s", "anti_spoofing", "filters"} {
		assert.Contains(t, wired, k)
	}
	assert.Equal(t, "wired", wired["interface"])
	assert.Equal(t, "quarantine", wired["active_policy"].(map[string]any)["name"])
	assert.EqualValues(t, 1800, wired["timeout_remaining_s"])
	assert.Equal(t, false, wired["anti_spoofing"])
	filters := wired["filters"].([]any)
	require.Len(t, filters, 12)
	f0 := filters[0].(map[string]any)
	for _, k := range []string{"name", "direction", "action", "src", "dst", "protocol", "src_ports", "dst_ports", "ether_type", "matched_packets"} {
		assert.Contains(t, f0, k)
	}
	wireless := ifs[1].(map[string]any)
	assert.Nil(t, wireless["active_policy"])
	assert.Nil(t, wireless["timeout_remaining_s"])
	assert.Nil(t, wireless["anti_spoofing"])
	assert.Equal(t, []any{}, wireless["filters"])

	for range 5 {
		hostPass(dev, 6, "10.0.0.10", 443)
	}
	code, stdout, stderr = amtctl(t, append([]string{"defense", "stats", "-o", "json"}, h...)...)
	require.Equal(t, exitOK, code, stderr)
	stats := jsonLine(t, stdout)
	port := stats["interfaces"].([]any)[0].(map[string]any)
	found := false
	for _, f := range port["filters"].([]any) {
		fm := f.(map[string]any)
		if fm["name"] == "srv1-tx" {
			found = true
			assert.EqualValues(t, 6, fm["matched_packets"])
		}
	}
	assert.True(t, found)
	assert.NotNil(t, port["tx_default_matched_packets"])

	code, stdout, stderr = amtctl(t, append([]string{"defense", "stats", "--reset"}, h...)...)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "srv1-tx")

	code, stdout, stderr = amtctl(t, append([]string{"defense", "caps"}, h...)...)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "ACM, System Defense available")

	code, stdout, stderr = amtctl(t, append([]string{"defense", "remove"}, h...)...)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "removed 1 policies (quarantine), 12 filters, 1 port bindings")
	assert.Equal(t, "", dev.ActiveDefensePolicy(0))
	assert.True(t, hostPass(dev, 6, "10.0.0.10", 22))
}

func TestDefenseRefusalsSendNothing(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{TLSPort: -1})
	h := []string{"--host", dev.HTTPAddr(), "--password", password}
	// No timeout, and not said explicitly: a usage error before anything.
	code, _, stderr := amtctl(t, append([]string{"defense", "ping-only"}, h...)...)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--no-timeout")
	// A required flow the quarantine drops.
	code, stdout, stderr := amtctl(t, append([]string{"defense", "quarantine", "--allow", "10.0.0.10:443", "--require", "10.0.0.99:22", "--timeout", "1h"}, h...)...)
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "required flow 10.0.0.99:22")
	assert.Contains(t, stderr, "by tx default")
	assert.Empty(t, stdout)
	// A dry run prints the filters, the policy, the report and the round trips.
	code, stdout, stderr = amtctl(t, append([]string{"defense", "quarantine", "--allow", "10.0.0.10:443", "--dns", "10.0.0.53", "--timeout", "1h", "--dry-run"}, h...)...)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, `policy "quarantine" precedence 1`)
	assert.Contains(t, stdout, "srv1-rx")
	assert.Contains(t, stdout, "pass  10.0.0.10:443/tcp")
	assert.Contains(t, stdout, "round trips")
	assert.Contains(t, stdout, "would send: Create AMT_SystemDefensePolicy")
	assert.Contains(t, stdout, "would send: Invoke AMT_SystemDefensePolicy.SetTimeout(Timeout=60)")
	assert.Zero(t, defenseWrites(dev))
}

func TestDefenseRefusedInCCM(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, ProvisioningMode: 4})
	code, stdout, stderr := amtctl(t, "defense", "ping-only", "--host", dev.HTTPAddr(), "--password", password, "--no-timeout", "-o", "json")
	assert.Equal(t, exitRefused, code, stderr)
	e := jsonLine(t, stdout)
	assert.Equal(t, "refused", e["error"].(map[string]any)["class"])
	assert.Contains(t, e["error"].(map[string]any)["message"], "Client Control Mode")
	assert.Zero(t, defenseWrites(dev))
}

func TestDefenseApplyAndCheckPolicyFile(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{TLSPort: -1})
	file := filepath.Join("..", "..", "examples", "quarantine", "policy.yaml")
	code, stdout, stderr := amtctl(t, "defense", "check", "--policy", file)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "pass  10.0.0.10:443/tcp")
	code, stdout, _ = amtctl(t, "defense", "check", "--policy", file, "--require", "10.0.0.10:22", "-o", "json")
	assert.Equal(t, exitRefused, code)
	assert.Equal(t, false, strings.Contains(stdout, `"ok":true`))
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: p\nfilters:\n  - {name: x, direction: tx, action: pass, dst: 10.0.0.300}\n"), 0o600))
	code, _, stderr = amtctl(t, "defense", "check", "--policy", bad)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "line 3")

	code, _, stderr = amtctl(t, "defense", "apply", "--host", dev.HTTPAddr(), "--password", password, "--policy", file, "--timeout", "2m")
	require.Equal(t, exitOK, code, stderr)
	assert.True(t, hostPass(dev, 6, "10.0.2.7", 443))
	assert.False(t, hostPass(dev, 6, "10.0.3.7", 443))
	// Applying again replaces it.
	code, stdout, stderr = amtctl(t, "defense", "apply", "--host", dev.HTTPAddr(), "--password", password, "--policy", file, "--timeout", "2m")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "replaced")
	// The timeout runs out on the device: the machine is reachable again.
	dev.AdvanceDefenseClock(3 * time.Minute)
	assert.True(t, hostPass(dev, 6, "10.0.3.7", 443))
}

// TestDefenseBinary runs the real amtctl: a refusal exits 10 with nothing
// sent, then a ping-only policy is applied and removed.
func TestDefenseBinary(t *testing.T) {
	amtctlBinary(t)
	_, dev := newSim(t, amtsim.Options{TLSPort: -1, SystemDefense: &amtsim.SystemDefenseOptions{MaxFilters: 4}})
	run := func(args ...string) (int, string, string) {
		return execBinary(t, append(os.Environ(), "AMT_PASSWORD="+password), nil, append(args, "--host", dev.HTTPAddr())...)
	}
	code, _, stderr := run("defense", "quarantine", "--allow", "10.0.0.10:443", "--no-timeout")
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "the device allows 4")
	assert.Zero(t, defenseWrites(dev))
	code, _, stderr = run("defense", "ping-only", "--no-timeout", "--interface", "both")
	require.Equal(t, exitOK, code, stderr)
	assert.NotEqual(t, "", dev.ActiveDefensePolicy(1))
	code, stdout, stderr := run("defense", "status", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, `"active_policy":{`)
	code, _, stderr = run("defense", "remove", "--all")
	assert.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "", dev.ActiveDefensePolicy(0))
}

func TestDemoQuarantineStep(t *testing.T) {
	code, stdout, stderr := amtctl(t, "demo")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "DROP  10.0.0.10:443/tcp: rx dropped (tcp 10.0.0.10:443 -> host) by rx default")
	assert.Contains(t, stdout, `policy "quarantine" applied with 12 filters, timeout 30m`)
	assert.Contains(t, stdout, "srv1-tx     tx   pass    3")
	assert.Contains(t, stdout, "removed 1 policies, 12 filters")
}
