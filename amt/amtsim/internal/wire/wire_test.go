package wire

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/internal/recordings"
)

// capture reads an _http transcript and splits it into its header fields
// and its decoded body.
func capture(t *testing.T, name string) (raw []byte, fields []Field, body []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(recordings.Dir(t), "_http", name))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	require.NoError(t, err)
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		n, v, _ := strings.Cut(line, ": ")
		fields = append(fields, Field{n, v})
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	require.NoError(t, err)
	return raw, fields, buf.Bytes()
}

// withDate replaces the Date field's value, so that an encoding can be
// compared with a capture byte for byte.
func withDate(r Response, date string) Response {
	for i := range r.Fields {
		if r.Fields[i].Name == "Date" {
			r.Fields[i].Value = date
		}
	}
	return r
}

// TestSOAPFramingMatchesCaptures encodes the captured bodies as the
// firmware of each capture and compares the result with the capture byte
// for byte: status line, field order and values, chunk sizes and where
// the chunks are cut.
func TestSOAPFramingMatchesCaptures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		fw   Firmware
	}{
		{"200_ChunkedGetResponse_AMT_GeneralSettings__rps__1.http.txt", Firmware{Version: "15.0.23.1706", Major: 15}},
		{"200_ChunkedGetResponse_AMT_GeneralSettings__rps__2.http.txt", Firmware{Version: "11.8.50.3425", Major: 11}},
	} {
		raw, fields, body := capture(t, tc.file)
		date := fields[0].Value
		require.Equal(t, "Date", fields[0].Name)
		r := withDate(tc.fw.SOAP(200, body), date)
		assert.Equal(t, fields, r.Fields, tc.file)
		assert.Equal(t, string(raw), string(r.Encode(nil, -1)), tc.file)
	}
}

func TestPagesMatchCaptures(t *testing.T) {
	t.Parallel()
	fw := Firmware{Version: "15.0.23.1706", Major: 15}
	raw, _, _ := capture(t, "401_DigestChallenge__rps__1.http.txt")
	r := fw.Challenge("Digest:727734D63A1FC0423736E48DA554E462", "B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA", false)
	assert.Equal(t, string(raw), string(r.Encode(nil, -1)))
	assert.Len(t, r.Body, 434)
	assert.True(t, r.Close)

	// The 400 capture's text was edited by its project; the layout is the
	// firmware's.
	raw, _, _ = capture(t, "400_BadRequestHtml__rps__1.http.txt")
	r = fw.Page(400, `Bad Request. Missing required parameter "TESTING"`, true)
	assert.Equal(t, string(raw), string(r.Encode(nil, -1)))
}

func TestChunkSizes(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "0000\r\n", string(appendChunkSize(nil, 0)))
	assert.Equal(t, "02FA\r\n", string(appendChunkSize(nil, 0x2FA)))
	assert.Equal(t, "1ABCD\r\n", string(appendChunkSize(nil, 0x1ABCD)))

	fw := Firmware{Version: "16.1.25.2124", Major: 16}
	body := bytes.Repeat([]byte("#"), 3000)
	r := fw.SOAP(200, body)
	enc := r.Encode(nil, -1)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(enc)), nil)
	require.NoError(t, err)
	var got bytes.Buffer
	_, err = got.ReadFrom(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, body, got.Bytes(), "a standard reader decodes the framing")
	assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)

	// Cut after 1000 body bytes: the head and the framing of those bytes,
	// no last chunk.
	cut := r.Encode(nil, 1000)
	assert.True(t, bytes.HasPrefix(enc, cut))
	assert.False(t, bytes.HasSuffix(cut, []byte("0\r\n\r\n")))
	assert.Equal(t, 1000, bytes.Count(cut, []byte("#")))

	// A header longer than the buffer: the first chunk is a whole buffer.
	long := Response{Status: 200, Fields: []Field{{"X", strings.Repeat("y", 800)}}, Body: body, Chunk: ChunkBuffer}
	assert.Contains(t, string(long.Encode(nil, -1)), "\r\n\r\n02FA\r\n")
}
