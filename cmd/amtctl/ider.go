package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
)

func newIDERCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ider",
		Short: "Boot a machine from an image over IDE-R, or serve an image to it",
	}
	cmd.AddCommand(newIDERBootCommand(), newIDERServeCommand(), newIDERRestoreCommand())
	return cmd
}

// iderFlags are the flags of ider boot and ider serve.
type iderFlags struct {
	dev        deviceFlags
	redirect   redirectFlags
	image      string
	floppy     string
	device     string
	start      string
	untilBytes int64
	idle       time.Duration
	noCheck    bool
}

func (f *iderFlags) register(cmd *cobra.Command, start string, idle time.Duration) {
	f.dev.register(cmd)
	f.redirect.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.image, "image", "", "CD image (ISO) to serve")
	fl.StringVar(&f.floppy, "floppy", "", "floppy image to serve")
	fl.StringVar(&f.device, "device", "", "device to boot from: cd or floppy (default: cd when --image is given)")
	fl.StringVar(&f.start, "start", start, "when the device attaches the drives: now, graceful or reboot")
	fl.Int64Var(&f.untilBytes, "until-bytes", 0, "stop after serving this many bytes (0: no limit)")
	fl.DurationVar(&f.idle, "idle", idle, "stop after the machine sent no command for this long, counted from its first (0: never)")
	fl.BoolVar(&f.noCheck, "no-check", false, "serve an image that is not a bootable ISO 9660 (El Torito) CD or a FAT floppy")
}

// media opens the image files; close releases them.
func (f *iderFlags) media() (redirect.IDERMedia, func(), error) {
	var m redirect.IDERMedia
	var files []*os.File
	closeAll := func() {
		for _, fh := range files {
			_ = fh.Close()
		}
	}
	open := func(path string) (*redirect.Medium, error) {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		files = append(files, fh)
		st, err := fh.Stat()
		if err != nil {
			return nil, err
		}
		if st.Size() == 0 || st.IsDir() {
			return nil, fmt.Errorf("%s is empty or not a file", path)
		}
		return &redirect.Medium{Reader: fh, Size: st.Size()}, nil
	}
	if f.image == "" && f.floppy == "" {
		return m, closeAll, usageError{errors.New("--image or --floppy is required")}
	}
	var err error
	if f.image != "" {
		if m.CD, err = open(f.image); err != nil {
			closeAll()
			return m, func() {}, usageError{fmt.Errorf("--image: %w", err)}
		}
	}
	if f.floppy != "" {
		if m.Floppy, err = open(f.floppy); err != nil {
			closeAll()
			return m, func() {}, usageError{fmt.Errorf("--floppy: %w", err)}
		}
	}
	return m, closeAll, nil
}

func (f *iderFlags) options() (redirect.StartMode, power.BootTarget, error) {
	start, err := redirect.ParseStartMode(f.start)
	if err != nil {
		return 0, 0, usageError{fmt.Errorf("--start must be now, graceful or reboot, not %q", f.start)}
	}
	var target power.BootTarget
	switch f.device {
	case "":
		target = power.BootIDERCD
		if f.image == "" {
			target = power.BootIDERFloppy
		}
	case "cd":
		target = power.BootIDERCD
	case "floppy":
		target = power.BootIDERFloppy
	default:
		return 0, 0, usageError{fmt.Errorf("--device must be cd or floppy, not %q", f.device)}
	}
	if target == power.BootIDERCD && f.image == "" || target == power.BootIDERFloppy && f.floppy == "" {
		return 0, 0, usageError{fmt.Errorf("--device %s needs its image (--image for cd, --floppy for floppy)", f.device)}
	}
	if f.untilBytes < 0 {
		return 0, 0, usageError{errors.New("--until-bytes must not be negative")}
	}
	if err := checkNotNegative("--idle", f.idle); err != nil {
		return 0, 0, err
	}
	return start, target, nil
}

// iderRun is what both ider commands prepare from their flags.
type iderRun struct {
	media  redirect.IDERMedia
	start  redirect.StartMode
	target power.BootTarget
	client *amt.Client
	closes []func()
}

func (r *iderRun) close() {
	for i := len(r.closes) - 1; i >= 0; i-- {
		r.closes[i]()
	}
}

// prepare opens the images, reads the start mode and target, and builds
// the device client. close releases what it opened, also on error.
func (f *iderFlags) prepare(cmd *cobra.Command) (*iderRun, error) {
	r := &iderRun{}
	media, closeMedia, err := f.media()
	r.closes = append(r.closes, closeMedia)
	if err != nil {
		return r, err
	}
	r.media = media
	if r.start, r.target, err = f.options(); err != nil {
		return r, err
	}
	if !f.noCheck {
		// Before anything changes on the machine.
		if media.CD != nil {
			if err := redirect.CheckCD(media.CD); err != nil {
				return r, usageError{fmt.Errorf("--image %s: %w (--no-check serves it anyway)", f.image, err)}
			}
		}
		if media.Floppy != nil {
			if err := redirect.CheckFloppy(media.Floppy); err != nil {
				return r, usageError{fmt.Errorf("--floppy %s: %w (--no-check serves it anyway)", f.floppy, err)}
			}
		}
	}
	r.client, err = f.dev.redirectClient(cmd, &f.redirect)
	r.closes = append(r.closes, f.dev.close)
	return r, err
}

