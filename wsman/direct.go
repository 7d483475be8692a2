package wsman

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Exchanger is implemented by a base transport (WithTransport) that carries
// a request of plain HTTP/1.1 itself: given the request's bytes, it writes
// them on a connection to the device and reads the answer with
// HTTPExchange.ReadResponse. A client whose base transport is an Exchanger
// and which does not retry (WithRetry(0, 0, 0)) sends through Exchange,
// with its digest rules unchanged, instead of through net/http's Client,
// Request and Response, which for one short exchange cost more than the
// exchange itself. The transport must still be a working http.RoundTripper
// for https endpoints and for clients that retry.
type Exchanger interface {
	// Exchange sends x.Request to x.HostPort and reads the answer into x,
	// giving up at x.Deadline (when set) or when ctx ends, whichever comes
	// first; it returns ctx's error when ctx ended it. It sets x.Written
	// once the whole request was written. It must not keep x.Request, or
	// use x, after it returns.
	Exchange(ctx context.Context, x *HTTPExchange) error
}

// HTTPExchange is one HTTP/1.1 request of a Client through an Exchanger,
// and its answer.
type HTTPExchange struct {
	// Set by the client.
	HostPort string    // host:port of the device, as in the endpoint URL
	Request  []byte    // the whole request, head and body
	Deadline time.Time // zero: only the context bounds the exchange
	MaxBody  int64     // a larger body fails with ErrResponseTooLarge

	// Set by the transport.
	Written    bool
	StatusCode int
	Status     string   // as http.Response.Status: "401 Unauthorized"
	Server     string   // the Server header
	Challenges []string // the WWW-Authenticate headers
	Body       []byte   // the body, a buffer of its own
	// Close reports that the device ends the connection after this
	// answer (Connection: close, HTTP/1.0, or a body that runs to the end
	// of the connection): it must not carry another request.
	Close bool
}

// maxResponseHead bounds the status line and headers of an answer.
const maxResponseHead = 1 << 20

// errMalformedHTTP is the cause of an answer that is not HTTP/1.x.
var errMalformedHTTP = errors.New("malformed HTTP response")

// ReadResponse reads the answer to x.Request from r: its status, the
// headers a WS-Man client reads, and its body (delimited by
// Content-Length, chunked, or the end of the connection), within
// x.MaxBody. Interim 1xx answers are skipped. A connection that ends
// before the whole answer is io.ErrUnexpectedEOF.
func (x *HTTPExchange) ReadResponse(r *bufio.Reader) error {
	x.StatusCode, x.Status, x.Server, x.Challenges, x.Body, x.Close = 0, "", "", nil, nil, false
	head := 0
	var (
		length  int64 = -1
		chunked bool
		http10  bool
		keep    bool
	)
	for {
		line, err := readLine(r, &head)
		if err != nil {
			return err
		}
		code, status, minor, ok := parseStatusLine(line)
		if !ok {
			return fmt.Errorf("%w: status line %q", errMalformedHTTP, truncate(line, 64))
		}
		x.StatusCode, x.Status, http10 = code, status, minor == 0
		length, chunked, keep = -1, false, false
		x.Server, x.Challenges, x.Close = "", nil, false
		var last *string // the value a continuation line extends
		for {
			line, err := readLine(r, &head)
			if err != nil {
				return err
			}
			if len(line) == 0 {
				break
			}
			if line[0] == ' ' || line[0] == '\t' {
				if last != nil {
					*last += " " + string(bytes.TrimSpace(line))
				}
				continue
			}
			last = nil
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 {
				return fmt.Errorf("%w: header line %q", errMalformedHTTP, truncate(line, 64))
			}
			name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
			switch {
			case equalFold(name, "content-length"):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 || (length >= 0 && n != length) {
					return fmt.Errorf("%w: Content-Length %q", errMalformedHTTP, truncate(value, 32))
				}
				length = n
			case equalFold(name, "transfer-encoding"):
				if !equalFold(value, "chunked") {
					return fmt.Errorf("%w: Transfer-Encoding %q", errMalformedHTTP, truncate(value, 32))
				}
				chunked = true
			case equalFold(name, "connection"):
				for _, tok := range bytes.Split(value, []byte{','}) {
					tok = bytes.TrimSpace(tok)
					if equalFold(tok, "close") {
						x.Close = true
					} else if equalFold(tok, "keep-alive") {
						keep = true
					}
				}
			case equalFold(name, "server"):
				x.Server = internServer(value)
				last = &x.Server
			case equalFold(name, "www-authenticate"):
				x.Challenges = append(x.Challenges, string(value))
				last = &x.Challenges[len(x.Challenges)-1]
			}
		}
		if x.StatusCode >= 200 || x.StatusCode == 101 {
			break
		}
		// An interim answer (100 Continue): the real one follows.
	}
	if http10 && !keep {
		x.Close = true
	}
	if x.StatusCode == 204 || x.StatusCode == 304 || x.StatusCode == 101 {
		return nil
	}
	limit := x.MaxBody
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	switch {
	case chunked:
		body, err := readChunked(r, limit)
		if err != nil {
			return err
		}
		x.Body = body
	case length >= 0:
		if length > limit {
			return &tooLargeError{limit}
		}
		if length == 0 {
			return nil
		}
		x.Body = make([]byte, length)
		if _, err := io.ReadFull(r, x.Body); err != nil {
			x.Body = nil
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading response body: %w", err)
		}
	default:
		// No length: the body runs to the end of the connection.
		x.Close = true
		body, err := readAtMost(r, 4096, limit)
		if err != nil {
			return err
		}
		x.Body = body
	}
	return nil
}

