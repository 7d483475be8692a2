package amt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/wsman"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The simulator's default administrator account.
const (
	user     = "admin"
	password = "P@ssw0rd1"
)

// newSim starts a simulated device that is closed when the test ends.
func newSim(t *testing.T, opts amtsim.Options) (*amtsim.Server, *amtsim.Device) {
	t.Helper()
	sim, err := amtsim.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sim.Close()) })
	return sim, sim.Devices()[0]
}

// fastRetry keeps retries of refused or reset connections quick, so that
// failure tests do not sit in the default back-off.
var fastRetry = amt.WithWSManOptions(wsman.WithRetry(1, time.Millisecond, time.Millisecond))

// newClient returns a client for endpoint whose idle connections are closed
// when the test ends. Its fixed credentials (if any) are counted by a guard
// of its own: the simulators of every test share 127.0.0.1, which the
// process-wide guard would take for one device.
func newClient(t *testing.T, endpoint string, opts ...amt.Option) *amt.Client {
	t.Helper()
	c, err := amt.New(endpoint, append([]amt.Option{fastRetry, amt.WithLockoutGuard(credentials.NewGuard(0, 0))}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// clientCA is a certificate authority that issues console (client)
// certificates for mutual TLS.
type clientCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newClientCA(t *testing.T) *clientCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "amtkit test console CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &clientCA{cert: cert, key: key, pool: pool}
}

// issue returns a client certificate signed by the CA.
func (ca *clientCA) issue(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
