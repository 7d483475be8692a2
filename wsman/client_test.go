package wsman_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/wsman"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	user     = "admin"
	password = "P@ssw0rd1"
)

var (
	uriGeneral  = wsman.PrefixAMT + "AMT_GeneralSettings"
	uriSoftware = wsman.PrefixCIM + "CIM_SoftwareIdentity"
	uriEthernet = wsman.PrefixAMT + "AMT_EthernetPortSettings"
	uriSetup    = wsman.PrefixAMT + "AMT_SetupAndConfigurationService"
	uriPackage  = wsman.PrefixCIM + "CIM_ComputerSystemPackage"
)

// newSim starts a simulated device for one test.
func newSim(t *testing.T, opts amtsim.Options) (*amtsim.Server, *amtsim.Device) {
	t.Helper()
	sim, err := amtsim.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim, sim.Devices()[0]
}

// newClient returns a client with short retry waits, closed at cleanup.
func newClient(t *testing.T, url string, opts ...wsman.Option) *wsman.Client {
	t.Helper()
	base := []wsman.Option{wsman.WithCredentials(user, password), wsman.WithRetry(3, 10*time.Millisecond, 50*time.Millisecond)}
	c, err := wsman.NewClient(url+"/wsman", append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestGetWithDigestReusesNonce(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	ctx := context.Background()

	in, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	assert.Equal(t, "AMT_GeneralSettings", in.Class)
	assert.Equal(t, dev.Realm(), in.String("DigestRealm"))
	assert.Equal(t, dev.Realm(), c.Realm())
	assert.Equal(t, 2, dev.Stats().HTTPRequests, "the first call learns the challenge")

	for i := 0; i < 5; i++ {
		_, err = c.Get(ctx, uriGeneral)
		require.NoError(t, err)
	}
	assert.Equal(t, 7, dev.Stats().HTTPRequests, "later calls cost one round trip each")
	assert.Zero(t, dev.Stats().FailedLogins)
}

func TestStaleNonceRefreshedTransparently(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	ctx := context.Background()
	_, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	before := dev.Stats()

	dev.ExpireNonces()
	_, err = c.Get(ctx, uriGeneral)
	require.NoError(t, err, "a stale nonce is renewed without the caller noticing")
	after := dev.Stats()
	assert.Equal(t, before.HTTPRequests+2, after.HTTPRequests, "one stale 401, one retry")
	assert.Zero(t, after.FailedLogins, "a stale nonce is not a failed login")

	_, err = c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	assert.Equal(t, after.HTTPRequests+1, dev.Stats().HTTPRequests, "the new nonce is reused")
}

func TestWrongPasswordStopsAtFirstRejection(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{LockoutAfter: 3, LockoutDuration: time.Minute})
	c := newClient(t, sim.URL(), wsman.WithCredentials(user, "wrong"))
	ctx := context.Background()

	_, err := c.Get(ctx, uriGeneral)
	require.Error(t, err)
	assert.ErrorIs(t, err, wsman.ErrUnauthorized)
	var he *wsman.HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 401, he.StatusCode)
	assert.True(t, strings.HasPrefix(he.Server, "Intel(R) Active Management Technology"))
	assert.Equal(t, 1, dev.Stats().FailedLogins, "exactly one failed login")
	sent := dev.Stats().HTTPRequests

	for i := 0; i < 5; i++ {
		_, err = c.Get(ctx, uriGeneral)
		assert.ErrorIs(t, err, wsman.ErrUnauthorized)
		_, err = c.Invoke(ctx, uriSetup, "GetUuid", nil)
		assert.ErrorIs(t, err, wsman.ErrUnauthorized)
	}
	assert.Equal(t, sent, dev.Stats().HTTPRequests, "nothing more reaches the device")
	assert.Equal(t, 1, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())
}

func TestLockedOutDeviceStopsClientAtFirstRejection(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{LockoutAfter: 2, LockoutDuration: time.Minute})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		bad := newClient(t, sim.URL(), wsman.WithCredentials(user, "wrong"))
		_, err := bad.Get(ctx, uriGeneral)
		require.ErrorIs(t, err, wsman.ErrUnauthorized)
	}
	require.True(t, dev.LockedOut())

	good := newClient(t, sim.URL())
	_, err := good.Get(ctx, uriGeneral)
	require.ErrorIs(t, err, wsman.ErrUnauthorized, "a locked device refuses even the right password")
	sent := dev.Stats().HTTPRequests
	_, err = good.Get(ctx, uriGeneral)
	require.ErrorIs(t, err, wsman.ErrUnauthorized)
	assert.Equal(t, sent, dev.Stats().HTTPRequests, "the client does not keep knocking")
}

