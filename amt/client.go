package amt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/defense"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/wsman"
)

// Default WS-Management ports of Intel AMT.
const (
	PortHTTP = 16992
	PortTLS  = 16993
)

// Client manages one Intel AMT device. It is safe for concurrent use.
type Client struct {
	// Power reads and changes the power state and the one-time boot
	// options. Its errors are classified like the Client's.
	Power *power.Service
	// Defense configures System Defense network filters. Its errors are
	// classified like the Client's.
	Defense *defense.Service
	// Redirect reaches the redirection port (IDE-R, serial-over-LAN) with
	// the same credentials and TLS settings.
	Redirect *RedirectService
	// Logs reads the event log and the audit log.
	Logs *LogService
	// Clock reads and sets the device's clock.
	Clock *ClockService

	host string // host[:port] as the caller named it, for errors and reports
	url  string
	// wsOpts build a WS-Man client for a credential; tlsCfg is their TLS
	// part, to which a credential's client certificate is added.
	wsOpts []wsman.Option
	extra  []wsman.Option
	tlsCfg wsman.TLSConfig
	tlsSet bool
	anon   *wsman.Client // no credentials: Identify before a login

	src  credentials.Source
	turn chan struct{} // one resolution at a time
	mu   sync.Mutex
	ws   *wsman.Client           // the client that logs in; nil until resolved
	cred *credentials.Credential // the credential ws logs in with
	res  *Resolution             // the last resolution, for reports

	activity *activityConfig // WithActivityLog
	// guard counts the logins of fixed credentials, and the redirection
	// logins of a source that does not guard them itself.
	guard *credentials.Guard
	// fixed: the credential came from WithCredentials; latched is the
	// rejection of that credential, answered again without sending.
	fixed   bool
	fixedWS *wsman.Client // the client that logs in with them
	latched error
}

// Resolution reports how a Client chose its credentials from a
// credentials.Source: which candidate worked (by profile name, never the
// secret) and every attempt made.
type Resolution struct {
	Origin   credentials.Origin
	Profile  string
	Attempts []credentials.Attempt
	Err      error // why no candidate worked, if none did
}

type options struct {
	user, password string
	hasCreds       bool
	onTrial        bool
	src            credentials.Source
	redirectPort   int
	useTLS         bool
	tls            wsman.TLSConfig
	tlsSet         bool
	httpClient     *http.Client
	logger         *slog.Logger
	timeout        *time.Duration
	powerGap       *time.Duration
	powerStateOnly bool
	extra          []wsman.Option
	activity       *activityConfig
	guard          *credentials.Guard
}

// Option configures a Client. Options validate their input; New returns
// the first error.
type Option func(*options) error

// WithCredentials sets the AMT digest user and password. The client logs in
// with an authenticated read of AMT_GeneralSettings before its first
// operation, through the lockout guard (credentials.ProcessGuard unless
// WithLockoutGuard gives another): however many clients a program makes
// with a wrong password, each device sees at most the guard's budget of
// failed logins, and a client whose credential was rejected answers that
// rejection again without sending anything.
func WithCredentials(user, password string) Option {
	return func(o *options) error {
		if user == "" {
			return errors.New("amt: empty user name")
		}
		o.user, o.password, o.hasCreds = user, password, true
		return nil
	}
}

// WithCredentialOnTrial sets a credential that a caller's
// credentials.Source is trying inside its own login function (the try
// function of Source.Resolve), so the source's lockout guard already counts
// this login. The client's first request is the login: no separate read of
// AMT_GeneralSettings and no second count in the process guard (which
// would also wait on the very login it is part of). A rejection of that
// first request matches ErrAuthFailed, for the source to move on. Use
// WithCredentials everywhere else.
func WithCredentialOnTrial(user, password string) Option {
	return func(o *options) error {
		if user == "" {
			return errors.New("amt: empty user name")
		}
		o.user, o.password, o.hasCreds, o.onTrial = user, password, true, true
		return nil
	}
}

