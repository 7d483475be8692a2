package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/power"
)

func newPowerCommand() *cobra.Command {
	var (
		f           deviceFlags
		wait        bool
		waitTimeout time.Duration
		dry         bool
	)
	actions := make([]string, 0, len(power.Actions()))
	for _, a := range power.Actions() {
		actions = append(actions, a.String())
	}
	cmd := &cobra.Command{
		Use:   "power status|" + strings.Join(actions, "|") + "|wake",
		Short: "Read or change a machine's power state",
		Long: "power status shows the power state, the OS power-saving state and the actions the device offers now.\n" +
			"Any other verb asks the device for that change: on, off (immediate), reset, cycle (off then on),\n" +
			"soft-off and soft-reset (graceful, through the OS agent), sleep, hibernate, nmi; wake brings the OS\n" +
			"out of Modern Standby. An action the device does not offer now is refused before anything is sent,\n" +
			"naming the ones it offers. A change is never resent: if the answer is lost, read the state again.",
		Args:      cobra.ExactArgs(1),
		ValidArgs: append(append([]string{"status"}, actions...), "wake"),
		RunE: func(cmd *cobra.Command, args []string) error {
			verb := args[0]
			if verb == "status" {
				for _, n := range []string{"wait", "wait-timeout", "dry-run"} {
					if cmd.Flags().Changed(n) {
						return usageError{fmt.Errorf("--%s does not go with power status", n)}
					}
				}
			}
			if err := firstError(checkPositive("--wait-timeout", waitTimeout), checkConflict(cmd, "wait", "dry-run")); err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, c *amt.Client) error {
				if dry {
					return powerDryRun(cmd, c, f.output, verb)
				}
				switch verb {
				case "status":
					st, err := c.Power.Status(ctx)
					if err != nil {
						return err
					}
					return printPowerStatus(cmd.OutOrStdout(), f.output, c.Host(), st)
				case "wake":
					if err := c.Authorize(ctx, c.Power.Wake); err != nil {
						return explainOutcome(err, powerStatusCommand(f.host))
					}
					return report(cmd, f.output, c.Host(), "wake", nil, credentialsUsed(c))
				}
				a, err := power.ParseAction(verb)
				if err != nil {
					return usageError{err}
				}
				// Authorize: a credential that may log in but not make the
				// change gives way to the next candidate.
				var ch *power.Change
				if err := c.Authorize(ctx, func(ctx context.Context) error {
					var err error
					ch, err = c.Power.Apply(ctx, a)
					return err
				}); err != nil {
					return explainOutcome(err, powerStatusCommand(f.host))
				}
				if !ch.Sent {
					return reportAlready(cmd, f.output, c.Host(), a, ch.Before, credentialsUsed(c))
				}
				var st *power.Status
				if target, ok := expectedState(a); ok && wait {
					wctx, cancel := context.WithTimeout(ctx, waitTimeout)
					defer cancel()
					// The progress line shows the state each poll read ("busy"
					// while the device does not answer during the reboot).
					var mu sync.Mutex
					state := ""
					opts := []power.WaitOption{power.OnPoll(func(p power.Poll) {
						mu.Lock()
						defer mu.Unlock()
						state = "busy"
						if p.Status != nil {
							state = p.Status.State.String()
						}
					})}
					stop := newProgress(cmd).Wait(fmt.Sprintf("%s: waiting for the machine to be %s", c.Host(), target), func() string {
						mu.Lock()
						defer mu.Unlock()
						return state
					})
					defer stop()
					if st, err = c.Power.WaitFor(wctx, target, opts...); err != nil {
						return err
					}
				}
				return report(cmd, f.output, c.Host(), a.String(), st, credentialsUsed(c))
			})
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the machine reaches the state the action leads to")
	cmd.Flags().DurationVar(&waitTimeout, "wait-timeout", 3*time.Minute, "how long --wait waits (exit 12 when the state is not reached by then)")
	registerDryRun(cmd, &dry)
	return cmd
}

// expectedState is the state an action ends in, for --wait.
func expectedState(a power.Action) (power.State, bool) {
	switch a {
	case power.On, power.Reset, power.PowerCycle, power.SoftReset:
		return power.StateOn, true
	case power.Off, power.SoftOff:
		return power.StateOff, true
	case power.Sleep:
		return power.StateSleep, true
	case power.Hibernate:
		return power.StateHibernate, true
	}
	return 0, false
}

// explainOutcome adds the command that reads the state to an error whose
// outcome is unknown (the error itself says the request was sent and that
// whether the device acted is unknown).
func explainOutcome(err error, read string) error {
	if errors.Is(err, amt.ErrOutcomeUnknown) {
		return fmt.Errorf("%w\n(read it with \"%s\")", err, read)
	}
	return err
}

// powerStatusCommand is the command that reads the power state of host.
func powerStatusCommand(host string) string { return "amtctl power status --host " + host }