func newIDERBootCommand() *cobra.Command {
	var (
		f           iderFlags
		sol         bool
		console     bool
		consentCode string
		dry         bool
	)
	cmd := &cobra.Command{
		Use:   "boot --image FILE",
		Short: "Boot the machine once from an image served over IDE-R",
		Long: "ider boot enables the redirection service and its listener if needed, obtains user consent when the\n" +
			"device requires it (--consent-code, or a prompt on a terminal), opens an IDE-R session, arms a one-time\n" +
			"boot from the image, resets the machine (or powers it on when it is off; never a power cycle or a\n" +
			"power-off) and serves the image until --until-bytes, --idle or ctrl-c. Afterwards it always clears the\n" +
			"boot options and puts the redirection settings back as they were.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if consentCode != "" {
				if err := checkDigits("--consent-code", consentCode, 1, 16); err != nil {
					return err
				}
			}
			p, err := f.prepare(cmd)
			defer p.close()
			if err != nil {
				return err
			}
			c := p.client
			if dry {
				return iderBootDryRun(cmd, c, f.dev.output, p.target, sol, console)
			}
			journal, err := restoreJournal(cmd, f.dev.state)
			if err != nil {
				return err
			}
			ctx, sigs, stop := catchInterrupts(cmd.Context())
			defer stop()
			bar := newBootProgress(cmd, c.Host())
			opts := redirect.BootOptions{
				Media: p.media, Device: p.target, Start: p.start, SOL: sol,
				StopAfterBytes: f.untilBytes, IdleTimeout: f.idle,
				Logger: bar.logger(f.dev.logger(cmd)), Journal: journal, JournalHost: c.Host(),
				Progress: bar.update,
			}
			if console {
				opts.Console = cmd.OutOrStdout()
			}
			switch {
			case consentCode != "":
				opts.ConsentCode = func(context.Context) (string, error) { return consentCode, nil }
			case isTTY(cmd.InOrStdin()):
				opts.ConsentCode = bar.pausing(promptConsent(cmd))
			}
			bar.step("setting up: the redirection service, user consent, the IDE-R session")
			res, err := c.Redirect.BootFromImage(ctx, opts)
			bar.done()
			if res != nil && (err == nil || res.Stats != nil) {
				if perr := printBootResult(cmd, f.dev.output, c.Host(), res, err); perr != nil && err == nil {
					err = perr
				}
			}
			if se := sigs.caught(); se != nil {
				// Serving stopped and the settings were put back (or the
				// record says what was not): never exit 0.
				if err != nil && !errors.Is(err, context.Canceled) {
					se.cause = err
				} else if res != nil && len(res.RestoreErrors) > 0 {
					se.cause = &redirect.RestoreError{Errs: res.RestoreErrors}
				}
				return se
			}
			return explainOutcome(err, powerStatusCommand(f.dev.host))
		},
	}
	f.register(cmd, "reboot", 30*time.Second)
	fl := cmd.Flags()
	fl.BoolVar(&sol, "sol", false, "redirect the BIOS console to serial-over-LAN during this boot (UseSOL)")
	fl.BoolVar(&console, "console", false, "copy the serial console (SOL) to standard output while serving")
	fl.StringVar(&consentCode, "consent-code", "", "user consent code shown on the machine's screen, when the device requires consent")
	registerDryRun(cmd, &dry)
	return cmd
}

func newIDERServeCommand() *cobra.Command {
	var f iderFlags
	cmd := &cobra.Command{
		Use:   "serve --image FILE",
		Short: "Serve an image over IDE-R without touching the boot settings",
		Long: "ider serve opens an IDE-R session and presents the image(s) to the machine until --until-bytes, --idle or\n" +
			"ctrl-c. It changes no boot setting and no power state: boot the machine from the drive yourself.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.prepare(cmd)
			defer p.close()
			if err != nil {
				return err
			}
			ctx, sigs, stop := catchInterrupts(cmd.Context())
			defer stop()
			c := p.client
			bar := newBootProgress(cmd, c.Host())
			bar.step("opening the IDE-R session")
			s, err := c.Redirect.Dial(ctx, redirect.IDER)
			if err != nil {
				bar.done()
				if se := sigs.caught(); se != nil {
					return se
				}
				return err
			}
			bar.step("IDE-R session open; waiting for the machine to read the drive")
			started := time.Now()
			stats, err := redirect.ServeIDER(ctx, s, p.media, redirect.IDEROptions{
				Start: p.start, Progress: bar.update, StopAfterBytes: f.untilBytes, IdleTimeout: f.idle,
			})
			bar.done()
			if stats != nil {
				res := &redirect.BootResult{Stats: stats, Duration: time.Since(started)}
				if perr := printBootResult(cmd, f.dev.output, c.Host(), res, err); perr != nil && err == nil {
					err = perr
				}
			}
			if se := sigs.caught(); se != nil {
				return se
			}
			return err
		},
	}
	f.register(cmd, "now", 0)
	return cmd
}

