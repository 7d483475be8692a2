package amtsim

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawClient sends requests with hand-made Authorization headers, to control
// nonces and counts exactly.
type rawClient struct {
	t   *testing.T
	hc  *http.Client
	url string
}

func newRawClient(t *testing.T, baseURL string) *rawClient {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &rawClient{t: t, hc: &http.Client{Transport: tr}, url: baseURL + "/wsman"}
}

func (c *rawClient) send(body, authorization string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
	require.NoError(c.t, err)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp, data
}

// challenge fetches a fresh challenge.
func (c *rawClient) challenge() *digest.Challenge {
	c.t.Helper()
	resp, _ := c.send(getReq(uriGeneral), "")
	require.Equal(c.t, http.StatusUnauthorized, resp.StatusCode)
	chal, err := digest.FindChallenge(resp.Header)
	require.NoError(c.t, err)
	return chal
}

func authHeader(t *testing.T, chal *digest.Challenge, user, pass string, nc int) string {
	t.Helper()
	cred, err := digest.Digest(chal, digest.Options{Method: http.MethodPost, URI: "/wsman", Count: nc, Username: user, Password: pass})
	require.NoError(t, err)
	return cred.String()
}

func TestDigestNonceReuseAndCount(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	c := newRawClient(t, sim.URL())
	chal := c.challenge()
	require.Equal(t, sim.Devices()[0].Realm(), chal.Realm)
	// Reuse with increasing counts is accepted, gaps included; a repeated
	// or lower count is refused with stale="false" and not counted as a
	// failed login.
	for i, step := range []struct {
		nc int
		ok bool
	}{{1, true}, {2, true}, {3, true}, {3, false}, {2, false}, {1, false}, {7, true}, {7, false}, {8, true}} {
		resp, data := c.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, step.nc))
		if step.ok {
			require.Equal(t, http.StatusOK, resp.StatusCode, "step %d nc=%d: %s", i, step.nc, data)
			continue
		}
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "step %d nc=%d", i, step.nc)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `stale="false"`)
	}
	st := sim.Devices()[0].Stats()
	assert.Equal(t, 10, st.HTTPRequests)
	assert.Equal(t, 5, st.Authenticated)
	assert.Equal(t, 0, st.FailedLogins)
	assert.Equal(t, 4, st.RejectedNonceCounts)
	assert.Equal(t, 5, st.Actions[actGet])

	// A wrong password with a fresh count is a failed login; it does not
	// advance the nonce's count.
	resp, _ := c.send(getReq(uriGeneral), authHeader(t, chal, testUser, "wrong", 9))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, 1, sim.Devices()[0].Stats().FailedLogins)
	resp, _ = c.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, 9))
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// The library's transport (cached challenge, nc++) works too.
	wc := newClient(t, sim.URL(), testUser, testPass)
	for range 3 {
		resp, _ := wc.post(getReq(uriGeneral))
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}

func TestUnquotedQop(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	c := newRawClient(t, sim.URL())
	chal := c.challenge()
	h := authHeader(t, chal, testUser, testPass, 1)
	h = strings.Replace(h, `qop="auth"`, `qop=auth`, 1)
	h = regexp.MustCompile(`nc="?([0-9a-f]{8})"?`).ReplaceAllString(h, `nc=$1`)
	resp, data := c.send(getReq(uriGeneral), h)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", h, data)
}

var challengeRE = regexp.MustCompile(`^Digest realm="Digest:[0-9A-F]{32}", nonce="[A-Za-z0-9+/]{32}",stale="false",qop="auth"$`)