// WithCredentialSource makes the client choose its credentials from src:
// on the first call that needs a login it tries src's candidates in order
// with an authenticated read of AMT_GeneralSettings, moving on only after
// an authentication failure (a credentials.Resolver learns what worked and
// guards against locking the account); later calls reuse the credential
// that worked. Resolution reports the outcome. A candidate's client
// certificate, if any, is presented over TLS.
func WithCredentialSource(src credentials.Source) Option {
	return func(o *options) error {
		if src == nil {
			return errors.New("amt: nil credential source")
		}
		o.src = src
		return nil
	}
}

// WithLockoutGuard counts the client's logins with fixed credentials
// (WithCredentials) in g instead of credentials.ProcessGuard: a guard kept
// in the state database shares the count with other processes, and a guard
// of its own isolates a client (in tests, say). With WithCredentialSource
// the source's guard counts its logins; g then serves only the redirection
// logins of a source that is not credentials.Guarded.
func WithLockoutGuard(g *credentials.Guard) Option {
	return func(o *options) error {
		if g == nil {
			return errors.New("amt: nil lockout guard")
		}
		o.guard = g
		return nil
	}
}

// WithRedirectPort sets the redirection port (default 16994, or 16995 with
// TLS).
func WithRedirectPort(port int) Option {
	return func(o *options) error {
		if port < 1 || port > 65535 {
			return fmt.Errorf("amt: redirection port %d out of range", port)
		}
		o.redirectPort = port
		return nil
	}
}

// WithTLS selects the TLS port (16993 unless the endpoint names another).
// Certificates are verified against the system roots unless WithRootCAs or
// WithPinnedCertificate says otherwise.
func WithTLS() Option {
	return func(o *options) error { o.useTLS = true; return nil }
}

// WithRootCAs verifies the device certificate against a private CA.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(o *options) error {
		if pool == nil {
			return errors.New("amt: nil root CA pool")
		}
		o.useTLS, o.tlsSet = true, true
		o.tls.RootCAs = pool
		return nil
	}
}

// WithPinnedCertificate trusts the device whose leaf certificate has this
// SHA-256 fingerprint (hexadecimal, colons allowed), which suits AMT's
// self-signed certificates. It may be given more than once.
func WithPinnedCertificate(sha256 string) Option {
	return func(o *options) error {
		if _, err := wsman.ParseFingerprint(sha256); err != nil {
			return fmt.Errorf("amt: %w", err)
		}
		o.useTLS, o.tlsSet = true, true
		o.tls.PinnedSHA256 = append(o.tls.PinnedSHA256, sha256)
		return nil
	}
}

// WithClientCertificate presents a client certificate (mutual TLS).
func WithClientCertificate(cert tls.Certificate) Option {
	return func(o *options) error {
		if len(cert.Certificate) == 0 {
			return errors.New("amt: empty client certificate")
		}
		o.useTLS, o.tlsSet = true, true
		o.tls.Certificates = append(o.tls.Certificates, cert)
		return nil
	}
}

// WithLegacyTLS allows TLS 1.0 and 1.1 and RSA key exchange, which old
// firmware needs. Use it only for such devices.
func WithLegacyTLS() Option {
	return func(o *options) error {
		o.useTLS, o.tlsSet = true, true
		o.tls.Legacy = true
		return nil
	}
}

// WithInsecureSkipVerify accepts any TLS certificate the device presents.
// Anyone on the path can then read the traffic and the digest exchange;
// prefer WithPinnedCertificate.
func WithInsecureSkipVerify() Option {
	return func(o *options) error {
		o.useTLS, o.tlsSet = true, true
		o.tls.InsecureSkipVerify = true
		return nil
	}
}

// WithHTTPClient takes the transport of hc as the base of the client's own
// digest and retry layers. The client is copied: later changes to hc have
// no effect. Its Timeout is ignored; use WithTimeout. TLS options need the
// transport to be an *http.Transport, which is cloned and given the TLS
// settings; New refuses them with any other round tripper.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) error {
		if hc == nil {
			return errors.New("amt: nil http.Client")
		}
		cp := *hc
		o.httpClient = &cp
		return nil
	}
}

