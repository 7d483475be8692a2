package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
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
	var (
		f   deviceFlags
		dry bool
	)
	cmd := &cobra.Command{
		Use:   "restore --host H",
		Short: "Put back the settings an interrupted ider boot left changed",
		Long: "ider boot records the boot settings and the redirection state before it changes them. When it could\n" +
			"not put them back (the console was killed, the connection lost), ider restore clears the one-time boot\n" +
			"options and sets the listener and the redirection features back as they were, then removes the record.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, c *amt.Client) error {
				j, err := restoreJournal(cmd, f.state)
				if err != nil {
					return err
				}
				if dry {
					return iderRestoreDryRun(ctx, cmd, c, f.output, j)
				}
				restored, err := c.Redirect.Restore(ctx, j)
				if err != nil {
					return err
				}
				msg := "nothing to restore"
				if len(restored) > 0 {
					msg = "restored: " + strings.Join(restored, ", ")
				}
				return printAction(cmd, f.output, actionResult{Host: c.Host(), Action: "ider restore", Accepted: true,
					Changed: boolp(len(restored) > 0), Message: msg, Extra: map[string]any{"restored": nonNil(restored)}})
			})
		},
	}
	f.register(cmd)
	registerDryRun(cmd, &dry)
	return cmd
}

// iderRestoreDryRun reads the record ider restore would put back and the
// listener's state, and says what it would send, in the order
// RestoreFromRecord sends it. The record stays.
func iderRestoreDryRun(ctx context.Context, cmd *cobra.Command, c *amt.Client, format string, j redirect.Journal) error {
	rec, err := j.Get(ctx, c.Host())
	if err != nil {
		return err
	}
	extra := map[string]any{"restored": []string{}}
	if rec.Empty() {
		return dryRunWith(cmd, format, extra, c.Host(), "ider restore", "nothing to restore")
	}
	var reqs []plannedRequest
	var what []string
	if rec.BootOptionsArmed {
		reqs = append(reqs, planClearBoot()...)
		what = append(what, "clear the one-time boot options")
	}
	if rec.ListenerEnabled != nil && !*rec.ListenerEnabled {
		st, err := c.Redirect.State(ctx)
		if err != nil {
			return err
		}
		if st.Listener {
			reqs = append(reqs, planListener(false))
			what = append(what, "close the redirection listener")
		} else {
			what = append(what, "leave the redirection listener closed (it is closed already)")
		}
	}
	if rec.RedirectionState != nil {
		reqs = append(reqs, planRedirectionState(*rec.RedirectionState))
		what = append(what, fmt.Sprintf("set the redirection features back to %s", redirectionFeatures(*rec.RedirectionState)))
	}
	msg := fmt.Sprintf("would %s (left by an unfinished %s started %s)", strings.Join(what, ", "), rec.Reason,
		rec.Started.Local().Format(time.RFC3339))
	return dryRunWith(cmd, format, extra, c.Host(), "ider restore", msg, reqs...)
}

// planRedirectionState is what setting AMT_RedirectionService's features
// sends.
func planRedirectionState(state uint64) plannedRequest {
	return invoke("AMT_RedirectionService", "RequestStateChange", "RequestedState", state)
}

// planListener is what opening or closing the redirection listener sends:
// a Put of the instance read, with ListenerEnabled changed.
func planListener(on bool) plannedRequest {
	return put("AMT_RedirectionService", "ListenerEnabled", on)
}

