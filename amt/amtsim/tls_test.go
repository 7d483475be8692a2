package amtsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pinned verifies the server by the fingerprint alone, as clients pinning a
// self-signed firmware certificate do.
func pinned(fingerprint string) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true, // verification is the pin below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			sum := sha256.Sum256(raw[0])
			if hex.EncodeToString(sum[:]) != fingerprint {
				return errors.New("fingerprint mismatch")
			}
			return nil
		},
	}
}

func TestTLSWithFingerprint(t *testing.T) {
	t.Parallel()
	sim := startSim(t, Options{})
	m := regexp.MustCompile(` tls-sha256=([0-9a-f]{64})$`).FindStringSubmatch(sim.ReadyLine())
	require.NotNil(t, m, sim.ReadyLine())
	require.Equal(t, sim.CertificateSHA256(), m[1])

	wc := newClientTLS(t, sim.TLSURL(), testUser, testPass, pinned(m[1]))
	resp, data := wc.post(getReq(uriGeneral))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	require.NotNil(t, resp.TLS)
	assert.GreaterOrEqual(t, resp.TLS.Version, uint16(tls.VersionTLS12))

	// The certificate verifies for the device address against itself.
	pool := x509.NewCertPool()
	pool.AddCert(sim.Certificate())
	wc2 := newClientTLS(t, sim.TLSURL(), "", "", &tls.Config{RootCAs: pool})
	resp, data = wc2.post(identifyBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/digest",
		textOf(parseDoc(t, data), soap.NSIdentity, "SecurityProfileName"))

	bad := newClientTLS(t, sim.TLSURL(), testUser, testPass, pinned(hex.EncodeToString(make([]byte, 32))))
	_, _, err := bad.tryPost(getReq(uriGeneral))
	require.Error(t, err)
}

func TestLegacyTLS(t *testing.T) {
	t.Parallel()
	sim := startSim(t, Options{HTTPPort: -1, LegacyTLS: true})
	fp := sim.CertificateSHA256()

	modern := newClientTLS(t, sim.TLSURL(), testUser, testPass, pinned(fp))
	_, _, err := modern.tryPost(getReq(uriGeneral))
	require.Error(t, err, "a default TLS 1.2+ client must be refused")

	legacy := pinned(fp)
	legacy.MinVersion = tls.VersionTLS10
	legacy.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA}
	wc := newClientTLS(t, sim.TLSURL(), testUser, testPass, legacy)
	resp, data := wc.post(getReq(uriGeneral))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	assert.Equal(t, uint16(tls.VersionTLS11), resp.TLS.Version)
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "console"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	sim := startSim(t, Options{HTTPPort: -1, ClientCAs: pool})

	without := newClientTLS(t, sim.TLSURL(), testUser, testPass, pinned(sim.CertificateSHA256()))
	_, _, err = without.tryPost(getReq(uriGeneral))
	require.Error(t, err)

	cfg := pinned(sim.CertificateSHA256())
	cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}
	with := newClientTLS(t, sim.TLSURL(), testUser, testPass, cfg)
	resp, _ := with.post(getReq(uriGeneral))
	require.Equal(t, http.StatusOK, resp.StatusCode, "digest still applies on top of mutual TLS")
}
