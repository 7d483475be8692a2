package credentials

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"
)

// Technology names the management technology a profile entry is for. amtkit
// uses AMT; WMI, ASF and SNMP entries are stored so that profiles carried over
// from other consoles keep them, but nothing resolves them yet.
type Technology string

// The technologies a profile may hold an entry for.
const (
	AMT  Technology = "amt"
	WMI  Technology = "wmi"
	ASF  Technology = "asf"
	SNMP Technology = "snmp"
)

// technologies lists the known technologies in display order.
var technologies = [...]Technology{AMT, WMI, ASF, SNMP}

// ParseTechnology parses a technology name, ignoring case and surrounding space.
func ParseTechnology(s string) (Technology, error) {
	t := Technology(strings.ToLower(strings.TrimSpace(s)))
	if t.Valid() {
		return t, nil
	}
	return "", fmt.Errorf("credentials: unknown technology %q (want amt, wmi, asf or snmp)", s)
}

// Valid reports whether t is one of the known technologies.
func (t Technology) Valid() bool {
	switch t {
	case AMT, WMI, ASF, SNMP:
		return true
	}
	return false
}

const redacted = "[redacted]"

// Credential is one login: a digest user (or a Kerberos principal) with its
// password, and optionally a client certificate for mutual TLS.
//
// The password and the client key never leave a Credential by accident: String,
// every fmt verb, slog and encoding/json all omit or redact them. Only the
// store writes them, sealed. (Errors returned by a caller's login function are
// the caller's: they should not quote the password either.)
type Credential struct {
	User     string `json:"user"`
	Password string `json:"-"`
	// Kerberos marks User as a Kerberos principal rather than a digest user.
	// It is stored and kept apart from a digest user of the same name, but no
	// client logs in with Kerberos yet.
	Kerberos bool `json:"kerberos,omitempty"`
	// ClientCertPEM and ClientKeyPEM hold an optional client certificate
	// chain and its private key, PEM encoded, for mutual TLS.
	ClientCertPEM []byte `json:"client_cert_pem,omitempty"`
	ClientKeyPEM  []byte `json:"-"`
}

// ClientCertificate parses the client certificate and key. It returns nil and
// no error when the credential has no client certificate.
func (c Credential) ClientCertificate() (*tls.Certificate, error) {
	if len(c.ClientCertPEM) == 0 && len(c.ClientKeyPEM) == 0 {
		return nil, nil
	}
	if len(c.ClientCertPEM) == 0 || len(c.ClientKeyPEM) == 0 {
		return nil, fmt.Errorf("credentials: user %q: a client certificate needs both the certificate and its key", c.User)
	}
	cert, err := tls.X509KeyPair(c.ClientCertPEM, c.ClientKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("credentials: user %q: client certificate: %w", c.User, err)
	}
	return &cert, nil
}

// IsZero reports whether c holds nothing at all.
func (c Credential) IsZero() bool {
	return c.User == "" && c.Password == "" && !c.Kerberos && len(c.ClientCertPEM) == 0 && len(c.ClientKeyPEM) == 0
}

// String describes c without its secrets, e.g.
// credentials.Credential{User:"admin", Password:[redacted]}.
func (c Credential) String() string {
	var b strings.Builder
	b.WriteString("credentials.Credential{User:")
	fmt.Fprintf(&b, "%q", c.User)
	if c.Kerberos {
		b.WriteString(", Kerberos:true")
	}
	if c.Password != "" {
		b.WriteString(", Password:" + redacted)
	}
	if len(c.ClientCertPEM) > 0 {
		b.WriteString(", ClientCert:present")
	}
	if len(c.ClientKeyPEM) > 0 {
		b.WriteString(", ClientKey:" + redacted)
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, so that %#v does not print the password.
func (c Credential) GoString() string { return c.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %q, ...), so that no
// formatting reaches the fields themselves.
func (c Credential) Format(f fmt.State, verb rune) { formatString(f, verb, c.String()) }

// formatString writes s, the redacting String of a value, for every verb:
// quoted for %q, as it is for the others, so that no formatting reaches the
// value's fields.
func formatString(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s)
		return
	}
	_, _ = f.Write([]byte(s))
}

