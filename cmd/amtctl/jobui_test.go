package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startUI starts amtctl job ui with args and returns the URL of its ready
// line; the process is stopped with SIGTERM when the test ends and must
// exit 0.
func startUI(t *testing.T, state, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(amtctlBinary(t), append([]string{"job", "ui", "--state", state}, args...)...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(stdin)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err, "job ui stops cleanly on SIGTERM; stderr: %s", stderr)
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("job ui did not stop on SIGTERM")
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "ready line; stderr: %s", stderr)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	m := regexp.MustCompile(`serving (\S+) over`).FindStringSubmatch(line)
	require.NotNil(t, m, line)
	return m[1]
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key
// (mode 0600).
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "amtctl job ui test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestJobUIRefusesRemoteWithoutTLSAndLogin: an address other than loopback
// needs --allow-remote, TLS and a login or token; each missing piece is a
// usage error (exit 2) that names it, before anything listens.
func TestJobUIRefusesRemoteWithoutTLSAndLogin(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	certFile, keyFile, _ := writeCert(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("0123456789abcdef0123\n"), 0o600))
	openToken := filepath.Join(t.TempDir(), "open-token")
	require.NoError(t, os.WriteFile(openToken, []byte("0123456789abcdef0123\n"), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"all interfaces", []string{"--listen", ":8089"}, "--allow-remote"},
		{"remote without TLS", []string{"--listen", "0.0.0.0:8089", "--allow-remote", "--token-file", tokenFile}, "TLS"},
		{"remote without a login", []string{"--listen", "0.0.0.0:8089", "--allow-remote", "--tls-cert", certFile, "--tls-key", keyFile}, "a login"},
		{"remote without --allow-remote", []string{"--listen", "10.1.2.3:8089", "--tls-cert", certFile, "--tls-key", keyFile, "--token-file", tokenFile}, "--allow-remote"},
		{"a token others can read", []string{"--listen", "0.0.0.0:8089", "--allow-remote", "--tls-cert", certFile, "--tls-key", keyFile, "--token-file", openToken}, "accessible by others"},
		{"--login without a password", []string{"--login", "ops"}, "--password-stdin"},
		{"a cert without its key", []string{"--tls-cert", certFile}, "--tls-key"},
		{"not host:port", []string{"--listen", "localhost"}, "host:port"},
	} {
		code, stdout, stderr := runCLI(t, nil, "", append([]string{"job", "ui", "--state", state}, tc.args...)...)
		assert.Equal(t, exitUsage, code, "%s: %s", tc.name, stderr)
		assert.Contains(t, strings.SplitN(stderr, "\n", 2)[0], tc.want, tc.name)
		assert.NotContains(t, stdout, "serving", tc.name)
	}
}

// TestJobUIServesOnLoopback: on loopback the UI answers a GET with River
// UI's page, and its API reads the state database's River tables.
func TestJobUIServesOnLoopback(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	url := startUI(t, state, "", "--listen", "127.0.0.1:0")
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	resp, err := http.Get(url)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "River", "River UI's page")
	resp, err = http.Get(url + "api/jobs?state=available")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the API reads the state database: %s", body)
	assert.Contains(t, string(body), `"data"`)
}

// TestJobUIRemoteWithTLSAndToken: with --allow-remote, TLS and a token the
// UI starts; a request without the token is refused (401), one with it as
// a bearer token or a basic password is served.
func TestJobUIRemoteWithTLSAndToken(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	certFile, keyFile, pool := writeCert(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	const token = "s3cret-token-0123456789"
	require.NoError(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))
	// 0.0.0.0 is not loopback: every condition applies. The test talks to
	// it on 127.0.0.1.
	url := startUI(t, state, "", "--listen", "0.0.0.0:0", "--allow-remote", "--tls-cert", certFile, "--tls-key", keyFile, "--token-file", tokenFile)
	require.True(t, strings.HasPrefix(url, "https://"), url)
	url = "https://127.0.0.1:" + url[strings.LastIndex(url, ":")+1:]
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(auth func(*http.Request)) int {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		if auth != nil {
			auth(req)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, get(nil))
	assert.Equal(t, http.StatusUnauthorized, get(func(r *http.Request) { r.Header.Set("Authorization", "Bearer wrong") }))
	assert.Equal(t, http.StatusOK, get(func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }))
	assert.Equal(t, http.StatusOK, get(func(r *http.Request) { r.SetBasicAuth("anyone", token) }))
}

// TestJobUILoginOnLoopback: a login given on loopback is required there
// too.
func TestJobUILoginOnLoopback(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	url := startUI(t, state, "letmein-please\n", "--listen", "127.0.0.1:0", "--login", "ops", "--password-stdin")
	get := func(user, pw string) int {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, get("", ""))
	assert.Equal(t, http.StatusUnauthorized, get("ops", "wrong"))
	assert.Equal(t, http.StatusOK, get("ops", "letmein-please"))
}
