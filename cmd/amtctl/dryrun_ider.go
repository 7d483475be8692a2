package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
	"github.com/amtkit/amtkit/wsman"
)

// iderBootDryRun reads what ider boot reads (the power state, the
// redirection service, the opt-in service) and says what it would send, in
// the order BootFromImage sends it, and what it would put back afterwards.
func iderBootDryRun(cmd *cobra.Command, c *amt.Client, format string, target power.BootTarget, sol, console bool) error {
	ctx := cmd.Context()
	st, err := c.Power.Status(ctx)
	if err != nil {
		return err
	}
	if st.Transitioning {
		return &power.TransitioningError{State: st.State, To: st.TransitioningTo}
	}
	ws := c.WSMan()
	var reqs []plannedRequest
	var restore []string
	if in, err := ws.Get(ctx, wsman.ResourceURI("AMT_RedirectionService")); err == nil {
		state, _ := in.Uint("EnabledState")
		want := uint64(1) // IDE-R
		if console {
			want |= 2 // SOL
		}
		cur := uint64(0)
		if state >= 32768 && state <= 32771 {
			cur = state - 32768
		}
		if cur&want != want {
			reqs = append(reqs, invoke("AMT_RedirectionService", "RequestStateChange", "RequestedState", 32768+(cur|want)))
			restore = append(restore, fmt.Sprintf("redirection features (RequestedState %d)", state))
		}
		if on, _ := in.Bool("ListenerEnabled"); !on {
			reqs = append(reqs, put("AMT_RedirectionService", "ListenerEnabled", true))
			restore = append(restore, "redirection listener (ListenerEnabled false)")
		}
	}
	if in, err := ws.Get(ctx, wsman.ResourceURI("IPS_OptInService")); err == nil {
		required, _ := in.Uint("OptInRequired")
		state, _ := in.Uint("OptInState")
		if required == 4294967295 && state != 3 && state != 4 {
			if state == 0 {
				reqs = append(reqs, invoke("IPS_OptInService", "StartOptIn"))
			}
			reqs = append(reqs, invoke("IPS_OptInService", "SendOptInCode", "OptInCode", "(the code shown on the machine's screen)"))
		}
	}
	reqs = append(reqs, plannedRequest{Operation: "Redirect", Resource: "IDE-R session", Method: "open and enable the drives",
		Arguments: args("device", target.String(), "port", c.Redirect.Addr())})
	reqs = append(reqs, planNextBoot(target, power.BootOptions{SOL: sol})...)
	var actions []string
	for _, a := range startActions(st.State) {
		reqs = append(reqs, planPower(a))
		actions = append(actions, a.String())
	}
	reqs = append(reqs, planClearBoot()...)
	restore = append([]string{"one-time boot options (boot clear)"}, restore...)
	msg := fmt.Sprintf("would boot %s once from the image (%s, then %s), serve it, and afterwards put back: %s",
		target, machineIs(st.State), strings.Join(actions, " then "), strings.Join(restore, ", "))
	return dryRunWith(cmd, format, iderExtra(&redirect.BootResult{Device: target}, nil), c.Host(), "ider boot", msg, reqs...)
}
