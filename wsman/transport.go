package wsman

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
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
// device's challenges and reuses each nonce with an increasing nonce
// count, so that after the first exchange every request costs one round
// trip. Requests in flight at the same time each use a nonce of their own
// (a pool with one nonce per concurrent request, each got from a 401), so
// the counts of one nonce reach the device strictly in order whatever
// connection carries them.
//
// It answers a 401 with at most one more attempt, on the fresh challenge
// of that 401, and only when the 401 cannot mean wrong credentials: the
// first request carried none, the device said the nonce was stale, or the
// request reused a nonce (nonce count above 1), which firmware may drop at
// any time and then refuse with stale="false". Only a 401 to a request on
// a nonce used for the first time is a rejection of the credentials.
type digestTransport struct {
	next     http.RoundTripper
	user     string
	password string

	mu    sync.Mutex
	pool  []*nonceSlot // nonces not in use by a request now
	realm string       // the first realm seen; a different one later is refused
	a1    string       // MD5(user:realm:password) for realm
}

// nonceSlot is one challenge of the device and the last count sent on it.
type nonceSlot struct {
	chal  *digest.Challenge
	count int
}

func (t *digestTransport) take() *nonceSlot {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.pool)
	if n == 0 {
		return nil
	}
	s := t.pool[n-1]
	t.pool = t.pool[:n-1]
	return s
}

func (t *digestTransport) put(s *nonceSlot) {
	if s == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pool = append(t.pool, s)
}

func (t *digestTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var resp *http.Response
	send := func(auth string) (int, []string, error) {
		r, err := cloneRequest(req)
		if err != nil {
			return 0, nil, err
		}
		if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		noteAuthorized(req, auth != "")
		resp, err = t.next.RoundTrip(r)
		if err != nil {
			resp = nil
			return 0, nil, err
		}
		return resp.StatusCode, resp.Header["Www-Authenticate"], nil
	}
	if err := t.do(req.Method, req.URL.RequestURI(), req.GetBody, send, func() { drain(resp) }); err != nil {
		return nil, err
	}
	return resp, nil
}

// do runs one request under the digest rules: send makes one attempt with
// the Authorization header auth ("" for none) and returns the status and
// the WWW-Authenticate values of the answer; discard drops the answer of
// an attempt that is followed by another. The answer of the last attempt
// is the caller's. net/http's round trip and the direct exchange of an
// Exchanger share it, so that both count nonces, retry and pin the realm
// alike.
func (t *digestTransport) do(method, uri string, getBody func() (io.ReadCloser, error), send func(auth string) (int, []string, error), discard func()) error {
	slot := t.take()
	auth, err := t.authorization(method, uri, getBody, slot)
	if err != nil {
		t.put(slot)
		return err
	}
	status, chals, err := send(auth)
	if err != nil {
		t.put(slot) // the device did not refuse the nonce
		return err
	}
	if status != http.StatusUnauthorized {
		t.put(slot)
		return nil
	}
	chal, err := findChallenge(chals)
	if err != nil {
		// A 401 without a digest challenge (Kerberos only, say): give it
		// to the caller as it is.
		return nil
	}
	if slot != nil && !chal.Stale && slot.count <= 1 {
		// The device rejected the credentials on a nonce used for the
		// first time. Trying again would count as another failed login
		// towards the account lockout.
		return nil
	}
	discard()
	fresh, err := t.save(chal)
	if err != nil {
		return err
	}
	if auth, err = t.authorization(method, uri, getBody, fresh); err != nil {
		return err
	}
	status, _, err = send(auth)
	if err == nil && status != http.StatusUnauthorized || err != nil {
		t.put(fresh)
	}
	return err
}

// authorization returns the Authorization header from slot, counting up
// its nonce count; with no slot the request goes without credentials, to
// learn a challenge ("").
func (t *digestTransport) authorization(method, uri string, getBody func() (io.ReadCloser, error), slot *nonceSlot) (string, error) {
	if slot == nil {
		return "", nil
	}
	slot.count++
	t.mu.Lock()
	a1 := t.a1
	t.mu.Unlock()
	if h, ok := fastDigest(slot.chal, method, uri, t.user, a1, slot.count); ok {
		return h, nil
	}
	cred, err := digest.Digest(slot.chal, digest.Options{
		Method:   method,
		URI:      uri,
		GetBody:  getBody,
		Count:    slot.count,
		Username: t.user,
		A1:       a1,
	})
	if err != nil {
		return "", fmt.Errorf("wsman: digest: %w", err)
	}
	return formatCredentials(cred), nil
}

// findChallenge reads the digest challenge of a 401. AMT sends one
// WWW-Authenticate header of the form Digest realm="…", nonce="…",
// stale="false",qop="auth" (protocol.md §1.2), which is read here with a
// few allocations; anything else goes to the library's parser.
func findChallenge(vs []string) (*digest.Challenge, error) {
	if len(vs) == 1 {
		if c, ok := parseChallenge(vs[0]); ok {
			return c, nil
		}
	}
	return digest.FindChallenge(http.Header{"Www-Authenticate": vs})
}