func TestNoCredentials(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c, err := wsman.NewClient(sim.URL() + "/wsman")
	require.NoError(t, err)
	_, err = c.Get(context.Background(), uriGeneral)
	assert.ErrorIs(t, err, wsman.ErrUnauthorized)
	assert.Zero(t, dev.Stats().HTTPRequests)
}

func TestIdentifyWithoutCredentials(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{Version: "15.0.23.1706"})
	c, err := wsman.NewClient(sim.URL() + "/wsman")
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	id, err := c.Identify(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "Intel(r)", id.ProductVendor)
	assert.Equal(t, "AMT 15.0", id.ProductVersion)
	assert.Equal(t, wsman.NSWSMan, id.ProtocolVersion)
	assert.Equal(t, "Intel(R) Active Management Technology 15.0.23.1706", id.Server)
	assert.NotEmpty(t, id.SecurityProfiles)
	assert.Equal(t, 1, dev.Stats().HTTPRequests)
}

func TestFaults(t *testing.T) {
	sim, _ := newSim(t, amtsim.Options{Accounts: []amtsim.Account{{User: "reader", Password: "R3ader!pass", ReadOnly: true}}})
	c := newClient(t, sim.URL())
	ctx := context.Background()

	_, err := c.Get(ctx, wsman.PrefixAMT+"AMT_NoSuchClass")
	assert.ErrorIs(t, err, wsman.ErrDestinationUnreachable)
	var f *wsman.Fault
	require.ErrorAs(t, err, &f)
	assert.Equal(t, 400, f.StatusCode)

	_, err = c.Get(ctx, uriEthernet, wsman.Sel("InstanceID", "no such port"))
	assert.ErrorIs(t, err, wsman.ErrInvalidSelectors)

	_, err = c.Invoke(ctx, uriGeneral, "NoSuchMethod", nil)
	assert.ErrorIs(t, err, wsman.ErrActionNotSupported)

	reader := newClient(t, sim.URL(), wsman.WithCredentials("reader", "R3ader!pass"))
	in, err := reader.Get(ctx, uriGeneral)
	require.NoError(t, err)
	in.Set("HostName", "x")
	_, err = reader.Put(ctx, in)
	assert.ErrorIs(t, err, wsman.ErrAccessDenied)
}

func TestPutReadModifyWrite(t *testing.T) {
	sim, _ := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	ctx := context.Background()
	in, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	in.Set("HostName", "renamed-host")
	out, err := c.Put(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "renamed-host", out.String("HostName"))
	again, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	assert.Equal(t, "renamed-host", again.String("HostName"))
	assert.Equal(t, len(in.Properties), len(again.Properties), "every property survives")
}

func TestEnumeratePaging(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{Version: "12.0.67.1579"})
	c := newClient(t, sim.URL())
	ctx := context.Background()
	all, err := c.EnumerateAll(ctx, uriSoftware, wsman.PullMaxElements(3))
	require.NoError(t, err)
	ids := map[string]string{}
	for _, in := range all {
		ids[in.String("InstanceID")] = in.String("VersionString")
	}
	assert.Equal(t, "12.0.67", ids["AMT"])
	assert.Equal(t, "1579", ids["Build Number"])
	pulls := dev.Stats().Actions[wsman.ActionPull]
	assert.Equal(t, (len(all)+2)/3, pulls, "pages of three")
	assert.Zero(t, dev.Stats().Actions[wsman.ActionRelease], "a finished enumeration needs no Release")
}

func TestEnumerateEarlyStopReleases(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	n := 0
	for in, err := range c.Enumerate(context.Background(), uriSoftware, wsman.PullMaxElements(2)) {
		require.NoError(t, err)
		require.NotNil(t, in)
		n++
		if n == 3 {
			break
		}
	}
	assert.Equal(t, 1, dev.Stats().Actions[wsman.ActionRelease], "stopping early releases the enumeration")
}

func TestInvoke(t *testing.T) {
	sim, _ := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	out, err := c.Invoke(context.Background(), uriSetup, "GetUuid", nil)
	require.NoError(t, err)
	assert.Equal(t, "GetUuid_OUTPUT", out.Class)
	assert.NotEmpty(t, out.String("UUID"))
	assert.Equal(t, "0", out.String("ReturnValue"))
}

func TestRetryIdempotentAfter503(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	ctx := context.Background()
	_, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	before := dev.Stats().HTTPRequests
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultStatus, Status: 503, Action: "Get", Times: 2})
	_, err = c.Get(ctx, uriGeneral)
	require.NoError(t, err, "a Get survives two 503s")
	assert.Equal(t, before+3, dev.Stats().HTTPRequests, "two refused attempts and a third that succeeds")
	assert.Equal(t, 2, dev.Stats().Actions[wsman.ActionGet], "executed once for each successful Get")
}

func TestRetryGivesUpAfterLimit(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL(), wsman.WithRetry(2, time.Millisecond, 5*time.Millisecond))
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultStatus, Status: 503})
	_, err := c.Get(context.Background(), uriGeneral)
	var he *wsman.HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 503, he.StatusCode)
}

