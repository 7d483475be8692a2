// Fleet powers on a simulated floor in staggered batches and prints one
// line per machine with its outcome, then reads the power state of every
// machine. The floor is started in-process: most machines are off, some
// have another password (a second credential profile knows it), one has a
// password nobody knows, one lost its power state, one address is empty.
// The lockout guard allows two failed logins per machine, and the
// simulated machines lock an account after three, so none is locked out.
//
//	go run ./examples/fleet
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/credentials"
)

const floor = `{"groups": [
	{"name": "off", "weight": 8, "power_state": "off"},
	{"name": "on", "weight": 2},
	{"name": "branch", "weight": 2, "power_state": "off", "accounts": [{"user": "admin", "password": "Branch#Pass1"}]},
	{"name": "unknown-password", "weight": 1, "accounts": [{"user": "admin", "password": "Nobody#Knows1"}]},
	{"name": "lost-state", "weight": 1, "power_state_lost": true}
]}`

func main() {
	spec, err := amtsim.ParseFleetSpec(strings.NewReader(floor))
	if err != nil {
		log.Fatal(err)
	}
	sim, err := amtsim.New(amtsim.Options{
		DevicesCIDR: "127.107.0.0/28", Fleet: spec, LockoutAfter: 3,
		TLSPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	var targets []string
	for _, d := range sim.Devices() {
		targets = append(targets, d.HTTPAddr())
	}
	_, port, _ := net.SplitHostPort(targets[0])
	targets = append(targets, net.JoinHostPort("127.107.0.15", port)) // nothing there

	// Two credential profiles: the default, and the branch offices'.
	ctx := context.Background()
	store := credentials.NewMemoryStore()
	for _, p := range []struct{ name, password string }{{"default", "P@ssw0rd1"}, {"branch", "Branch#Pass1"}} {
		err := store.PutProfile(ctx, credentials.Profile{Name: p.name, Entries: map[credentials.Technology]credentials.Credential{
			credentials.AMT: {User: "admin", Password: p.password}}})
		if err != nil {
			log.Fatal(err)
		}
	}
	if err := store.SetDefault(ctx, "default"); err != nil {
		log.Fatal(err)
	}
	resolver, err := credentials.NewResolver(store, credentials.AllowOtherProfiles(true),
		credentials.WithGuard(credentials.NewGuard(2, 5*time.Minute)))
	if err != nil {
		log.Fatal(err)
	}

	opts := fleet.Options{
		Credentials: resolver,
		Concurrency: 8,
		BatchSize:   5, BatchInterval: 500 * time.Millisecond, // five machines every half second
		Retries: 1, RetryDelay: 200 * time.Millisecond,
		Timeout:       10 * time.Second,
		Expire:        time.Now().Add(time.Minute),
		Worker:        "example",
		ClientOptions: []amt.Option{amt.WithPowerChangeGap(0)},
	}
	for _, task := range []fleet.Task{{Action: fleet.PowerOn}, {Action: fleet.PowerStatus}} {
		fmt.Printf("\n%s\n", task.Action)
		seq, err := fleet.Run(ctx, targets, task, opts)
		if err != nil {
			log.Fatal(err)
		}
		var results []fleet.Result
		counts := map[fleet.Outcome]int{}
		for r := range seq {
			results = append(results, r)
			counts[r.Outcome]++
		}
		slices.SortFunc(results, func(a, b fleet.Result) int {
			return netip.MustParseAddrPort(a.Host).Compare(netip.MustParseAddrPort(b.Host))
		})
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HOST\tOUTCOME\tCODE\tATTEMPTS\tMESSAGE")
		for _, r := range results {
			code := "-"
			if r.ReturnCodeName != nil {
				code = *r.ReturnCodeName
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.Host, r.Outcome, code, r.Attempts, r.Message)
		}
		_ = tw.Flush()
		for _, o := range fleet.Outcomes {
			if counts[o] > 0 {
				fmt.Printf("%s %d  ", o, counts[o])
			}
		}
		fmt.Println()
	}
	for _, d := range sim.Devices() {
		if d.LockedOut() {
			log.Fatalf("%s locked its account", d.HTTPAddr())
		}
	}
}
