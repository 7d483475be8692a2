package wsman

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Defaults of a Client.
const (
	DefaultMaxResponseBytes = 4 << 20
	DefaultTimeout          = 60 * time.Second
	DefaultRetries          = 3
	DefaultMaxConcurrency   = 1
)

// Client talks WS-Management to one endpoint. It is safe for concurrent
// use; it sends at most MaxConcurrency requests at a time (one by default,
// as AMT's embedded web server expects).
type Client struct {
	endpoint string
	cfg      config
	auth     *http.Client // digest, buffering, base transport
	anon     *http.Client // buffering, base transport: Identify
	digest   *digestTransport
	retry    *retryablehttp.Client
	retryAno *retryablehttp.Client
	sem      chan struct{}

	// direct carries requests when the base transport is an Exchanger
	// (and the client does not retry); auth and anon are then unused.
	direct     Exchanger
	hostport   string // host:port of the endpoint
	hostHeader string
	requestURI string

	authFailed atomic.Bool
}

// The envelopes of bodiless requests depend on the request only, not on
// the client or the device, so every client shares one cache: a fleet of
// ten thousand clients builds each envelope once.
var (
	templates     sync.Map // templateKey -> *envelopeTemplate
	templateCount atomic.Int32
)

// maxTemplates bounds the shared envelope cache.
const maxTemplates = 1024

// encode returns the envelope of r, from the cache when r has no body.
func (c *Client) encode(r *request) ([]byte, error) {
	key, ok := r.templateKey()
	if !ok {
		return r.encode()
	}
	if t, ok := templates.Load(key); ok {
		return t.(*envelopeTemplate).fill(r.messageID), nil
	}
	t, err := r.template()
	if err != nil {
		return nil, err
	}
	if templateCount.Add(1) <= maxTemplates {
		templates.Store(key, t)
	}
	return t.fill(r.messageID), nil
}

type config struct {
	user, password string
	hasCreds       bool
	tls            TLSConfig
	tlsSet         bool
	base           http.RoundTripper
	logger         *slog.Logger
	maxResponse    int64
	timeout        time.Duration
	retries        int
	retryMin       time.Duration
	retryMax       time.Duration
	messageID      func() string
	concurrency    int
	beforeChange   func(ctx context.Context) error
}

// Option configures a Client.
type Option func(*config) error

// WithCredentials sets the digest user and password.
func WithCredentials(user, password string) Option {
	return func(c *config) error {
		if user == "" {
			return errors.New("wsman: empty user name")
		}
		c.user, c.password, c.hasCreds = user, password, true
		return nil
	}
}

// WithTLS sets how an https endpoint is verified.
func WithTLS(t TLSConfig) Option {
	return func(c *config) error {
		if _, err := t.Build(); err != nil {
			return err
		}
		c.tls, c.tlsSet = t, true
		return nil
	}
}

// WithTransport sets the round tripper under the client's digest and retry
// layers. An *http.Transport is cloned, and its TLS configuration replaced
// when WithTLS is also given.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *config) error {
		if rt == nil {
			return errors.New("wsman: nil transport")
		}
		if t, ok := rt.(*http.Transport); ok {
			rt = t.Clone()
		}
		c.base = rt
		return nil
	}
}

// WithLogger sets the logger. Requests are logged at debug level by
// operation, resource and outcome; envelopes, passwords and digest
// responses are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l != nil {
			c.logger = l
		}
		return nil
	}
}

// WithMaxResponseBytes limits the size of a response body; a larger one
// fails with ErrResponseTooLarge.
func WithMaxResponseBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return errors.New("wsman: response limit must be positive")
		}
		c.maxResponse = n
		return nil
	}
}

// WithTimeout bounds each operation (every attempt and retry of it) and is
// sent to the device as OperationTimeout. Zero leaves only the caller's
// context; AMT enforces at least 30 seconds on its side.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errors.New("wsman: negative timeout")
		}
		c.timeout = d
		return nil
	}
}

// WithRetry sets how often a read (Identify, Get, Enumerate) is retried
// after a refused or reset connection or an HTTP 503, and the wait between
// attempts. A Put is retried only while it cannot have reached the device
// (a refused connection, a 503); Invoke, Create, Delete, Pull and Release
// are never retried.
func WithRetry(retries int, minWait, maxWait time.Duration) Option {
	return func(c *config) error {
		if retries < 0 || minWait < 0 || maxWait < minWait {
			return errors.New("wsman: invalid retry policy")
		}
		c.retries, c.retryMin, c.retryMax = retries, minWait, maxWait
		return nil
	}
}

