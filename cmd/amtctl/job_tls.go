package main

// The connection settings of job run (--tls, --ca, --pin, --legacy-tls,
// --insecure-skip-verify, --redirect-port), with the device commands'
// meanings and rules, stored with the job so that every worker connects
// and verifies the same way; and their JSON and table form in job run
// --detach, job list and job status.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/amtkit/amtkit/amt/fleet/durable"
)

// jobTLSFlags are job run's connection flags.
type jobTLSFlags struct {
	useTLS       bool
	caFile       string
	pins         []string
	legacy       bool
	insecure     bool
	redirectPort int
}

func (f *jobTLSFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&f.useTLS, "tls", false, "use TLS (port 16993 for targets without a port); certificates are verified against the system roots unless --ca or --pin")
	fl.StringVar(&f.caFile, "ca", "", "PEM file of CA certificates that issued the device certificates (implies --tls; the job stores the certificates, not the path)")
	fl.StringSliceVar(&f.pins, "pin", nil, "trust a device certificate with this SHA-256 fingerprint (implies --tls; repeat)")
	fl.BoolVar(&f.legacy, "legacy-tls", false, "allow TLS 1.0/1.1 and RSA key exchange for old firmware (implies --tls)")
	fl.BoolVar(&f.insecure, "insecure-skip-verify", false, "accept any TLS certificate: open to interception (implies --tls; job status shows it)")
	fl.IntVar(&f.redirectPort, "redirect-port", 0, "ider-boot: redirection port (default 16994, or 16995 with TLS)")
}

// connection checks the flags and reads --ca into the job's settings.
func (f *jobTLSFlags) connection(cmd *cobra.Command) (durable.Connection, error) {
	if err := firstError(
		checkConflict(cmd, "pin", "insecure-skip-verify"),
		checkConflict(cmd, "ca", "insecure-skip-verify"),
		checkPort("--redirect-port", f.redirectPort, true),
	); err != nil {
		return durable.Connection{}, err
	}
	c := durable.Connection{TLS: f.useTLS, PinnedSHA256: f.pins, LegacyTLS: f.legacy, InsecureSkipVerify: f.insecure,
		RedirectPort: f.redirectPort}
	if f.caFile != "" {
		pem, _, err := readCAFile(f.caFile)
		if err != nil {
			return c, err
		}
		c.CACertificates = string(pem)
	}
	if err := c.Validate(); err != nil {
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), durable.ErrInvalid.Error()+": "), "connection: ")
		switch {
		case len(f.pins) > 0 && strings.HasPrefix(msg, "pin"):
			return c, usageError{fmt.Errorf("--%s", msg)}
		case f.caFile != "":
			return c, usageError{fmt.Errorf("--ca %s: %s", f.caFile, msg)}
		}
		return c, usageError{errors.New(msg)}
	}
	return c, nil
}

// connectionRecord is a job's connection settings in JSON. It holds no
// secret: CA certificates are named by subject and fingerprint.
type connectionRecord struct {
	TLS                bool           `json:"tls"`
	CACertificates     []caCertRecord `json:"ca_certificates"`
	PinnedSHA256       []string       `json:"pinned_sha256"`
	LegacyTLS          bool           `json:"legacy_tls"`
	InsecureSkipVerify bool           `json:"insecure_skip_verify"`
	RedirectPort       *int           `json:"redirect_port"`
}

type caCertRecord struct {
	Subject string `json:"subject"`
	SHA256  string `json:"sha256"`
}

func newConnectionRecord(c durable.Connection) connectionRecord {
	r := connectionRecord{TLS: c.TLS, CACertificates: []caCertRecord{}, PinnedSHA256: []string{}, LegacyTLS: c.LegacyTLS,
		InsecureSkipVerify: c.InsecureSkipVerify}
	for _, ca := range c.CASummary() {
		r.CACertificates = append(r.CACertificates, caCertRecord{Subject: ca.Subject, SHA256: ca.SHA256})
	}
	r.PinnedSHA256 = append(r.PinnedSHA256, c.PinnedSHA256...)
	if c.RedirectPort != 0 {
		p := c.RedirectPort
		r.RedirectPort = &p
	}
	return r
}

// connectionText says in a line how the workers connect.
func connectionText(c connectionRecord) string {
	if !c.TLS {
		return "plain WS-Management (no TLS)"
	}
	var parts []string
	switch {
	case c.InsecureSkipVerify:
		parts = append(parts, "TLS, INSECURE: any certificate accepted (--insecure-skip-verify)")
	case len(c.CACertificates) > 0 || len(c.PinnedSHA256) > 0:
		s := "TLS, verified against"
		var by []string
		for _, ca := range c.CACertificates {
			by = append(by, "CA "+ca.Subject)
		}
		for _, p := range c.PinnedSHA256 {
			by = append(by, "pin "+p)
		}
		parts = append(parts, s+" "+strings.Join(by, ", "))
	default:
		parts = append(parts, "TLS, verified against the system roots")
	}
	if c.LegacyTLS {
		parts = append(parts, "legacy TLS allowed")
	}
	if c.RedirectPort != nil {
		parts = append(parts, fmt.Sprintf("redirection port %d", *c.RedirectPort))
	}
	return strings.Join(parts, "; ")
}
