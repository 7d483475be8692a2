package amtsim_test

import (
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// Example starts a simulated device in-process, probes it without
// credentials the way discovery tools do, and reads its identity.
func Example() {
	sim, err := amtsim.New(amtsim.Options{TLSPort: -1}) // plain HTTP on a free port
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	// An unauthenticated request gets the digest challenge; the Server
	// header gives the firmware version.
	resp, err := client.Post(sim.URL()+"/wsman", "application/soap+xml; charset=utf-8", strings.NewReader("<x/>"))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Server"))
	fmt.Println(strings.Contains(resp.Header.Get("WWW-Authenticate"), sim.Devices()[0].Realm()))

	// WS-Man Identify is answered without credentials.
	const identify = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>`
	resp, err = client.Post(sim.URL()+"/wsman", "application/soap+xml; charset=utf-8", strings.NewReader(identify))
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var env struct {
		Vendor  string `xml:"Body>IdentifyResponse>ProductVendor"`
		Version string `xml:"Body>IdentifyResponse>ProductVersion"`
	}
	if err := xml.Unmarshal(body, &env); err != nil {
		log.Fatal(err)
	}
	fmt.Println(env.Vendor, env.Version)
	// Output:
	// 401 Intel(R) Active Management Technology 11.8.50.3425
	// true
	// Intel(r) AMT 11.8
}
