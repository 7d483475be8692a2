package wsman_test

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/wsman"
)

// TestReadResponseHostile: an answer that is not well-formed HTTP/1.x,
// ends early or is larger than allowed fails with an error, never a panic
// or a body it did not promise; framing AMT uses (upper-case chunk sizes
// cut mid-token, as the captures show) reads whole.
func TestReadResponseHostile(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 5000)
	for _, tc := range []struct {
		name, in string
		max      int64
		body     string
		tooLarge bool
		eof      bool
		closes   bool
	}{
		{name: "amt chunks", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0002\r\n<a\r\n0002\r\n/>\r\n0\r\n\r\n", body: "<a/>"},
		{name: "length", in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", body: "abc"},
		{name: "to the end", in: "HTTP/1.0 200 OK\r\n\r\nabc", body: "abc", closes: true},
		{name: "interim then answer", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx", body: "x", closes: true},
		{name: "empty"},
		{name: "not http", in: "SSH-2.0-OpenSSH\r\n\r\n"},
		{name: "http/2 status", in: "HTTP/2 200 OK\r\n\r\n"},
		{name: "short status", in: "HTTP/1.1 20\r\n\r\n"},
		{name: "letters for a code", in: "HTTP/1.1 2x0 OK\r\n\r\n"},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n"},
		{name: "negative length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"},
		{name: "two lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
		{name: "gzip", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"},
		{name: "truncated head", in: "HTTP/1.1 200 OK\r\nContent-Le", eof: true},
		{name: "truncated body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", eof: true},
		{name: "truncated chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0010\r\nabc", eof: true},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
		{name: "huge chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFF\r\n" + long, max: 1024, tooLarge: true},
		// A chunk that says it is larger than the bound fails before it
		// is read, as a Content-Length larger than the bound does.
		{name: "huge chunk cut short", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFF\r\nabc", max: 1024, tooLarge: true},
		{name: "chunks past the bound", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("100\r\n"+long[:256]+"\r\n", 5) + "0\r\n\r\n", max: 1024, tooLarge: true},
		{name: "chunk size past 2^60", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000001\r\na\r\n0\r\n\r\n"},
		{name: "chunk longer than its size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"},
		{name: "chunk size then junk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2x\r\nab\r\n0\r\n\r\n"},
		{name: "empty chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nab\r\n0\r\n\r\n"},
		{name: "no last chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", eof: true},
		{name: "no end of trailer", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n", eof: true},
		{name: "extensions, lower case, trailer", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 ;x=1\r\n<a\r\n00a;y\r\n b=\"c\"/>  \r\n0\r\nX-T: 1\r\n\r\n", body: "<a b=\"c\"/>  "},
		{name: "many chunks", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("220\r\n"+long[:0x220]+"\r\n", 9) + "0\r\n\r\n", body: strings.Repeat(long[:0x220], 9)},
		{name: "huge length", in: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", max: 1024, tooLarge: true},
		{name: "body past the bound", in: "HTTP/1.0 200 OK\r\n\r\n" + long, max: 1024, tooLarge: true},
		{name: "header past the buffer", in: "HTTP/1.1 200 OK\r\nX: " + long + "\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := &wsman.HTTPExchange{MaxBody: tc.max}
			err := x.ReadResponse(bufio.NewReaderSize(strings.NewReader(tc.in), 4096))
			if tc.body != "" {
				require.NoError(t, err)
				assert.Equal(t, tc.body, string(x.Body))
				assert.Equal(t, 200, x.StatusCode)
				assert.Equal(t, tc.closes, x.Close)
				return
			}
			require.Error(t, err)
			assert.Nil(t, x.Body, "no body from a failed read")
			if tc.tooLarge {
				assert.ErrorIs(t, err, wsman.ErrResponseTooLarge)
			}
			if tc.eof {
				assert.True(t, errors.Is(err, io.ErrUnexpectedEOF), "%v", err)
			}
		})
	}
}