func TestRetryIdempotentAfterReset(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	ctx := context.Background()
	_, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetMidResponse, Action: "Get", Times: 1})
	in, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err, "a Get whose answer was cut off is sent again")
	assert.Equal(t, "AMT_GeneralSettings", in.Class)
}

func TestInvokeNeverRetried(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	ctx := context.Background()
	_, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	action := uriSetup + "/GetUuid"

	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultStatus, Status: 503, Action: "GetUuid", Times: 1})
	_, err = c.Invoke(ctx, uriSetup, "GetUuid", nil)
	var he *wsman.HTTPError
	require.ErrorAs(t, err, &he, "a 503 to an Invoke is returned, not retried")
	assert.Zero(t, dev.Stats().Actions[action])

	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetAfterRequest, Action: "GetUuid", Times: 1})
	_, err = c.Invoke(ctx, uriSetup, "GetUuid", nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, wsman.ErrOutcomeUnknown)
	assert.Contains(t, err.Error(), "outcome unknown")
	assert.Equal(t, 1, dev.Stats().Actions[action], "the device carried it out exactly once")

	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetMidResponse, Action: "GetUuid", Times: 1})
	_, err = c.Invoke(ctx, uriSetup, "GetUuid", nil)
	assert.ErrorIs(t, err, wsman.ErrOutcomeUnknown)
	assert.Equal(t, 2, dev.Stats().Actions[action])
}

func TestInvokeToUnreachableIsNotOutcomeUnknown(t *testing.T) {
	sim, _ := newSim(t, amtsim.Options{})
	url := sim.URL()
	require.NoError(t, sim.Close())
	c := newClient(t, url)
	_, err := c.Invoke(context.Background(), uriSetup, "GetUuid", nil)
	require.Error(t, err)
	assert.NotErrorIs(t, err, wsman.ErrOutcomeUnknown, "nothing was sent")
}

func TestMalformedBody(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultMalformedBody, Action: "Get", Times: 1})
	_, err := c.Get(context.Background(), uriGeneral)
	assert.ErrorIs(t, err, wsman.ErrMalformedResponse)
}

func TestResponseTooLarge(t *testing.T) {
	sim, _ := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL(), wsman.WithMaxResponseBytes(256))
	_, err := c.Get(context.Background(), uriGeneral)
	assert.ErrorIs(t, err, wsman.ErrResponseTooLarge)
}