type powerRecord struct {
	Host             string   `json:"host"`
	PowerState       int      `json:"power_state"`
	PowerStateName   string   `json:"power_state_name"`
	OSPowerSaving    *string  `json:"os_power_saving"` // null unless the machine is on
	Transitioning    bool     `json:"transitioning"`
	TransitioningTo  *string  `json:"transitioning_to"`
	AvailableActions []string `json:"available_actions"`
}

func newPowerRecord(host string, st *power.Status) powerRecord {
	r := powerRecord{
		Host: host, PowerState: int(st.State), PowerStateName: st.State.String(),
		Transitioning: st.Transitioning, AvailableActions: []string{},
	}
	if st.State == power.StateOn {
		r.OSPowerSaving = str(st.OSPowerSaving.String())
	}
	if st.Transitioning {
		r.TransitioningTo = str(transitionName(st.TransitioningTo))
	}
	for _, a := range st.Available {
		r.AvailableActions = append(r.AvailableActions, a.String())
	}
	return r
}

func printPowerStatus(w io.Writer, format, host string, st *power.Status) error {
	r := newPowerRecord(host, st)
	if format == "json" {
		return writeJSON(w, r)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "Host\t%s\n", r.Host)
	state := fmt.Sprintf("%s (%d)", r.PowerStateName, r.PowerState)
	if st.State == power.StateOn && st.OSPowerSaving == power.OSPowerSavingOn {
		state += ", OS in power saving (Modern Standby)"
	}
	fmt.Fprintf(tw, "Power\t%s\n", state)
	if r.Transitioning {
		fmt.Fprintf(tw, "Changing to\t%s\n", val(r.TransitioningTo))
	}
	if r.OSPowerSaving != nil {
		fmt.Fprintf(tw, "OS power saving\t%s\n", *r.OSPowerSaving)
	}
	fmt.Fprintf(tw, "Available\t%s\n", strings.Join(r.AvailableActions, ", "))
	return tw.Flush()
}

// transitionName names the target of a transition: the action's name when
// the device reports the action it carries out (10 while resetting), the
// state's otherwise.
func transitionName(s power.State) string {
	for _, a := range power.Actions() {
		if int(a) == int(s) {
			return a.String()
		}
	}
	return s.String()
}

// reportAlready prints that the machine already was in the state the
// action leads to, so nothing was sent.
func reportAlready(cmd *cobra.Command, format, host string, a power.Action, st *power.Status, creds *credentialUse) error {
	changed := false
	return printAction(cmd, format, actionResult{
		Host: host, Action: a.String(), Accepted: false, Changed: &changed,
		Message: fmt.Sprintf("already %s; nothing sent", st.State),
		Extra:   map[string]any{"sent": false, "status": newPowerRecord(host, st), "credentials": creds},
	})
}

// report prints the result of a change: the new status when --wait read
// one, else a line saying the device accepted it.
func report(cmd *cobra.Command, format, host, what string, st *power.Status, creds *credentialUse) error {
	r := actionResult{Host: host, Action: what, Accepted: true, Message: what + " accepted",
		Extra: map[string]any{"sent": true, "status": nil, "credentials": creds}}
	if st != nil {
		r.Extra["status"] = newPowerRecord(host, st)
		r.Message = fmt.Sprintf("%s done; %s", what, machineIs(st.State))
	}
	return printAction(cmd, format, r)
}

// powerDryRun reads the state and says what the action would send: the
// same checks as the change itself, without the change.
func powerDryRun(cmd *cobra.Command, c *amt.Client, format, verb string) error {
	st, err := c.Power.Status(cmd.Context())
	if err != nil {
		return err
	}
	if verb == "wake" {
		// Refused as wake refuses it.
		if st.OSPowerSaving == power.OSPowerSavingUnsupported {
			return &power.UnsupportedError{What: []string{"OS power saving (IPS_PowerManagementService)"}}
		}
		if st.State != power.StateOn {
			return &power.WakeNotAvailableError{State: st.State, Available: st.Available}
		}
		if st.OSPowerSaving == power.OSFullPower {
			return dryRun(cmd, format, c.Host(), "wake", "the OS is at full power already: wake would send nothing")
		}
		return dryRun(cmd, format, c.Host(), "wake", "would wake the OS from power saving", planWake())
	}
	a, err := power.ParseAction(verb)
	if err != nil {
		return usageError{err}
	}
	if st.Transitioning {
		return &power.TransitioningError{State: st.State, To: st.TransitioningTo}
	}
	if !st.Offers(a) {
		return &power.NotAvailableError{Action: a, State: st.State, Available: st.Available}
	}
	return dryRun(cmd, format, c.Host(), a.String(), fmt.Sprintf("would send %s (%s now)", a, machineIs(st.State)), planPower(a))
}