// redirectionFeatures names an AMT_RedirectionService.EnabledState:
// "IDE-R and SOL enabled (32771)".
func redirectionFeatures(state uint64) string {
	var on []string
	if state >= 32768 && state <= 32771 {
		if state&1 != 0 {
			on = append(on, "IDE-R")
		}
		if state&2 != 0 {
			on = append(on, "SOL")
		}
		if len(on) == 0 {
			return fmt.Sprintf("IDE-R and SOL disabled (%d)", state)
		}
		return fmt.Sprintf("%s enabled (%d)", strings.Join(on, " and "), state)
	}
	return fmt.Sprintf("EnabledState %d", state)
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

func newRedirectStateRecord(host string, st *redirect.State) redirectStateRecord {
	rec := redirectStateRecord{Host: host}
	if st != nil {
		rec.IDER, rec.SOL, rec.Listener, rec.EnabledState = &st.IDER, &st.SOL, &st.Listener, &st.EnabledState
	}
	return rec
}

// extra is the record's keys for an action result: the state after the
// change (or, in a dry run, as it is).
func (rec redirectStateRecord) extra() map[string]any {
	return map[string]any{"ider": rec.IDER, "sol": rec.SOL, "listener": rec.Listener, "enabled_state": rec.EnabledState}
}

func onOff(b *bool) string {
	switch {
	case b == nil:
		return "unknown"
	case *b:
		return "enabled"
	}
	return "disabled"
}

// summary says the state on one line: "IDE-R disabled, SOL enabled,
// listener enabled".
func (rec redirectStateRecord) summary() string {
	return fmt.Sprintf("IDE-R %s, SOL %s, listener %s", onOff(rec.IDER), onOff(rec.SOL), onOff(rec.Listener))
}

func printRedirectState(w io.Writer, format, host string, st *redirect.State) error {
	rec := newRedirectStateRecord(host, st)
	if format == "json" {
		return writeJSON(w, rec)
	}
	tw := newTable(w)
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
			return show(cmd, &f, func(ctx context.Context, c *amt.Client) (*redirect.State, error) { return c.Redirect.State(ctx) },
				printRedirectState)
		},
	}
	f.register(cmd)
	return cmd
}

func newRedirectChangeCommand(verb string, on bool) *cobra.Command {
	var (
		f                        deviceFlags
		ider, sol, listener, dry bool
	)
	cmd := &cobra.Command{
		Use:   verb + " --host H [--ider] [--sol] [--listener]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " IDE-R, SOL or the redirection listener",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !ider && !sol && !listener {
				return usageError{fmt.Errorf("redirect %s needs at least one of --ider, --sol, --listener", verb)}
			}
			ch := redirect.StateChange{}
			var parts []string
			if ider {
				ch.IDER = &on
				parts = append(parts, "IDE-R")
			}
			if sol {
				ch.SOL = &on
				parts = append(parts, "SOL")
			}
			if listener {
				ch.Listener = &on
				parts = append(parts, "the listener")
			}
			what := strings.Join(parts, ", ")
			action := "redirect " + verb
			return f.run(cmd, func(ctx context.Context, c *amt.Client) error {
				before, err := c.Redirect.State(ctx)
				if err != nil {
					return err
				}
				reqs := planRedirectChange(before, ch)
				if dry {
					msg := fmt.Sprintf("would %s %s (now %s)", verb, what, newRedirectStateRecord(c.Host(), before).summary())
					if len(reqs) == 0 {
						msg = fmt.Sprintf("would send nothing: %s %sd already (%s)", what, verb, newRedirectStateRecord(c.Host(), before).summary())
					}
					return dryRunWith(cmd, f.output, newRedirectStateRecord(c.Host(), before).extra(), c.Host(), action, msg, reqs...)
				}
				st, err := c.Redirect.SetState(ctx, ch)
				if err != nil {
					return explainOutcome(err, "amtctl redirect status --host "+f.host)
				}
				rec := newRedirectStateRecord(c.Host(), st)
				msg := fmt.Sprintf("%s %sd (now %s)", what, verb, rec.summary())
				if len(reqs) == 0 {
					msg = fmt.Sprintf("%s %sd already; nothing sent (%s)", what, verb, rec.summary())
				}
				return printAction(cmd, f.output, actionResult{Host: c.Host(), Action: action, Accepted: true,
					Changed: boolp(len(reqs) > 0), Message: msg, Extra: rec.extra()})
			})
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&ider, "ider", false, verb+" IDE-R (storage redirection)")
	cmd.Flags().BoolVar(&sol, "sol", false, verb+" serial-over-LAN")
	cmd.Flags().BoolVar(&listener, "listener", false, verb+" the redirection listener (port 16994/16995)")
	registerDryRun(cmd, &dry)
	return cmd
}

// planRedirectChange is what redirect.SetState sends to make the change ch
// from the state st: the features first, then the listener.
func planRedirectChange(st *redirect.State, ch redirect.StateChange) []plannedRequest {
	var reqs []plannedRequest
	ider, sol := st.IDER, st.SOL
	if ch.IDER != nil {
		ider = *ch.IDER
	}
	if ch.SOL != nil {
		sol = *ch.SOL
	}
	if ider != st.IDER || sol != st.SOL {
		want := uint64(32768)
		if ider {
			want |= 1
		}
		if sol {
			want |= 2
		}
		reqs = append(reqs, planRedirectionState(want))
	}
	if ch.Listener != nil && *ch.Listener != st.Listener {
		reqs = append(reqs, planListener(*ch.Listener))
	}
	return reqs
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
