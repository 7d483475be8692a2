package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// The tests of this file use 127.187.0.0/16.

// tlsOnlyFleet starts simulated devices that offer WS-Man over TLS only.
func tlsOnlyFleet(t *testing.T, cidr string) *amtsim.Server {
	t.Helper()
	sim, err := amtsim.New(amtsim.Options{DevicesCIDR: cidr, HTTPPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// writeOtherCA writes a CA certificate that issued nothing the devices
// present.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "Not The Devices' CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "other-ca.pem")
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return p
}

// TestJobRunTLS: job run takes the device commands' TLS flags and the
// workers connect as they say: on a TLS-only fleet, --ca with the devices'
// certificate succeeds on every machine; another CA ends every machine
// tls with nothing sent past the handshake and no login counted, on the
// device or in the lockout guard; --insecure-skip-verify is kept and shown
// by job status; the flags' rules are the device commands'.
func TestJobRunTLS(t *testing.T) {
	t.Parallel()
	sim := tlsOnlyFleet(t, "127.187.0.0/29")
	e := newJobEnv(t)
	port := fmt.Sprint(sim.TLSPort())
	caFile := filepath.Join(t.TempDir(), "devices.pem")
	require.NoError(t, os.WriteFile(caFile, pemCertificate(sim), 0o600))
	n := len(sim.Devices())

	code, stdout, stderr := e.run("", "job", "run", "power-status", "--targets", "127.187.0.0/29", "--port", port, "--tls", "--ca", caFile, "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	lines := jsonLines(t, stdout)
	require.Len(t, lines, n+1, stdout)
	for _, l := range lines[:n] {
		assert.Equal(t, "succeeded", l["outcome"], l["message"])
		assertShape(t, "power data", powerDataShape, l["data"].(map[string]any))
	}
	job := fmt.Sprint(lines[n]["job"])
	code, stdout, stderr = e.run("", "job", "status", job, "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	st := decodeContractLine(t, "job status", stdout)
	assertShape(t, "job status", jobStatusShape, st)
	conn := st["connection"].(map[string]any)
	assertShape(t, "connection", connectionShape, conn)
	assert.Equal(t, true, conn["tls"], "--ca implies --tls")
	assert.Equal(t, false, conn["insecure_skip_verify"])
	require.Len(t, conn["ca_certificates"], 1)
	assert.Equal(t, sim.CertificateSHA256(), conn["ca_certificates"].([]any)[0].(map[string]any)["sha256"])

	before := map[string]amtsim.Stats{}
	for _, d := range sim.Devices() {
		before[d.TLSAddr()] = d.Stats()
	}
	code, stdout, stderr = e.run("", "job", "run", "power-status", "--targets", "127.187.0.0/29", "--port", port, "--ca", writeOtherCA(t),
		"--retries", "2", "--retry-delay", "50ms", "-o", "json")
	require.Equal(t, exitIncomplete, code, stderr)
	lines = jsonLines(t, stdout)
	require.GreaterOrEqual(t, len(lines), n+1, stdout)
	for _, l := range lines[:n] {
		assert.Equal(t, "tls", l["outcome"], l["message"])
		assert.Equal(t, 1.0, l["attempts"], "a TLS failure is not retried")
	}
	checkCounts(t, map[string]int{"tls": n}, lines[n]["counts"].(map[string]any))
	for _, d := range sim.Devices() {
		assert.Equal(t, before[d.TLSAddr()].HTTPRequests, d.Stats().HTTPRequests, "nothing got past TLS")
		assert.Zero(t, d.Stats().FailedLogins, "no login attempt counted against the device")
	}
	code, stdout, stderr = e.run("", "creds", "guard", "list", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var guard []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &guard), stdout)
	for _, g := range guard {
		assert.Zero(t, g["failures"], "the lockout guard counted nothing: %v", g)
	}

	code, stdout, stderr = e.run("", "job", "run", "power-status", "--targets", "127.187.0.0/29", "--port", port, "--insecure-skip-verify", "--detach", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	rec := decodeContractLine(t, "job run --detach", stdout)
	assertShape(t, "job run --detach", jobRecordShape, rec)
	conn = rec["connection"].(map[string]any)
	assert.Equal(t, true, conn["insecure_skip_verify"])
	assert.Equal(t, true, conn["tls"])
	code, stdout, stderr = e.run("", "job", "status", fmt.Sprint(rec["job"]))
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "INSECURE")

	for name, args := range map[string][]string{
		"pin and insecure":    {"--pin", sim.CertificateSHA256(), "--insecure-skip-verify"},
		"ca and insecure":     {"--ca", caFile, "--insecure-skip-verify"},
		"missing ca file":     {"--ca", filepath.Join(t.TempDir(), "none.pem")},
		"ca file without PEM": {"--ca", writeFile(t, "not a certificate")},
		"bad pin":             {"--pin", "12:34"},
		"bad redirect port":   {"--redirect-port", "70000"},
		"http target and tls": {"--tls"},
	} {
		targets := "127.187.0.1:" + port
		if name == "http target and tls" {
			targets = "http://127.187.0.1:" + port
		}
		code, stdout, stderr := e.run("", append([]string{"job", "run", "power-status", "--targets", targets, "--detach"}, args...)...)
		assert.Equal(t, exitUsage, code, "%s: %s", name, stderr)
		assert.Empty(t, stdout, name)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// TestJobDataMatchesDeviceCommands: a job's data for a machine is the
// object the single-device command prints for it: hardware is hw's,
// defense-status is defense status's, key for key and value for value.
func TestJobDataMatchesDeviceCommands(t *testing.T) {
	t.Parallel()
	sim := simFleet(t, "127.187.1.0/30", "", amtsim.Options{})
	e := newJobEnv(t)
	host := sim.Devices()[0].HTTPAddr()
	for task, device := range map[string][]string{
		"hardware":       {"hw"},
		"defense-status": {"defense", "status"},
	} {
		code, stdout, stderr := e.run("", "job", "run", task, "--targets", host, "-o", "json")
		require.Equal(t, exitOK, code, "%s: %s", task, stderr)
		lines := jsonLines(t, stdout)
		require.Len(t, lines, 2, stdout)
		require.Equal(t, "succeeded", lines[0]["outcome"], lines[0]["message"])
		code, stdout, stderr = e.run("", append(device, "--host", host, "-o", "json")...)
		require.Equal(t, exitOK, code, "%s: %s", strings.Join(device, " "), stderr)
		var single map[string]any
		require.NoError(t, json.Unmarshal([]byte(stdout), &single), stdout)
		assert.Equal(t, single, lines[0]["data"], "%s: the job's data is what %s prints", task, strings.Join(device, " "))

		code, stdout, stderr = e.run("", "job", "report", fmt.Sprint(lines[1]["job"]), "-o", "json")
		require.Equal(t, exitOK, code, stderr)
		var report []map[string]any
		require.NoError(t, json.Unmarshal([]byte(stdout), &report), stdout)
		require.Len(t, report, 1)
		assert.Equal(t, single, report[0]["data"], "%s: the report's data too", task)
	}
}

// TestJobStatusRunning: job status lists each machine a worker is working
// now, with the worker: a job of concurrency 2 over slow machines shows
// two running machines under the worker that works them.
func TestJobStatusRunning(t *testing.T) {
	t.Parallel()
	sim := simFleet(t, "127.187.2.0/29", "", amtsim.Options{Latency: time.Second})
	e := newJobEnv(t)
	code, stdout, stderr := e.run("", "job", "run", "power-status", "--targets", "127.187.2.0/29", "--port", fmt.Sprint(sim.HTTPPort()),
		"--concurrency", "2", "--chunk-size", "2", "--detach")
	require.Equal(t, exitOK, code, stderr)
	job := strings.TrimSpace(stdout)
	// Chunks of two machines at 2 s each stay within the test worker's
	// 5 s chunk timeout.
	w := e.startWorker("w-cli", nil)
	var st map[string]any
	require.Eventually(t, func() bool {
		code, stdout, stderr := e.run("", "job", "status", job, "-o", "json")
		require.Equal(t, exitOK, code, stderr)
		st = decodeContractLine(t, "job status", stdout)
		return len(st["running"].([]any)) == 2
	}, time.Minute, 50*time.Millisecond, "last status: %v; worker: %s", st, w.stderr)
	assertShape(t, "job status", jobStatusShape, st)
	hosts := map[string]bool{}
	for _, r := range st["running"].([]any) {
		m := r.(map[string]any)
		assertShape(t, "running", shape{"host": "string", "worker": "string", "since": "string"}, m)
		assert.Equal(t, "w-cli", m["worker"])
		hosts[m["host"].(string)] = true
	}
	assert.Len(t, hosts, 2)
	assert.Equal(t, 2.0, st["machines"].(map[string]any)["running"])
	code, stdout, stderr = e.run("", "job", "status", job)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "on w-cli since")
	code, _, stderr = e.run("", "job", "cancel", job)
	require.Equal(t, exitOK, code, stderr)
}
