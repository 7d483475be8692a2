package discovery

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/wsman"
)

// maxProbeBody bounds what is read of a probe's response body.
const maxProbeBody = 256 << 10

// probeTLS is the TLS configuration of stage 2. It does not verify the
// certificate: discovery sends no credentials over the connection and
// only records the certificate's fingerprint, which stage 3 pins (trust on
// first use). It offers TLS 1.0 and RSA key exchange as well, so that old
// firmware answers too.
var probeTLS = sync.OnceValue(func() *tls.Config {
	cfg, err := wsman.TLSConfig{Legacy: true, InsecureSkipVerify: true}.Build()
	if err != nil {
		panic(err) // a fixed configuration
	}
	return cfg
})

// probe runs stages 2 and 3 for one address and classifies it. It returns
// nil for a silent address that is not to be reported.
func (s *scanner) probe(ctx context.Context, it item) *Result {
	r := &Result{Address: it.target.Addr, Host: it.target.Host, Pong: it.pong}
	if it.target.Err != nil {
		r.Classification, r.Err = Error, it.target.Err
		r.Error = r.Err.Error()
		return r
	}
	o := s.opts
	type port struct {
		n   int
		tls bool
	}
	var ports []port
	named := 0 // the port the pong names, if any
	switch p := it.pong; {
	case p != nil && p.Extended() && p.Port != 0:
		r.RMCP = true
		if p.Port == PongPortTLS || int(p.Port) == o.TLSPort {
			named = o.TLSPort
			ports = []port{{o.TLSPort, true}}
		} else {
			named = o.HTTPPort
			ports = []port{{o.HTTPPort, false}}
		}
	case p != nil && p.Extended():
		// Present but not set up: such firmware answers on the plain port
		// with a mostly-zero realm.
		r.RMCP = true
		ports = []port{{o.HTTPPort, false}}
	case p != nil:
		// Something answers ASF, but not AMT, or AMT before 6.0, whose
		// pong names no port.
		r.RMCP = true
		ports = []port{{o.HTTPPort, false}, {o.TLSPort, true}}
	case o.SkipSilent:
		if !o.ReportAll {
			return nil
		}
	default:
		ports = []port{{o.HTTPPort, false}, {o.TLSPort, true}}
	}
	for _, p := range ports {
		if ctx.Err() != nil {
			return nil
		}
		pr := s.probePort(ctx, it.target.Addr, p.n, p.tls)
		r.Probes = append(r.Probes, pr)
		if pr.AMT {
			// Without a pong naming it, the TLS port is tried only when
			// the plain one is not AMT's: AMT opens its TLS port once
			// TLS is configured, and then advertises it.
			break
		}
	}
	s.summarize(r, named)
	if r.Classification == NoAMT && !r.RMCP && !anyOpen(r.Probes) && !o.ReportAll {
		return nil
	}
	if o.Inventory && r.Classification == Provisioned && r.Port != 0 {
		s.inventory(ctx, r)
	}
	if r.Err != nil {
		r.Error = r.Err.Error()
	}
	return r
}

func anyOpen(ps []Probe) bool {
	for _, p := range ps {
		if p.Open {
			return true
		}
	}
	return false
}

