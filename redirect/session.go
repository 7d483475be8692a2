package redirect

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/wsman"
)

// Default redirection ports of Intel AMT (protocol.md §3.7).
const (
	PortRedirect    = 16994
	PortRedirectTLS = 16995
)

// Kind is the kind of redirection session, sent in StartRedirectionSession.
type Kind int

// Session kinds.
const (
	IDER Kind = 1 // storage redirection (IDE-R, USB-R on AMT 11 and later): tag "IDER"
	SOL  Kind = 2 // serial-over-LAN: tag "SOL "
)

func (k Kind) String() string {
	switch k {
	case IDER:
		return "IDE-R"
	case SOL:
		return "SOL"
	}
	return fmt.Sprintf("kind %d", int(k))
}

func (k Kind) tag() ([4]byte, bool) {
	switch k {
	case IDER:
		return [4]byte{'I', 'D', 'E', 'R'}, true
	case SOL:
		return [4]byte{'S', 'O', 'L', ' '}, true
	}
	return [4]byte{}, false
}

// Options configure Dial. The zero value connects in plain TCP.
type Options struct {
	// TLS, when set, wraps the connection in TLS verified the way the
	// WS-Management client verifies it (system roots, private roots,
	// SHA-256 pins, client certificates, the legacy profile). Use port
	// 16995 with TLS, 16994 without. A client certificate of the
	// credential is added to TLS.Certificates.
	TLS *wsman.TLSConfig
	// Logger receives debug records of the session (kind, address,
	// authentication type, IDE-R events). Passwords, digest responses and
	// image data are never logged. Nil discards.
	Logger *slog.Logger
	// Dialer dials the TCP connection; nil uses a zero net.Dialer. The
	// context given to Dial bounds the whole handshake in any case.
	Dialer *net.Dialer
}

// DialFunc opens an authenticated redirection session of the given kind.
// BootFromImage takes one, so that the caller decides the address, the
// credentials and TLS.
type DialFunc func(ctx context.Context, kind Kind) (*Session, error)

// Dialer returns a DialFunc that dials addr with cred and opts.
func Dialer(addr string, cred credentials.Credential, opts Options) DialFunc {
	return func(ctx context.Context, kind Kind) (*Session, error) {
		return Dial(ctx, addr, kind, cred, opts)
	}
}

// Session is an authenticated redirection session: the TCP (or TLS)
// connection after StartRedirectionSession and the digest login. A session
// serves one purpose: ServeIDER for an IDER session, OpenSOL for a SOL
// session; either takes ownership and closes it. Close releases a session
// that was not used.
//
// A Session is not safe for concurrent use, except for Close.
type Session struct {
	conn     net.Conn
	rd       *frameReader
	kind     Kind
	addr     string
	authType byte
	log      *slog.Logger

	closeOnce sync.Once
	closeErr  error
	taken     bool
}

// Kind reports the session kind given to Dial.
func (s *Session) Kind() Kind { return s.kind }

// AuthType reports the authentication type the device accepted: 4 (digest
// with qop) or 3 (digest without qop).
func (s *Session) AuthType() byte { return s.authType }

// RemoteAddr is the device's address.
func (s *Session) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// Close ends the session: it sends EndRedirectionSession when the session
// was not handed to a service, then closes the connection. It is safe to
// call more than once and concurrently with a service, which then fails
// with ErrPeerClosed or its context error.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		if !s.taken {
			_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = s.conn.Write([]byte{cmdEndSession, 0, 0, 0})
		}
		s.closeErr = s.conn.Close()
	})
	return s.closeErr
}

// take hands the session to a service.
func (s *Session) take(kind Kind, op string) error {
	if s.kind != kind {
		return wsman.InvalidArgument("redirect: %s needs a session of kind %s, this one is %s", op, kind, s.kind)
	}
	if s.taken {
		return wsman.InvalidArgument("redirect: %s: the session was already used", op)
	}
	s.taken = true
	return nil
}