// redirectFlags are the flags of the redirection port.
type redirectFlags struct {
	port int
}

func (r *redirectFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&r.port, "redirect-port", 0, "redirection port (default 16994, or 16995 with TLS)")
}

// redirectClient builds the device client the flags describe, with the
// redirection port of --redirect-port. The client logs in over
// WS-Management first (which resolves the credentials, from the store when
// there is one) and takes the same credential to the redirection port.
func (f *deviceFlags) redirectClient(cmd *cobra.Command, rf *redirectFlags) (*amt.Client, error) {
	if err := checkPort("--redirect-port", rf.port, true); err != nil {
		return nil, err
	}
	if rf.port != 0 {
		f.extra = append(f.extra, amt.WithRedirectPort(rf.port))
	}
	c, err := f.client(cmd)
	if err != nil {
		return nil, err
	}
	if !f.credentials {
		return nil, usageError{errors.New("the redirection port needs credentials: give --password (or AMT_PASSWORD) or a --profile")}
	}
	return c, nil
}

func promptConsent(cmd *cobra.Command) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		code, err := promptLine(cmd, "The device requires user consent. Enter the code shown on the machine's screen: ",
			"give --consent-code")
		if err == nil {
			err = checkDigits("the consent code", code, 1, 16)
		}
		return code, err
	}
}

// iderExtra is the keys ider boot and ider serve add to the change shape:
// what the IDE-R session served and what was put back afterwards. Every key
// is always present (null when unknown).
func iderExtra(res *redirect.BootResult, runErr error) map[string]any {
	m := map[string]any{
		"device": nil, "start_action": nil, "action_outcome_unknown": res.ActionOutcomeUnknown,
		"bytes_served": int64(0), "commands": 0, "resets": 0, "seconds": res.Duration.Seconds(), "rate_mib_s": 0.0,
		"stop": nil, "restored": nonNil(res.Restored), "restore_errors": []string{}, "error": nil,
	}
	if res.Device != 0 {
		m["device"] = res.Device.String()
	}
	if res.Action != 0 {
		m["start_action"] = res.Action.String()
	}
	if st := res.Stats; st != nil {
		m["bytes_served"], m["commands"], m["resets"], m["stop"] = st.BytesServed, st.Commands, st.Resets, stopName(st.Stop)
		m["rate_mib_s"] = mibPerSecond(st.Rate)
	}
	errs := []string{}
	for _, e := range res.RestoreErrors {
		errs = append(errs, e.Error())
	}
	m["restore_errors"] = errs
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		m["error"] = runErr.Error()
	}
	return m
}

// printBootResult prints what ider boot (res.Device set) or ider serve did,
// in the change shape: accepted when the power request that starts the boot
// was accepted (serve: the image was served), changed null for a boot (the
// machine was restarted and its settings put back) and false for serve,
// which changes nothing.
func printBootResult(cmd *cobra.Command, format, host string, res *redirect.BootResult, runErr error) error {
	r := actionResult{Host: host, Action: "ider serve", Accepted: res.Stats != nil, Changed: boolp(false), Extra: iderExtra(res, runErr)}
	var b strings.Builder
	if res.Device != 0 {
		r.Action, r.Changed = "ider boot", nil
		r.Accepted = res.Action != 0 && !res.ActionOutcomeUnknown
		fmt.Fprintf(&b, "boot from %s", res.Device)
		if res.Action != 0 {
			fmt.Fprintf(&b, ", %s sent", res.Action)
		}
		b.WriteString("; ")
	}
	var served int64
	var commands int
	var rate float64
	if st := res.Stats; st != nil {
		served, commands, rate = st.BytesServed, st.Commands, st.Rate
	}
	fmt.Fprintf(&b, "served %s in %d commands over %s (%s)", formatSize(served), commands, formatDuration(res.Duration), formatRate(rate))
	if res.Stats != nil {
		fmt.Fprintf(&b, "; stopped: %s", stopName(res.Stats.Stop))
	}
	if len(res.Restored) > 0 {
		fmt.Fprintf(&b, "; restored: %s", strings.Join(res.Restored, ", "))
	}
	r.Message = b.String()
	return printAction(cmd, format, r)
}

// stopName says why serving stopped in an operator's words: "interrupted"
// (ctrl-c, a signal), "idle", "byte limit reached", "closed by the
// device", ...
func stopName(r redirect.StopReason) string {
	if r == redirect.StopContext {
		return "interrupted"
	}
	return r.String()
}
