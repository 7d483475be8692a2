package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/internal/testiso"
	"github.com/amtkit/amtkit/redirect"
	"github.com/amtkit/amtkit/statedb"
)

// runCLI runs the real amtctl with a clean environment (plus env) and
// stdin, and returns its exit status, stdout and stderr.
func runCLI(t *testing.T, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return execBinary(t, append(cleanEnv(), env...), strings.NewReader(stdin), args...)
}

// cleanEnv is the test process's environment without the variables that
// give amtctl defaults.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "AMT_HOST", "AMT_USER", "AMT_PASSWORD", "AMTKIT_STATE", "AMTKIT_KEY_FILE", "XDG_CONFIG_HOME":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "XDG_CONFIG_HOME="+filepath.Join(os.Getenv("XDG_STATE_HOME"), "no-config"))
}

// shape is the keys of a JSON object and the types each may have
// ("string", "number", "bool", "array", "object", "null", joined by |).
type shape map[string]string

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// assertShape checks that obj has exactly the keys of want, each of an
// allowed type.
func assertShape(t *testing.T, name string, want shape, obj map[string]any) {
	t.Helper()
	var missing, extra []string
	for k := range want {
		if _, ok := obj[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k, v := range obj {
		types, ok := want[k]
		if !ok {
			extra = append(extra, k)
			continue
		}
		assert.Contains(t, strings.Split(types, "|"), jsonType(v), "%s: key %q is %s (%v), want %s", name, k, jsonType(v), v, types)
	}
	sort.Strings(missing)
	sort.Strings(extra)
	assert.Empty(t, missing, "%s: keys missing", name)
	assert.Empty(t, extra, "%s: keys not in the contract (document them in help json and here)", name)
}

// decodeContractLine decodes stdout as exactly one JSON object on one line.
func decodeContractLine(t *testing.T, name, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, lines, 1, "%s: one JSON line: %q", name, stdout)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &m), "%s: %s", name, stdout)
	return m
}

var (
	actionShape = shape{
		"host": "string", "action": "string", "accepted": "bool", "changed": "bool|null",
		"message": "string", "dry_run": "bool", "would_send": "array",
	}
	requestShape = shape{"operation": "string", "resource": "string", "method": "string", "arguments": "object"}
	errorShape   = shape{"host": "string|null", "error": "object"}
	errorDetail  = shape{"class": "string", "message": "string", "exit": "number"}
	infoShape    = shape{
		"host": "string", "firmware": "string|null", "product_version": "string|null", "amt_version": "string|null",
		"build": "string|null", "sku": "string|null", "sku_value": "number|null", "sku_features": "array",
		"provisioning_state": "string|null", "provisioning_mode": "string|null", "digest_realm": "string|null",
		"hostname": "string|null", "domain_name": "string|null", "uuid": "string|null", "platform_guid": "string|null",
		"ports": "array", "credentials": "object|null",
	}
	powerShape = shape{
		"host": "string", "power_state": "number", "power_state_name": "string", "os_power_saving": "string|null",
		"transitioning": "bool", "transitioning_to": "string|null", "available_actions": "array",
	}
	discoverShape = shape{
		"address": "string|null", "host": "string|null", "amt": "bool", "classification": "string",
		"firmware": "string|null", "provisioning_state": "string|null", "provisioning_mode": "string|null",
		"tls": "bool", "port": "number|null", "realm": "string|null", "sku": "string|null", "rmcp": "bool",
		"dash": "bool", "product_version": "string|null", "cert_sha256": "string|null", "error": "string|null",
		"inventory": "object|null",
	}
	bootShowShape = shape{
		"host": "string", "armed": "bool|null", "is_next": "string|null", "boot_source": "string|null",
		"settings": "object", "unavailable": "object",
	}
	redirectShape       = shape{"host": "string", "ider": "bool|null", "sol": "bool|null", "listener": "bool|null", "enabled_state": "number|null"}
	redirectChangeShape = with(actionShape, "ider", "bool|null", "sol", "bool|null", "listener", "bool|null", "enabled_state", "number|null")
	restoreShape        = with(actionShape, "restored", "array")
	iderShape           = with(actionShape, "device", "string|null", "start_action", "string|null", "action_outcome_unknown", "bool",
		"bytes_served", "number", "commands", "number", "resets", "number", "seconds", "number", "rate_mib_s", "number",
		"stop", "string|null", "restored", "array", "restore_errors", "array", "error", "string|null")
	activityShape = shape{
		"id": "number", "time": "string", "actor": "string", "host": "string|null", "operation": "string", "params": "object",
		"technology": "string|null", "profile": "string|null", "outcome": "string", "return_code": "number|null",
		"return_code_name": "string|null", "auth_step": "string|null", "job": "number|null", "job_label": "string|null", "duration_seconds": "number",
		"message": "string|null",
	}
	versionShape = shape{"module": "string", "version": "string", "commit": "string|null", "modified": "bool", "go_version": "string"}
	configShape  = shape{"file": "string|null", "settings": "object", "pins": "object"}
)

