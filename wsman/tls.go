package wsman

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrCertificatePin is matched by the error of a TLS connection whose
// server certificate does not have a pinned SHA-256 fingerprint.
var ErrCertificatePin = errors.New("server certificate does not match the pinned fingerprint")

// TLSConfig selects how the client verifies the device over TLS. The zero
// value verifies the certificate chain against the system roots and the
// host name, with TLS 1.2 or later.
type TLSConfig struct {
	// RootCAs replaces the system roots, for devices whose certificates
	// were issued by a private CA.
	RootCAs *x509.CertPool
	// PinnedSHA256 lists accepted SHA-256 fingerprints of the device's leaf
	// certificate, in hexadecimal (colons and case ignored). When set, a
	// matching fingerprint is what makes the connection trusted; the chain
	// and host name are not checked, which suits self-signed firmware
	// certificates.
	PinnedSHA256 []string
	// Certificates are client certificates for mutual TLS.
	Certificates []tls.Certificate
	// ServerName overrides the name checked against the certificate.
	ServerName string
	// Legacy enables TLS 1.0 and 1.1 and RSA key exchange cipher suites,
	// which old AMT firmware needs. Never on by default.
	Legacy bool
	// InsecureSkipVerify accepts any certificate. It leaves the connection
	// open to interception; prefer RootCAs or PinnedSHA256.
	InsecureSkipVerify bool
}

// legacySuites are the RSA key exchange suites old firmware offers, followed
// by the modern ones so that a legacy client still reaches new firmware.
var legacySuites = []uint16{
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

// Build returns the crypto/tls configuration.
func (t TLSConfig) Build() (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      t.RootCAs,
		Certificates: t.Certificates,
		ServerName:   t.ServerName,
	}
	if t.Legacy {
		cfg.MinVersion = tls.VersionTLS10
		cfg.CipherSuites = legacySuites
	}
	if t.InsecureSkipVerify {
		cfg.InsecureSkipVerify = true
	}
	if len(t.PinnedSHA256) > 0 {
		pins := make([][]byte, 0, len(t.PinnedSHA256))
		for _, p := range t.PinnedSHA256 {
			b, err := ParseFingerprint(p)
			if err != nil {
				return nil, err
			}
			pins = append(pins, b)
		}
		// The pin replaces chain verification, which self-signed firmware
		// certificates cannot pass.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return ErrCertificatePin
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			for _, p := range pins {
				if subtle.ConstantTimeCompare(got[:], p) == 1 {
					return nil
				}
			}
			return fmt.Errorf("%w (server presented %s)", ErrCertificatePin, hex.EncodeToString(got[:]))
		}
	}
	return cfg, nil
}

// ParseFingerprint decodes a SHA-256 fingerprint written in hexadecimal,
// with or without colons.
func ParseFingerprint(s string) ([]byte, error) {
	clean := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(s)))
	b, err := hex.DecodeString(clean)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("wsman: %q is not a SHA-256 fingerprint (64 hexadecimal digits)", s)
	}
	return b, nil
}

// Fingerprint returns the SHA-256 fingerprint of a certificate in lower-case
// hexadecimal, the form PinnedSHA256 accepts.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}
