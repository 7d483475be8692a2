// Discover finds Intel AMT machines with the discovery package: it starts
// a small mixed fleet of simulated machines in-process on 127.78.100.0/27
// (some addresses empty), sweeps the range without credentials, then
// inventories what it found with the simulator's password.
//
//	go run ./examples/discover
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/discovery"
	"github.com/amtkit/amtkit/credentials"
)

const cidr = "127.78.100.0/27"

func main() {
	state0, mode4 := 0, 4
	sim, err := amtsim.New(amtsim.Options{
		DevicesCIDR: cidr, DeviceCount: 10, Seed: 1,
		Password: "Example-P@ss1",
		Fleet: &amtsim.FleetSpec{Groups: []amtsim.DeviceGroup{
			{Name: "office", Weight: 3, Version: "16.1.25.2124"},
			{Name: "branch", Weight: 2, Version: "11.8.50.3425", ProvisioningMode: &mode4, SKU: 16400},
			{Name: "new", Weight: 2, Version: "12.0.67.1579", ProvisioningState: &state0},
			{Name: "secure", Weight: 2, Version: "15.0.42.2235", TLSOnly: true},
			{Name: "quiet", Weight: 1, NoRMCP: true},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	fmt.Printf("simulated fleet: %d machines in %s (UDP %d, TCP %d/%d)\n\n", len(sim.Devices()), cidr, sim.RMCPPort(), sim.HTTPPort(), sim.TLSPort())

	targets, err := discovery.ParseTargets(cidr)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := discovery.Options{
		// The simulator listens on ephemeral ports; real machines on
		// 623, 16992 and 16993, the defaults.
		RMCPPort: sim.RMCPPort(), HTTPPort: sim.HTTPPort(), TLSPort: sim.TLSPort(),
		RMCPWait: 300 * time.Millisecond,
		// Stage 3: log in to every provisioned machine found.
		Inventory: true,
		Source:    credentials.Static(credentials.Credential{User: "admin", Password: "Example-P@ss1"}),
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tCLASS\tVERSION\tMODE\tSKU\tTLS\tRMCP\tHOST NAME\tBOOT")
	for r, err := range discovery.Scan(ctx, targets, opts) {
		if err != nil {
			log.Fatal(err)
		}
		host, boot := "-", "-"
		if inv := r.Inventory; inv != nil {
			host, boot = inv.Hostname, strings.Join(inv.Boot[:min(3, len(inv.Boot))], ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\t%t\t%s\t%s\n", r.Address, r.Classification, r.Version,
			orDash(r.ProvisioningMode), orDash(r.SKU), r.TLS, r.RMCP, host, boot)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