// with adds keys to a shape.
func with(s shape, kv ...string) shape {
	out := shape{}
	for k, v := range s {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// contractCase is one run of the binary: its exit status and, with
// --output json, the shape of what it prints.
type contractCase struct {
	name    string
	command string // the command path it covers, e.g. "power"
	args    []string
	env     []string
	stdin   string
	exit    int
	shape   shape                                     // success: the object's keys; nil for an error
	lines   shape                                     // success printing JSON lines: each line's keys
	check   func(t *testing.T, out map[string]any)    // more checks of the object
	before  func(t *testing.T)                        // set-up just before the run
	after   func(t *testing.T, stdout, stderr string) // checks of the device afterwards
}

// TestContract runs every command of the real binary against amtsim, on
// success and for each failure class, and checks the exit status and the
// keys and types of the JSON printed. A command added to amtctl fails it
// until it has a case here.
func TestContract(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{Addr: "127.0.3.1"})
	_, unprov := newSim(t, amtsim.Options{Addr: "127.0.3.2", ProvisioningState: -1, TLSPort: -1})
	_, noAgent := newSim(t, amtsim.Options{Addr: "127.0.3.4", NoOSAgent: true, TLSPort: -1})
	_, guarded := newSim(t, amtsim.Options{Addr: "127.0.3.3", TLSPort: -1})
	_, lossy := newSim(t, amtsim.Options{Addr: "127.0.3.6", TLSPort: -1})
	lossy.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetAfterRequest, Action: "RequestPowerStateChange", Times: 1})
	_, slow := newSim(t, amtsim.Options{Addr: "127.0.3.7", TLSPort: -1, TransitionTime: time.Hour})
	_, off := newSim(t, amtsim.Options{Addr: "127.160.0.4", TLSPort: -1, PowerState: 8})
	_, unactivated := newSim(t, amtsim.Options{Addr: "127.0.3.8", TLSPort: -1})
	unactivated.InjectFault(amtsim.Fault{Kind: amtsim.FaultInternalError, PTStatus: 32})
	_, faulty := newSim(t, amtsim.Options{Addr: "127.0.3.5", TLSPort: -1})
	faulty.InjectFault(amtsim.Fault{Kind: amtsim.FaultStatus, Status: 400})
	notAMT := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.NotFound(w, r)
	}))
	t.Cleanup(notAMT.Close)

	host := dev.HTTPAddr()
	pw := []string{"AMT_PASSWORD=" + password}
	j := func(a ...string) []string { return append(a, "--output", "json") }
	state := filepath.Join(t.TempDir(), "state")
	policyFile, err := filepath.Abs("../../examples/quarantine/policy.yaml")
	require.NoError(t, err)
	iso := filepath.Join(t.TempDir(), "rescue.iso")
	require.NoError(t, os.WriteFile(iso, testiso.Make(512, 4), 0o600))

	openState := filepath.Join(t.TempDir(), "open")
	require.NoError(t, os.MkdirAll(openState, 0o755))
	require.NoError(t, os.Chmod(openState, 0o755))

	cases := []contractCase{
		// Successes.
		{name: "info", command: "info", args: j("info", "--host", host), env: pw, shape: infoShape,
			check: func(t *testing.T, o map[string]any) {
				cr := o["credentials"].(map[string]any)
				assert.Nil(t, cr["profile"], "no profile: null, as discover's credential_profile")
				assert.Equal(t, "11.8.50.3425", o["firmware"])
				assert.Equal(t, "ACM", o["provisioning_mode"])
			}},
		{name: "info without credentials", command: "info", args: j("info", "--host", host), shape: infoShape,
			check: func(t *testing.T, o map[string]any) {
				assert.Nil(t, o["amt_version"])
				assert.Nil(t, o["provisioning_mode"])
				assert.Equal(t, []any{}, o["ports"])
			}},
		{name: "info of an unprovisioned machine", command: "info", args: j("info", "--host", unprov.HTTPAddr()), env: pw, shape: infoShape,
			check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, "pre-provisioning", o["provisioning_state"])
				assert.Nil(t, o["provisioning_mode"], "no mode before provisioning")
			}},
		{name: "info with AMT_HOST and AMT_USER", command: "info", args: j("info"), env: append([]string{"AMT_HOST=" + host, "AMT_USER=" + user}, pw...), shape: infoShape},
		{name: "power status", command: "power", args: j("power", "status", "--host", host), env: pw, shape: powerShape,
			check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, 2.0, o["power_state"])
				assert.Equal(t, "on", o["power_state_name"])
			}},
		{name: "power reset --dry-run", command: "power", args: j("power", "reset", "--host", host, "--dry-run"), env: pw,
			shape: actionShape, check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, true, o["dry_run"])
				assert.Equal(t, false, o["accepted"])
				reqs := o["would_send"].([]any)
				require.Len(t, reqs, 1)
				req := reqs[0].(map[string]any)
				assertShape(t, "would_send", requestShape, req)
				assert.Equal(t, "RequestPowerStateChange", req["method"])
				assert.Equal(t, 10.0, req["arguments"].(map[string]any)["PowerState"])
			}},
		{name: "boot next --dry-run", command: "boot next", args: j("boot", "next", "pxe", "--reset", "--host", host, "--dry-run"), env: pw,
			shape: with(actionShape, "next_boot", "string", "start_action", "string|null"), check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, "pxe", o["next_boot"])
				assert.Equal(t, "reset", o["start_action"])
				var methods []string
				for _, r := range o["would_send"].([]any) {
					req := r.(map[string]any)
					assertShape(t, "would_send", requestShape, req)
					methods = append(methods, req["operation"].(string)+" "+req["method"].(string))
				}
				assert.Equal(t, []string{"Invoke ChangeBootOrder", "Put ", "Invoke ChangeBootOrder", "Invoke SetBootConfigRole", "Invoke RequestPowerStateChange"}, methods)
			}},
		{name: "ider boot --dry-run", command: "ider boot", args: j("ider", "boot", "--image", iso, "--host", host, "--dry-run"), env: pw,
			shape: iderShape, check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, "ider-cd", o["device"])
				assert.Nil(t, o["start_action"], "nothing was sent")
				var got []string
				for _, r := range o["would_send"].([]any) {
					req := r.(map[string]any)
					assertShape(t, "would_send", requestShape, req)
					got = append(got, req["method"].(string))
				}
				assert.Contains(t, got, "open and enable the drives")
				assert.Contains(t, got, "RequestPowerStateChange")
				assert.Equal(t, "SetBootConfigRole", got[len(got)-1], "the boot options are cleared at the end")
			}},
		{name: "boot clear --dry-run", command: "boot clear", args: j("boot", "clear", "--host", host, "--dry-run"), env: pw, shape: actionShape},
		{name: "boot next", command: "boot next", args: j("boot", "next", "bios", "--host", host), env: pw,
			shape: with(actionShape, "next_boot", "string", "start_action", "string|null")},
		{name: "boot show", command: "boot show", args: j("boot", "show", "--host", host), env: pw, shape: bootShowShape,
			check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, "bios", o["boot_source"])
				assert.Equal(t, "true", o["settings"].(map[string]any)["BIOSSetup"])
			}},
		{name: "boot clear", command: "boot clear", args: j("boot", "clear", "--host", host), env: pw, shape: actionShape},
		{name: "power reset", command: "power", args: j("power", "reset", "--host", host), env: pw,
			shape: with(actionShape, "status", "object|null", "sent", "bool", "credentials", "object|null")},
		{name: "discover", command: "discover", args: j("discover", dev.IP(), "--rmcp-port", fmt.Sprint(sim.RMCPPort()),
			"--http-port", fmt.Sprint(sim.HTTPPort()), "--tls-port", fmt.Sprint(sim.TLSPort()), "--rmcp-wait", "300ms"), shape: discoverShape},
		{name: "version", command: "version", args: j("version"), shape: versionShape},
		{name: "config show", command: "config show", args: j("config", "show"), shape: configShape},
		{name: "creds profile list, empty", command: "creds profile list", args: j("creds", "profile", "list", "--state", state),
			after: func(t *testing.T, stdout, _ string) { assert.Equal(t, "[]\n", stdout) }},
		{name: "creds runtime list, empty", command: "creds runtime list", args: j("creds", "runtime", "list", "--state", state),
			after: func(t *testing.T, stdout, _ string) { assert.Equal(t, "[]\n", stdout) }},
		{name: "creds profile add", command: "creds profile add", args: []string{"creds", "profile", "add", "lab", "--user", user, "--password-stdin", "--state", state},
			stdin: password + "\n"},
		{name: "creds profile add without --password-stdin", command: "creds profile add", args: []string{"creds", "profile", "add", "lab2", "--user", user, "--state", state}, exit: exitUsage},
		{name: "creds profile default", command: "creds profile default", args: []string{"creds", "profile", "default", "lab", "--state", state}},
		{name: "info with --profile", command: "info", args: j("info", "--host", host, "--profile", "lab", "--state", state), shape: infoShape,
			check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, "lab", o["credentials"].(map[string]any)["profile"])
			}},
		{name: "creds profile list", command: "creds profile list", args: j("creds", "profile", "list", "--state", state),
			after: func(t *testing.T, stdout, _ string) { assert.Contains(t, stdout, `"name":"lab"`) }},
		{name: "creds runtime list", command: "creds runtime list", args: j("creds", "runtime", "list", "--state", state),
			after: func(t *testing.T, stdout, _ string) { assert.Contains(t, stdout, `"host":"`+dev.IP()+`"`) }},
		{name: "creds guard list, empty", command: "creds guard list", args: j("creds", "guard", "list", "--state", state),
			after: func(t *testing.T, stdout, _ string) { assert.Equal(t, "[]\n", stdout) }},
		{name: "creds runtime forget", command: "creds runtime forget", args: []string{"creds", "runtime", "forget", host, "--state", state}},
		{name: "creds profile remove", command: "creds profile remove", args: []string{"creds", "profile", "remove", "lab", "--state", state}},

		{name: "hw", command: "hw", args: j("hw", "--host", host), env: pw, shape: shape{
			"host": "string", "chassis": "object|null", "baseboard": "object|null", "bios": "object|null",
			"processors": "array", "memory": "array", "storage": "array", "batteries": "array"}},
		{name: "log events", command: "log events", args: j("log", "events", "--host", host), env: pw, shape: shape{"host": "string", "events": "array"}},
		{name: "log audit", command: "log audit", args: j("log", "audit", "--host", host), env: pw, shape: shape{"host": "string", "records": "array"}},
		{name: "time", command: "time", args: j("time", "--host", host), env: pw, shape: shape{
			"host": "string", "device_time": "string", "console_time": "string", "offset_seconds": "number"}},
		{name: "time --set --dry-run", command: "time", args: j("time", "--set", "--host", host, "--dry-run"), env: pw, shape: with(actionShape,
			"device_time", "string", "console_time", "string", "offset_seconds", "number", "offset_after_seconds", "null")},
		{name: "time --set", command: "time", args: j("time", "--set", "--host", host), env: pw, shape: with(actionShape,
			"device_time", "string", "console_time", "string", "offset_seconds", "number", "offset_after_seconds", "number|null")},
		{name: "defense caps", command: "defense caps", args: j("defense", "caps", "--host", host), env: pw, shape: shape{
			"host": "string", "interfaces": "array", "max_filters": "number", "max_policies": "number", "mode": "string",
			"system_defense_available": "bool"}},
		{name: "defense check", command: "defense check", args: j("defense", "check", "--policy", policyFile), shape: shape{
			"ok": "bool", "policy": "object", "report": "object"}},
		{name: "defense ping-only --dry-run", command: "defense ping-only", args: j("defense", "ping-only", "--no-timeout", "--host", host, "--dry-run"), env: pw,
			shape: with(actionShape, "filter_ids", "array", "interfaces", "array", "policy", "object", "policy_id", "string|null",
				"replaced", "array", "report", "object|null", "round_trips", "number", "unbound", "array", "writes", "number")},
		{name: "defense quarantine", command: "defense quarantine", args: j("defense", "quarantine", "--allow", "10.0.0.10:443", "--dns", "10.0.0.53", "--timeout", "1h", "--host", host), env: pw,
			shape: with(actionShape, "filter_ids", "array", "interfaces", "array", "policy", "object", "policy_id", "string|null",
				"replaced", "array", "report", "object|null", "round_trips", "number", "unbound", "array", "writes", "number")},
		{name: "defense status", command: "defense status", args: j("defense", "status", "--host", host), env: pw, shape: shape{"host": "string", "interfaces": "array", "mode": "string"}},
		{name: "defense stats --reset --dry-run", command: "defense stats", args: j("defense", "stats", "--reset", "--dry-run", "--host", host), env: pw,
			shape: actionShape, check: func(t *testing.T, o map[string]any) {
				reqs := o["would_send"].([]any)
				require.NotEmpty(t, reqs, "the quarantine above is active")
				req := reqs[0].(map[string]any)
				assertShape(t, "would_send", requestShape, req)
				assert.Equal(t, "UpdateStatistics", req["method"])
				assert.Equal(t, true, req["arguments"].(map[string]any)["ResetOnRead"])
			}},
		{name: "defense stats --dry-run without --reset", command: "defense stats", args: j("defense", "stats", "--dry-run", "--host", host), env: pw, exit: exitUsage},
		{name: "defense stats", command: "defense stats", args: j("defense", "stats", "--host", host), env: pw, shape: shape{"host": "string", "interfaces": "array", "reset": "bool"}},
		{name: "defense apply", command: "defense apply", args: j("defense", "apply", "--policy", policyFile, "--no-timeout", "--host", host), env: pw,
			shape: with(actionShape, "filter_ids", "array", "interfaces", "array", "policy", "object", "policy_id", "string|null",
				"replaced", "array", "report", "object|null", "round_trips", "number", "unbound", "array", "writes", "number")},
		{name: "defense remove --dry-run", command: "defense remove", args: j("defense", "remove", "--host", host, "--dry-run"), env: pw,
			shape: with(actionShape, "bindings", "number", "filter_ids", "array", "policies", "array", "round_trips", "number"),
			check: func(t *testing.T, o map[string]any) {
				reqs := o["would_send"].([]any)
				filters := len(o["filter_ids"].([]any))
				require.NotZero(t, filters, "the policy applied above has filters")
				require.Len(t, reqs, int(o["bindings"].(float64))+len(o["policies"].([]any))+filters, "one Delete per binding, policy and filter")
				for _, r := range reqs {
					req := r.(map[string]any)
					assertShape(t, "would_send", requestShape, req)
					assert.Equal(t, "Delete", req["operation"])
				}
				assert.Equal(t, "AMT_NetworkPortSystemDefensePolicy", reqs[0].(map[string]any)["resource"], "the bindings first")
			}},
		{name: "defense remove", command: "defense remove", args: j("defense", "remove", "--host", host), env: pw,
			shape: with(actionShape, "bindings", "number", "filter_ids", "array", "policies", "array", "round_trips", "number")},

		// Redirection state, and the restore of what an unfinished ider
		// boot left changed (its record put in the journal as a killed
		// console leaves it).
		{name: "redirect status", command: "redirect status", args: j("redirect", "status", "--host", host), env: pw, shape: redirectShape,
			check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, 32771.0, o["enabled_state"])
				assert.Equal(t, true, o["listener"])
			}},
		{name: "redirect disable --dry-run", command: "redirect disable", args: j("redirect", "disable", "--ider", "--host", host, "--dry-run"), env: pw,
			shape: redirectChangeShape, check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, true, o["dry_run"])
				assert.Equal(t, true, o["ider"], "the state as it is: nothing was sent")
				reqs := o["would_send"].([]any)
				require.Len(t, reqs, 1)
				req := reqs[0].(map[string]any)
				assertShape(t, "would_send", requestShape, req)
				assert.Equal(t, "RequestStateChange", req["method"])
				assert.Equal(t, 32770.0, req["arguments"].(map[string]any)["RequestedState"])
			}},
		{name: "redirect disable", command: "redirect disable", args: j("redirect", "disable", "--ider", "--host", host), env: pw,
			shape: redirectChangeShape, check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, true, o["accepted"])
				assert.Equal(t, true, o["changed"])
				assert.Equal(t, false, o["ider"])
				assert.Equal(t, 32770.0, o["enabled_state"])
			},
			after: func(t *testing.T, _, _ string) { assert.Equal(t, 32770, dev.RedirectionState()) }},
		{name: "redirect disable, already", command: "redirect disable", args: j("redirect", "disable", "--ider", "--host", host), env: pw,
			shape: redirectChangeShape, check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, false, o["changed"], "nothing to change, nothing sent")
			}},
		{name: "redirect enable --dry-run", command: "redirect enable", args: j("redirect", "enable", "--ider", "--sol", "--listener", "--host", host, "--dry-run"), env: pw,
			shape: redirectChangeShape, check: func(t *testing.T, o map[string]any) {
				reqs := o["would_send"].([]any)
				require.Len(t, reqs, 1, "SOL and the listener are on already")
				assert.Equal(t, 32771.0, reqs[0].(map[string]any)["arguments"].(map[string]any)["RequestedState"])
			}},
		{name: "redirect enable", command: "redirect enable", args: j("redirect", "enable", "--ider", "--host", host), env: pw,
			shape: redirectChangeShape, check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, true, o["ider"])
				assert.Equal(t, 32771.0, o["enabled_state"])
			}},
		{name: "ider restore, nothing recorded", command: "ider restore", args: j("ider", "restore", "--host", host), env: pw,
			shape: restoreShape, check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, false, o["changed"])
				assert.Equal(t, []any{}, o["restored"])
			}},
		{name: "ider restore --dry-run", command: "ider restore", args: j("ider", "restore", "--host", host, "--dry-run"), env: pw,
			before: func(t *testing.T) {
				putRecord(t, state, redirect.RestoreRecord{Host: host, Started: time.Now(), Reason: "ider boot",
					RedirectionState: ptr(uint64(32770)), ListenerEnabled: ptr(false), BootOptionsArmed: true})
			},
			shape: restoreShape, check: func(t *testing.T, o map[string]any) {
				var got []string
				for _, r := range o["would_send"].([]any) {
					req := r.(map[string]any)
					assertShape(t, "would_send", requestShape, req)
					got = append(got, fmt.Sprintf("%s %s.%s", req["operation"], req["resource"], req["method"]))
				}
				assert.Equal(t, []string{
					"Invoke CIM_BootConfigSetting.ChangeBootOrder", "Put AMT_BootSettingData.", "Invoke CIM_BootService.SetBootConfigRole",
					"Put AMT_RedirectionService.", "Invoke AMT_RedirectionService.RequestStateChange"}, got)
				assert.Equal(t, []any{}, o["restored"])
			}},
		{name: "ider restore", command: "ider restore", args: j("ider", "restore", "--host", host), env: pw,
			shape: restoreShape, check: func(t *testing.T, o map[string]any) {
				assert.Equal(t, true, o["changed"])
				assert.Equal(t, []any{"boot options", "redirection listener", "redirection features"}, o["restored"])
			},
			after: func(t *testing.T, _, stderr string) {
				assert.Contains(t, stderr, "not put back", "the record was still there: the dry run kept it")
				assert.Equal(t, 32770, dev.RedirectionState())
				assert.False(t, dev.ListenerEnabled())
			}},
		{name: "redirect enable, back", command: "redirect enable", args: j("redirect", "enable", "--ider", "--listener", "--host", host), env: pw,
			shape: redirectChangeShape, after: func(t *testing.T, _, stderr string) {
				assert.NotContains(t, stderr, "not put back", "ider restore removed the record")
				assert.Equal(t, 32771, dev.RedirectionState())
				assert.True(t, dev.ListenerEnabled())
			}},

		// The activity log every command above wrote to.
		{name: "log activity", command: "log activity", args: j("log", "activity"), lines: activityShape,
			after: func(t *testing.T, stdout, _ string) { assert.Contains(t, stdout, `"operation":"redirect enable"`) }},
		{name: "log activity, none selected", command: "log activity", args: j("log", "activity", "--actor", "nobody-such"), lines: activityShape,
			after: func(t *testing.T, stdout, _ string) { assert.Empty(t, stdout, "no entries: no lines") }},
		{name: "log activity --stats", command: "log activity", args: j("log", "activity", "--stats"), shape: shape{
			"count": "number", "oldest": "string|null", "newest": "string|null", "last_purge": "string|null", "retention_days": "number"}},
		{name: "log purge", command: "log purge", args: j("log", "purge", "--older-than", "3650d"), shape: shape{"deleted": "number", "before": "string"},
			check: func(t *testing.T, o map[string]any) { assert.Equal(t, 0.0, o["deleted"]) }},

		// Usage errors: exit 2, before anything is sent.
		{name: "time --dry-run without --set", command: "time", args: j("time", "--dry-run", "--host", host), env: pw, exit: exitUsage},
		{name: "defense check without a policy", command: "defense check", args: j("defense", "check"), exit: exitUsage},
		{name: "defense quarantine without a timeout", command: "defense quarantine", args: j("defense", "quarantine", "--allow", "10.0.0.10:443", "--host", host), env: pw, exit: exitUsage},
		{name: "unknown command", command: "", args: j("no-such-command"), exit: exitUsage},
		{name: "parent without a command", command: "boot", args: j("boot", "status", "--host", host), exit: exitUsage},
		{name: "unknown flag", command: "info", args: j("info", "--host", host, "--no-such-flag"), exit: exitUsage},
		{name: "missing --host", command: "power", args: j("power", "status"), env: pw, exit: exitUsage},
		{name: "--host given twice", command: "info", args: j("info", "--host", host, "--host", host), exit: exitUsage},
		{name: "port out of range", command: "info", args: j("info", "--host", "127.0.0.1:-1"), exit: exitUsage},
		{name: "port zero", command: "power", args: j("power", "status", "--host", "127.0.0.1:0"), env: pw, exit: exitUsage},
		{name: "--pin with --insecure-skip-verify", command: "info", args: j("info", "--host", host, "--pin", strings.Repeat("a", 64), "--insecure-skip-verify"), exit: exitUsage},
		{name: "--wait on status", command: "power", args: j("power", "status", "--wait", "--host", host), env: pw, exit: exitUsage},
		{name: "negative --timeout", command: "info", args: j("info", "--host", host, "--timeout", "-1s"), exit: exitUsage},
		{name: "media index out of range", command: "boot next", args: j("boot", "next", "hdd", "--media-index", "7", "--host", host), env: pw, exit: exitUsage},
		{name: "consent code not digits", command: "ider boot", args: j("ider", "boot", "--image", "x.iso", "--consent-code", "12a4", "--host", host), env: pw, exit: exitUsage},
		{name: "empty --profile", command: "info", args: j("info", "--host", host, "--profile", ""), exit: exitUsage},
		{name: "unknown --profile", command: "info", args: j("info", "--host", host, "--profile", "nope", "--state", state), exit: exitUsage},
		{name: "no credentials, no terminal", command: "power", args: j("power", "status", "--host", host), exit: exitUsage,
			after: func(t *testing.T, _, stderr string) { assert.Contains(t, stderr, "--password-stdin") }},
		{name: "bad --output", command: "info", args: []string{"info", "--host", host, "--output", "xml"}, exit: exitUsage},
		{name: "sol without credentials", command: "sol", args: j("sol", "--host", host), exit: exitUsage},
		{name: "ider serve without an image", command: "ider serve", args: j("ider", "serve", "--host", host), env: pw, exit: exitUsage},
		{name: "demo extra argument", command: "demo", args: j("demo", "now"), exit: exitUsage},
		{name: "help of an unknown topic", command: "help", args: []string{"help", "nothing-such"}, exit: exitUsage},
		{name: "redirect enable without a part", command: "redirect enable", args: j("redirect", "enable", "--host", host), env: pw, exit: exitUsage},
		{name: "redirect disable, --host given twice", command: "redirect disable", args: j("redirect", "disable", "--sol", "--host", host, "--host", host), env: pw, exit: exitUsage},
		{name: "redirect status without --host", command: "redirect status", args: j("redirect", "status"), env: pw, exit: exitUsage},
		{name: "ider restore without --host", command: "ider restore", args: j("ider", "restore"), env: pw, exit: exitUsage},
		{name: "log activity, bad --since", command: "log activity", args: j("log", "activity", "--since", "last tuesday"), exit: exitUsage},
		{name: "log activity, bad --output", command: "log activity", args: []string{"log", "activity", "--output", "xml"}, exit: exitUsage},
		{name: "log purge without --older-than", command: "log purge", args: j("log", "purge"), exit: exitUsage},
		{name: "log purge, negative age", command: "log purge", args: j("log", "purge", "--older-than", "-3d"), exit: exitUsage},

		// Each failure class.
		{name: "unreachable", command: "info", args: j("info", "--host", "127.0.0.1:1"), env: pw, exit: exitUnreachable},
		{name: "not AMT", command: "info", args: j("info", "--host", notAMT.URL), env: pw, exit: exitNotDetected},
		{name: "wrong password", command: "power", args: j("power", "status", "--host", host, "--password-stdin"), stdin: "wrong\n", exit: exitAuthFailed},
		{name: "wrong pin", command: "info", args: j("info", "--host", dev.TLSAddr(), "--pin", strings.Repeat("0", 64)), env: pw, exit: exitTLS},
		{name: "device error", command: "power", args: j("power", "status", "--host", faulty.HTTPAddr()), env: pw, exit: exitDevice},
		{name: "wrong password, guarded", command: "info", args: j("info", "--host", guarded.HTTPAddr(), "--password-stdin"), stdin: "wrong\n", exit: exitAuthFailed},
		{name: "locked out", command: "info", args: j("info", "--host", guarded.HTTPAddr(), "--password-stdin"), stdin: "wrong\n", exit: exitLockedOut,
			after: func(t *testing.T, _, _ string) {
				assert.Equal(t, 1, guarded.Stats().FailedLogins, "the guard sent nothing the second time")
				assert.False(t, guarded.LockedOut())
			}},
		{name: "creds guard list", command: "creds guard list", args: j("creds", "guard", "list", "--state", state),
			after: func(t *testing.T, stdout, _ string) { assert.Contains(t, stdout, `"host":"`+guarded.IP()+`"`) }},
		{name: "creds guard reset", command: "creds guard reset", args: []string{"creds", "guard", "reset", guarded.IP(), "--state", state}},
		{name: "creds guard set unsafe", command: "creds guard set", args: []string{"creds", "guard", "set", "--max-failures", "5", "--state", state}, exit: exitUsage},
		{name: "creds guard set", command: "creds guard set", args: []string{"creds", "guard", "set", "--default", "--state", state},
			after: func(t *testing.T, stdout, _ string) { assert.Contains(t, stdout, "(the default)") }},
		{name: "outcome unknown", command: "power", args: j("power", "reset", "--host", lossy.HTTPAddr()), env: pw, exit: 11,
			after: func(t *testing.T, _, _ string) {
				assert.Equal(t, []int{10}, lossy.PowerRequests(), "sent once, not resent")
			}},
		{name: "wait timed out", command: "power", args: j("power", "off", "--wait", "--wait-timeout", "1s", "--host", slow.HTTPAddr()), env: pw, exit: 12},
		{name: "not provisioned", command: "power", args: j("power", "status", "--host", unactivated.HTTPAddr()), env: pw, exit: exitNotProvisioned},
		{name: "refused", command: "power", args: j("power", "sleep", "--host", noAgent.HTTPAddr()), env: pw, exit: exitRefused},
		{name: "redirect status, wrong password", command: "redirect status", args: j("redirect", "status", "--host", host, "--password-stdin"), stdin: "not-the-password\n", exit: exitAuthFailed},
		{name: "redirect enable, unreachable", command: "redirect enable", args: j("redirect", "enable", "--sol", "--host", "127.0.0.1:1"), env: pw, exit: exitUnreachable},
		{name: "redirect disable --dry-run, device error", command: "redirect disable", args: j("redirect", "disable", "--sol", "--dry-run", "--host", faulty.HTTPAddr()), env: pw, exit: exitDevice},
		{name: "redirect status, not provisioned", command: "redirect status", args: j("redirect", "status", "--host", unactivated.HTTPAddr()), env: pw, exit: exitNotProvisioned},
		{name: "ider restore, unreachable", command: "ider restore", args: j("ider", "restore", "--host", "127.0.0.1:1"), env: pw, exit: exitUnreachable,
			before: func(t *testing.T) {
				putRecord(t, state, redirect.RestoreRecord{Host: "127.0.0.1:1", Started: time.Now(), Reason: "ider boot", BootOptionsArmed: true})
			}},
		{name: "ider restore --dry-run, device error", command: "ider restore", args: j("ider", "restore", "--dry-run", "--host", faulty.HTTPAddr()), env: pw, exit: exitDevice,
			before: func(t *testing.T) {
				putRecord(t, state, redirect.RestoreRecord{Host: faulty.HTTPAddr(), Started: time.Now(), Reason: "ider boot", ListenerEnabled: ptr(false)})
			}},
		{name: "ider restore, wrong password", command: "ider restore", args: j("ider", "restore", "--host", slow.HTTPAddr(), "--password-stdin"), stdin: "wrong\n", exit: exitAuthFailed,
			before: func(t *testing.T) {
				putRecord(t, state, redirect.RestoreRecord{Host: slow.HTTPAddr(), Started: time.Now(), Reason: "ider boot", BootOptionsArmed: true})
			}},
		{name: "log activity, state others can read", command: "log activity", args: j("log", "activity", "--state", openState), exit: exitFailure,
			after: func(t *testing.T, _, stderr string) { assert.Contains(t, stderr, "chmod 700 "+openState) }},
		{name: "refused wake dry run", command: "power", args: j("power", "wake", "--dry-run", "--host", off.HTTPAddr()), env: pw, exit: exitRefused,
			after: func(t *testing.T, stdout, stderr string) {
				assertWakeRefusedOff(t, stdout, stderr)
				assert.Contains(t, stderr, "while the machine is off", "as wake itself refuses it")
			}},
		{name: "refused wake", command: "power", args: j("power", "wake", "--host", off.HTTPAddr()), env: pw, exit: exitRefused,
			after: assertWakeRefusedOff},
		{name: "refused dry run", command: "power", args: j("power", "sleep", "--dry-run", "--host", noAgent.HTTPAddr()), env: pw, exit: exitRefused},
	}
	cases = append(cases, jobContractCases(t, state)...)
	// Plain-text and streaming commands whose success is not one JSON object.
	covered := map[string]bool{"completion": true, "help": true, "demo": true, "ider boot": true, "ider serve": true, "sol": true}
	for _, tc := range cases {
		covered[tc.command] = true
	}
	var uncovered []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || strings.HasPrefix(c.Name(), "__") {
			return
		}
		path := strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), "amtctl"), " ")
		if c.Runnable() && !c.HasSubCommands() && !covered[path] && !covered[strings.SplitN(path, " ", 2)[0]] {
			uncovered = append(uncovered, path)
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRootCommand(io.Discard, io.Discard))
	assert.Empty(t, uncovered, "commands without a case in TestContract")

	before := dev.Stats().Actions
	for _, tc := range cases {
		if tc.before != nil {
			tc.before(t)
		}
		start := time.Now()
		code, stdout, stderr := runCLI(t, append([]string{"AMTKIT_STATE=" + state}, tc.env...), tc.stdin, tc.args...)
		if d := time.Since(start); d > 2*time.Second {
			t.Logf("%s took %s", tc.name, d)
		}
		if !assert.Equal(t, tc.exit, code, "%s: exit status; stderr: %s", tc.name, stderr) {
			continue
		}
		if tc.exit == exitOK && !slicesContain(tc.args, "json") {
			assert.NotEmpty(t, stdout, "%s: says what it did", tc.name)
		} else if tc.exit == exitOK {
			if tc.lines != nil {
				for i, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
					if line == "" && i == 0 {
						break // no entries: no lines
					}
					var o map[string]any
					if assert.NoError(t, json.Unmarshal([]byte(line), &o), "%s: line %d: %s", tc.name, i, line) {
						assertShape(t, fmt.Sprintf("%s line %d", tc.name, i), tc.lines, o)
					}
				}
			} else if tc.shape == nil {
				var v any
				assert.NoError(t, json.Unmarshal([]byte(stdout), &v), "%s: %s", tc.name, stdout)
			} else {
				o := decodeContractLine(t, tc.name, stdout)
				assertShape(t, tc.name, tc.shape, o)
				if tc.check != nil {
					tc.check(t, o)
				}
			}
		} else {
			assert.True(t, strings.HasPrefix(stderr, "amtctl: "), "%s: the reason on stderr: %q", tc.name, stderr)
			if tc.exit == exitUsage {
				assert.Contains(t, stderr, "Usage:", "%s: the usage follows the reason", tc.name)
				assert.NotContains(t, strings.SplitN(stderr, "\n", 2)[0], "invalid argument", tc.name)
			}
			if slicesContain(tc.args, "json") {
				o := decodeContractLine(t, tc.name, stdout)
				assertShape(t, tc.name, errorShape, o)
				detail, _ := o["error"].(map[string]any)
				assertShape(t, tc.name+" error", errorDetail, detail)
				assert.Equal(t, float64(tc.exit), detail["exit"], tc.name)
				assert.Equal(t, errorClass(tc.exit), detail["class"], tc.name)
				assert.NotContains(t, detail["message"], "\n", tc.name)
			} else {
				assert.Empty(t, stdout, tc.name)
			}
		}
		if tc.after != nil {
			tc.after(t, stdout, stderr)
		}
		if strings.HasSuffix(tc.name, "--dry-run") {
			assert.Equal(t, writesOf(before), writesOf(dev.Stats().Actions), "%s: nothing that changes the machine was sent", tc.name)
		}
		before = dev.Stats().Actions
	}
}

