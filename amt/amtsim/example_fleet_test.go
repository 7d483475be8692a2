package amtsim_test

import (
	"fmt"
	"log"
	"net"
	"strings"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// ExampleParseFleetSpec starts a sparse, mixed fleet and sends one RMCP
// presence ping to each of its devices.
func ExampleParseFleetSpec() {
	spec, err := amtsim.ParseFleetSpec(strings.NewReader(`{"groups": [
		{"name": "acm", "weight": 2, "version": "16.1.25.2124"},
		{"name": "tls", "weight": 1, "version": "11.8.50.3425", "tls_only": true, "provisioning_mode": 4},
		{"name": "new", "weight": 1, "version": "12.0.67.1579", "provisioning_state": 0}
	]}`))
	if err != nil {
		log.Fatal(err)
	}
	sim, err := amtsim.New(amtsim.Options{DevicesCIDR: "127.77.30.0/24", DeviceCount: 4, Fleet: spec})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()

	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	for _, d := range sim.Devices() {
		to, _ := net.ResolveUDPAddr("udp4", d.RMCPAddr())
		ping := []byte{0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, 0x01, 0x00, 0x00}
		if _, err := conn.WriteToUDP(ping, to); err != nil {
			log.Fatal(err)
		}
		pong := make([]byte, 64)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := conn.ReadFromUDP(pong)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-3s %s pong=%d bytes port=%d state=%d\n", d.Group(), d.Version(), n,
			int(pong[16])<<8|int(pong[17]), pong[19]&3)
	}
	// Unordered output:
	// acm 16.1.25.2124 pong=28 bytes port=16993 state=2
	// acm 16.1.25.2124 pong=28 bytes port=16993 state=2
	// tls 11.8.50.3425 pong=28 bytes port=16993 state=2
	// new 12.0.67.1579 pong=28 bytes port=0 state=0
}
