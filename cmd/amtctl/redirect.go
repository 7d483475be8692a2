package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/redirect"
)

// signalError ends a command that a signal interrupted; its exit status is
// 128 plus the signal's number (130 SIGINT, 143 SIGTERM, 129 SIGHUP).
type signalError struct {
	sig   syscall.Signal
	cause error // what the interrupted work returned, if anything worth saying
}

func (e *signalError) Error() string {
	name := map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP"}[e.sig]
	if name == "" {
		name = e.sig.String()
	}
	if e.cause != nil {
		return "interrupted by " + name + ": " + e.cause.Error()
	}
	return "interrupted by " + name
}

func (e *signalError) Unwrap() error { return e.cause }

func (e *signalError) exitCode() int { return 128 + int(e.sig) }

// interrupts makes SIGINT, SIGTERM and SIGHUP alike end ctx, so that a
// command can stop and put settings back before it exits (a closed
// terminal or a service manager stopping it must not leave a machine
// armed). caught returns the *signalError for the first signal, nil when
// none arrived; stop releases the signals.
type interrupts struct {
	ch       chan os.Signal
	done     chan struct{}
	recorded chan struct{}
	parent   context.Context
	mu       sync.Mutex
	sig      syscall.Signal
}

func catchInterrupts(parent context.Context) (context.Context, *interrupts, func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	in := &interrupts{ch: make(chan os.Signal, 4), done: make(chan struct{}), recorded: make(chan struct{}), parent: parent}
	signal.Notify(in.ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	stopParent := context.AfterFunc(parent, func() {
		// The caller's context (main's, on SIGINT or SIGTERM) ended:
		// give the signal a moment to be recorded first.
		select {
		case <-in.recorded:
		case <-time.After(200 * time.Millisecond):
		}
		cancel()
	})
	go func() {
		select {
		case s := <-in.ch:
			in.mu.Lock()
			in.sig, _ = s.(syscall.Signal)
			in.mu.Unlock()
			close(in.recorded)
			cancel()
			// Further signals are taken while settings are put back.
			for {
				select {
				case <-in.ch:
				case <-in.done:
					return
				}
			}
		case <-in.done:
		}
	}()
	return ctx, in, func() {
		signal.Stop(in.ch)
		close(in.done)
		stopParent()
		cancel()
	}
}

func (in *interrupts) caught() *signalError {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.sig != 0 {
		return &signalError{sig: in.sig}
	}
	if in.parent.Err() != nil {
		return &signalError{sig: syscall.SIGINT} // the caller interrupted
	}
	return nil
}

// warnUnfinishedRestore says on stderr when the journal holds an
// unfinished record for host: settings a killed console changed and did
// not put back.
func warnUnfinishedRestore(cmd *cobra.Command, stateFlag, host string) {
	if target, _, err := stateTarget(cmd, stateFlag); err != nil || !stateExists(target) {
		return // no state database yet: nothing unfinished
	}
	j, err := restoreJournal(cmd, stateFlag)
	if err != nil {
		return
	}
	rec, err := j.Get(cmd.Context(), host)
	if err != nil || rec.Empty() {
		return
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "amtctl: warning: %s has settings changed by an unfinished %s (started %s) that were not put back (%s); run \"amtctl ider restore --host %s\"\n",
		host, rec.Reason, rec.Started.Local().Format(time.RFC3339), describeRecord(rec), host)
}

func describeRecord(rec *redirect.RestoreRecord) string {
	var parts []string
	if rec.BootOptionsArmed {
		parts = append(parts, "one-time boot options armed")
	}
	if rec.ListenerEnabled != nil {
		parts = append(parts, "redirection listener opened")
	}
	if rec.RedirectionState != nil {
		parts = append(parts, "redirection features enabled")
	}
	return strings.Join(parts, ", ")
}

func newIDERRestoreCommand() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "restore --host H",
		Short: "Put back the settings an interrupted ider boot left changed",
		Long: "ider boot records the boot settings and the redirection state before it changes them. When it could\n" +
			"not put them back (the console was killed, the connection lost), ider restore clears the one-time boot\n" +
			"options and sets the listener and the redirection features back as they were, then removes the record.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client(cmd)
			defer f.close()
			if err != nil {
				return err
			}
			j, err := restoreJournal(cmd, f.state)
			if err != nil {
				return err
			}
			restored, err := c.Redirect.Restore(cmd.Context(), j)
			if err != nil {
				return err
			}
			if f.output == "json" {
				if restored == nil {
					restored = []string{}
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"host": c.Host(), "restored": restored})
			}
			if len(restored) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: nothing to restore\n", c.Host())
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: restored: %s\n", c.Host(), strings.Join(restored, ", "))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newRedirectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "redirect",
		Short: "Show or change the redirection state (IDE-R, SOL, the listener)",
	}
	cmd.AddCommand(newRedirectStatusCommand(), newRedirectChangeCommand("enable", true), newRedirectChangeCommand("disable", false))
	return cmd
}