// WithMessageIDs sets the generator of request MessageIDs, for
// deterministic tests. The default is a random uuid: URN.
func WithMessageIDs(next func() string) Option {
	return func(c *config) error {
		if next == nil {
			return errors.New("wsman: nil MessageID generator")
		}
		c.messageID = next
		return nil
	}
}

// WithMaxConcurrency sets how many requests may be in flight at once.
func WithMaxConcurrency(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return errors.New("wsman: concurrency must be at least 1")
		}
		c.concurrency = n
		return nil
	}
}

// WithBeforeChange has the client call f just before it writes a request
// that changes the device (Put, Create, Delete, Invoke), every time. An
// error from f stops that request with nothing sent; the client returns it
// wrapped, matching ErrNotSent. A caller that must record its intent
// durably before a change (a job's marker) does it in f.
func WithBeforeChange(f func(ctx context.Context) error) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("wsman: nil before-change function")
		}
		c.beforeChange = f
		return nil
	}
}

// NewClient returns a client for a WS-Management endpoint URL such as
// http://host:16992/wsman or https://host:16993/wsman. It does no I/O.
func NewClient(endpoint string, opts ...Option) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("wsman: endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("wsman: endpoint %q is not an http or https URL", endpoint)
	}
	if u.Path == "" {
		u.Path = "/wsman"
	}
	cfg := config{
		logger:      slog.New(slog.DiscardHandler),
		maxResponse: DefaultMaxResponseBytes,
		timeout:     DefaultTimeout,
		retries:     DefaultRetries,
		retryMin:    500 * time.Millisecond,
		retryMax:    2 * time.Second,
		messageID:   randomMessageID,
		concurrency: DefaultMaxConcurrency,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	base := cfg.base
	if base == nil {
		base = newBaseTransport()
	}
	if t, ok := base.(*http.Transport); ok && (cfg.tlsSet || t.TLSClientConfig == nil) {
		tc, err := cfg.tls.Build()
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig = tc
	}
	c := &Client{
		endpoint: u.String(),
		cfg:      cfg,
		sem:      make(chan struct{}, cfg.concurrency),
	}
	c.digest = &digestTransport{next: base, user: cfg.user, password: cfg.password}
	if x, ok := base.(Exchanger); ok && u.Scheme == "http" && cfg.retries == 0 {
		c.direct, c.hostport, c.hostHeader, c.requestURI = x, u.Host, u.Host, u.RequestURI()
		return c, nil
	}
	c.auth = &http.Client{Transport: &bufferTransport{next: c.digest, max: cfg.maxResponse}, CheckRedirect: noRedirect}
	c.anon = &http.Client{Transport: &bufferTransport{next: base, max: cfg.maxResponse}, CheckRedirect: noRedirect}
	if cfg.retries > 0 {
		c.retry = c.newRetryClient(c.auth)
		c.retryAno = c.newRetryClient(c.anon)
	}
	return c, nil
}

func newBaseTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil, // AMT is reached directly; a proxy would see digest traffic
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true,
	}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

type opKey struct{}

func (c *Client) newRetryClient(hc *http.Client) *retryablehttp.Client {
	// A literal rather than retryablehttp.NewClient, which builds a pooled
	// transport of its own that HTTPClient replaces at once.
	rc := &retryablehttp.Client{
		HTTPClient:   hc,
		RetryMax:     c.cfg.retries,
		RetryWaitMin: c.cfg.retryMin,
		RetryWaitMax: c.cfg.retryMax,
		Backoff:      retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		o, _ := ctx.Value(opKey{}).(op)
		if !o.retry {
			return false, nil
		}
		if at, ok := ctx.Value(attemptKey{}).(*attempt); ok && err != nil && o.changes && at.written() {
			// A change the device may have carried out is never resent.
			return false, nil
		}
		if err != nil {
			return transient(err) && !errors.Is(err, ErrResponseTooLarge), nil
		}
		return resp.StatusCode == http.StatusServiceUnavailable, nil
	}
	return rc
}

// CloseIdleConnections closes connections kept alive for reuse.
func (c *Client) CloseIdleConnections() {
	if c.direct != nil {
		return // as through bufferTransport: the Exchanger keeps its own
	}
	c.auth.CloseIdleConnections()
	c.anon.CloseIdleConnections()
}