// chunkPool keeps the buffers chunked bodies are gathered in before they
// are copied to a body of their exact size.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, 8192); return &b }}

// readChunked reads a chunked body and its trailer, failing once the body
// would pass limit bytes (a chunk that says it is larger fails before it
// is read). The body is a buffer of its own, of its exact size.
func readChunked(r *bufio.Reader, limit int64) ([]byte, error) {
	bp := chunkPool.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= 64<<10 {
			*bp = buf[:0]
			chunkPool.Put(bp)
		}
	}()
	var head int // the chunk-size and trailer lines, bounded as a head is
	for {
		line, err := readLine(r, &head)
		if err != nil {
			return nil, fmt.Errorf("reading response body: %w", err)
		}
		size, ok := parseChunkSize(line)
		if !ok {
			return nil, fmt.Errorf("reading response body: %w: chunk size %q", errMalformedHTTP, truncate(line, 32))
		}
		if size == 0 {
			break
		}
		if size > limit-int64(len(buf)) {
			return nil, &tooLargeError{limit}
		}
		n := len(buf)
		buf = slices.Grow(buf, int(size))[:n+int(size)]
		if _, err := io.ReadFull(r, buf[n:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading response body: %w", err)
		}
		end, err := readLine(r, &head)
		if err != nil {
			return nil, fmt.Errorf("reading response body: %w", err)
		}
		if len(end) != 0 {
			return nil, fmt.Errorf("reading response body: %w: chunk longer than its size", errMalformedHTTP)
		}
	}
	// The trailer, up to the empty line that ends the answer.
	for {
		line, err := readLine(r, &head)
		if err != nil {
			return nil, fmt.Errorf("reading response body: %w", err)
		}
		if len(line) == 0 {
			break
		}
	}
	if len(buf) == 0 {
		return nil, nil
	}
	return bytes.Clone(buf), nil
}

// parseChunkSize reads a chunk-size line: hexadecimal digits, then
// optional white space and chunk extensions, which are ignored.
func parseChunkSize(line []byte) (int64, bool) {
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d, ok := hexDigit(line[i])
		if !ok {
			break
		}
		if i == 15 { // past 2^60: no answer of AMT's, and no overflow
			return 0, false
		}
		size = size<<4 | int64(d)
	}
	if i == 0 {
		return 0, false
	}
	for ; i < len(line); i++ {
		switch line[i] {
		case ' ', '\t':
		case ';':
			return size, true
		default:
			return 0, false
		}
	}
	return size, true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// readAtMost reads r to its end, failing once it passes limit bytes.
func readAtMost(r io.Reader, size, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(size, limit+1)))
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, fmt.Errorf("reading response body: %w", err)
	}
	if int64(buf.Len()) > limit {
		return nil, &tooLargeError{limit}
	}
	if buf.Len() == 0 {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// readLine returns one line of the head without its CRLF, counting the
// head's size in *head.
func readLine(r *bufio.Reader, head *int) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	*head += len(line)
	if err == bufio.ErrBufferFull || *head > maxResponseHead {
		return nil, fmt.Errorf("%w: header too long", errMalformedHTTP)
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseStatusLine reads "HTTP/1.x 200 OK".
func parseStatusLine(line []byte) (code int, status string, minor int, ok bool) {
	rest, found := bytes.CutPrefix(line, []byte("HTTP/1."))
	if !found || len(rest) < 5 || rest[0] < '0' || rest[0] > '9' || rest[1] != ' ' {
		return 0, "", 0, false
	}
	minor = int(rest[0] - '0')
	st := rest[2:]
	for i := range 3 {
		if st[i] < '0' || st[i] > '9' {
			return 0, "", 0, false
		}
		code = code*10 + int(st[i]-'0')
	}
	if len(st) > 3 && st[3] != ' ' {
		return 0, "", 0, false
	}
	switch string(st) {
	case "200 OK":
		return code, "200 OK", minor, true
	case "401 Unauthorized":
		return code, "401 Unauthorized", minor, true
	}
	status = string(bytes.TrimSpace(st))
	return code, status, minor, true
}

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func truncate(b []byte, n int) string { return string(b[:min(len(b), n)]) }

// lastServer keeps the last Server header read: a fleet's devices send a
// handful of firmware versions, and each answer need not allocate its own.
var lastServer atomic.Pointer[string]

func internServer(v []byte) string {
	if p := lastServer.Load(); p != nil && *p == string(v) {
		return *p
	}
	s := string(v)
	lastServer.Store(&s)
	return s
}

// exchangePool keeps the exchanges of direct sends and their request
// buffers.
var exchangePool = sync.Pool{New: func() any { return &HTTPExchange{Request: make([]byte, 0, 2048)} }}

func getExchange() *HTTPExchange { return exchangePool.Get().(*HTTPExchange) }

func putExchange(x *HTTPExchange) {
	if cap(x.Request) > 64<<10 {
		return // a large request's buffer is not kept
	}
	*x = HTTPExchange{Request: x.Request[:0]}
	exchangePool.Put(x)
}

// appendRequest writes the head of a POST of body to the client's
// endpoint, as net/http writes it, and the body.
func (c *Client) appendRequest(b []byte, auth string, body []byte) []byte {
	b = append(b, "POST "...)
	b = append(b, c.requestURI...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.hostHeader...)
	b = append(b, "\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if auth != "" {
		b = append(b, "\r\nAuthorization: "...)
		b = append(b, auth...)
	}
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, contentType[0]...)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}
