package amtsim

import (
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
)

// TestAddTrustedRootCertificate: the recorded request's certificate is
// stored under the next handle and answered with its reference and 0, as
// captured; the new certificate reads back with its issuer and subject
// written as the captures write them. The same certificate again is
// DUPLICATE, a blob that is no certificate INVALID_CERT, none at all
// INVALID_PARAMETER, and none of them stores anything.
func TestAddTrustedRootCertificate(t *testing.T) {
	dir := recordingsDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "AMT_PublicKeyManagementService", "AddTrustedRootCertificate__mps__1.req.xml"))
	require.NoError(t, err)
	blob := regexp.MustCompile(`<r:CertificateBlob>([^<]+)</r:CertificateBlob>`).FindStringSubmatch(string(raw))
	require.Len(t, blob, 2)
	opts := plainOpts()
	opts.Version = "16.1.27.2176"
	sim := startSim(t, opts)
	wc := newClient(t, sim.URL(), testUser, testPass)
	const svc, cert = "AMT_PublicKeyManagementService", "AMT_PublicKeyCertificate"
	require.Equal(t, 3, pulled(t, wc, cert), "the captured certificates, handles 0 to 2")

	resp, data := wc.post(string(raw))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	root := parseDoc(t, data)
	assert.Equal(t, []string{"0"}, outputValues(root, svc, "ReturnValue"))
	created := find(root, capturedURI(svc), "CreatedCertificate")
	require.NotNil(t, created, "%s", data)
	assert.Equal(t, capturedURI(cert), textOf(created, soap.NSWSMan, "ResourceURI"))
	id := textOf(created, soap.NSWSMan, "Selector")
	assert.Equal(t, "Intel(r) AMT Certificate: Handle: 3", id)
	assert.Equal(t, 4, pulled(t, wc, cert))

	resp, data = wc.post(getReq(capturedURI(cert), sel{"InstanceID", id}))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	got := parseDoc(t, data)
	assert.Equal(t, "C=unknown,O=unknown,CN=MPSRoot-614d88", textOf(got, capturedURI(cert), "Subject"))
	assert.Equal(t, "C=unknown,O=unknown,CN=MPSRoot-614d88", textOf(got, capturedURI(cert), "Issuer"))
	assert.Equal(t, "true", textOf(got, capturedURI(cert), "TrustedRootCertficate"))
	assert.Equal(t, blob[1], textOf(got, capturedURI(cert), "X509Certificate"))

	for _, tc := range []struct{ body, rv string }{
		{"<h:CertificateBlob>" + blob[1] + "</h:CertificateBlob>", "2058"},
		{"<h:CertificateBlob>bm90IGEgY2VydGlmaWNhdGU=</h:CertificateBlob>", "2063"},
		{"<h:CertificateBlob>%%%</h:CertificateBlob>", "2063"},
		{"", "36"},
	} {
		resp, data := wc.post(invokeReq(svc, "AddTrustedRootCertificate", tc.body))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		assert.Equal(t, []string{tc.rv}, outputValues(parseDoc(t, data), svc, "ReturnValue"), tc.body)
	}
	assert.Equal(t, 4, pulled(t, wc, cert), "a refused certificate is not stored")
}

// TestDistinguishedNameAsCaptured: the Issuer and Subject the simulator
// writes for a certificate are the ones the firmware wrote for the same
// certificate, for every captured certificate that parses.
func TestDistinguishedNameAsCaptured(t *testing.T) {
	dir := recordingsDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "AMT_PublicKeyCertificate", "*.resp.xml"))
	require.NoError(t, err)
	checked := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		uri := capturedURI("AMT_PublicKeyCertificate")
		for _, c := range findAll(parseDoc(t, raw), uri, "AMT_PublicKeyCertificate") {
			der, err := base64.StdEncoding.DecodeString(textOf(c, uri, "X509Certificate"))
			if err != nil {
				continue
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				continue // a fixture's certificate cut short
			}
			assert.Equal(t, textOf(c, uri, "Subject"), distinguishedName(cert.RawSubject), f)
			assert.Equal(t, textOf(c, uri, "Issuer"), distinguishedName(cert.RawIssuer), f)
			checked++
		}
	}
	require.Positive(t, checked, "no captured certificate parsed")
	t.Logf("%d captured certificates' names compared", checked)
}