// Endpoint returns the URL the client talks to.
func (c *Client) Endpoint() string { return c.endpoint }

// Realm returns the digest realm the device announced, once known.
func (c *Client) Realm() string { return c.digest.Realm() }

func randomMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return "uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// op describes one operation for the transport.
type op struct {
	name string // for messages and logs, e.g. "Get AMT_GeneralSettings"
	// retry allows resending after a refused or reset connection or a 503.
	retry bool
	// changes marks a request that changes the device (Invoke, Create,
	// Delete, Put): once it was written, any failure to read its answer
	// is ErrOutcomeUnknown, and it is never resent.
	changes   bool
	anonymous bool
}

// result is a decoded response with its HTTP metadata.
type result struct {
	msg    *Message
	server string
}

// exchange sends one request envelope and decodes the response. SOAP
// faults come back as *Fault errors.
func (c *Client) exchange(ctx context.Context, o op, r *request) (*result, error) {
	if !o.anonymous {
		if !c.cfg.hasCreds {
			return nil, fmt.Errorf("wsman: %s: %w", o.name, errNoCredentials)
		}
		if c.authFailed.Load() {
			return nil, fmt.Errorf("wsman: %s: %w", o.name, errLatched)
		}
	}
	if r.messageID == "" && !r.identify {
		r.messageID = c.cfg.messageID()
	}
	r.timeout = c.cfg.timeout
	payload, err := c.encode(r)
	if err != nil {
		return nil, err
	}
	// The slot is waited for under the caller's context only: the
	// operation's own timeout starts when the request can be sent.
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wsman: %s: %w", o.name, ctx.Err())
	}
	defer func() { <-c.sem }()
	if o.changes && c.cfg.beforeChange != nil {
		if err := c.cfg.beforeChange(ctx); err != nil {
			return nil, fmt.Errorf("wsman: %s: %w: %w", o.name, ErrNotSent, err)
		}
	}
	start := time.Now()
	at := &attempt{}
	var ans answer
	if c.direct != nil {
		var deadline time.Time
		if c.cfg.timeout > 0 {
			deadline = start.Add(c.cfg.timeout)
		}
		x := getExchange()
		defer putExchange(x)
		err = c.sendDirect(ctx, o.anonymous, payload, at, x, deadline)
		if err != nil && !deadline.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(deadline) {
			// The operation's own timeout, as a context of its own would
			// report it.
			err = context.DeadlineExceeded
		}
		ans = answer{status: x.StatusCode, statusText: x.Status, server: x.Server, body: x.Body}
	} else {
		if c.cfg.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.cfg.timeout)
			defer cancel()
		}
		// Only a request that changes the device needs to know whether it
		// was written (for ErrOutcomeUnknown); the others skip the trace.
		rctx := context.WithValue(ctx, attemptKey{}, at)
		if o.changes {
			rctx = at.trace(ctx)
		}
		rctx = context.WithValue(rctx, opKey{}, o)
		var resp *http.Response
		resp, err = c.send(rctx, o.anonymous, payload)
		if err == nil {
			ans = answer{status: resp.StatusCode, statusText: resp.Status, server: resp.Header.Get("Server"), body: readBody(resp)} // already in memory
			_ = resp.Body.Close()
		}
	}
	if err != nil {
		if c.cfg.logger.Enabled(ctx, slog.LevelDebug) {
			c.cfg.logger.LogAttrs(ctx, slog.LevelDebug, "wsman request failed", slog.String("op", o.name), slog.Duration("elapsed", time.Since(start)), slog.String("error", err.Error()))
		}
		cause := unwrapURLError(err)
		if ctx.Err() != nil && !errors.Is(cause, ctx.Err()) {
			// What ended the wait was the context; keep the transport's
			// word too.
			cause = fmt.Errorf("%w (%v)", ctx.Err(), cause)
		} else if ctx.Err() != nil {
			cause = ctx.Err()
		}
		if o.changes && at.written() {
			return nil, outcomeUnknown(o.name, cause)
		}
		return nil, fmt.Errorf("wsman: %s: %w", o.name, cause)
	}
	body, server := ans.body, ans.server
	if c.cfg.logger.Enabled(ctx, slog.LevelDebug) {
		c.cfg.logger.LogAttrs(ctx, slog.LevelDebug, "wsman request", slog.String("op", o.name), slog.Int("status", ans.status), slog.Duration("elapsed", time.Since(start)))
	}

	switch {
	case ans.status == http.StatusUnauthorized:
		if !o.anonymous && at.sentCredentials() {
			c.authFailed.Store(true)
		}
		return nil, fmt.Errorf("wsman: %s: %w", o.name, ans.httpError())
	case ans.status != http.StatusOK && !looksLikeSOAP(body):
		return nil, fmt.Errorf("wsman: %s: %w", o.name, ans.httpError())
	}
	msg, err := parseMessage(body, true) // body is this call's own buffer
	if err != nil {
		if ans.status != http.StatusOK {
			return nil, fmt.Errorf("wsman: %s: %w", o.name, ans.httpError())
		}
		var de *DecodeError
		if errors.As(err, &de) {
			de.Server = server
		}
		if o.changes {
			return nil, outcomeUnknown(o.name, err)
		}
		return nil, fmt.Errorf("wsman: %s: %w", o.name, err)
	}
	if f := msg.Fault(); f != nil {
		f.StatusCode = ans.status
		return nil, fmt.Errorf("wsman: %s: %w", o.name, f)
	}
	if ans.status != http.StatusOK {
		return nil, fmt.Errorf("wsman: %s: %w", o.name, ans.httpError())
	}
	if !r.identify && msg.RelatesTo != "" && msg.RelatesTo != r.messageID {
		c.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "wsman response relates to another request", slog.String("op", o.name), slog.String("sent", r.messageID), slog.String("relatesTo", msg.RelatesTo))
	}
	return &result{msg: msg, server: server}, nil
}

