package amtsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"
)

// Generating an RSA-2048 key is slow, so one key serves every simulator in
// the process; certificates are cached per set of addresses.
var (
	keyOnce   sync.Once
	sharedKey *rsa.PrivateKey
	keyErr    error

	certMu    sync.Mutex
	certCache = map[string]*tls.Certificate{}
)

func processKey() (*rsa.PrivateKey, error) {
	keyOnce.Do(func() {
		sharedKey, keyErr = rsa.GenerateKey(rand.Reader, 2048)
	})
	return sharedKey, keyErr
}

func (s *Server) setupCertificate(ips []net.IP) error {
	cert := s.opts.TLSCertificate
	if cert == nil {
		var err error
		if cert, err = selfSigned(ips); err != nil {
			return err
		}
	}
	if len(cert.Certificate) == 0 {
		return errors.New("amtsim: TLS certificate has no certificate data")
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return err
		}
	}
	s.cert, s.leaf = cert, leaf
	return nil
}

func selfSigned(ips []net.IP) (*tls.Certificate, error) {
	sans := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	if len(ips) <= maxSANDevices {
		for _, ip := range ips {
			if !ip.Equal(sans[0]) {
				sans = append(sans, ip)
			}
		}
	}
	var keyB strings.Builder
	for _, ip := range sans {
		keyB.WriteString(ip.String())
		keyB.WriteByte(',')
	}
	cacheKey := keyB.String()
	certMu.Lock()
	defer certMu.Unlock()
	if c := certCache[cacheKey]; c != nil {
		return c, nil
	}
	key, err := processKey()
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "amtsim", Organization: []string{"amtkit simulator"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           sans,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	certCache[cacheKey] = c
	return c, nil
}

func (s *Server) tlsConfig() *tls.Config {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{*s.cert},
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only, like the firmware (and needed for connection resets).
		NextProtos: []string{"http/1.1"},
	}
	if s.opts.LegacyTLS {
		cfg.MinVersion = tls.VersionTLS10
		cfg.MaxVersion = tls.VersionTLS11
		cfg.CipherSuites = []uint16{
			tls.TLS_RSA_WITH_AES_128_CBC_SHA,
			tls.TLS_RSA_WITH_AES_256_CBC_SHA,
		}
	}
	if s.opts.ClientCAs != nil {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = s.opts.ClientCAs
	}
	return cfg
}

// redirectTLSConfig is the WS-Man TLS configuration without the HTTP
// protocol negotiation, for the redirection port.
func (s *Server) redirectTLSConfig(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	cfg.NextProtos = nil
	return cfg
}