func Test401Shape(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	conn, err := net.Dial("tcp", sim.Devices()[0].HTTPAddr())
	require.NoError(t, err)
	defer conn.Close()
	body := getReq(uriGeneral)
	_, err = io.WriteString(conn, "POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml; charset=utf-8\r\nContent-Length: "+
		strconv.Itoa(len(body))+"\r\n\r\n"+body)
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	raw, err := io.ReadAll(conn) // Connection: close ends the stream
	require.NoError(t, err)
	head, page, ok := strings.Cut(string(raw), "\r\n\r\n")
	require.True(t, ok)
	lines := strings.Split(head, "\r\n")
	require.Equal(t, "HTTP/1.1 401 Unauthorized", lines[0])
	headers := map[string]string{}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ": ")
		headers[k] = v
	}
	assert.Regexp(t, challengeRE, headers["WWW-Authenticate"], "exact header name and layout")
	assert.Equal(t, "Intel(R) Active Management Technology 11.8.50.3425", headers["Server"])
	assert.Equal(t, "close", headers["Connection"])
	assert.Equal(t, "text/html", headers["Content-Type"])
	assert.Equal(t, strconv.Itoa(len(page)), headers["Content-Length"])
	assert.Contains(t, page, "Log on failed. Incorrect user name or password, or user account temporarily locked.")
}

func TestStaleNonce(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	d := sim.Devices()[0]
	c := newRawClient(t, sim.URL())
	chal := c.challenge()
	resp, _ := c.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, 1))
	require.Equal(t, http.StatusOK, resp.StatusCode)

	d.ExpireNonces()
	resp, _ = c.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, 2))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `,stale="true",`)
	fresh, err := digest.FindChallenge(resp.Header)
	require.NoError(t, err)
	require.NotEqual(t, chal.Nonce, fresh.Nonce)

	// An expired nonce is stale whatever the digest; a wrong password on
	// it is not counted (the device cannot tell it from a late request).
	resp, _ = c.send(getReq(uriGeneral), authHeader(t, chal, testUser, "wrong", 3))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `stale="true"`)
	assert.Equal(t, 2, d.Stats().StaleNonces)

	resp, _ = c.send(getReq(uriGeneral), authHeader(t, fresh, testUser, testPass, 1))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 0, d.Stats().FailedLogins)

	// The library transport recovers from a stale nonce by itself.
	wc := newClient(t, sim.URL(), testUser, testPass)
	resp, _ = wc.post(getReq(uriGeneral))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	d.ExpireNonces()
	resp, _ = wc.post(getReq(uriGeneral))
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestNonceLifetime(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.NonceLifetime = 50 * time.Millisecond
	sim := startSim(t, opts)
	c := newRawClient(t, sim.URL())
	chal := c.challenge()
	time.Sleep(100 * time.Millisecond)
	resp, _ := c.send(getReq(uriGeneral), authHeader(t, chal, testUser, testPass, 1))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `stale="true"`)
}

func TestForeignNonceNotCounted(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	d := sim.Devices()[0]
	c := newRawClient(t, sim.URL())
	chal := c.challenge()
	last := "A" // a last character that differs from the real one
	if strings.HasSuffix(chal.Nonce, last) {
		last = "B"
	}
	for _, nonce := range []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "garbage", chal.Nonce[:31] + last} {
		forged := *chal
		forged.Nonce = nonce
		for _, pass := range []string{"wrong", testPass} {
			resp, _ := c.send(getReq(uriGeneral), authHeader(t, &forged, testUser, pass, 1))
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `stale="true"`, "a nonce the device never issued")
		}
	}
	assert.Equal(t, 6, d.Stats().StaleNonces)
	// Nonces of another device are foreign too.
	assert.Equal(t, 0, d.Stats().FailedLogins)
	assert.False(t, d.LockedOut())
	// Requests without credentials and other schemes never count.
	resp, _ := c.send(getReq(uriGeneral), "Basic YWRtaW46UEBzc3cwcmQx")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, 0, d.Stats().FailedLogins)
}