// WithLogger logs requests at debug level. Passwords, digest responses and
// envelopes are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error { o.logger = l; return nil }
}

// WithTimeout bounds each operation; the default is 60 seconds.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return errors.New("amt: negative timeout")
		}
		o.timeout = &d
		return nil
	}
}

// WithPowerChangesStateOnly makes the power changes read the power state
// alone before they send, without the OS power-saving state they do not
// decide on (see power.WithoutOSPowerSavingRead): one exchange less per
// change.
func WithPowerChangesStateOnly() Option {
	return func(o *options) error {
		o.powerStateOnly = true
		return nil
	}
}

// WithPowerChangeGap sets the minimum time between two power changes the
// client sends to the device (default power.DefaultMinGap, as protocol.md
// §6 advises); see power.WithMinGap.
func WithPowerChangeGap(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return errors.New("amt: negative power change gap")
		}
		o.powerGap = &d
		return nil
	}
}

// WithWSManOptions passes options to the underlying WS-Management client,
// for settings this package does not wrap (retry policy, response limit).
func WithWSManOptions(opts ...wsman.Option) Option {
	return func(o *options) error { o.extra = append(o.extra, opts...); return nil }
}

// New returns a client for the device at endpoint: "host", "host:port", or
// a URL such as "https://host:16993". It does no network I/O.
func New(endpoint string, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	u, host, err := endpointURL(endpoint, o.useTLS)
	if err != nil {
		return nil, err
	}
	if o.hasCreds && o.src != nil {
		return nil, errors.New("amt: WithCredentials and WithCredentialSource exclude each other")
	}
	var wo []wsman.Option
	if o.httpClient != nil && o.httpClient.Transport != nil {
		if _, ok := o.httpClient.Transport.(*http.Transport); !ok && o.tlsSet {
			// The WS-Man client can only put its TLS settings into an
			// *http.Transport; any other round tripper would silently
			// drop the pin, the roots or the client certificate.
			return nil, errors.New("amt: TLS options need an *http.Transport in WithHTTPClient")
		}
		wo = append(wo, wsman.WithTransport(o.httpClient.Transport))
	}
	if o.logger != nil {
		wo = append(wo, wsman.WithLogger(o.logger.With("host", host)))
	}
	if o.timeout != nil {
		wo = append(wo, wsman.WithTimeout(*o.timeout))
	}
	guard := o.guard
	if guard == nil {
		guard = credentials.ProcessGuard()
	}
	c := &Client{host: host, url: u, wsOpts: wo, extra: o.extra, tlsCfg: o.tls, tlsSet: o.tlsSet, src: o.src, turn: make(chan struct{}, 1),
		activity: o.activity, guard: guard}
	switch {
	case o.onTrial:
		// A caller's source is trying this credential inside its own
		// guarded login: the first request is the login, and the client
		// that makes it is the only one needed.
		c.cred = &credentials.Credential{User: o.user, Password: o.password}
		if c.ws, err = c.newWS(c.cred); err != nil {
			return nil, fmt.Errorf("amt: %w", err)
		}
	case o.hasCreds:
		if c.anon, err = c.newWS(nil); err != nil {
			return nil, fmt.Errorf("amt: %w", err)
		}
		// A source of one credential under the guard: the first call
		// logs in through it.
		cred := credentials.Credential{User: o.user, Password: o.password}
		c.src = credentials.StaticWithGuard(cred, guard)
		c.fixed = true
		if c.fixedWS, err = c.newWS(&cred); err != nil {
			return nil, fmt.Errorf("amt: %w", err)
		}
	default:
		if c.anon, err = c.newWS(nil); err != nil {
			return nil, fmt.Errorf("amt: %w", err)
		}
		if o.src == nil {
			c.ws = c.anon // no credentials: operations that need a login say so
		}
	}
	// One method value each, shared by the services (a fleet makes a
	// client per machine).
	conn, wrap, track := c.conn, c.wrap, c.wsmanTracker
	popts := []power.Option{power.WithClientFunc(conn), power.WithErrorWrapper(wrap), power.WithTracker(track)}
	if o.powerGap != nil {
		popts = append(popts, power.WithMinGap(*o.powerGap))
	}
	if o.powerStateOnly {
		popts = append(popts, power.WithoutOSPowerSavingRead())
	}
	c.Power = power.New(nil, popts...)
	c.Defense = defense.New(nil, defense.WithClientFunc(conn), defense.WithErrorWrapper(wrap), defense.WithTracker(track))
	c.Redirect = &RedirectService{c: c, port: o.redirectPort}
	c.Logs = &LogService{c: c}
	c.Clock = &ClockService{c: c, now: time.Now}
	return c, nil
}

