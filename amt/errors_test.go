package amt_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/wsman"
)

// allKinds are the failure classes; a classified error matches exactly one.
var allKinds = []error{
	amt.ErrUnreachable, amt.ErrNotDetected, amt.ErrTLS, amt.ErrAuthFailed,
	amt.ErrLockedOut, amt.ErrNotProvisioned, amt.ErrDevice, amt.ErrOutcomeUnknown,
}

// requireKind checks that err is an *amt.Error of class kind and of no other.
func requireKind(t *testing.T, err error, kind error) *amt.Error {
	t.Helper()
	require.Error(t, err)
	var ae *amt.Error
	require.ErrorAs(t, err, &ae)
	require.ErrorIs(t, err, kind, "%v", err)
	for _, k := range allKinds {
		if k != kind {
			assert.NotErrorIs(t, err, k, "%v", err)
		}
	}
	assert.Contains(t, err.Error(), kind.Error())
	return ae
}

func TestErrUnreachable(t *testing.T) {
	t.Parallel()
	sim, err := amtsim.New(amtsim.Options{})
	require.NoError(t, err)
	httpAddr, tlsAddr := sim.Devices()[0].HTTPAddr(), sim.Devices()[0].TLSAddr()
	require.NoError(t, sim.Close())
	ctx := context.Background()

	c := newClient(t, httpAddr, amt.WithCredentials(user, password))
	_, err = c.Identify(ctx)
	ae := requireKind(t, err, amt.ErrUnreachable)
	assert.Equal(t, httpAddr, ae.Host)
	assert.Equal(t, "Identify", ae.Op)
	var opErr *net.OpError
	assert.ErrorAs(t, err, &opErr, "the network error stays reachable")

	_, err = c.Inventory(ctx)
	ae = requireKind(t, err, amt.ErrUnreachable)
	assert.Equal(t, "login", ae.Op, "the login before the first operation is what found nobody")
	assert.True(t, strings.HasPrefix(err.Error(), "amt: "+httpAddr+": login: "), err.Error())

	tc := newClient(t, tlsAddr, amt.WithPinnedCertificate(strings.Repeat("00", 32)), amt.WithCredentials(user, password))
	_, err = tc.Inventory(ctx)
	requireKind(t, err, amt.ErrUnreachable)
}

