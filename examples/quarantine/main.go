// Quarantine cuts a machine off from everything but its remediation
// servers, with a timeout as a safety net, shows what the filters matched
// and lifts the quarantine again. With no AMT_HOST it starts a simulated
// machine in-process and sends simulated host traffic through it.
//
//	go run ./examples/quarantine
//	AMT_HOST=192.0.2.10 AMT_PASSWORD=... go run ./examples/quarantine
//
// policy.yaml beside it is a custom policy for "amtctl defense apply".
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/defense"
)

func main() {
	host, user, password := os.Getenv("AMT_HOST"), os.Getenv("AMT_USER"), os.Getenv("AMT_PASSWORD")
	if user == "" {
		user = "admin"
	}
	var dev *amtsim.Device
	if host == "" {
		sim, err := amtsim.New(amtsim.Options{User: user, Password: "Example-P@ss1"})
		if err != nil {
			log.Fatal(err)
		}
		defer sim.Close()
		dev = sim.Devices()[0]
		host, password = dev.HTTPAddr(), "Example-P@ss1"
		fmt.Println("simulated machine at", host)
	}
	c, err := amt.New(host, amt.WithCredentials(user, password))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	caps, err := c.Defense.Capabilities(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("mode %s, at most %d policies and %d filters\n", caps.Mode, caps.MaxPolicies, caps.MaxFilters)

	mgmt, _ := defense.ParseEndpoint("10.0.0.10:443")
	patch, _ := defense.ParseEndpoint("10.0.2.0/24:80,443")
	p, err := defense.Quarantine(defense.QuarantineOptions{
		Allow:      []defense.Endpoint{mgmt, patch},
		DNS:        []netip.Addr{netip.MustParseAddr("10.0.0.53")},
		Statistics: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	// The check runs offline; Apply runs it again and refuses on failure.
	fmt.Print(defense.Check(p, p.Flows))

	res, err := c.Defense.Apply(ctx, p, defense.ApplyOptions{Timeout: 30 * time.Minute})
	var refused *defense.RefusedError
	switch {
	case errors.As(err, &refused):
		log.Fatalf("refused, nothing sent: %v", refused)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Printf("quarantined: policy %s with %d filters in %d round trips\n", res.PolicyID, len(res.FilterIDs), res.RoundTrips)

	if dev != nil {
		hostIP := netip.MustParseAddr(dev.IP())
		for _, peer := range []string{"10.0.0.10", "198.51.100.7"} {
			srv := netip.MustParseAddr(peer)
			out := dev.HostPacket(amtsim.Packet{Direction: amtsim.HostTransmit, Src: hostIP, Dst: srv, Protocol: 6, SrcPort: 50000, DstPort: 443})
			fmt.Printf("host -> %s:443: pass=%v (%s)\n", peer, out.Pass, out.Rule)
		}
	}
	stats, err := c.Defense.Statistics(ctx, false)
	if err != nil {
		log.Fatal(err)
	}
	for _, ps := range stats {
		for _, f := range ps.Filters {
			if f.Matched > 0 {
				fmt.Printf("%s %s matched %d\n", ps.Interface, f.Name, f.Matched)
			}
		}
		if ps.TxDefault != nil {
			fmt.Printf("%s tx default matched %d\n", ps.Interface, *ps.TxDefault)
		}
	}
	rm, err := c.Defense.Remove(ctx, defense.RemoveOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("removed %d policy and %d filters\n", len(rm.Policies), len(rm.Filters))
}