type redirectStateRecord struct {
	Host     string `json:"host"`
	IDER     *bool  `json:"ider"`
	SOL      *bool  `json:"sol"`
	Listener *bool  `json:"listener"`
	// EnabledState is AMT_RedirectionService.EnabledState as read.
	EnabledState *uint64 `json:"enabled_state"`
}

func printRedirectState(cmd *cobra.Command, format, host string, st *redirect.State) error {
	rec := redirectStateRecord{Host: host}
	if st != nil {
		rec.IDER, rec.SOL, rec.Listener, rec.EnabledState = &st.IDER, &st.SOL, &st.Listener, &st.EnabledState
	}
	w := cmd.OutOrStdout()
	if format == "json" {
		return json.NewEncoder(w).Encode(rec)
	}
	onOff := func(b *bool) string {
		switch {
		case b == nil:
			return "unknown"
		case *b:
			return "enabled"
		}
		return "disabled"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Host\t%s\n", host)
	fmt.Fprintf(tw, "IDE-R\t%s\n", onOff(rec.IDER))
	fmt.Fprintf(tw, "SOL\t%s\n", onOff(rec.SOL))
	fmt.Fprintf(tw, "Listener\t%s\n", onOff(rec.Listener))
	return tw.Flush()
}

func newRedirectStatusCommand() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "status --host H",
		Short: "Show whether IDE-R, SOL and the redirection listener are enabled",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client(cmd)
			defer f.close()
			if err != nil {
				return err
			}
			st, err := c.Redirect.State(cmd.Context())
			if err != nil {
				return err
			}
			return printRedirectState(cmd, f.output, c.Host(), st)
		},
	}
	f.register(cmd)
	return cmd
}

func newRedirectChangeCommand(verb string, on bool) *cobra.Command {
	var (
		f                   deviceFlags
		ider, sol, listener bool
	)
	cmd := &cobra.Command{
		Use:   verb + " --host H [--ider] [--sol] [--listener]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " IDE-R, SOL or the redirection listener",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !ider && !sol && !listener {
				return usageError{fmt.Errorf("redirect %s needs at least one of --ider, --sol, --listener", verb)}
			}
			c, err := f.client(cmd)
			defer f.close()
			if err != nil {
				return err
			}
			ch := redirect.StateChange{}
			if ider {
				ch.IDER = &on
			}
			if sol {
				ch.SOL = &on
			}
			if listener {
				ch.Listener = &on
			}
			st, err := c.Redirect.SetState(cmd.Context(), ch)
			if err != nil {
				return explainOutcome(err, "amtctl redirect status --host "+f.host)
			}
			return printRedirectState(cmd, f.output, c.Host(), st)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&ider, "ider", false, verb+" IDE-R (storage redirection)")
	cmd.Flags().BoolVar(&sol, "sol", false, verb+" serial-over-LAN")
	cmd.Flags().BoolVar(&listener, "listener", false, verb+" the redirection listener (port 16994/16995)")
	return cmd
}

// explainRefusal adds, to a refused SOL session, why the device refused
// it, read from the redirection and consent state.
func explainRefusal(ctx context.Context, c *amt.Client, err error, enabled bool) error {
	if !errors.Is(err, redirect.ErrRefused) && !errors.Is(err, amt.ErrUnreachable) && !errors.Is(err, redirect.ErrPeerClosed) {
		return err
	}
	why, rerr := c.Redirect.RefusalReason(ctx, redirect.SOL)
	if rerr != nil {
		return err
	}
	if why == "" {
		why = "SOL and the listener are enabled: the device may be busy with another console's session"
	} else if !enabled {
		why += "; --enable turns SOL and the listener on for this session"
	}
	return fmt.Errorf("%w\n(%s)", err, why)
}