// send posts payload, through the retry policy when there is one. Without
// retries the request goes straight to the HTTP client: the retry layer
// costs allocations and a copy of the body on every request.
func (c *Client) send(ctx context.Context, anonymous bool, payload []byte) (*http.Response, error) {
	if c.retry == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header["Content-Type"] = contentType
		hc := c.auth
		if anonymous {
			hc = c.anon
		}
		return hc.Do(req)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, payload)
	if err != nil {
		return nil, err
	}
	req.Header["Content-Type"] = contentType
	rc := c.retry
	if anonymous {
		rc = c.retryAno
	}
	return rc.Do(req)
}

var contentType = []string{"application/soap+xml; charset=utf-8"}

// outcomeUnknown is the error of a request that changes the device, was
// written, and whose answer could not be read.
func outcomeUnknown(name string, cause error) error {
	return fmt.Errorf("wsman: %w", &OutcomeUnknownError{Op: name, Err: cause})
}

func looksLikeSOAP(body []byte) bool {
	s := strings.TrimSpace(string(body[:min(len(body), 512)]))
	return strings.HasPrefix(s, "<?xml") || strings.Contains(s, "Envelope")
}

// answer is what the client reads of an HTTP response.
type answer struct {
	status     int
	statusText string
	server     string
	body       []byte
}

func (a *answer) httpError() *HTTPError {
	snippet := string(a.body[:min(len(a.body), 512)])
	return &HTTPError{StatusCode: a.status, Status: a.statusText, Server: a.server, Body: strings.ToValidUTF8(snippet, "?")}
}

// sendDirect carries payload through the Exchanger, under the digest
// rules unless anonymous; the last answer is left in x.
func (c *Client) sendDirect(ctx context.Context, anonymous bool, payload []byte, at *attempt, x *HTTPExchange, deadline time.Time) error {
	send := func(auth string) (int, []string, error) {
		x.Request = c.appendRequest(x.Request[:0], auth, payload)
		x.HostPort, x.Deadline, x.MaxBody, x.Written = c.hostport, deadline, c.cfg.maxResponse, false
		at.mu.Lock()
		at.authed, at.wrote = auth != "", false
		at.mu.Unlock()
		err := c.direct.Exchange(ctx, x)
		at.mu.Lock()
		at.wrote = x.Written
		at.mu.Unlock()
		if err != nil {
			x.StatusCode, x.Body = 0, nil
			return 0, nil, err
		}
		return x.StatusCode, x.Challenges, nil
	}
	if anonymous {
		_, _, err := send("")
		return err
	}
	getBody := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil }
	return c.digest.do(http.MethodPost, c.requestURI, getBody, send, func() {})
}

// unwrapURLError drops net/http's *url.Error layer, whose message repeats
// the endpoint; the cause keeps its own chain.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