func TestErrUnreachableOnTimeout(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelay, Action: "Get", Delay: time.Hour})
	c := newClient(t, sim.URL(), amt.WithCredentials(user, password), amt.WithTimeout(100*time.Millisecond))

	_, err := c.Inventory(context.Background())
	requireKind(t, err, amt.ErrUnreachable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestErrNotDetectedHTTPServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
	}{
		{"404 page", http.StatusNotFound},
		{"200 page", http.StatusOK},
		{"401 page", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Server", "nginx/1.25.3")
				w.Header().Set("Content-Type", "text/html")
				if tt.status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Basic realm="router"`)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, "<html><body><h1>Welcome to nginx!</h1><br></body></html>")
			}))
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, amt.WithCredentials(user, password))
			ctx := context.Background()

			_, err := c.Identify(ctx)
			requireKind(t, err, amt.ErrNotDetected)

			_, err = c.Inventory(ctx)
			if tt.status == http.StatusOK {
				// wsman reports an undecodable 200 as a malformed
				// response without its Server header, so only
				// Identify, the detection probe, can tell.
				require.Error(t, err)
				return
			}
			requireKind(t, err, amt.ErrNotDetected)
			var he *wsman.HTTPError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tt.status, he.StatusCode)
			assert.Equal(t, "nginx/1.25.3", he.Server)
		})
	}
}

func TestErrNotDetectedWSManServer(t *testing.T) {
	t.Parallel()
	// A WS-Management service that is not AMT: it answers Identify, but
	// without AMT's Server header and with another vendor.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/soap+xml; charset=UTF-8")
		_, _ = io.WriteString(w, foreignIdentifyResponse)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)

	_, err := c.Identify(context.Background())
	requireKind(t, err, amt.ErrNotDetected)
	assert.Contains(t, err.Error(), "Openwsman")
}

// foreignIdentifyResponse is an Identify answer of a WS-Man service that is
// not Intel AMT.
const foreignIdentifyResponse = `<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">
<s:Header/>
<s:Body><wsmid:IdentifyResponse>
<wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd</wsmid:ProtocolVersion>
<wsmid:ProductVendor>Openwsman Project</wsmid:ProductVendor>
<wsmid:ProductVersion>2.7.2</wsmid:ProductVersion>
</wsmid:IdentifyResponse></s:Body></s:Envelope>`

// garbageServer accepts connections, reads the request head and answers
// with bytes that are not HTTP.
func garbageServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				_, _ = io.WriteString(conn, "SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n")
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestErrNotDetectedGarbage(t *testing.T) {
	t.Parallel()
	addr := garbageServer(t)
	c := newClient(t, addr, amt.WithCredentials(user, password))
	ctx := context.Background()

	_, err := c.Identify(ctx)
	requireKind(t, err, amt.ErrNotDetected)
	_, err = c.Inventory(ctx)
	requireKind(t, err, amt.ErrNotDetected)
}

func TestErrNotDetectedTLSClientOnPlainPort(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{})
	c := newClient(t, dev.HTTPAddr(), amt.WithTLS(), amt.WithCredentials(user, password))
	require.True(t, strings.HasPrefix(c.WSMan().Endpoint(), "https://"))

	_, err := c.Identify(context.Background())
	requireKind(t, err, amt.ErrNotDetected)
	_, err = c.Inventory(context.Background())
	requireKind(t, err, amt.ErrNotDetected)
	assert.Zero(t, dev.Stats().FailedLogins)
}

func TestErrTLS(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	ctx := context.Background()

	t.Run("wrong pin", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, dev.TLSAddr(), amt.WithPinnedCertificate(strings.Repeat("ab:", 31)+"ab"), amt.WithCredentials(user, password))
		_, err := c.Inventory(ctx)
		requireKind(t, err, amt.ErrTLS)
		assert.ErrorIs(t, err, wsman.ErrCertificatePin)
		assert.Contains(t, err.Error(), sim.CertificateSHA256(), "the message names the certificate presented")
		_, err = c.Identify(ctx)
		requireKind(t, err, amt.ErrTLS)
	})
	t.Run("self-signed without pin", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, dev.TLSAddr(), amt.WithTLS(), amt.WithCredentials(user, password))
		_, err := c.Inventory(ctx)
		requireKind(t, err, amt.ErrTLS)
		var cve *tls.CertificateVerificationError
		require.ErrorAs(t, err, &cve)
		var unknown x509.UnknownAuthorityError
		assert.ErrorAs(t, err, &unknown)
	})
	t.Run("name mismatch", func(t *testing.T) {
		t.Parallel()
		// The certificate names 127.0.0.1, ::1 and localhost, not the
		// name checked here.
		roots := x509.NewCertPool()
		roots.AddCert(sim.Certificate())
		c := newClient(t, dev.TLSAddr(), amt.WithRootCAs(roots), amt.WithCredentials(user, password),
			amt.WithWSManOptions(wsman.WithTLS(wsman.TLSConfig{RootCAs: roots, ServerName: "amt.example.com"})))
		_, err := c.Inventory(ctx)
		requireKind(t, err, amt.ErrTLS)
	})
	assert.Zero(t, dev.Stats().HTTPRequests, "no request got past TLS")
}

func TestErrAuthFailed(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{LockoutAfter: 3})
	c := newClient(t, sim.URL(), amt.WithCredentials(user, "wrong"))
	ctx := context.Background()

	_, err := c.Inventory(ctx)
	ae := requireKind(t, err, amt.ErrAuthFailed)
	assert.Equal(t, "login", ae.Op)
	assert.ErrorIs(t, err, wsman.ErrUnauthorized)
	var he *wsman.HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusUnauthorized, he.StatusCode)
	assert.True(t, amt.IsAMTServer(he.Server))
	assert.Equal(t, 1, dev.Stats().FailedLogins, "exactly one failed login")
	sent := dev.Stats().HTTPRequests

	_, err = c.Inventory(ctx)
	requireKind(t, err, amt.ErrAuthFailed)
	assert.Equal(t, sent, dev.Stats().HTTPRequests, "a second Inventory sends nothing")
	assert.Equal(t, 1, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())

	// Identify needs no credentials and still works.
	id, err := c.Identify(ctx)
	require.NoError(t, err)
	assert.Equal(t, "11.8.50.3425", id.Firmware)
}

func TestErrAuthFailedWithoutCredentials(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())

	_, err := c.Inventory(context.Background())
	requireKind(t, err, amt.ErrAuthFailed)
	assert.Zero(t, dev.Stats().HTTPRequests, "nothing is sent without credentials")
}

func TestErrDeviceInjected(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	ctx := context.Background()

	t.Run("HTTP 500", func(t *testing.T) {
		dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultStatus, Action: "Enumerate", Status: http.StatusInternalServerError, Times: 1})
		c := newClient(t, sim.URL(), amt.WithCredentials(user, password))
		_, err := c.Inventory(ctx)
		requireKind(t, err, amt.ErrDevice)
		var he *wsman.HTTPError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, http.StatusInternalServerError, he.StatusCode)
		_, ok := amt.ReturnCode(err)
		assert.False(t, ok)

		_, err = c.Inventory(ctx)
		require.NoError(t, err, "the fault affected one request only")
	})
	t.Run("malformed body", func(t *testing.T) {
		dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultMalformedBody, Action: "Get", Times: 1})
		c := newClient(t, sim.URL(), amt.WithCredentials(user, password))
		_, err := c.Inventory(ctx)
		requireKind(t, err, amt.ErrDevice)
		assert.ErrorIs(t, err, wsman.ErrMalformedResponse)
	})
	t.Run("unknown class", func(t *testing.T) {
		c := newClient(t, sim.URL(), amt.WithCredentials(user, password))
		_, err := c.WSMan().Get(ctx, wsman.PrefixAMT+"AMT_NoSuchClass")
		require.ErrorIs(t, err, wsman.ErrDestinationUnreachable)
	})
}

// faultServer answers every request with a SOAP fault carrying AMT-STATUS
// status, with AMT's Server header.
func faultServer(t *testing.T, detail string) string {
	t.Helper()
	body := strings.Replace(amtStatusFault, "DETAIL", detail, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Server", "Intel(R) Active Management Technology 11.8.50.3425")
		w.Header().Set("Content-Type", "application/soap+xml; charset=UTF-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// amtStatusFault is an InternalError fault the way AMT writes one, with
// DETAIL to replace.
const amtStatusFault = `<?xml version="1.0" encoding="UTF-8"?><a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:c="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><a:Header><b:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</b:To><b:RelatesTo>0</b:RelatesTo><b:Action a:mustUnderstand="true">http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</b:Action><b:MessageID>uuid:00000000-8086-8086-8086-000000000001</b:MessageID></a:Header><a:Body><a:Fault><a:Code><a:Value>a:Receiver</a:Value><a:Subcode><a:Value>c:InternalError</a:Value></a:Subcode></a:Code><a:Reason><a:Text xml:lang="en-US">The service cannot comply with the request due to internal processing errors.</a:Text></a:Reason><a:Detail>DETAIL</a:Detail></a:Fault></a:Body></a:Envelope>`

func TestErrDeviceFaultWithAMTStatus(t *testing.T) {
	t.Parallel()
	c := newClient(t, faultServer(t, "AMT-STATUS 2053"), amt.WithCredentials(user, password))

	_, err := c.Inventory(context.Background())
	requireKind(t, err, amt.ErrDevice)
	code, ok := amt.ReturnCode(err)
	require.True(t, ok)
	assert.Equal(t, 2053, code)
	var f *wsman.Fault
	require.ErrorAs(t, err, &f)
	assert.ErrorIs(t, err, wsman.ErrInternalError)
}

func TestErrNotProvisionedFault(t *testing.T) {
	t.Parallel()
	c := newClient(t, faultServer(t, "AMT-STATUS 32"), amt.WithCredentials(user, password))

	_, err := c.Inventory(context.Background())
	requireKind(t, err, amt.ErrNotProvisioned)
	code, ok := amt.ReturnCode(err)
	require.True(t, ok)
	assert.Equal(t, 32, code)
	assert.Contains(t, err.Error(), "INVALID_PROVISIONING_STATE")
}

func TestContextCanceled(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL(), amt.WithCredentials(user, password))

	t.Run("before the call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Inventory(ctx)
		require.ErrorIs(t, err, context.Canceled)
		for _, k := range allKinds {
			assert.NotErrorIs(t, err, k)
		}
		_, err = c.Identify(ctx)
		require.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, amt.ErrUnreachable)
	})
	t.Run("during the call", func(t *testing.T) {
		dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelay, Action: "Enumerate", Delay: time.Hour, Times: 1})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			_, err := c.Inventory(ctx)
			errc <- err
		}()
		// Cancel once the delayed Enumerate has reached the device.
		for dev.Stats().Authenticated < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		err := <-errc
		require.ErrorIs(t, err, context.Canceled)
		var ae *amt.Error
		require.ErrorAs(t, err, &ae)
		assert.Nil(t, ae.Kind)
		assert.Equal(t, "Inventory", ae.Op)
		assert.NotErrorIs(t, err, amt.ErrUnreachable)
		assert.Contains(t, err.Error(), "context canceled")
	})
}

// A power change whose answer does not come before the timeout is outcome
// unknown: never unreachable, and the deadline stays visible.
func TestErrOutcomeUnknownOnTimeout(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL(), amt.WithCredentials(user, password), amt.WithTimeout(300*time.Millisecond))
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelay, Action: "RequestPowerStateChange", Delay: 10 * time.Second, Times: 1})
	err := c.Power.Set(context.Background(), power.Reset)
	requireKind(t, err, amt.ErrOutcomeUnknown)
	assert.ErrorIs(t, err, wsman.ErrOutcomeUnknown)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, strings.Count(err.Error(), sim.Devices()[0].HTTPAddr()), "the host appears once: %v", err)
}