// Session manager messages (protocol.md §3.7.1).
const (
	cmdStartSession      = 0x10
	cmdStartSessionReply = 0x11
	cmdEndSession        = 0x12
	cmdAuthenticate      = 0x13
	cmdAuthenticateReply = 0x14
)

// Authentication types.
const (
	authQuery        = 0
	authDigest       = 3 // RFC 2069, no qop
	authDigestQOP    = 4 // RFC 2617, qop=auth
	maxAuthDataBytes = 1024
	digestURI        = "/RedirectionService"
)

// Dial connects to the redirection port at addr (host:port), starts a
// session of kind and logs in with HTTP digest: it asks which
// authentication types the device offers, then uses digest with qop (type
// 4), or digest without qop (type 3) when the device does not offer 4.
//
// A refused session is a *RefusedError; rejected credentials an *AuthError
// (never retried: AMT locks accounts after repeated failures); a malformed
// answer a *ProtocolError; a closed connection a *PeerClosedError. ctx
// bounds the whole handshake; when it ends, Dial returns its error.
func Dial(ctx context.Context, addr string, kind Kind, cred credentials.Credential, opts Options) (*Session, error) {
	tag, ok := kind.tag()
	if !ok {
		return nil, wsman.InvalidArgument("redirect: unknown session kind %d", int(kind))
	}
	if cred.User == "" {
		return nil, wsman.InvalidArgument("redirect: empty user name")
	}
	if len(cred.User) > 255 || len(cred.Password) > 255 {
		return nil, wsman.InvalidArgument("redirect: user name or password longer than 255 bytes")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := opts.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("redirect: dial %s: %w", addr, err)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = conn.SetDeadline(time.Now())
		close(fired)
	})
	fail := func(err error) (*Session, error) {
		if !stop() {
			<-fired
		}
		_ = conn.Close()
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrRefused) {
			return nil, fmt.Errorf("redirect: dial %s: %w", addr, ctxErr)
		}
		return nil, err
	}
	if opts.TLS != nil {
		cfg, err := opts.TLS.Build()
		if err != nil {
			return fail(fmt.Errorf("redirect: %w", err))
		}
		cert, err := cred.ClientCertificate()
		if err != nil {
			return fail(fmt.Errorf("redirect: %w", err))
		}
		if cert != nil {
			cfg.Certificates = append(slices.Clone(cfg.Certificates), *cert)
		}
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("redirect: TLS handshake with %s: %w", addr, err))
		}
		conn = tc
	}
	s := &Session{conn: conn, rd: newFrameReader(conn, 4096), kind: kind, addr: addr, log: logger}
	if err := s.start(tag); err != nil {
		return fail(err)
	}
	if err := s.authenticate(cred); err != nil {
		return fail(err)
	}
	if !stop() {
		<-fired
		_ = conn.Close()
		return nil, fmt.Errorf("redirect: dial %s: %w", addr, ctx.Err())
	}
	logger.LogAttrs(ctx, slog.LevelDebug, "redirection session open",
		slog.String("addr", addr), slog.String("kind", kind.String()), slog.Int("auth_type", int(s.authType)))
	return s, nil
}

// start sends StartRedirectionSession and reads the reply.
func (s *Session) start(tag [4]byte) error {
	const op = "session start"
	msg := []byte{cmdStartSession, 0, 0, 0, tag[0], tag[1], tag[2], tag[3]}
	if err := s.write(op, msg); err != nil {
		return err
	}
	b, err := s.rd.need(op, 13)
	if err != nil {
		return err
	}
	if b[0] != cmdStartSessionReply {
		return protoErr(op, "StartRedirectionSessionReply (0x11)", "command 0x%02x", b[0])
	}
	status, oem := b[1], int(b[12])
	if _, err := s.rd.need(op, 13+oem); err != nil {
		return err
	}
	s.rd.consume(13 + oem)
	if status != 0 {
		return &RefusedError{Stage: "session", Status: uint32(status)}
	}
	return nil
}

