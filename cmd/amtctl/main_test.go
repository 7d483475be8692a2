package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
)

func TestMain(m *testing.M) {
	// Tests that want a password from the environment set it themselves.
	os.Unsetenv("AMT_PASSWORD")
	// Keep the credential store of the person running the tests out of
	// reach: the default state directory is a fresh one.
	os.Unsetenv("AMTKIT_STATE")
	os.Unsetenv("AMTKIT_KEY_FILE")
	dir, err := os.MkdirTemp("", "amtctl-test-state")
	if err != nil {
		panic(err)
	}
	// The go command finds its caches through HOME: keep them where they
	// were, so that building amtctl in a test reuses what is compiled.
	if os.Getenv("GOCACHE") == "" {
		if cache, err := os.UserCacheDir(); err == nil {
			os.Setenv("GOCACHE", filepath.Join(cache, "go-build"))
		}
	}
	if os.Getenv("GOPATH") == "" {
		os.Setenv("GOPATH", build.Default.GOPATH)
	}
	os.Setenv("XDG_STATE_HOME", dir)
	os.Setenv("HOME", dir)
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	user     = "admin"
	password = "P@ssw0rd1"
)

func newSim(t *testing.T, opts amtsim.Options) (*amtsim.Server, *amtsim.Device) {
	t.Helper()
	sim, err := amtsim.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sim.Close()) })
	return sim, sim.Devices()[0]
}

// amtctl runs the command line in-process and returns its exit status,
// standard output and standard error.
func amtctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), withTestState(t, args), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// decodeInfo decodes the single JSON line info writes for one host.
func decodeInfo(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, lines, 1, "one JSON object per host, on one line")
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	return rec
}

func TestInfoJSON(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{})

	code, stdout, stderr := amtctl(t, "info", "--host", dev.HTTPAddr(), "--password", password, "--output", "json")
	require.Equal(t, exitOK, code, stderr)
	assert.Empty(t, stderr)
	rec := decodeInfo(t, stdout)
	want := map[string]any{
		"host":               dev.HTTPAddr(),
		"amt_version":        "11.8.50",
		"build":              "3425",
		"sku":                "AMT",
		"provisioning_state": "post-provisioning",
		"provisioning_mode":  "ACM",
		"digest_realm":       dev.Realm(),
		"hostname":           dev.Hostname(),
		"uuid":               amt.GUIDToUUID(dev.PlatformGUID()),
	}
	for k, v := range want {
		assert.Equal(t, v, rec[k], k)
	}
	assert.Equal(t, "11.8.50.3425", rec["firmware"])
	assert.Equal(t, "AMT 11.8", rec["product_version"])
	assert.Equal(t, 16392.0, rec["sku_value"])
	assert.Equal(t, []any{"AMT", "Corporate"}, rec["sku_features"])
	assert.Equal(t, dev.PlatformGUID(), rec["platform_guid"])
	assert.Nil(t, rec["domain_name"])
	assert.Contains(t, rec, "domain_name", "unknown is null, not left out")
	assert.Len(t, rec["ports"], 2)
	assert.Zero(t, dev.Stats().FailedLogins)
}

func TestInfoJSONOtherDevice(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{Addr: "127.0.0.2", Version: "16.1.25.2124", SKU: 16400, ProvisioningMode: 4, DomainName: "corp.example.com"})

	code, stdout, stderr := amtctl(t, "info", "--host", dev.HTTPAddr(), "-p", password, "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	rec := decodeInfo(t, stdout)
	assert.Equal(t, "16.1.25", rec["amt_version"])
	assert.Equal(t, "2124", rec["build"])
	assert.Equal(t, "ISM", rec["sku"])
	assert.Equal(t, "CCM", rec["provisioning_mode"])
	assert.Equal(t, "corp.example.com", rec["domain_name"])
	assert.Equal(t, amt.GUIDToUUID(dev.PlatformGUID()), rec["uuid"])
}

func TestInfoTable(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{})

	code, stdout, stderr := amtctl(t, "info", "--host", dev.HTTPAddr(), "--password", password)
	require.Equal(t, exitOK, code, stderr)
	for _, want := range []string{
		dev.HTTPAddr(),
		"11.8.50.3425",
		"AMT 11.8",
		"11.8.50",
		"3425",
		"AMT (16392: AMT, Corporate)",
		"post-provisioning, ACM",
		dev.Realm(),
		dev.Hostname(),
		amt.GUIDToUUID(dev.PlatformGUID()),
		"Port wired",
		"Port wireless",
	} {
		assert.Contains(t, stdout, want)
	}
	assert.Regexp(t, `(?m)^Host +`+dev.HTTPAddr()+`$`, stdout)
	assert.Regexp(t, `(?m)^UUID +[0-9a-f-]{36}$`, stdout)
}

