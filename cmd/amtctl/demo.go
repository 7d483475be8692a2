package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/discovery"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/internal/testiso"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
)

const (
	demoUser     = "admin"
	demoPassword = "Demo-P@ss1"
	// demoLockoutAfter is how many failed logins the simulated device
	// takes before it locks the account, as AMT does by default.
	demoLockoutAfter = 3
	// demoCIDR is a loopback range: on Linux every 127.0.0.0/8 address is
	// local, so the simulated fleet needs no set-up.
	demoCIDR = "127.78.200.0/28"
)

func newDemoCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Tour amtctl against a simulated AMT machine started in-process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOneOf("--output", output, "table", "json"); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			state0, ccm := 0, 4
			sim, err := amtsim.New(amtsim.Options{
				DevicesCIDR: demoCIDR, DeviceCount: 6,
				User: demoUser, Password: demoPassword, LockoutAfter: demoLockoutAfter,
				TransitionTime: 1500 * time.Millisecond,
				Logger:         slog.New(slog.DiscardHandler),
				Fleet: &amtsim.FleetSpec{Groups: []amtsim.DeviceGroup{
					{Name: "office", Weight: 3, Version: "16.1.25.2124"},
					{Name: "branch", Weight: 1, Version: "11.8.50.3425", ProvisioningMode: &ccm, SKU: 16400},
					{Name: "new", Weight: 1, Version: "12.0.67.1579", ProvisioningState: &state0},
					{Name: "quiet", Weight: 1, Version: "15.0.23.1706", NoRMCP: true},
				}},
			})
			if err != nil {
				return fmt.Errorf("starting the simulator: %w", err)
			}
			defer sim.Close()
			fmt.Fprintf(out, "Started %d simulated Intel AMT machines in %s (some addresses empty), RMCP on UDP %d,\n", len(sim.Devices()), demoCIDR, sim.RMCPPort())
			fmt.Fprintf(out, "WS-Man on TCP %d and TLS on %d; their self-signed TLS certificate has SHA-256 %s.\n\n", sim.HTTPPort(), sim.TLSPort(), sim.CertificateSHA256())

			fmt.Fprintf(out, "$ amtctl discover %s --rmcp-port %d --http-port %d --tls-port %d\n", demoCIDR, sim.RMCPPort(), sim.HTTPPort(), sim.TLSPort())
			df := discoverFlags{
				rmcpPort: sim.RMCPPort(), httpPort: sim.HTTPPort(), tlsPort: sim.TLSPort(),
				rate: discovery.DefaultRate, rmcpWait: 300 * time.Millisecond, concurrency: discovery.DefaultConcurrency,
				timeout: discovery.DefaultProbeTimeout, maxAddresses: discovery.DefaultMaxAddresses, output: output,
			}
			cmd.SetErr(out) // the summary line belongs to the tour
			if err := runDiscover(cmd, &df, []string{demoCIDR}); err != nil {
				return err
			}
			var dev *amtsim.Device
			for _, d := range sim.Devices() {
				if d.Group() == "office" {
					dev = d
					break
				}
			}
			if dev == nil {
				return errors.New("the demo fleet has no office machine")
			}
			fmt.Fprintf(out, "\nNow one of them, %s, over TLS with its certificate pinned:\n\n", dev.IP())
			fmt.Fprintf(out, "The password goes in the environment, never on the command line (the simulated machines' is %s):\n", demoPassword)
			fmt.Fprintf(out, "$ read -rs AMT_PASSWORD && export AMT_PASSWORD\n")
			fmt.Fprintf(out, "$ amtctl info --host %s --tls --pin %s --user %s\n", dev.TLSAddr(), sim.CertificateSHA256(), demoUser)
			c, err := amt.New(dev.TLSAddr(), amt.WithPinnedCertificate(sim.CertificateSHA256()), amt.WithCredentials(demoUser, demoPassword),
				amt.WithRedirectPort(sim.RedirectTLSPort()))
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
			if err := demoIDER(cmd, c, dev, output); err != nil {
				return err
			}
			if err := demoQuarantine(cmd, c, dev, output); err != nil {
				return err
			}
			if err := demoJob(cmd, output); err != nil {
				return err
			}

			fmt.Fprintf(out, "\n$ echo wrong | amtctl info --host %s --user %s --password-stdin\n", dev.HTTPAddr(), demoUser)
			// A guard of its own: the demo's fleet is new on each run, the
			// process-wide guard's count of its addresses is not.
			bad, err := amt.New(dev.HTTPAddr(), amt.WithCredentials(demoUser, "wrong"), amt.WithLockoutGuard(credentials.NewGuard(0, 0)))
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
	flags := fmt.Sprintf("--host %s --tls --pin %s --user %s", c.Host(), "<sha256>", demoUser)

	fmt.Fprintf(out, "\n$ amtctl power status %s\n", flags)
	st, err := c.Power.Status(ctx)
	if err != nil {
		return err
	}
	if err := printPowerStatus(out, output, c.Host(), st); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n$ amtctl boot next pxe --reset %s\n", flags)
	booted := len(dev.Boots())
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
	fmt.Fprintf(out, "%s: %s\n", c.Host(), machineIs(st.State))
	// A reset leaves the power state on throughout: the boot shows on the
	// simulated host.
	if _, err := dev.WaitBoot(wctx, booted+1); err != nil {
		return err
	}
	for _, b := range dev.Boots() {
		fmt.Fprintf(out, "(the simulated machine booted from %s after a %s; the next boot goes to disk again)\n", b.Source, b.Cause)
	}
	return nil
}

// demoIDER boots the machine once from a small CD image made on the spot,
// served over IDE-R through the TLS redirection port.
func demoIDER(cmd *cobra.Command, c *amt.Client, dev *amtsim.Device, output string) error {
	out, ctx := cmd.OutOrStdout(), cmd.Context()
	img := testiso.Make(512, 4)
	fmt.Fprintf(out, "\n$ amtctl ider boot --image rescue.iso --idle 1s --host %s --tls --pin <sha256> --user %s\n", c.Host(), demoUser)
	fmt.Fprintf(out, "(rescue.iso: a 1 MiB CD image with an El Torito boot record, made on the spot)\n")
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	done := make(chan amtsim.IDERBoot, 1)
	go func() {
		b, _ := dev.WaitIDERBoot(wctx, 1)
		done <- b
	}()
	res, err := c.Redirect.BootFromImage(wctx, redirect.BootOptions{
		Media:       redirect.IDERMedia{CD: &redirect.Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}},
		IdleTimeout: time.Second,
	})
	if err != nil {
		return err
	}
	if err := printBootResult(cmd, output, c.Host(), res, nil); err != nil {
		return err
	}
	b := <-done
	sum := sha256.Sum256(img[20*testiso.BlockSize : 20*testiso.BlockSize+4*512])
	match := "matches"
	if hex.EncodeToString(sum[:]) != b.BootImageSHA256 {
		match = "does NOT match"
	}
	fmt.Fprintf(out, "(the simulated BIOS read %d bytes and booted from the served CD; the boot image's SHA-256 %s the image's;\n boot settings and redirection state were put back)\n", b.BytesRead, match)
	return nil
}