// authenticate runs the digest login (protocol.md §3.7.1).
func (s *Session) authenticate(cred credentials.Credential) error {
	const op = "authentication"
	// 1. Which types does the device offer?
	if err := s.write(op, authMessage(authQuery, nil)); err != nil {
		return err
	}
	status, typ, data, err := s.readAuthReply(op)
	if err != nil {
		return err
	}
	if status != 0 || typ != authQuery {
		return protoErr(op, "the list of authentication types", "status %d type %d", status, typ)
	}
	var use byte
	switch {
	case slices.Contains(data, authDigestQOP):
		use = authDigestQOP
	case slices.Contains(data, authDigest):
		use = authDigest
	default:
		return protoErr(op, "digest authentication (type 3 or 4) offered", "types %v", data)
	}
	s.authType = use

	// 2. An empty digest request draws the challenge.
	empty := [][]byte{[]byte(cred.User), nil, nil, []byte(digestURI), nil, nil, nil}
	if use == authDigestQOP {
		empty = append(empty, nil)
	}
	if err := s.write(op, authMessage(use, lengthPrefixed(empty...))); err != nil {
		return err
	}
	status, typ, data, err = s.readAuthReply(op)
	if err != nil {
		return err
	}
	if status != 1 || typ != use {
		return protoErr(op, fmt.Sprintf("a digest challenge (status 1, type %d)", use), "status %d type %d", status, typ)
	}
	fields, ok := splitPrefixed(data)
	if !ok || len(fields) < 2 {
		return protoErr(op, "realm and nonce in the challenge", "%d malformed bytes", len(data))
	}
	realm, nonce := string(fields[0]), string(fields[1])
	qop := ""
	if use == authDigestQOP {
		qop = "auth"
		if len(fields) > 2 && len(fields[2]) > 0 {
			qop = string(fields[2])
		}
	}

	// 3. The response.
	var cn [16]byte
	if _, err := rand.Read(cn[:]); err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	cnonce, nc := hex.EncodeToString(cn[:]), "00000002"
	ha1 := md5hex(cred.User + ":" + realm + ":" + cred.Password)
	ha2 := md5hex("POST:" + digestURI)
	var response string
	if use == authDigestQOP {
		response = md5hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
	} else {
		response = md5hex(ha1 + ":" + nonce + ":" + ha2)
	}
	final := [][]byte{[]byte(cred.User), []byte(realm), []byte(nonce), []byte(digestURI), []byte(cnonce), []byte(nc), []byte(response)}
	if use == authDigestQOP {
		final = append(final, []byte(qop))
	}
	if err := s.write(op, authMessage(use, lengthPrefixed(final...))); err != nil {
		return err
	}
	status, _, _, err = s.readAuthReply(op)
	if err != nil {
		if errors.Is(err, ErrPeerClosed) {
			// AMT may drop the connection instead of answering a bad login.
			return &AuthError{User: cred.User, Type: use, Err: err}
		}
		return err
	}
	if status != 0 {
		return &AuthError{User: cred.User, Type: use}
	}
	return nil
}

// md5hex is the hash HTTP digest specifies; AMT's redirection login uses
// it, and nothing else here does.
func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func authMessage(typ byte, data []byte) []byte {
	b := make([]byte, 9, 9+len(data))
	b[0] = cmdAuthenticate
	b[4] = typ
	binary.LittleEndian.PutUint32(b[5:], uint32(len(data)))
	return append(b, data...)
}

func lengthPrefixed(fields ...[]byte) []byte {
	var b []byte
	for _, f := range fields {
		b = append(b, byte(len(f)))
		b = append(b, f...)
	}
	return b
}