func TestContextDeadline(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelay, Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Get(ctx, uriGeneral)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestConcurrentUse(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL(), wsman.WithMaxConcurrency(4))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 8; j++ {
				if _, err := c.Get(context.Background(), uriGeneral); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Zero(t, dev.Stats().FailedLogins, "concurrent nonce reuse never fails a login")
}

func TestTLSPinning(t *testing.T) {
	sim, _ := newSim(t, amtsim.Options{})
	ctx := context.Background()

	good := newClient(t, sim.TLSURL(), wsman.WithTLS(wsman.TLSConfig{PinnedSHA256: []string{sim.CertificateSHA256()}}))
	_, err := good.Get(ctx, uriGeneral)
	require.NoError(t, err, "the right fingerprint is accepted")

	wrong := strings.Repeat("00", 32)
	bad := newClient(t, sim.TLSURL(), wsman.WithTLS(wsman.TLSConfig{PinnedSHA256: []string{wrong}}))
	_, err = bad.Get(ctx, uriGeneral)
	require.Error(t, err)
	assert.ErrorIs(t, err, wsman.ErrCertificatePin)

	def := newClient(t, sim.TLSURL())
	_, err = def.Get(ctx, uriGeneral)
	require.Error(t, err, "a self-signed certificate is refused by default")
	assert.NotErrorIs(t, err, wsman.ErrUnauthorized)
}

func TestLegacyTLS(t *testing.T) {
	sim, _ := newSim(t, amtsim.Options{LegacyTLS: true})
	ctx := context.Background()
	pin := sim.CertificateSHA256()

	modern := newClient(t, sim.TLSURL(), wsman.WithTLS(wsman.TLSConfig{PinnedSHA256: []string{pin}}))
	_, err := modern.Get(ctx, uriGeneral)
	require.Error(t, err, "TLS 1.2+ clients cannot talk to TLS 1.0/1.1 firmware")

	legacy := newClient(t, sim.TLSURL(), wsman.WithTLS(wsman.TLSConfig{PinnedSHA256: []string{pin}, Legacy: true}))
	_, err = legacy.Get(ctx, uriGeneral)
	require.NoError(t, err, "the explicit legacy profile can")
}

func TestSelectorWithReference(t *testing.T) {
	sim, _ := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	in, err := c.Get(context.Background(), uriPackage)
	require.NoError(t, err)
	ref, ok := in.Ref("Dependent")
	require.True(t, ok)
	assert.Equal(t, wsman.PrefixCIM+"CIM_ComputerSystem", ref.ResourceURI)
	// Address the same instance by its EPR-valued keys.
	ant, _ := in.Ref("Antecedent")
	again, err := c.Get(context.Background(), uriPackage,
		wsman.Selector{Name: "Antecedent", Ref: ant}, wsman.Selector{Name: "Dependent", Ref: ref})
	require.NoError(t, err)
	assert.Equal(t, in.String("PlatformGUID"), again.String("PlatformGUID"))
}

func TestClientErrorsAreDescriptive(t *testing.T) {
	_, err := wsman.NewClient("ftp://x")
	assert.Error(t, err)
	_, err = wsman.NewClient("http://h/wsman", wsman.WithTLS(wsman.TLSConfig{PinnedSHA256: []string{"nope"}}))
	assert.Error(t, err)
	_, err = wsman.NewClient("http://h/wsman", wsman.WithCredentials("", "x"))
	assert.Error(t, err)
	assert.False(t, errors.Is(err, wsman.ErrUnauthorized))
}

func TestLogsNeverCarrySecrets(t *testing.T) {
	sim, _ := newSim(t, amtsim.Options{})
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()

	good := newClient(t, sim.URL(), wsman.WithLogger(logger))
	_, err := good.Get(ctx, uriGeneral)
	require.NoError(t, err)
	_, err = good.Invoke(ctx, uriSetup, "GetUuid", nil)
	require.NoError(t, err)
	bad := newClient(t, sim.URL(), wsman.WithLogger(logger), wsman.WithCredentials(user, "Wr0ng-secret"))
	_, err = bad.Get(ctx, uriGeneral)
	require.Error(t, err)

	mu.Lock()
	out := buf.String()
	mu.Unlock()
	assert.Contains(t, out, "Get AMT_GeneralSettings", "requests are logged")
	for _, secret := range []string{password, "Wr0ng-secret", "response=", "Digest ", "cnonce", "Authorization"} {
		assert.NotContains(t, out, secret)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestCreateAndDeleteReachTheDevice(t *testing.T) {
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	ctx := context.Background()
	in := wsman.NewInstance(uriGeneral)
	in.Set("HostName", "x")
	_, err := c.Create(ctx, in)
	assert.ErrorIs(t, err, wsman.ErrActionNotSupported, "the general settings cannot be created")
	err = c.Delete(ctx, uriGeneral)
	assert.ErrorIs(t, err, wsman.ErrActionNotSupported)
	assert.Equal(t, 1, dev.Stats().Actions[wsman.ActionCreate])
	assert.Equal(t, 1, dev.Stats().Actions[wsman.ActionDelete])
}

func TestMutualTLS(t *testing.T) {
	ca, caKey := newCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	sim, _ := newSim(t, amtsim.Options{ClientCAs: pool})
	pin := sim.CertificateSHA256()
	ctx := context.Background()

	withCert := newClient(t, sim.TLSURL(), wsman.WithTLS(wsman.TLSConfig{PinnedSHA256: []string{pin}, Certificates: []tls.Certificate{clientCert(t, ca, caKey)}}))
	_, err := withCert.Get(ctx, uriGeneral)
	require.NoError(t, err, "a client certificate from the trusted CA is accepted")

	without := newClient(t, sim.TLSURL(), wsman.WithTLS(wsman.TLSConfig{PinnedSHA256: []string{pin}}))
	_, err = without.Get(ctx, uriGeneral)
	require.Error(t, err, "no client certificate, no session")
	assert.NotErrorIs(t, err, wsman.ErrUnauthorized)
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test console CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

func clientCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "console"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestRootCAs(t *testing.T) {
	sim, _ := newSim(t, amtsim.Options{})
	pool := x509.NewCertPool()
	pool.AddCert(sim.Certificate())
	c := newClient(t, sim.TLSURL(), wsman.WithTLS(wsman.TLSConfig{RootCAs: pool}))
	_, err := c.Get(context.Background(), uriGeneral)
	require.NoError(t, err, "a certificate chaining to the given roots, for the right name, is trusted")
}

func TestUnauthenticated401DoesNotLatch(t *testing.T) {
	hits := 0
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="router"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	for i := 0; i < 2; i++ {
		_, err := c.Get(context.Background(), uriGeneral)
		assert.ErrorIs(t, err, wsman.ErrUnauthorized)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 2, hits, "no digest challenge, so no credentials were sent and none were rejected: the client does not latch")
}

func TestNonSOAPAnswerKeepsServerHeader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx")
		_, _ = w.Write([]byte("<html>hello</html>"))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	_, err := c.Get(context.Background(), uriGeneral)
	var de *wsman.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "nginx", de.Server)
}
