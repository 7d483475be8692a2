package amtsim

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/internal/recordings"
)

// rawResponse is one HTTP response as read off the wire.
type rawResponse struct {
	statusLine string
	names      []string // field names in order
	fields     map[string]string
	headLen    int // status line, fields and blank line
	chunkLines []string
	chunks     []int
	body       []byte
}

func readRaw(t *testing.T, br *bufio.Reader) rawResponse {
	t.Helper()
	var r rawResponse
	r.fields = map[string]string{}
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	r.statusLine = strings.TrimRight(line, "\r\n")
	r.headLen = len(line)
	for {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		r.headLen += len(line)
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		n, v, _ := strings.Cut(line, ": ")
		r.names = append(r.names, n)
		r.fields[n] = v
	}
	if r.fields["Transfer-Encoding"] != "chunked" {
		n, err := strconv.Atoi(r.fields["Content-Length"])
		require.NoError(t, err)
		r.body = make([]byte, n)
		_, err = io.ReadFull(br, r.body)
		require.NoError(t, err)
		return r
	}
	for {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimRight(line, "\r\n")
		n, err := strconv.ParseUint(line, 16, 32)
		require.NoError(t, err, line)
		r.chunkLines = append(r.chunkLines, line)
		r.chunks = append(r.chunks, int(n))
		data := make([]byte, n+2)
		_, err = io.ReadFull(br, data)
		require.NoError(t, err)
		r.body = append(r.body, data[:n]...)
		if n == 0 {
			return r
		}
	}
}

func readCapture(t *testing.T, name string) rawResponse {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(recordings.Dir(t), "_http", name))
	require.NoError(t, err)
	return readRaw(t, bufio.NewReader(bytes.NewReader(data)))
}

// TestHTTPLayerMatchesCaptures drives amtsim over a socket as the firmware
// of each _http capture and compares its HTTP layer with the capture:
// status line, field order, content type, chunk framing and the 401 page.
func TestHTTPLayerMatchesCaptures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version, file string
		buffer        int
	}{
		{"15.0.23.1706", "200_ChunkedGetResponse_AMT_GeneralSettings__rps__1.http.txt", 0x2FA},
		{"11.8.50.3425", "200_ChunkedGetResponse_AMT_GeneralSettings__rps__2.http.txt", 0x5E2},
	} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			want := readCapture(t, tc.file)
			opts := plainOpts()
			opts.Version = tc.version
			sim := startSim(t, opts)
			c, err := net.Dial("tcp", sim.Devices()[0].HTTPAddr())
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
			br := bufio.NewReader(c)
			send := func(body, auth string) {
				req := "POST /wsman HTTP/1.1\r\nHost: x\r\n"
				if auth != "" {
					req += "Authorization: " + auth + "\r\n"
				}
				_, err := io.WriteString(c, req+"Content-Type: application/soap+xml; charset=utf-8\r\nContent-Length: "+
					strconv.Itoa(len(body))+"\r\n\r\n"+body)
				require.NoError(t, err)
			}

			// The 401, against the 401 capture (AMT 15.0; the same layout is
			// served by every version [modelled]).
			send(getReq(uriGeneral), "")
			got := readRaw(t, br)
			chal := readCapture(t, "401_DigestChallenge__rps__1.http.txt")
			assert.Equal(t, chal.statusLine, got.statusLine)
			assert.Equal(t, chal.names, got.names, "field order, and no Date")
			assert.Equal(t, string(chal.body), string(got.body), "the page, %d bytes", len(chal.body))
			assert.Equal(t, chal.fields["Content-Length"], got.fields["Content-Length"])
			assert.Equal(t, "close", got.fields["Connection"])
			assert.Regexp(t, `^Digest realm="Digest:[0-9A-F]{32}", nonce="[^"]+",stale="false",qop="auth"$`, got.fields["WWW-Authenticate"])
			_, err = br.ReadByte()
			require.ErrorIs(t, err, io.EOF, "the 401 closes the connection")

			// The Get, against the 200 capture of this version.
			m := regexp.MustCompile(`realm="([^"]+)", nonce="([^"]+)"`).FindStringSubmatch(got.fields["WWW-Authenticate"])
			c2, err := net.Dial("tcp", sim.Devices()[0].HTTPAddr())
			require.NoError(t, err)
			defer c2.Close()
			require.NoError(t, c2.SetDeadline(time.Now().Add(10*time.Second)))
			c, br = c2, bufio.NewReader(c2)
			auth := authHeaderFor(t, m[1], m[2], testUser, testPass, 1)
			send(getReq(uriGeneral), auth)
			got = readRaw(t, br)
			assert.Equal(t, want.statusLine, got.statusLine)
			assert.Equal(t, want.names, got.names, "field order")
			for _, f := range []string{"Server", "X-Frame-Options", "Content-Type", "Transfer-Encoding"} {
				assert.Equal(t, want.fields[f], got.fields[f], f)
			}
			_, err = time.Parse(time.RFC1123, got.fields["Date"])
			require.NoError(t, err)
			assert.Equal(t, tc.buffer, want.headLen+want.chunks[0], "the capture's first chunk fills the buffer with the header")
			assert.Equal(t, tc.buffer, got.headLen+got.chunks[0], "so does amtsim's")
			for i, n := range got.chunks[1 : len(got.chunks)-2] {
				assert.Equal(t, tc.buffer, n, "chunk %d", i+2)
			}
			for _, l := range got.chunkLines[:len(got.chunkLines)-1] {
				assert.Regexp(t, `^[0-9A-F]{4}$`, l, "four upper-case hex digits")
			}
			assert.Equal(t, want.chunkLines[len(want.chunkLines)-1], got.chunkLines[len(got.chunkLines)-1], "the last chunk")
			assert.Equal(t, 0, got.chunks[len(got.chunks)-1])
			assert.Greater(t, len(got.chunks), 2, "the body spans several chunks")
			assert.True(t, bytes.HasPrefix(got.body, []byte(`<?xml version="1.0" encoding="UTF-8"?><a:Envelope `)))

			// The connection stays open for the next request.
			send(identifyBody, "")
			assert.Equal(t, "HTTP/1.1 200 OK", readRaw(t, br).statusLine)
		})
	}
}

// authHeaderFor is a qop=auth Authorization value for POST /wsman.
func authHeaderFor(t testing.TB, realm, nonce, user, pass string, nc int) string {
	t.Helper()
	ncs := "0000000" + strconv.Itoa(nc)
	ha1 := md5hexTest(user + ":" + realm + ":" + pass)
	ha2 := md5hexTest("POST:/wsman")
	resp := md5hexTest(ha1 + ":" + nonce + ":" + ncs + ":c0ffee:auth:" + ha2)
	return `Digest username="` + user + `", realm="` + realm + `", nonce="` + nonce + `", uri="/wsman", response="` + resp +
		`", qop=auth, nc=` + ncs + `, cnonce="c0ffee"`
}
