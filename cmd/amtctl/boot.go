package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/power"
)

func newBootCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "boot",
		Short: "Set or clear one-time boot options",
	}
	cmd.AddCommand(newBootNextCommand(), newBootClearCommand(), newBootShowCommand())
	return cmd
}

func newBootNextCommand() *cobra.Command {
	var (
		f         deviceFlags
		opts      power.BootOptions
		reset     bool
		verbosity string
		dry       bool
	)
	cmd := &cobra.Command{
		Use:   "next pxe|hdd|cd|bios",
		Short: "Make the next boot, once, go to PXE, the hard disk, the CD/DVD drive or BIOS setup",
		Long: "boot next arms a one-time boot: it checks the device's boot capabilities, sets the boot settings\n" +
			"(read-modify-write of AMT_BootSettingData), selects the boot source and marks the configuration for\n" +
			"the next boot only. With --reset it then resets the machine, or powers it on if it is off.",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"pxe", "hdd", "cd", "bios"},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := power.ParseBootTarget(args[0])
			if err != nil || target == power.BootIDERCD || target == power.BootIDERFloppy {
				return usageError{fmt.Errorf("boot target must be pxe, hdd, cd or bios, not %q (IDE-R images boot with amtctl ider)", args[0])}
			}
			switch verbosity {
			case "", "default":
			case "quiet":
				opts.Verbosity = power.VerbosityQuiet
			case "verbose":
				opts.Verbosity = power.VerbosityVerbose
			case "blank":
				opts.Verbosity = power.VerbosityBlank
			default:
				return usageError{fmt.Errorf("--verbosity must be default, quiet, verbose or blank")}
			}
			if err := checkRange("--media-index", opts.MediaIndex, 0, 2); err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, c *amt.Client) error {
				if dry {
					return bootNextDryRun(cmd, c, f.output, target, opts, reset)
				}
				if !reset {
					if err := c.Authorize(ctx, func(ctx context.Context) error { return c.Power.NextBoot(ctx, target, opts) }); err != nil {
						return err
					}
					return bootReport(cmd, f.output, c.Host(), target, "")
				}
				var a power.Action
				err = c.Authorize(ctx, func(ctx context.Context) (err error) { a, err = c.Power.ResetTo(ctx, target, opts); return err })
				if err != nil {
					return explainOutcome(err, powerStatusCommand(f.host))
				}
				return bootReport(cmd, f.output, c.Host(), target, a.String())
			})
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&reset, "reset", false, "start the boot now: reset the machine, or power it on if it is off")
	fl.BoolVar(&opts.SOL, "sol", false, "show the BIOS console over serial-over-LAN during POST")
	fl.BoolVar(&opts.BIOSPause, "bios-pause", false, "pause in the BIOS")
	fl.BoolVar(&opts.LockKeyboard, "lock-keyboard", false, "lock the keyboard during boot")
	fl.BoolVar(&opts.LockPowerButton, "lock-power-button", false, "lock the power button until the next boot")
	fl.BoolVar(&opts.LockResetButton, "lock-reset-button", false, "lock the reset button until the next boot")
	fl.BoolVar(&opts.UserPasswordBypass, "user-password-bypass", false, "bypass the BIOS user password")
	fl.IntVar(&opts.MediaIndex, "media-index", 0, "drive to boot for hdd or cd: 0 default, 1 primary, 2 secondary")
	fl.StringVar(&verbosity, "verbosity", "default", "firmware verbosity: default, quiet, verbose or blank")
	registerDryRun(cmd, &dry)
	return cmd
}

func bootReport(cmd *cobra.Command, format, host string, target power.BootTarget, action string) error {
	r := actionResult{Host: host, Action: "boot next", Accepted: true, Changed: boolp(true),
		Message: fmt.Sprintf("next boot goes to %s, once", target), Extra: map[string]any{"next_boot": target.String(), "start_action": nil}}
	if action != "" {
		r.Extra["start_action"] = action
		r.Message += fmt.Sprintf("; %s sent to start it", action)
	}
	return printAction(cmd, format, r)
}

// bootNextDryRun checks what boot next checks and says what it would send.
func bootNextDryRun(cmd *cobra.Command, c *amt.Client, format string, target power.BootTarget, opts power.BootOptions, reset bool) error {
	ctx := cmd.Context()
	if _, err := c.Power.BootCapabilities(ctx); err != nil {
		return err
	}
	reqs := planNextBoot(target, opts)
	extra := map[string]any{"next_boot": target.String(), "start_action": nil}
	msg := fmt.Sprintf("would make the next boot go to %s, once", target)
	if reset {
		st, err := c.Power.Status(ctx)
		if err != nil {
			return err
		}
		if st.Transitioning {
			return &power.TransitioningError{State: st.State, To: st.TransitioningTo}
		}
		for _, a := range startActions(st.State) {
			reqs = append(reqs, planPower(a))
			msg += fmt.Sprintf(", then send %s", a)
			extra["start_action"] = a.String()
		}
		msg += " (" + machineIs(st.State) + ")"
	}
	return dryRunWith(cmd, format, extra, c.Host(), "boot next", msg, reqs...)
}

func newBootClearCommand() *cobra.Command {
	var (
		f   deviceFlags
		dry bool
	)
	cmd := &cobra.Command{
		Use:   "clear",
		Short: "Clear one-time boot options",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, c *amt.Client) error {
				if dry {
					return dryRun(cmd, f.output, c.Host(), "boot clear", "would clear the one-time boot options", planClearBoot()...)
				}
				if err := c.Authorize(ctx, c.Power.ClearBootOptions); err != nil {
					return err
				}
				return printAction(cmd, f.output, actionResult{Host: c.Host(), Action: "boot clear", Accepted: true,
					Message: "one-time boot options cleared"})
			})
		},
	}
	f.register(cmd)
	registerDryRun(cmd, &dry)
	return cmd
}
