package amtsim_test

import (
	"fmt"
	"log"
	"net/netip"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// ExampleDevice_HostPacket runs simulated host traffic through System
// Defense. With no policy active nothing is filtered; a console creates
// filters and policies over WS-Man (see the package tests), and every
// packet then gets the verdict of the port's active policy.
func ExampleDevice_HostPacket() {
	sim, err := amtsim.New(amtsim.Options{TLSPort: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	d := sim.Devices()[0]
	v := d.HostPacket(amtsim.Packet{
		Direction: amtsim.HostTransmit,
		Src:       netip.MustParseAddr(d.IP()),
		Dst:       netip.MustParseAddr("10.0.0.5"),
		Protocol:  6,
		SrcPort:   50000,
		DstPort:   443,
	})
	fmt.Println(v.Pass, v.Rule, d.ActiveDefensePolicy(0) == "")
	// Output: true no-policy true
}
