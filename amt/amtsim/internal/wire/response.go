package wire

import (
	"net/http"
	"strconv"
)

// Field is one header field, written as given.
type Field struct{ Name, Value string }

// Response is what a handler answers. The wire writes the status line
// and Fields in their order, adding nothing: the framing fields are the
// caller's (Firmware builds them as the captures show).
type Response struct {
	Status int
	Fields []Field
	// Body is only read (the 401 pages share one).
	Body []byte
	// Chunk, if positive, sends the body chunked, each chunk's size in
	// four upper-case hex digits: the first chunk fills Chunk bytes
	// together with the status line and the header fields (the firmware
	// writes both from one buffer), every later one Chunk bytes, and the
	// last the rest; then the empty last chunk. Fields must then carry
	// Transfer-Encoding: chunked. Otherwise the body follows the header
	// as it is (Fields carry its Content-Length).
	Chunk int
	// Close ends the connection after the response.
	Close bool
	// Reset resets the connection (RST, no TLS close_notify) instead of
	// answering: with ResetAfter 0 nothing is written, with n > 0 the
	// status line, the fields and the framing of the first n body bytes
	// are (the size lines announce the whole chunks, so the peer sees the
	// body cut short).
	Reset      bool
	ResetAfter int
	// Release, if set, is given Body once the wire has copied it out
	// (never for a reset), so that its buffer can serve another answer.
	Release func([]byte)
}

// appendHead appends the status line, the fields and the blank line.
func appendHead(b []byte, r *Response) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(r.Status)...)
	b = append(b, "\r\n"...)
	for _, f := range r.Fields {
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

const hexDigits = "0123456789ABCDEF"

// appendChunkSize appends n in (at least) four upper-case hex digits and
// CRLF.
func appendChunkSize(b []byte, n int) []byte {
	var tmp [16]byte
	i := len(tmp)
	for n > 0 || i > len(tmp)-4 {
		i--
		tmp[i] = hexDigits[n&0xF]
		n >>= 4
	}
	b = append(b, tmp[i:]...)
	return append(b, "\r\n"...)
}

// Encode appends the whole response as the wire sends it; with limit >= 0
// the body stops after limit bytes, without the last chunk.
func (r *Response) Encode(b []byte, limit int) []byte {
	start := len(b)
	b = appendHead(b, r)
	body := r.Body
	cut := limit >= 0 && limit < len(body)
	if r.Chunk <= 0 {
		if cut {
			body = body[:limit]
		}
		return append(b, body...)
	}
	room := r.Chunk - (len(b) - start)
	if room <= 0 {
		room = r.Chunk
	}
	sent := 0
	for sent < len(body) {
		n := min(room, len(body)-sent)
		b = appendChunkSize(b, n)
		end := sent + n
		if cut && end > limit {
			return append(b, body[sent:limit]...)
		}
		b = append(b, body[sent:end]...)
		b = append(b, "\r\n"...)
		sent = end
		room = r.Chunk
		if cut && sent >= limit {
			return b
		}
	}
	return append(b, "0\r\n\r\n"...)
}
