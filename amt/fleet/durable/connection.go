package durable

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/wsman"
)

// Connection is how the workers reach a job's machines: plain WS-Man, or
// TLS and how its certificate is verified. It is stored with the job
// (amtkit_job.connection), so that a worker on any machine connects and
// verifies the same way; it never holds a secret (CA certificates and
// fingerprints are public; a client certificate's key is never stored).
// The zero value is plain WS-Man on each target's port (16992 for a
// target without one).
type Connection struct {
	// TLS selects TLS (port 16993 for a target without a port). Any of
	// the settings below implies it.
	TLS bool `json:"tls"`
	// CACertificates are the PEM certificates of the CAs that issued the
	// devices' certificates: their content, not a path, so that every
	// worker verifies against the same. Empty: the system roots (or the
	// pins alone when PinnedSHA256 is set).
	CACertificates string `json:"ca_certificates"`
	// PinnedSHA256 trusts a device whose certificate has one of these
	// SHA-256 fingerprints (AMT's self-signed certificates).
	PinnedSHA256 []string `json:"pinned_sha256"`
	// LegacyTLS allows TLS 1.0 and 1.1 and RSA key exchange, for old
	// firmware.
	LegacyTLS bool `json:"legacy_tls"`
	// InsecureSkipVerify accepts any certificate. It is used only when
	// set here explicitly, never as a fallback, and excludes CA
	// certificates and pins.
	InsecureSkipVerify bool `json:"insecure_skip_verify"`
	// RedirectPort is the redirection port of IDE-R boots (0: 16994, or
	// 16995 with TLS).
	RedirectPort int `json:"redirect_port"`
}

// normalized turns on TLS when a TLS setting is given.
func (c Connection) normalized() Connection {
	if c.CACertificates != "" || len(c.PinnedSHA256) > 0 || c.LegacyTLS || c.InsecureSkipVerify {
		c.TLS = true
	}
	if c.PinnedSHA256 == nil {
		c.PinnedSHA256 = []string{}
	}
	return c
}

// Validate checks the settings as a worker will use them; Submit calls
// it. Errors match ErrInvalid.
func (c Connection) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: connection: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if c.InsecureSkipVerify && (c.CACertificates != "" || len(c.PinnedSHA256) > 0) {
		return bad("insecure-skip-verify excludes CA certificates and pins")
	}
	if c.RedirectPort < 0 || c.RedirectPort > 65535 {
		return bad("redirection port %d out of range", c.RedirectPort)
	}
	for _, p := range c.PinnedSHA256 {
		if _, err := wsman.ParseFingerprint(p); err != nil {
			return bad("pin %q: %v", p, err)
		}
	}
	if c.CACertificates != "" {
		if _, err := c.CAPool(); err != nil {
			return fmt.Errorf("%w: connection: %w", ErrInvalid, err)
		}
	}
	return nil
}

// CAPool parses CACertificates (nil when there are none). Every PEM block
// must be a certificate.
func (c Connection) CAPool() (*x509.CertPool, error) {
	certs, err := c.caCertificates()
	if err != nil || len(certs) == 0 {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, cert := range certs {
		pool.AddCert(cert)
	}
	return pool, nil
}

func (c Connection) caCertificates() ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := []byte(c.CACertificates)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("CA certificates: a PEM block of type %q (want CERTIFICATE; a key is never stored)", b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA certificates: %w", err)
		}
		out = append(out, cert)
	}
	if strings.TrimSpace(c.CACertificates) != "" && len(out) == 0 {
		return nil, fmt.Errorf("CA certificates: no PEM certificate")
	}
	return out, nil
}

// CASummary names each CA certificate: its subject and SHA-256
// fingerprint, for status output.
func (c Connection) CASummary() []CACertificate {
	certs, _ := c.caCertificates()
	out := make([]CACertificate, 0, len(certs))
	for _, cert := range certs {
		sum := sha256.Sum256(cert.Raw)
		out = append(out, CACertificate{Subject: cert.Subject.String(), SHA256: hex.EncodeToString(sum[:])})
	}
	return out
}

// CACertificate names one CA certificate of a Connection.
type CACertificate struct {
	Subject string `json:"subject"`
	SHA256  string `json:"sha256"`
}

// Options are the amt.New options the settings stand for.
func (c Connection) Options() ([]amt.Option, error) {
	var opts []amt.Option
	if c.TLS {
		opts = append(opts, amt.WithTLS())
	}
	pool, err := c.CAPool()
	if err != nil {
		return nil, err
	}
	if pool != nil {
		opts = append(opts, amt.WithRootCAs(pool))
	}
	for _, p := range c.PinnedSHA256 {
		opts = append(opts, amt.WithPinnedCertificate(p))
	}
	if c.LegacyTLS {
		opts = append(opts, amt.WithLegacyTLS())
	}
	if c.InsecureSkipVerify {
		opts = append(opts, amt.WithInsecureSkipVerify())
	}
	if c.RedirectPort != 0 {
		opts = append(opts, amt.WithRedirectPort(c.RedirectPort))
	}
	return opts, nil
}
