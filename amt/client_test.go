package amt_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/wsman"
)

// pin is a well-formed SHA-256 fingerprint; New does no I/O, so it need not
// match anything.
var pin = strings.Repeat("ab", 32)

func TestNewEndpointForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		endpoint string
		opts     []amt.Option
		host     string
		url      string
	}{
		{"192.0.2.10", nil, "192.0.2.10:16992", "http://192.0.2.10:16992/wsman"},
		{"  amt.example.com  ", nil, "amt.example.com:16992", "http://amt.example.com:16992/wsman"},
		{"192.0.2.10", []amt.Option{amt.WithTLS()}, "192.0.2.10:16993", "https://192.0.2.10:16993/wsman"},
		{"192.0.2.10", []amt.Option{amt.WithPinnedCertificate(pin)}, "192.0.2.10:16993", "https://192.0.2.10:16993/wsman"},
		{"amt.example.com:1234", nil, "amt.example.com:1234", "http://amt.example.com:1234/wsman"},
		{"amt.example.com:1234", []amt.Option{amt.WithTLS()}, "amt.example.com:1234", "https://amt.example.com:1234/wsman"},
		{"[::1]:16992", nil, "[::1]:16992", "http://[::1]:16992/wsman"},
		{"::1", nil, "[::1]:16992", "http://[::1]:16992/wsman"},
		{"[::1]", []amt.Option{amt.WithTLS()}, "[::1]:16993", "https://[::1]:16993/wsman"},
		{"http://h", nil, "h:16992", "http://h:16992/wsman"},
		{"http://h/", nil, "h:16992", "http://h:16992/wsman"},
		{"https://h", nil, "h:16993", "https://h:16993/wsman"},
		{"https://h", []amt.Option{amt.WithTLS()}, "h:16993", "https://h:16993/wsman"},
		{"https://h:1234/wsman", nil, "h:1234", "https://h:1234/wsman"},
		{"https://h:1234/wsman", []amt.Option{amt.WithPinnedCertificate(pin)}, "h:1234", "https://h:1234/wsman"},
		{"http://[::1]", nil, "[::1]:16992", "http://[::1]:16992/wsman"},
	}
	for _, tt := range tests {
		c, err := amt.New(tt.endpoint, tt.opts...)
		require.NoError(t, err, tt.endpoint)
		assert.Equal(t, tt.host, c.Host(), tt.endpoint)
		assert.Equal(t, tt.url, c.WSMan().Endpoint(), tt.endpoint)
	}
}

func TestNewRejectsBadEndpoints(t *testing.T) {
	t.Parallel()
	for _, endpoint := range []string{
		"",
		"   ",
		"ftp://h",
		"http://",
		"https://:16993",
		"http:///wsman",
		"http://h:0",
		"http://h:99999",
		"http://admin:secret@h",
		"http://h/wsman?x=1",
		"http://a b",
		"h:0",
		"h:65536",
		"h:abc",
		"h:",
		":16992",
		"[::1",
		"a/b",
		"[::1]:",
	} {
		c, err := amt.New(endpoint)
		assert.Error(t, err, "%q", endpoint)
		assert.Nil(t, c, "%q", endpoint)
	}
}

func TestNewRejectsTLSOptionsWithPlainHTTPURL(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]amt.Option{
		"WithTLS":                amt.WithTLS(),
		"WithPinnedCertificate":  amt.WithPinnedCertificate(pin),
		"WithLegacyTLS":          amt.WithLegacyTLS(),
		"WithInsecureSkipVerify": amt.WithInsecureSkipVerify(),
	} {
		_, err := amt.New("http://192.0.2.10", opt)
		assert.ErrorContains(t, err, "plain http", name)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]amt.Option{
		"empty user":        amt.WithCredentials("", "x"),
		"nil root pool":     amt.WithRootCAs(nil),
		"bad pin":           amt.WithPinnedCertificate("not-a-fingerprint"),
		"short pin":         amt.WithPinnedCertificate("abcd"),
		"empty client cert": amt.WithClientCertificate(tls.Certificate{}),
		"nil http client":   amt.WithHTTPClient(nil),
		"negative timeout":  amt.WithTimeout(-1),
		"bad wsman option":  amt.WithWSManOptions(wsman.WithMaxConcurrency(0)),
	} {
		_, err := amt.New("192.0.2.10", opt)
		assert.Error(t, err, name)
	}
}

func TestNewRejectsTLSOptionsOnForeignTransport(t *testing.T) {
	t.Parallel()
	hc := &http.Client{Transport: roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil })}
	_, err := amt.New("192.0.2.10", amt.WithHTTPClient(hc), amt.WithPinnedCertificate(pin))
	require.Error(t, err, "the pin would be silently dropped")

	c, err := amt.New("192.0.2.10", amt.WithHTTPClient(hc))
	require.NoError(t, err, "without TLS options any round tripper will do")
	assert.Equal(t, "http://192.0.2.10:16992/wsman", c.WSMan().Endpoint())
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