// writesOf keeps the actions that change a machine.
func writesOf(actions map[string]int) map[string]int {
	out := map[string]int{}
	for a, n := range actions {
		if strings.HasSuffix(a, "/Put") || strings.Contains(a, "RequestPowerStateChange") || strings.Contains(a, "ChangeBootOrder") ||
			strings.Contains(a, "SetBootConfigRole") || strings.Contains(a, "RequestStateChange") {
			out[a] = n
		}
	}
	return out
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

// putRecord writes rec to the restore journal of the state directory, as
// an ider boot does before it changes a setting.
func putRecord(t *testing.T, state string, rec redirect.RestoreRecord) {
	t.Helper()
	j := &stateJournal{open: func(ctx context.Context) (*statedb.DB, error) {
		return statedb.Open(ctx, filepath.Join(state, statedb.FileName))
	}}
	require.NoError(t, j.Put(context.Background(), rec))
}

// assertWakeRefusedOff checks what a wake of a machine that is off says:
// what wake needs, and the command that powers the machine on.
func assertWakeRefusedOff(t *testing.T, stdout, stderr string) {
	t.Helper()
	for _, out := range []string{stdout, stderr} {
		assert.Contains(t, out, "wake is not available while the machine is off")
		assert.Contains(t, out, "needs the machine on and in OS power saving")
		assert.Contains(t, out, "`amtctl power on` powers the machine on")
		assert.NotContains(t, out, "the device offers")
	}
}