// parseChallenge parses `Digest k=v, k="v", ...` with the parameters AMT
// sends; ok is false for any other form (unknown parameters, escapes,
// another scheme).
func parseChallenge(s string) (*digest.Challenge, bool) {
	rest, ok := strings.CutPrefix(s, "Digest ")
	if !ok {
		return nil, false
	}
	c := &digest.Challenge{}
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			break
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, false
		}
		key := strings.TrimSpace(rest[:eq])
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, false
			}
			val = rest[1 : 1+end]
			if strings.IndexByte(val, '\\') >= 0 {
				return nil, false
			}
			rest = rest[end+2:]
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		switch strings.ToLower(key) {
		case "realm":
			c.Realm = val
		case "nonce":
			c.Nonce = val
		case "opaque":
			c.Opaque = val
		case "algorithm":
			c.Algorithm = val
		case "stale":
			c.Stale = strings.EqualFold(val, "true")
		case "qop":
			for q := range strings.SplitSeq(val, ",") {
				if q = strings.TrimSpace(q); q != "" {
					c.QOP = append(c.QOP, q)
				}
			}
		default:
			return nil, false // domain, charset, userhash: the library knows them
		}
	}
	if c.Nonce == "" {
		return nil, false
	}
	return c, true
}

// fastDigest computes the Authorization header of the digest AMT uses
// (MD5, qop=auth; RFC 2617 §3.2.2) in one allocation, where the library
// spends a dozen on its hex strings. Other challenges (SHA-256, auth-int,
// user hashes, no qop) go to the library: ok is false.
func fastDigest(chal *digest.Challenge, method, uri, user, a1 string, count int) (string, bool) {
	if (chal.Algorithm != "" && !strings.EqualFold(chal.Algorithm, "MD5")) || chal.Userhash || !chal.SupportsQOP("auth") ||
		a1 == "" || strings.ContainsAny(user+chal.Realm+chal.Nonce+chal.Opaque+uri, `"\`) {
		return "", false
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	var cnonce [16]byte
	hex.Encode(cnonce[:], rnd[:])
	var nc [8]byte
	v := uint32(count)
	for i := 7; i >= 0; i-- {
		nc[i] = "0123456789abcdef"[v&0xf]
		v >>= 4
	}
	h := md5.New()
	var sum [md5.Size]byte
	var ha2 [2 * md5.Size]byte
	h.Write([]byte(method))
	h.Write([]byte{':'})
	h.Write([]byte(uri))
	hex.Encode(ha2[:], h.Sum(sum[:0]))
	h.Reset()
	for _, part := range [][]byte{[]byte(a1), {':'}, []byte(chal.Nonce), {':'}, nc[:], {':'}, cnonce[:], []byte(":auth:"), ha2[:]} {
		h.Write(part)
	}
	var resp [2 * md5.Size]byte
	hex.Encode(resp[:], h.Sum(sum[:0]))
	var b strings.Builder
	b.Grow(160 + len(user) + len(chal.Realm) + len(chal.Nonce) + len(chal.Opaque) + len(uri))
	b.WriteString(`Digest username="`)
	b.WriteString(user)
	b.WriteString(`", realm="`)
	b.WriteString(chal.Realm)
	b.WriteString(`", nonce="`)
	b.WriteString(chal.Nonce)
	b.WriteString(`", uri="`)
	b.WriteString(uri)
	b.WriteString(`", response="`)
	b.Write(resp[:])
	b.WriteByte('"')
	if chal.Algorithm != "" {
		b.WriteString(`, algorithm=`)
		b.WriteString(chal.Algorithm)
	}
	if chal.Opaque != "" {
		b.WriteString(`, opaque="`)
		b.WriteString(chal.Opaque)
		b.WriteByte('"')
	}
	b.WriteString(`, qop=auth, nc=`)
	b.Write(nc[:])
	b.WriteString(`, cnonce="`)
	b.Write(cnonce[:])
	b.WriteByte('"')
	return b.String(), true
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

func (t *digestTransport) save(chal *digest.Challenge) (*nonceSlot, error) {
	if !digest.CanDigest(chal) {
		return nil, fmt.Errorf("wsman: the device asks for an unsupported digest (algorithm %q, qop %q)", chal.Algorithm, chal.QOP)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.realm != "" && chal.Realm != t.realm {
		return nil, fmt.Errorf("%w: first %q, now %q", ErrRealmChanged, t.realm, chal.Realm)
	}
	if t.realm == "" {
		t.realm = chal.Realm
		t.a1 = md5hex(t.user + ":" + chal.Realm + ":" + t.password)
	}
	return &nonceSlot{chal: chal}, nil
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
	resp.Body = &bufferedBody{Reader: bytes.NewReader(body), data: body}
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// bufferedBody is a response body read into memory; the client takes the
// bytes without copying them again.
type bufferedBody struct {
	*bytes.Reader
	data []byte
}

func (*bufferedBody) Close() error { return nil }

// readBody returns the whole body of a response.
func readBody(resp *http.Response) []byte {
	if b, ok := resp.Body.(*bufferedBody); ok {
		return b.data
	}
	data, _ := io.ReadAll(resp.Body)
	return data
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