// newWS builds a WS-Man client logging in with cred (none when nil).
func (c *Client) newWS(cred *credentials.Credential) (*wsman.Client, error) {
	opts := slices.Clone(c.wsOpts)
	tlsCfg, tlsSet := c.tlsCfg, c.tlsSet
	if cred != nil {
		opts = append(opts, wsman.WithCredentials(cred.User, cred.Password))
		cert, err := cred.ClientCertificate()
		if err != nil {
			return nil, err
		}
		if cert != nil {
			tlsCfg.Certificates = append(slices.Clone(tlsCfg.Certificates), *cert)
			tlsSet = true
		}
	}
	if tlsSet {
		opts = append(opts, wsman.WithTLS(tlsCfg))
	}
	opts = append(opts, c.extra...) // the caller's WithWSManOptions have the last word
	return wsman.NewClient(c.url, opts...)
}

// conn returns the client that logs in, choosing credentials from the
// source on first use.
func (c *Client) conn(ctx context.Context) (*wsman.Client, error) {
	if w := c.trial(ctx); w != nil {
		return w, nil // a candidate on trial in Authorize
	}
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		return ws, nil
	}
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.turn }()
	c.mu.Lock()
	ws, latched := c.ws, c.latched
	c.mu.Unlock()
	if ws != nil {
		return ws, nil // another call resolved meanwhile
	}
	if latched != nil {
		return nil, latched
	}
	var winner *wsman.Client
	var winnerCred credentials.Credential
	defer c.recordLogin(time.Now())
	cand, attempts, err := c.src.Resolve(ctx, c.host, func(ctx context.Context, cred credentials.Credential) error {
		w, err := c.candidateWS(&cred)
		if err != nil {
			return err
		}
		if _, err := w.Get(ctx, uriGeneralSettings); err != nil {
			w.CloseIdleConnections()
			return classifyLogin(err)
		}
		winner, winnerCred = w, cred
		return nil
	})
	res := &Resolution{Origin: cand.Origin, Profile: cand.Profile, Attempts: attempts, Err: err}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res = res
	if err != nil {
		err = c.wrap("login", err)
		c.latch(err)
		return nil, err
	}
	c.ws, c.cred = winner, &winnerCred
	return winner, nil
}

// candidateWS returns the WS-Man client that logs in with cred: for fixed
// credentials the one WSMan has handed out already.
func (c *Client) candidateWS(cred *credentials.Credential) (*wsman.Client, error) {
	if c.fixedWS != nil {
		return c.fixedWS, nil
	}
	return c.newWS(cred)
}

// latch keeps the rejection of a fixed credential (c.mu held), so that
// later calls answer it without sending: the device's answer will not
// change, and another failed login brings its lockout closer.
func (c *Client) latch(err error) {
	if c.fixed && errors.Is(err, ErrAuthFailed) && !errors.Is(err, credentials.ErrLockoutRisk) {
		c.latched = err
	}
}

// Resolution reports how the client chose its credentials from its
// credential source (for fixed credentials, the one attempt with them): nil
// before the first login.
func (c *Client) Resolution() *Resolution {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.res == nil {
		return nil
	}
	r := *c.res
	r.Attempts = slices.Clone(r.Attempts)
	return &r
}