func TestLockout(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.LockoutAfter = 3
	opts.LockoutDuration = 300 * time.Millisecond
	opts.Accounts = []Account{{User: "operator", Password: "Op3rator!"}}
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	c := newRawClient(t, sim.URL())
	login := func(user, pass string) int {
		resp, _ := c.send(getReq(uriGeneral), authHeader(t, c.challenge(), user, pass, 1))
		return resp.StatusCode
	}

	// A success resets the consecutive count.
	require.Equal(t, http.StatusUnauthorized, login(testUser, "wrong"))
	require.Equal(t, http.StatusUnauthorized, login("nobody", "x")) // unknown user counts
	require.Equal(t, http.StatusOK, login(testUser, testPass))
	require.Equal(t, http.StatusUnauthorized, login("operator", "wrong"))
	require.Equal(t, http.StatusUnauthorized, login(testUser, "wrong"))
	require.False(t, d.LockedOut())
	require.Equal(t, 4, d.Stats().FailedLogins)

	// The third consecutive failure, on any account, locks the device.
	require.Equal(t, http.StatusUnauthorized, login("operator", "wrong"))
	require.True(t, d.LockedOut())
	require.Equal(t, 5, d.Stats().FailedLogins)

	// Every login is refused, correct ones included; refusals are not counted.
	require.Equal(t, http.StatusUnauthorized, login(testUser, testPass))
	require.Equal(t, http.StatusUnauthorized, login("operator", "Op3rator!"))
	require.Equal(t, 5, d.Stats().FailedLogins)

	// Identify still answers.
	resp, _ := c.send(identifyBody, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.Eventually(t, func() bool { return !d.LockedOut() }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, http.StatusOK, login(testUser, testPass))
	require.Equal(t, http.StatusOK, login("operator", "Op3rator!"))
}

func TestIdentifyWithoutCredentials(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	c := newRawClient(t, sim.URL())
	for _, auth := range []string{"", `Digest username="admin", realm="x", nonce="y", uri="/wsman", response="0", qop=auth, nc=00000001, cnonce="z"`} {
		resp, data := c.send(identifyBody, auth)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		assert.Equal(t, "Intel(R) Active Management Technology 11.8.50.3425", resp.Header.Get("Server"))
		root := parseDoc(t, data)
		ir := find(root, nsIdentity, "IdentifyResponse")
		require.NotNil(t, ir)
		assert.Equal(t, uriProtocol, textOf(ir, nsIdentity, "ProtocolVersion"))
		assert.Equal(t, "Intel(r)", textOf(ir, nsIdentity, "ProductVendor"))
		assert.Equal(t, "AMT 11.8", textOf(ir, nsIdentity, "ProductVersion"))
		assert.Equal(t, "1.0.0", textOf(ir, nsDASH, "DASHVersion"))
		assert.Equal(t, "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/digest", textOf(ir, nsIdentity, "SecurityProfileName"))
	}
	st := sim.Devices()[0].Stats()
	assert.Equal(t, 2, st.Actions[identifyAction])
	assert.Equal(t, 0, st.FailedLogins)
}

func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	wc := newClient(t, sim.URL(), testUser, testPass)

	// Other paths: 401 without credentials, 404 after authentication.
	raw := newRawClient(t, sim.URL())
	raw.url = sim.URL() + "/index.htm"
	resp, _ := raw.send("", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	wc.url = sim.URL() + "/index.htm"
	resp, _ = wc.post(getReq(uriGeneral))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Server"))
	wc.url = sim.URL() + "/wsman"

	// Malformed XML: HTML 400, after authentication only.
	resp, _ = raw.send("<oops", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	for _, bad := range []string{"<oops", "<a></b>", "not xml", `<x xmlns="urn:x"/>`} {
		resp, data := wc.post(bad)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
		assert.Equal(t, "text/html", resp.Header.Get("Content-Type"))
		assert.Contains(t, string(data), "Bad Request")
		assert.NotEmpty(t, resp.Header.Get("Server"))
	}

	// Oversized bodies.
	big := getReq(uriGeneral) + strings.Repeat(" ", maxBodySize)
	resp, _ = raw.send(big, "")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