// LogValue makes slog record the user and whether secrets are present, never
// the secrets.
func (c Credential) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("user", c.User)}
	if c.Kerberos {
		attrs = append(attrs, slog.Bool("kerberos", true))
	}
	if c.Password != "" {
		attrs = append(attrs, slog.String("password", redacted))
	}
	if len(c.ClientCertPEM) > 0 {
		attrs = append(attrs, slog.Bool("client_cert", true))
	}
	return slog.GroupValue(attrs...)
}

// clone returns a copy of c that shares no memory with it.
func (c Credential) clone() Credential {
	c.ClientCertPEM = cloneBytes(c.ClientCertPEM)
	c.ClientKeyPEM = cloneBytes(c.ClientKeyPEM)
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// Fingerprint identifies a credential for one technology without holding its
// secret: a SHA-256 over the technology, the Kerberos flag, the user, the
// password and the client certificate, each length-prefixed so that no two
// different credentials share an input. Two credentials with the same
// fingerprint are the same login: the resolver tries such duplicates once, and
// the guard remembers failures by a keyed hash of it (KeyedHash). A
// Fingerprint lives in memory only: it is not keyed, so it is never stored.
type Fingerprint [sha256.Size]byte

type fingerprint = Fingerprint

func fingerprintOf(t Technology, c Credential) fingerprint {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte("amtkit credential fingerprint v1"))
	field([]byte(t))
	if c.Kerberos {
		field([]byte{1})
	} else {
		field([]byte{0})
	}
	field([]byte(c.User))
	field([]byte(c.Password))
	field(c.ClientCertPEM)
	var fp fingerprint
	h.Sum(fp[:0])
	return fp
}

// Profile is a named set of credentials, at most one per technology. One
// profile in a store may be the default, used when a job names none.
type Profile struct {
	Name    string                    `json:"name"`
	Default bool                      `json:"default,omitempty"`
	Entries map[Technology]Credential `json:"entries,omitempty"`
}

// String describes p without secrets.
func (p Profile) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "credentials.Profile{Name:%q", p.Name)
	if p.Default {
		b.WriteString(", Default:true")
	}
	for _, t := range technologies {
		if c, ok := p.Entries[t]; ok {
			fmt.Fprintf(&b, ", %s:%s", t, c)
		}
	}
	for t, c := range p.Entries {
		if !t.Valid() {
			fmt.Fprintf(&b, ", %q:%s", string(t), c)
		}
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, so that %#v does not print passwords.
func (p Profile) GoString() string { return p.String() }

// Format prints String for every verb.
func (p Profile) Format(f fmt.State, verb rune) { formatString(f, verb, p.String()) }

// LogValue records the name, the default flag and each entry without secrets.
func (p Profile) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("name", p.Name)}
	if p.Default {
		attrs = append(attrs, slog.Bool("default", true))
	}
	for _, t := range technologies {
		if c, ok := p.Entries[t]; ok {
			attrs = append(attrs, slog.Any(string(t), c))
		}
	}
	return slog.GroupValue(attrs...)
}

// Validate reports whether p can be stored: it needs a name without control
// characters or surrounding space, and known technologies only.
func (p Profile) Validate() error {
	if err := validName(p.Name); err != nil {
		return err
	}
	for t := range p.Entries {
		if !t.Valid() {
			return fmt.Errorf("credentials: profile %q: unknown technology %q", p.Name, string(t))
		}
	}
	return nil
}

func validName(name string) error {
	if name == "" {
		return fmt.Errorf("credentials: a profile needs a name")
	}
	if strings.TrimSpace(name) != name || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("credentials: profile name %q has surrounding space or control characters", name)
	}
	if len(name) > 256 {
		return fmt.Errorf("credentials: profile name is longer than 256 bytes")
	}
	return nil
}

func (p Profile) clone() Profile {
	if p.Entries != nil {
		m := make(map[Technology]Credential, len(p.Entries))
		for t, c := range p.Entries {
			m[t] = c.clone()
		}
		p.Entries = m
	}
	return p
}
