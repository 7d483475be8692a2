package wsman

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"syscall"

	"github.com/icholy/digest"
)

// digestTransport authenticates requests with HTTP digest. It keeps the
// device's challenge and reuses its nonce with an increasing nonce count,
// so that after the first exchange every request costs one round trip. It
// answers a 401 with at most one more attempt, on the fresh challenge of
// that 401, and only when the 401 cannot mean wrong credentials: the first
// request carried none, the device said the nonce was stale, or the
// request reused a nonce (nonce count above 1), which firmware may drop at
// any time and then refuse with stale="false". Only a 401 to a request on
// a nonce used for the first time is a rejection of the credentials.
type digestTransport struct {
	next     http.RoundTripper
	user     string
	password string
	// ordered keeps nonce counts increasing on the wire when requests run
	// concurrently: a request takes its count and is written before the
	// next one takes the following count.
	ordered bool
	sendMu  sync.Mutex

	mu    sync.Mutex
	chal  *digest.Challenge
	count int
	realm string // the first realm seen; a different one later is refused
	a1    string // MD5(user:realm:password) for realm
}

func (t *digestTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	first, err := cloneRequest(req)
	if err != nil {
		return nil, err
	}
	first, sentCredentials, count, err := t.authorize(first)
	if err != nil {
		return nil, err
	}
	resp, err := t.send(first)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	chal, err := digest.FindChallenge(resp.Header)
	if err != nil {
		// A 401 without a digest challenge (Kerberos only, say): give it
		// to the caller as it is.
		return resp, nil
	}
	if sentCredentials && !chal.Stale && count <= 1 {
		// The device rejected the credentials on a nonce used for the
		// first time. Trying again would count as another failed login
		// towards the account lockout.
		return resp, nil
	}
	drain(resp)
	if err := t.save(chal); err != nil {
		return nil, err
	}
	second, err := cloneRequest(req)
	if err != nil {
		return nil, err
	}
	second, _, _, err = t.authorize(second)
	if err != nil {
		return nil, err
	}
	return t.send(second)
}

// send passes req on; with ordered counts it releases the send turn that
// authorize took once the request is written (or failed).
func (t *digestTransport) send(req *http.Request) (*http.Response, error) {
	release, _ := req.Context().Value(sendTurnKey{}).(func())
	if release == nil {
		return t.next.RoundTrip(req)
	}
	defer release()
	return t.next.RoundTrip(req)
}

type sendTurnKey struct{}

// authorize sets the Authorization header from the cached challenge and
// reports whether it did, and with which nonce count. With ordered counts
// the returned request carries a send turn, released when it is written.
func (t *digestTransport) authorize(req *http.Request) (*http.Request, bool, int, error) {
	if t.ordered {
		t.sendMu.Lock()
		var once sync.Once
		release := func() { once.Do(t.sendMu.Unlock) }
		ctx := httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { release() },
		})
		req = req.WithContext(context.WithValue(ctx, sendTurnKey{}, release))
	}
	t.mu.Lock()
	if t.chal == nil {
		t.mu.Unlock()
		noteAuthorized(req, false)
		return req, false, 0, nil
	}
	t.count++
	chal, count, a1 := t.chal, t.count, t.a1
	t.mu.Unlock()
	cred, err := digest.Digest(chal, digest.Options{
		Method:   req.Method,
		URI:      req.URL.RequestURI(),
		GetBody:  req.GetBody,
		Count:    count,
		Username: t.user,
		A1:       a1,
	})
	if err != nil {
		if release, _ := req.Context().Value(sendTurnKey{}).(func()); release != nil {
			release()
		}
		return nil, false, 0, fmt.Errorf("wsman: digest: %w", err)
	}
	req.Header["Authorization"] = []string{formatCredentials(cred)}
	noteAuthorized(req, true)
	return req, true, count, nil
}