// summarize fills the summary fields of r from its pong and probes and
// classifies it. named is the port the pong advertised, or 0.
func (s *scanner) summarize(r *Result, named int) {
	var state *amt.ProvisioningState
	if p := r.Pong; p != nil && p.AMT() {
		r.AMT = true
		r.Version = p.Version()
		r.DASH = p.DASH
		if p.Extended() {
			r.TLS = p.TLS()
			st := p.State
			state = &st
		}
	}
	var namedProbe *Probe
	for i := range r.Probes {
		p := &r.Probes[i]
		if p.Port == named && named != 0 {
			namedProbe = p
		}
		if !p.AMT {
			continue
		}
		r.AMT = true
		if r.Port == 0 || p.TLS {
			r.Port = p.Port
		}
		if p.TLS {
			r.TLS = true
			r.CertSHA256 = p.CertSHA256
		}
		if p.Firmware != "" {
			r.Version = p.Firmware
		} else if r.Version == "" && p.ProductVersion != "" {
			r.Version = strings.TrimSpace(strings.TrimPrefix(p.ProductVersion, "AMT"))
		}
		if p.Realm != "" {
			r.Realm = p.Realm
		}
		if p.ProductVersion != "" {
			r.ProductVersion = p.ProductVersion
		}
		if p.DASHVersion != "" {
			r.DASH = true
		}
	}
	if !r.AMT {
		r.Classification = NoAMT
		for _, p := range r.Probes {
			if p.Open && p.Err != nil && r.Err == nil {
				r.Err = p.Err
			}
		}
		return
	}
	if state == nil && r.Realm != "" {
		// No pong: the realm tells an unprovisioned device.
		st := amt.PostProvisioning
		if mostlyZeroRealm(r.Realm) {
			st = amt.PreProvisioning
		}
		state = &st
	}
	if state != nil {
		r.ProvisioningState = state.String()
	}
	switch {
	case state != nil && *state != amt.PostProvisioning:
		r.Classification = NotProvisioned
	default:
		r.Classification = Provisioned
	}
	if namedProbe != nil && !namedProbe.AMT {
		// The pong names a WS-Management port that did not answer as AMT.
		r.Classification = Error
		r.Err = fmt.Errorf("discovery: %s: RMCP names port %d, but it did not answer as AMT: %w",
			r.Address, namedProbe.Port, errOr(namedProbe.Err, amt.ErrNotDetected))
	}
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// probePort probes one WS-Management port without credentials: an empty
// POST /wsman for the 401 answer's Server header and digest realm, then
// WS-Man Identify. Over TLS it records the certificate, unverified.
func (s *scanner) probePort(ctx context.Context, addr netip.Addr, port int, useTLS bool) Probe {
	pr := Probe{Port: port, TLS: useTLS}
	ap := netip.AddrPortFrom(addr, uint16(port)).String()
	deadline := time.Now().Add(s.opts.ConnectTimeout + s.opts.ProbeTimeout)
	pc := &probeConn{}
	pc.dial = func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{Timeout: s.opts.ConnectTimeout}
		c, err := d.DialContext(ctx, "tcp", ap)
		if err != nil {
			return nil, err
		}
		pc.opened = true // something listens, whatever follows
		_ = c.SetDeadline(deadline)
		if !useTLS {
			return c, nil
		}
		tc := tls.Client(c, probeTLS())
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		st := tc.ConnectionState()
		if len(st.PeerCertificates) > 0 {
			sum := sha256.Sum256(st.PeerCertificates[0].Raw)
			pr.CertSHA256 = hex.EncodeToString(sum[:])
		}
		pr.TLSVersion = tls.VersionName(st.Version)
		pr.LegacyTLS = st.Version < tls.VersionTLS12 || strings.HasPrefix(tls.CipherSuiteName(st.CipherSuite), "TLS_RSA_")
		return tc, nil
	}
	defer pc.close()
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	url := scheme + "://" + ap + "/wsman"

	// Connect first: most addresses of a sweep refuse or time out, and
	// should cost nothing more.
	if err := pc.connect(ctx); err != nil {
		pr.Open = pc.opened
		if !pc.opened && isRefused(err) {
			return pr // nothing listens: not an error, just closed
		}
		pr.Err = fmt.Errorf("discovery: probe %s: %w", ap, err)
		return pr
	}

	// The unauthenticated request: AMT answers 401 with its Server header
	// and digest challenge.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, http.NoBody)
	if err != nil {
		pr.Err = err
		return pr
	}
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	resp, err := pc.RoundTrip(req)
	if err != nil {
		pr.Open = true
		pr.Err = fmt.Errorf("discovery: probe %s: %w", ap, err)
		return pr
	}
	pr.Open = true
	pr.Status = resp.StatusCode
	pr.Server = resp.Header.Get("Server")
	pr.AMT = amt.IsAMTServer(pr.Server)
	pr.Firmware, _ = amt.ParseServerHeader(pr.Server)
	for _, h := range resp.Header.Values("WWW-Authenticate") {
		if realm := digestRealm(h); realm != "" {
			pr.Realm = realm
			break
		}
	}

	// Identify, without credentials, over the same connection.
	ws, err := wsman.NewClient(url, wsman.WithTransport(pc), wsman.WithRetry(0, 0, 0), wsman.WithTimeout(0))
	if err != nil {
		pr.Err = err
		return pr
	}
	id, err := ws.Identify(ctx)
	switch {
	case err == nil:
		pr.ProductVendor, pr.ProductVersion, pr.DASHVersion = id.ProductVendor, id.ProductVersion, id.DASHVersion
		if strings.HasPrefix(id.ProductVendor, "Intel") && strings.HasPrefix(id.ProductVersion, "AMT") {
			pr.AMT = true
		}
		if pr.Server == "" {
			pr.Server = id.Server
		}
	case pr.AMT:
		// Firmware may demand credentials even for Identify; the Server
		// header already told what Identify would.
		s.opts.Logger.Debug("discovery: Identify not answered", "address", ap, "err", err)
	default:
		pr.Err = fmt.Errorf("discovery: probe %s: %w", ap, err)
	}
	return pr
}

func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// digestRealm returns the realm of a Digest challenge, parsed tolerantly
// (AMT writes `...",stale="false"` without a space).
func digestRealm(h string) string {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return ""
	}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,\t")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			return ""
		}
		var val string
		if strings.HasPrefix(v, `"`) {
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				return ""
			}
			val, rest = v[1:1+end], v[2+end:]
		} else {
			val, rest, _ = strings.Cut(v, ",")
		}
		if strings.EqualFold(strings.TrimSpace(k), "realm") {
			return val
		}
	}
	return ""
}

// probeConn is an http.RoundTripper over one connection at a time, so
// that the probe's requests share the connection (and the TLS handshake)
// the way a browser's would, without a connection pool per address.
type probeConn struct {
	dial   func(context.Context) (net.Conn, error)
	conn   net.Conn
	br     *bufio.Reader
	opened bool // a connection was established at least once
	used   bool // the open connection has carried a request
}

func (p *probeConn) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// RoundTrip sends req and reads the whole (bounded) response. A request
// on a reused connection the device has closed is sent again once on a
// new one.
func (p *probeConn) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		reused := p.conn != nil && p.used
		resp, err := p.exchange(req, body)
		if err == nil || !reused || attempt > 0 || req.Context().Err() != nil {
			return resp, err
		}
	}
}

// connect opens a connection unless one is open.
func (p *probeConn) connect(ctx context.Context) error {
	if p.conn != nil {
		return nil
	}
	c, err := p.dial(ctx)
	if err != nil {
		return err
	}
	p.conn, p.br, p.used = c, bufio.NewReader(c), false
	return nil
}

func (p *probeConn) exchange(req *http.Request, body []byte) (*http.Response, error) {
	ctx := req.Context()
	if err := p.connect(ctx); err != nil {
		return nil, err
	}
	conn := p.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	p.used = true
	if err := r.Write(conn); err != nil {
		p.close()
		return nil, err
	}
	resp, err := http.ReadResponse(p.br, r)
	if err != nil {
		p.close()
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	resp.Body.Close()
	if err != nil {
		p.close()
		return nil, err
	}
	if resp.Close || int64(len(data)) >= maxProbeBody {
		p.close()
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}
