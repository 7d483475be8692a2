package fleet_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/credentials"
)

// ExampleRun resets a small simulated floor, two machines at a time, and
// prints each machine's outcome in address order.
func ExampleRun() {
	spec, err := amtsim.ParseFleetSpec(strings.NewReader(`{"groups": [
		{"name": "on", "weight": 2},
		{"name": "off", "weight": 1, "power_state": "off"},
		{"name": "other-password", "weight": 1, "accounts": [{"user": "admin", "password": "Nobody#Knows1"}]}
	]}`))
	if err != nil {
		log.Fatal(err)
	}
	sim, err := amtsim.New(amtsim.Options{DevicesCIDR: "127.107.1.0/29", DeviceCount: 4, Fleet: spec,
		TLSPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	var targets []string
	for _, d := range sim.Devices() {
		targets = append(targets, d.HTTPAddr())
	}
	seq, err := fleet.Run(context.Background(), targets, fleet.Task{Action: fleet.PowerReset}, fleet.Options{
		Credentials: credentials.Static(credentials.Credential{User: "admin", Password: "P@ssw0rd1"}),
		Concurrency: 2, BatchSize: 2, BatchInterval: 100 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}
	var results []fleet.Result
	for r := range seq {
		results = append(results, r)
	}
	slices.SortFunc(results, func(a, b fleet.Result) int {
		return netip.MustParseAddrPort(a.Host).Compare(netip.MustParseAddrPort(b.Host))
	})
	for _, r := range results {
		fmt.Printf("%s %s: %s\n", netip.MustParseAddrPort(r.Host).Addr(), r.Outcome, r.Message)
	}
	// Output:
	// 127.107.1.2 auth_failed: the device rejected every credential tried
	// 127.107.1.3 succeeded: on sent and accepted
	// 127.107.1.4 succeeded: reset sent and accepted
	// 127.107.1.5 succeeded: reset sent and accepted
}