// formatCredentials writes the Authorization header the way consoles that
// work with AMT do, in one allocation: the library's generic formatter
// costs more than the rest of the request.
func formatCredentials(c *digest.Credentials) string {
	var b strings.Builder
	b.Grow(256 + len(c.Username) + len(c.Realm) + len(c.Nonce) + len(c.Opaque))
	b.WriteString(`Digest username="`)
	b.WriteString(quoteEscape(c.Username))
	b.WriteString(`", realm="`)
	b.WriteString(quoteEscape(c.Realm))
	b.WriteString(`", nonce="`)
	b.WriteString(quoteEscape(c.Nonce))
	b.WriteString(`", uri="`)
	b.WriteString(quoteEscape(c.URI))
	b.WriteString(`", response="`)
	b.WriteString(c.Response)
	b.WriteByte('"')
	if c.Algorithm != "" {
		b.WriteString(`, algorithm=`)
		b.WriteString(c.Algorithm)
	}
	if c.Opaque != "" {
		b.WriteString(`, opaque="`)
		b.WriteString(quoteEscape(c.Opaque))
		b.WriteByte('"')
	}
	if c.QOP != "" {
		b.WriteString(`, qop=`)
		b.WriteString(c.QOP)
		b.WriteString(`, nc=`)
		var nc [8]byte
		v := uint32(c.Nc)
		for i := 7; i >= 0; i-- {
			nc[i] = "0123456789abcdef"[v&0xf]
			v >>= 4
		}
		b.Write(nc[:])
		b.WriteString(`, cnonce="`)
		b.WriteString(quoteEscape(c.Cnonce))
		b.WriteByte('"')
	}
	return b.String()
}

func quoteEscape(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

func (t *digestTransport) save(chal *digest.Challenge) error {
	if !digest.CanDigest(chal) {
		return fmt.Errorf("wsman: the device asks for an unsupported digest (algorithm %q, qop %q)", chal.Algorithm, chal.QOP)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.realm != "" && chal.Realm != t.realm {
		return fmt.Errorf("%w: first %q, now %q", ErrRealmChanged, t.realm, chal.Realm)
	}
	if t.realm == "" {
		t.realm = chal.Realm
		t.a1 = md5hex(t.user + ":" + chal.Realm + ":" + t.password)
	}
	t.chal = chal
	t.count = 0
	return nil
}

// Realm returns the digest realm learned from the device, if any.
func (t *digestTransport) Realm() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.realm
}

func cloneRequest(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = b
	}
	return r, nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// bufferTransport reads every response body into memory, up to a limit, so
// that a connection lost in the middle of a response is a transport error
// (which the retry policy may retry) rather than a short body.
type bufferTransport struct {
	next http.RoundTripper
	max  int64
}

// tooLargeError is returned by the transport so that the client can tell it
// apart from connection failures.
type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("wsman: response larger than %d bytes", e.limit)
}
func (e *tooLargeError) Is(target error) bool { return target == ErrResponseTooLarge }

func (t *bufferTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > t.max {
		return nil, &tooLargeError{t.max}
	}
	var buf bytes.Buffer
	size := int64(4096)
	if resp.ContentLength > 0 {
		size = resp.ContentLength + 1
	}
	buf.Grow(int(min(size, t.max+1)))
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, t.max+1)); err != nil {
		return nil, fmt.Errorf("reading response body: %w", err)
	}
	if int64(buf.Len()) > t.max {
		return nil, &tooLargeError{t.max}
	}
	body := buf.Bytes()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// attempt records, through httptrace, whether the last attempt of a request
// was written to the connection, so that a failure afterwards can be told
// from one before the device saw anything.
type attempt struct {
	mu    sync.Mutex
	wrote bool
	// authed records whether the last attempt carried credentials, so that
	// a 401 to an unauthenticated request (a device that offers no digest
	// challenge) is not taken for rejected credentials.
	authed bool
}

type attemptKey struct{}

// noteAuthorized records on the request's attempt, if any, whether it
// carried credentials.
func noteAuthorized(req *http.Request, authed bool) {
	if a, ok := req.Context().Value(attemptKey{}).(*attempt); ok {
		a.mu.Lock()
		a.authed = authed
		a.mu.Unlock()
	}
}

func (a *attempt) sentCredentials() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.authed
}

func (a *attempt) trace(ctx context.Context) context.Context {
	ctx = context.WithValue(ctx, attemptKey{}, a)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) {
			a.mu.Lock()
			a.wrote = false
			a.mu.Unlock()
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			a.mu.Lock()
			a.wrote = info.Err == nil
			a.mu.Unlock()
		},
	})
}

func (a *attempt) written() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.wrote
}

// transient reports whether err is a connection failure worth retrying for
// an idempotent operation: refused, reset, or closed before the answer.
func transient(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}