// TestInfoPasswordFromEnvironment sets AMT_PASSWORD, so it does not run in
// parallel.
func TestInfoPasswordFromEnvironment(t *testing.T) {
	_, dev := newSim(t, amtsim.Options{})
	t.Setenv("AMT_PASSWORD", password)

	code, stdout, stderr := amtctl(t, "info", "--host", dev.HTTPAddr(), "--output", "json")
	require.Equal(t, exitOK, code, stderr)
	assert.NotContains(t, stderr, "no password")
	rec := decodeInfo(t, stdout)
	assert.Equal(t, "11.8.50", rec["amt_version"])
	assert.Equal(t, dev.Realm(), rec["digest_realm"])

	// The flag wins over the environment.
	code, _, stderr = amtctl(t, "info", "--host", dev.HTTPAddr(), "--password", "wrong")
	assert.Equal(t, exitAuthFailed, code, stderr)
}

func TestInfoWithoutPassword(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{})

	code, stdout, stderr := amtctl(t, "info", "--host", dev.HTTPAddr())
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "no password")
	assert.Contains(t, stdout, "11.8.50.3425")
	assert.Contains(t, stdout, "AMT 11.8")
	assert.NotContains(t, stdout, "Digest realm")
	assert.NotContains(t, stdout, "Provisioning")
	assert.Zero(t, dev.Stats().FailedLogins)
	assert.Zero(t, dev.Stats().Authenticated-dev.Stats().Actions["Identify"], "only Identify was sent")

	code, stdout, _ = amtctl(t, "info", "--host", dev.HTTPAddr(), "-o", "json")
	require.Equal(t, exitOK, code)
	rec := decodeInfo(t, stdout)
	assert.Equal(t, dev.HTTPAddr(), rec["host"])
	assert.Equal(t, "11.8.50.3425", rec["firmware"])
	assert.Nil(t, rec["amt_version"])
	assert.Contains(t, rec, "amt_version")
	assert.Nil(t, rec["provisioning_mode"])
}

func TestInfoTLS(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})

	code, stdout, stderr := amtctl(t, "info", "--host", dev.TLSAddr(), "--tls", "--pin", sim.CertificateSHA256(), "--password", password, "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	rec := decodeInfo(t, stdout)
	assert.Equal(t, dev.TLSAddr(), rec["host"])
	assert.Equal(t, "11.8.50", rec["amt_version"])

	// --pin alone implies --tls.
	code, _, stderr = amtctl(t, "info", "--host", dev.TLSAddr(), "--pin", sim.CertificateSHA256(), "--password", password)
	require.Equal(t, exitOK, code, stderr)

	// --ca with the device certificate.
	caFile := filepath.Join(t.TempDir(), "device.pem")
	require.NoError(t, os.WriteFile(caFile, pemCertificate(sim), 0o600))
	code, _, stderr = amtctl(t, "info", "--host", dev.TLSAddr(), "--ca", caFile, "--password", password)
	require.Equal(t, exitOK, code, stderr)

	before := dev.Stats().HTTPRequests
	code, stdout, stderr = amtctl(t, "info", "--host", dev.TLSAddr(), "--tls", "--pin", strings.Repeat("0", 64), "--password", password)
	assert.Equal(t, exitTLS, code, stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "TLS")
	assert.Contains(t, stderr, sim.CertificateSHA256(), "the message names the certificate the device presented")

	code, _, stderr = amtctl(t, "info", "--host", dev.TLSAddr(), "--tls", "--password", password)
	assert.Equal(t, exitTLS, code, "a self-signed certificate without --pin or --ca: %s", stderr)
	assert.Equal(t, before, dev.Stats().HTTPRequests, "nothing got past TLS")
}

func TestInfoWrongPassword(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{})

	code, stdout, stderr := amtctl(t, "info", "--host", dev.HTTPAddr(), "--password", "wrong")
	assert.Equal(t, exitAuthFailed, code, stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "authentication failed")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %s", stderr)
	assert.Equal(t, 1, dev.Stats().FailedLogins, "exactly one failed login")
	assert.False(t, dev.LockedOut())
}

