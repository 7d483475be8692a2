package main

// The demo's fleet job: a staggered power-on of a simulated floor with a
// few failures, worked in process over a throw-away state database, then
// its report.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/amt/fleet/durable"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/statedb"
)

// demoFloorCIDR is the demo floor's loopback range.
const demoFloorCIDR = "127.78.201.0/28"

func demoJob(cmd *cobra.Command, output string) error {
	out, ctx := cmd.OutOrStdout(), cmd.Context()
	sim, err := amtsim.New(amtsim.Options{
		DevicesCIDR: demoFloorCIDR, User: demoUser, Password: demoPassword, PowerState: 8,
		TLSPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1,
		Logger: slog.New(slog.DiscardHandler),
		Fleet: &amtsim.FleetSpec{Groups: []amtsim.DeviceGroup{
			{Name: "floor", Weight: 10, PowerState: "off"},
			{Name: "renamed", Weight: 1, PowerState: "off", Accounts: []amtsim.Account{{User: demoUser, Password: "Someone-Else1"}}},
			{Name: "printer", Weight: 1, NoAMT: true},
			{Name: "gone", Weight: 1, Empty: true},
			{Name: "on", Weight: 1, PowerState: "on"},
		}},
	})
	if err != nil {
		return fmt.Errorf("starting the simulated floor: %w", err)
	}
	defer sim.Close()
	dir, err := os.MkdirTemp("", "amtctl-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	state := filepath.Join(dir, "state")
	db, err := statedb.Open(ctx, filepath.Join(state, statedb.FileName))
	if err != nil {
		return fmt.Errorf("demo state database: %w", err)
	}
	defer db.Close()
	if err := db.Credentials().PutProfile(ctx, credentials.Profile{Name: "floor", Default: true,
		Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: demoUser, Password: demoPassword}}}); err != nil {
		return err
	}
	m, err := durable.NewManager(db)
	if err != nil {
		return err
	}

	targets, err := expandTargets([]string{demoFloorCIDR}, sim.HTTPPort(), defaultMaxTargets)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nA fleet job: power on a floor of %d simulated machines in %s, four at a time, one batch a second.\n", len(targets), demoFloorCIDR)
	fmt.Fprintf(out, "One machine has another password, one address is a printer (no AMT), one is empty, one is on already.\n")
	fmt.Fprintf(out, "$ amtctl job run power-on --targets %s --port %d --profile floor --batch-size 4 --batch-interval 1s\n", demoFloorCIDR, sim.HTTPPort())
	id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerOn}, Targets: targets, Profile: "floor",
		BatchSize: 4, BatchInterval: time.Second, Timeout: 10 * time.Second, Actor: actorName(cmd)})
	if err != nil {
		return err
	}
	wf := &workerFlags{name: "demo", poll: 50 * time.Millisecond, jobTimeout: durable.DefaultJobTimeout, rescueAfter: durable.DefaultRescueAfter}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	sub := *cmd
	sub.SetContext(wctx)
	err = followJob(&sub, m, db, id, output, wf, true)
	var je *jobEndError
	switch {
	case errors.As(err, &je):
		fmt.Fprintf(out, "amtctl: %s\n(exit %d: not every machine succeeded)\n", je.msg, je.code)
	case err != nil:
		return err
	}
	changed := 0
	for _, d := range sim.Devices() {
		changed += len(d.PowerRequests())
	}
	fmt.Fprintf(out, "(the simulated floor received %d power-on requests: one per machine that was off and let us in, none twice)\n", changed)
	fmt.Fprintf(out, "\n$ amtctl job report %d\n", id)
	return printJobReport(&sub, m, id, nil, output)
}