// splitPrefixed splits length-prefixed fields; ok is false when a length
// runs past the data.
func splitPrefixed(b []byte) ([][]byte, bool) {
	var out [][]byte
	for len(b) > 0 {
		n := int(b[0])
		if 1+n > len(b) {
			return nil, false
		}
		out = append(out, b[1:1+n])
		b = b[1+n:]
	}
	return out, true
}

// readAuthReply reads one AuthenticateSessionReply; data is a copy.
func (s *Session) readAuthReply(op string) (status, typ byte, data []byte, err error) {
	b, err := s.rd.need(op, 9)
	if err != nil {
		return 0, 0, nil, err
	}
	if b[0] != cmdAuthenticateReply {
		return 0, 0, nil, protoErr(op, "AuthenticateSessionReply (0x14)", "command 0x%02x", b[0])
	}
	l := binary.LittleEndian.Uint32(b[5:9])
	if l > maxAuthDataBytes {
		return 0, 0, nil, protoErr(op, fmt.Sprintf("at most %d bytes of authentication data", maxAuthDataBytes), "a length of %d", l)
	}
	b, err = s.rd.need(op, 9+int(l))
	if err != nil {
		return 0, 0, nil, err
	}
	status, typ, data = b[1], b[4], slices.Clone(b[9:9+int(l)])
	s.rd.consume(9 + int(l))
	return status, typ, data, nil
}

func (s *Session) write(op string, b []byte) error {
	if _, err := s.conn.Write(b); err != nil {
		return netErr(op, err)
	}
	return nil
}

// netErr classifies a read or write failure: a closed or reset connection
// is a *PeerClosedError; other errors (a deadline set because the context
// ended, for example) are wrapped as they are.
func netErr(op string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) {
		return &PeerClosedError{Op: op, Err: err}
	}
	return fmt.Errorf("redirect: %s: %w", op, err)
}

// frameReader accumulates bytes from the connection so that messages can
// be parsed by command id and length without losing a partial message.
type frameReader struct {
	r          io.Reader
	buf        []byte
	start, end int
}

func newFrameReader(r io.Reader, size int) *frameReader {
	return &frameReader{r: r, buf: make([]byte, size)}
}

// need returns the next n buffered bytes, reading until there are n. The
// slice is valid until the next call. n must not exceed the buffer size.
func (f *frameReader) need(op string, n int) ([]byte, error) {
	if n > len(f.buf) {
		return nil, protoErr(op, fmt.Sprintf("a message of at most %d bytes", len(f.buf)), "%d bytes", n)
	}
	if f.end-f.start >= n {
		return f.buf[f.start : f.start+n], nil
	}
	if f.start+n > len(f.buf) {
		copy(f.buf, f.buf[f.start:f.end])
		f.end -= f.start
		f.start = 0
	}
	for f.end-f.start < n {
		m, err := f.r.Read(f.buf[f.end:])
		f.end += m
		if err != nil {
			if f.end-f.start >= n {
				break
			}
			if errors.Is(err, io.EOF) && f.end > f.start {
				err = io.ErrUnexpectedEOF
			}
			return nil, netErr(op, err)
		}
	}
	return f.buf[f.start : f.start+n], nil
}

func (f *frameReader) consume(n int) {
	f.start += n
	if f.start == f.end {
		f.start, f.end = 0, 0
	}
}

// skip discards n bytes, which may exceed the buffer.
func (f *frameReader) skip(op string, n int) error {
	for n > 0 {
		k := min(n, len(f.buf))
		if _, err := f.need(op, k); err != nil {
			return err
		}
		f.consume(k)
		n -= k
	}
	return nil
}

// readInto fills dst from the stream.
func (f *frameReader) readInto(op string, dst []byte) error {
	for len(dst) > 0 {
		k := min(len(dst), len(f.buf))
		b, err := f.need(op, k)
		if err != nil {
			return err
		}
		copy(dst, b)
		f.consume(k)
		dst = dst[k:]
	}
	return nil
}