func TestInfoNotAMT(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)

	code, _, stderr := amtctl(t, "info", "--host", srv.URL, "--password", password)
	assert.Equal(t, exitNotDetected, code, stderr)
	assert.Contains(t, stderr, "AMT not detected")
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"missing --host":      {"info"},
		"bad --output":        {"info", "--host", "127.0.0.1", "--output", "xml"},
		"unknown flag":        {"info", "--host", "127.0.0.1", "--no-such-flag"},
		"unknown command":     {"no-such-command"},
		"extra argument":      {"info", "--host", "127.0.0.1", "extra"},
		"bad pin":             {"info", "--host", "127.0.0.1", "--pin", "12:34"},
		"bad host":            {"info", "--host", "127.0.0.1:http"},
		"TLS with http URL":   {"info", "--host", "http://127.0.0.1", "--tls"},
		"negative timeout":    {"info", "--host", "127.0.0.1", "--timeout", "-1s"},
		"empty user":          {"info", "--host", "127.0.0.1", "--user", "", "--password", "x"},
		"missing --ca file":   {"info", "--host", "127.0.0.1", "--ca", filepath.Join(t.TempDir(), "none.pem")},
		"bad demo --output":   {"demo", "--output", "yaml"},
		"demo extra argument": {"demo", "now"},
	} {
		code, stdout, stderr := amtctl(t, args...)
		assert.Equal(t, exitUsage, code, "%s: %s", name, stderr)
		assert.Empty(t, stdout, name)
		assert.True(t, strings.HasPrefix(stderr, "amtctl: "), "%s: %s", name, stderr)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	classified := func(kind error) error {
		return &amt.Error{Host: "192.0.2.10:16992", Op: "Inventory", Kind: kind, Err: errors.New("cause")}
	}
	tests := []struct {
		err  error
		code int
	}{
		{usageError{errors.New("--host is required")}, exitUsage},
		{classified(amt.ErrUnreachable), exitUnreachable},
		{classified(amt.ErrNotDetected), exitNotDetected},
		{classified(amt.ErrAuthFailed), exitAuthFailed},
		{classified(amt.ErrTLS), exitTLS},
		{classified(amt.ErrNotProvisioned), exitNotProvisioned},
		{classified(amt.ErrDevice), exitDevice},
		{classified(amt.ErrLockedOut), exitLockedOut},
		{fmt.Errorf("power: %w", classified(amt.ErrDevice)), exitDevice},
		{classified(nil), exitFailure},
		{context.Canceled, exitFailure},
		{errors.New("something else"), exitFailure},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.code, exitCode(tt.err), "%v", tt.err)
	}
}

// pemCertificate returns the simulator's certificate in PEM, as --ca reads it.
func pemCertificate(sim *amtsim.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sim.Certificate().Raw})
}

func TestDemo(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := amtctl(t, "demo")
	require.Equal(t, exitOK, code, stderr)
	for _, want := range []string{
		"Started 6 simulated Intel AMT machines in 127.78.200.0/28",
		"$ amtctl discover 127.78.200.0/28",
		"not_provisioned",
		"6 AMT (5 provisioned, 1 not provisioned",
		"$ amtctl info --host 127.78.200.",
		"AMT version",
		"16.1.25",
		"AMT (16392: AMT, Corporate)",
		"$ amtctl boot next pxe --reset",
		"booted from pxe after a reset",
		"$ amtctl ider boot --image rescue.iso",
		"booted from the served CD; the boot image's SHA-256 matches the image's",
		"post-provisioning, ACM",
		"Digest realm",
		"UUID",
		"authentication failed",
		"The client stopped after the first rejection, without retrying: the device counted 1 failed login (it locks the account after 3).",
	} {
		assert.Contains(t, stdout, want)
	}
	assert.NotContains(t, stdout, "of the attempts")
	assert.NotRegexp(t, `\$ amtctl .*--password[ =]`, stdout, "the tour passes no password on the command line")

	code, stdout, stderr = amtctl(t, "demo", "--output", "json")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, `"provisioning_state":"post-provisioning"`)
}

// TestBinaryExitStatus builds amtctl and checks the exit status of the
// real process for a wrong password.
func TestBinaryExitStatus(t *testing.T) {
	t.Parallel()
	bin := amtctlBinary(t)
	_, dev := newSim(t, amtsim.Options{})

	var stdout, stderr bytes.Buffer
	state := filepath.Join(t.TempDir(), "state")
	cmd := exec.Command(bin, "info", "--host", dev.HTTPAddr(), "--password", "wrong")
	cmd.Env = append(os.Environ(), "AMT_PASSWORD=", "AMTKIT_STATE="+state)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, exitAuthFailed, exitErr.ExitCode(), stderr.String())
	assert.Contains(t, stderr.String(), "authentication failed")
	assert.Empty(t, stdout.String())
	assert.Equal(t, 1, dev.Stats().FailedLogins)

	cmd = exec.Command(bin, "info", "--host", dev.HTTPAddr(), "--password", password, "-o", "json")
	cmd.Env = append(os.Environ(), "AMT_PASSWORD=", "AMTKIT_STATE="+state)
	out, err := cmd.Output()
	require.NoError(t, err)
	assert.Equal(t, "11.8.50", decodeInfo(t, string(out))["amt_version"])
}
