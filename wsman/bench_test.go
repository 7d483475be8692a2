package wsman

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"
	"github.com/icholy/digest"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/internal/recordings"
)

const (
	benchUser     = "admin"
	benchPassword = "P@ssw0rd1"
)

func benchSim(b *testing.B) (*amtsim.Server, *amtsim.Device) {
	b.Helper()
	sim, err := amtsim.New(amtsim.Options{User: benchUser, Password: benchPassword, TLSPort: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sim.Close() })
	return sim, sim.Devices()[0]
}

// BenchmarkGet measures a Get of AMT_GeneralSettings through the SDK:
// envelope built with etree, digest with nonce reuse, response decoded
// into an Instance. roundtrips/op counts HTTP requests the device saw.
func BenchmarkGet(b *testing.B) {
	sim, dev := benchSim(b)
	c, err := NewClient(sim.URL()+"/wsman", WithCredentials(benchUser, benchPassword))
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()
	uri := PrefixAMT + "AMT_GeneralSettings"
	if _, err := c.Get(ctx, uri); err != nil { // learn the challenge
		b.Fatal(err)
	}
	start := dev.Stats().HTTPRequests
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in, err := c.Get(ctx, uri)
		if err != nil {
			b.Fatal(err)
		}
		if in.Class != "AMT_GeneralSettings" {
			b.Fatal(in.Class)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(dev.Stats().HTTPRequests-start)/float64(b.N), "roundtrips/op")
}

// BenchmarkBaselinePost is the floor BenchmarkGet is held against: a plain
// net/http POST of the same envelope bytes to the same simulated device,
// with a digest Authorization header computed for each request from the
// reused nonce, and the response body read but not decoded.
func BenchmarkBaselinePost(b *testing.B) {
	sim, dev := benchSim(b)
	uri := PrefixAMT + "AMT_GeneralSettings"
	body, err := (&request{action: ActionGet, resourceURI: uri, messageID: randomMessageID(), timeout: DefaultTimeout}).encode()
	if err != nil {
		b.Fatal(err)
	}
	url := sim.URL() + "/wsman"
	hc := &http.Client{Transport: newBaseTransport()}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post(url, "application/soap+xml; charset=utf-8", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	chal, err := digest.FindChallenge(resp.Header)
	if err != nil {
		b.Fatal(err)
	}
	start := dev.Stats().HTTPRequests
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cred, err := digest.Digest(chal, digest.Options{Method: "POST", URI: "/wsman", Count: i + 1, Username: benchUser, Password: benchPassword})
		if err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
		req.Header.Set("Authorization", cred.String())
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || n == 0 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(dev.Stats().HTTPRequests-start)/float64(b.N), "roundtrips/op")
}

// BenchmarkParseMessage decodes a real AMT_GeneralSettings Get response
// into an Instance.
func BenchmarkParseMessage(b *testing.B) {
	dir := recordings.Dir(b)
	data, err := os.ReadFile(filepath.Join(dir, "AMT_GeneralSettings", "GetResponse__gwm__1.resp.xml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m, err := ParseMessage(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Instance(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeInvoke builds a RequestPowerStateChange envelope with etree.
func BenchmarkEncodeInvoke(b *testing.B) {
	uri := PrefixCIM + "CIM_PowerManagementService"
	params := []Property{Param("PowerState", "10"), RefParam("ManagedElement", EPR{ResourceURI: PrefixCIM + "CIM_ComputerSystem",
		Selectors: []Selector{Sel("CreationClassName", "CIM_ComputerSystem"), Sel("Name", "ManagedSystem")}})}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := &request{action: uri + "/RequestPowerStateChange", resourceURI: uri, messageID: "uuid:1", timeout: DefaultTimeout,
			body: func(body *etree.Element) { writeInstanceElement(body, uri, "RequestPowerStateChange_INPUT", params) }}
		if _, err := r.encode(); err != nil {
			b.Fatal(err)
		}
	}
}
