package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/power"
)

const (
	demoUser     = "admin"
	demoPassword = "Demo-P@ss1"
	// demoLockoutAfter is how many failed logins the simulated device
	// takes before it locks the account, as AMT does by default.
	demoLockoutAfter = 3
)

func newDemoCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Tour amtctl against a simulated AMT machine started in-process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("--output must be table or json, not %q", output)}
			}
			out := cmd.OutOrStdout()
			sim, err := amtsim.New(amtsim.Options{
				User: demoUser, Password: demoPassword, LockoutAfter: demoLockoutAfter,
				TransitionTime: 1500 * time.Millisecond,
				Logger:         slog.New(slog.DiscardHandler),
			})
			if err != nil {
				return fmt.Errorf("starting the simulator: %w", err)
			}
			defer sim.Close()
			dev := sim.Devices()[0]
			fmt.Fprintf(out, "Started a simulated Intel AMT %s machine: WS-Man on %s, TLS on %s.\n", dev.Version(), dev.HTTPAddr(), dev.TLSAddr())
			fmt.Fprintf(out, "Its self-signed TLS certificate has SHA-256 %s.\n\n", sim.CertificateSHA256())

			fmt.Fprintf(out, "$ amtctl info --host %s --tls --pin %s --user %s --password '%s'\n", dev.TLSAddr(), sim.CertificateSHA256(), demoUser, demoPassword)
			c, err := amt.New(dev.TLSAddr(), amt.WithPinnedCertificate(sim.CertificateSHA256()), amt.WithCredentials(demoUser, demoPassword))
			if err != nil {
				return err
			}
			defer c.CloseIdleConnections()
			rec, err := collectInfo(cmd, c, true)
			if err != nil {
				return err
			}
			if err := printInfo(out, output, rec); err != nil {
				return err
			}
			if err := demoPower(cmd, c, dev, output); err != nil {
				return err
			}

			fmt.Fprintf(out, "\n$ amtctl info --host %s --user %s --password 'wrong'\n", dev.HTTPAddr(), demoUser)
			bad, err := amt.New(dev.HTTPAddr(), amt.WithCredentials(demoUser, "wrong"))
			if err != nil {
				return err
			}
			defer bad.CloseIdleConnections()
			_, err = bad.Inventory(cmd.Context())
			if err == nil {
				return errors.New("the simulator accepted a wrong password")
			}
			fmt.Fprintf(out, "amtctl: %v\n", err)
			failed := dev.Stats().FailedLogins
			logins := "failed logins"
			if failed == 1 {
				logins = "failed login"
			}
			fmt.Fprintf(out, "The client stopped after the first rejection, without retrying: the device counted %d %s (it locks the account after %d).\n",
				failed, logins, demoLockoutAfter)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// demoPower shows the power state, resets the machine to PXE once and waits
// for it to come back on.
func demoPower(cmd *cobra.Command, c *amt.Client, dev *amtsim.Device, output string) error {
	out, ctx := cmd.OutOrStdout(), cmd.Context()
	flags := fmt.Sprintf("--host %s --tls --pin %s --user %s --password '%s'", c.Host(), "<sha256>", demoUser, demoPassword)

	fmt.Fprintf(out, "\n$ amtctl power status %s\n", flags)
	st, err := c.Power.Status(ctx)
	if err != nil {
		return err
	}
	if err := printPowerStatus(out, output, c.Host(), st); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n$ amtctl boot next pxe --reset %s\n", flags)
	a, err := c.Power.ResetTo(ctx, power.BootPXE, power.BootOptions{})
	if err != nil {
		return err
	}
	if err := bootReport(cmd, output, c.Host(), power.BootPXE, a.String()); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n$ amtctl power status %s   # while it resets\n", flags)
	if st, err = c.Power.Status(ctx); err != nil {
		return err
	}
	if err := printPowerStatus(out, output, c.Host(), st); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	fmt.Fprintf(out, "\n(waiting for the machine to be on again, as --wait does)\n")
	if st, err = c.Power.WaitFor(wctx, power.StateOn); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: the machine is %s\n", c.Host(), st.State)
	for _, b := range dev.Boots() {
		fmt.Fprintf(out, "(the simulated machine booted from %s after a %s; the next boot goes to disk again)\n", b.Source, b.Cause)
	}
	return nil
}
