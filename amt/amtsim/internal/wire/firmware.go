package wire

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Firmware is what the HTTP framing of a device depends on: its version.
type Firmware struct {
	// Version is "maj.min.hotfix.build", as in the Server header.
	Version string
	// Major is the major version.
	Major int
}

// The framing of the captures in the recordings' _http directory: AMT
// 11.8 (200 with a SOAP body) and AMT 15.0 (200, 400 and 401).
const (
	// ContentTypeSOAP is the content type of SOAP answers from AMT 12 on
	// (the AMT 15.0 capture).
	ContentTypeSOAP = "application/soap+xml; charset=UTF-8"
	// ContentTypeSOAPLegacy is the content type of SOAP answers up to AMT
	// 11 (the AMT 11.8 capture).
	ContentTypeSOAPLegacy = "application/octet-stream"
	// ChunkBuffer is the buffer from which AMT 12 and later write the
	// header and the body of a chunked answer: 0x2FA bytes (the AMT 15.0
	// capture: 218 header bytes and a first chunk of 0x220, then chunks of
	// 0x2FA).
	ChunkBuffer = 0x2FA
	// ChunkBufferLegacy is that buffer up to AMT 11: 0x5E2 bytes (the AMT
	// 11.8 capture: 207 header bytes and a first chunk of 0x513; its body
	// ends in the second chunk, so the size of later chunks is modelled
	// as the same buffer).
	ChunkBufferLegacy = 0x5E2
)

// ServerHeader is the Server field's value.
func (f Firmware) ServerHeader() string {
	if m := serverHeaders.Load(); m != nil {
		if v, ok := (*m)[f.Version]; ok {
			return v
		}
	}
	v := "Intel(R) Active Management Technology " + f.Version
	serverMu.Lock()
	defer serverMu.Unlock()
	next := map[string]string{f.Version: v}
	if m := serverHeaders.Load(); m != nil {
		if len(*m) >= maxServerHeaders {
			return v
		}
		for k, old := range *m {
			next[k] = old
		}
	}
	serverHeaders.Store(&next)
	return v
}

// serverHeaders holds the Server values of the versions seen, so that an
// answer does not build its own: a map replaced, never changed, on a new
// version; at most maxServerHeaders are kept.
var (
	serverHeaders atomic.Pointer[map[string]string]
	serverMu      sync.Mutex
)

const maxServerHeaders = 64

func (f Firmware) legacy() bool { return f.Major <= 11 }

// ContentType is the content type of SOAP answers.
func (f Firmware) ContentType() string {
	if f.legacy() {
		return ContentTypeSOAPLegacy
	}
	return ContentTypeSOAP
}

// ChunkSize is the chunking buffer of SOAP answers.
func (f Firmware) ChunkSize() int {
	if f.legacy() {
		return ChunkBufferLegacy
	}
	return ChunkBuffer
}

// SOAP is an answer with a SOAP envelope: Date, Server, X-Frame-Options,
// Content-Type and Transfer-Encoding in that order, the body chunked, the
// connection kept, as both 200 captures show. Faults (400, 500) are
// framed the same [modelled: no capture of a fault's HTTP layer].
func (f Firmware) SOAP(status int, body []byte) Response {
	return Response{
		Status: status,
		Fields: []Field{
			{"Date", httpDate()},
			{"Server", f.ServerHeader()},
			{"X-Frame-Options", "DENY"},
			{"Content-Type", f.ContentType()},
			{"Transfer-Encoding", "chunked"},
		},
		Body:  body,
		Chunk: f.ChunkSize(),
	}
}

// HTML pages in the layout of the firmware's built-in web server (the 400
// and 401 captures).
const (
	htmlHead = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" ><html lang="en"><head>` +
		`<link rel=stylesheet href=/styles.css>` +
		`<meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>Intel&reg; Active Management Technology</title></head>` +
		`<body><h1>Intel<sup>&reg;</sup> Active Management Technology</h1><h2 class=warn>`
	htmlTail = `</h2></body></html>`

	// MsgLogonFailed is the text of the 401 page.
	MsgLogonFailed = "Log on failed. Incorrect user name or password, or user account temporarily locked."
	// The texts of other pages [modelled: the 400 capture's text was
	// edited by its project; the rest are not captured].
	MsgBadRequest   = "Bad Request. The request could not be understood."
	MsgTooLarge     = "Bad Request. The request is too large."
	MsgNotFound     = "Not Found. The requested page does not exist."
	MsgNotAllowed   = "Method Not Allowed."
	MsgServiceError = "The service is temporarily unavailable."
)

// PageBody is the HTML page with the message.
func PageBody(msg string) string { return htmlHead + msg + htmlTail }

// Page is an HTML answer: Content-Type, Server, Content-Length and, when
// closing, Connection: close, in that order and without Date, as the 400
// capture shows; extra fields follow Content-Type [modelled].
func (f Firmware) Page(status int, msg string, closeConn bool, extra ...Field) Response {
	return f.page(nil, status, msg, closeConn, extra)
}

// logonPage is the 401 page, built once, and its Content-Length.
var (
	logonPage       = []byte(PageBody(MsgLogonFailed))
	logonPageLength = strconv.Itoa(len(logonPage))
)

func (f Firmware) page(first []Field, status int, msg string, closeConn bool, extra []Field) Response {
	// The logon page's body is shared by every 401: a Response's body is
	// only read.
	body, length := logonPage, logonPageLength
	if msg != MsgLogonFailed {
		body = []byte(PageBody(msg))
		length = strconv.Itoa(len(body))
	}
	fields := make([]Field, 0, len(first)+len(extra)+4)
	fields = append(fields, first...)
	fields = append(fields, Field{"Content-Type", "text/html"})
	fields = append(fields, extra...)
	fields = append(fields, Field{"Server", f.ServerHeader()}, Field{"Content-Length", length})
	if closeConn {
		fields = append(fields, Field{"Connection", "close"})
	}
	return Response{Status: status, Fields: fields, Body: body, Close: closeConn}
}

// Challenge is the 401 answer with a digest challenge: WWW-Authenticate
// first, then the page fields, the logon page of 434 bytes and
// Connection: close, as the 401 capture shows (the parameter layout, no
// space before stale, too).
func (f Firmware) Challenge(realm, nonce string, stale bool) Response {
	v := `Digest realm="` + realm + `", nonce="` + nonce + `",stale="` + strconv.FormatBool(stale) + `",qop="auth"`
	first := [1]Field{{"WWW-Authenticate", v}}
	return f.page(first[:], 401, MsgLogonFailed, true, nil)
}

// cachedDate holds the Date value of the current second.
var cachedDate atomic.Pointer[dateValue]

type dateValue struct {
	sec int64
	s   string
}

// httpDate is the current time in the Date field's format, formatted
// once a second.
func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if v := cachedDate.Load(); v != nil && v.sec == sec {
		return v.s
	}
	v := &dateValue{sec: sec, s: now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")}
	cachedDate.Store(v)
	return v.s
}