// endpointURL turns the forms New accepts into a WS-Management URL and
// the host:port it names.
func endpointURL(endpoint string, useTLS bool) (string, string, error) {
	endpoint = strings.TrimSpace(endpoint)
	if endpoint == "" {
		return "", "", errors.New("amt: empty endpoint")
	}
	var u *url.URL
	if strings.Contains(endpoint, "://") {
		var err error
		if u, err = url.Parse(endpoint); err != nil {
			return "", "", fmt.Errorf("amt: endpoint: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return "", "", fmt.Errorf("amt: endpoint scheme %q is not http or https", u.Scheme)
		}
		if useTLS && u.Scheme == "http" {
			return "", "", fmt.Errorf("amt: endpoint %q is plain http but TLS options were given", endpoint)
		}
		if u.User != nil {
			// net/http would send them as Basic credentials, in clear
			// text on port 16992.
			return "", "", errors.New("amt: endpoint must not carry credentials; use WithCredentials")
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return "", "", fmt.Errorf("amt: endpoint %q has a query or fragment", endpoint)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/wsman"
		}
	} else {
		host, port, err := net.SplitHostPort(endpoint)
		if err != nil {
			// No port: a bare host name or address (IPv6 without
			// brackets too).
			host, port = endpoint, ""
			if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
				host = host[1 : len(host)-1]
			}
		} else if port == "" {
			return "", "", fmt.Errorf("amt: endpoint %q has an invalid port", endpoint)
		}
		if host == "" || strings.ContainsAny(host, "/?#@[] \t") {
			return "", "", fmt.Errorf("amt: endpoint %q has no valid host", endpoint)
		}
		u = &url.URL{Scheme: "http", Path: "/wsman"}
		if useTLS {
			u.Scheme = "https"
		}
		if port == "" {
			port = strconv.Itoa(PortHTTP)
			if useTLS {
				port = strconv.Itoa(PortTLS)
			}
		}
		u.Host = net.JoinHostPort(host, port)
	}
	if u.Hostname() == "" {
		return "", "", fmt.Errorf("amt: endpoint %q has no host", endpoint)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("amt: endpoint %q has an invalid port", endpoint)
		}
	} else {
		port := PortHTTP
		if u.Scheme == "https" {
			port = PortTLS
		}
		u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
	}
	return u.String(), u.Host, nil
}

// Host returns host:port of the device.
func (c *Client) Host() string { return c.host }

// CloseIdleConnections closes connections kept open for reuse. A Client
// stays usable afterwards; call this when done with a device.
func (c *Client) CloseIdleConnections() {
	if c.anon != nil {
		c.anon.CloseIdleConnections()
	}
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		ws.CloseIdleConnections()
	}
	if c.fixedWS != nil {
		c.fixedWS.CloseIdleConnections()
	}
}

// WSMan returns the underlying WS-Management client, for classes this
// package does not wrap.
//
// With a credential source, the client that logs in exists only after the
// first login; before that WSMan returns a client without credentials.
// With fixed credentials it returns the client that logs in with them;
// calls made through it directly before the client's first operation are
// not counted by the lockout guard (the WS-Man client still stops after
// one rejected login).
func (c *Client) WSMan() *wsman.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ws != nil:
		return c.ws
	case c.fixedWS != nil:
		return c.fixedWS
	}
	return c.anon
}

// wrap classifies an error of operation op.
func (c *Client) wrap(op string, err error) error { return classify(c.host, op, err) }

// Get reads one instance of resourceURI (a class URI, with selectors for a
// class of several instances) through the client's login, its errors
// classified like the services'. Once the client is logged in it is one
// WS-Management exchange, which is what a fleet read of one class costs.
func (c *Client) Get(ctx context.Context, resourceURI string, selectors ...wsman.Selector) (*wsman.Instance, error) {
	ws, err := c.conn(ctx)
	if err != nil {
		return nil, c.wrap("get", err)
	}
	in, err := ws.Get(ctx, resourceURI, selectors...)
	return in, c.wrap("get", err)
}
