package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/defense"
)

func newDefenseCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "defense",
		Short: "Quarantine a machine with System Defense network filters, and undo it",
		Long: "defense filters the host's own network traffic in the AMT firmware, so that an infected or unpatched machine\n" +
			"reaches only the servers that can remediate it (quarantine), or answers ping only (ping-only). Before anything is\n" +
			"sent, the policy is checked against the flows the machine needs (filters are stateless: each flow needs both\n" +
			"directions), against the device's limits and provisioning mode; a refusal exits 10 having changed nothing.\n" +
			"A timeout is required as a safety net (--timeout), unless --no-timeout says none is wanted.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newDefenseQuarantineCommand(), newDefensePingOnlyCommand(), newDefenseApplyCommand(),
		newDefenseCheckCommand(), newDefenseStatusCommand(), newDefenseStatsCommand(), newDefenseCapsCommand(),
		newDefenseRemoveCommand())
	return cmd
}

// defenseFlags are the device flags with --timeout meaning the policy's
// timeout; the per-request timeout is --op-timeout.
type defenseFlags struct {
	deviceFlags
	policyTimeout time.Duration
	noTimeout     bool
	iface         string
	require       []string
	dry           bool
}

func (f *defenseFlags) registerDevice(cmd *cobra.Command) {
	scratch := &cobra.Command{}
	f.deviceFlags.register(scratch)
	scratch.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Name != "timeout" {
			cmd.Flags().AddFlag(fl)
		}
	})
	cmd.Flags().DurationVar(&f.deviceFlags.timeout, "op-timeout", 60*time.Second, "timeout of each request to the device")
}

func (f *defenseFlags) registerApply(cmd *cobra.Command) {
	f.registerDevice(cmd)
	fl := cmd.Flags()
	fl.DurationVar(&f.policyTimeout, "timeout", 0, "the firmware lifts the policy after this long (whole minutes, at most 65535m): the safety net")
	fl.BoolVar(&f.noTimeout, "no-timeout", false, "apply without a timeout (the policy stays until removed)")
	fl.StringVar(&f.iface, "interface", "wired", "port to enable the policy on: wired, wireless or both")
	fl.StringArrayVar(&f.require, "require", nil, "a flow the machine must keep (repeatable): ADDR[:PORTS][/tcp|/udp|/icmp], from:ADDR:PORTS, arp, dhcp, ping")
	registerDryRun(cmd, &f.dry)
}

// applyOptions turns the flags into ApplyOptions.
func (f *defenseFlags) applyOptions(cmd *cobra.Command) (defense.ApplyOptions, error) {
	var o defense.ApplyOptions
	timeoutSet := cmd.Flags().Changed("timeout")
	switch {
	case timeoutSet && f.noTimeout:
		return o, usageError{errors.New("--timeout and --no-timeout exclude each other")}
	case !timeoutSet && !f.noTimeout:
		return o, usageError{errors.New("give --timeout D (the firmware lifts the policy after it) or, explicitly, --no-timeout")}
	case timeoutSet && f.policyTimeout <= 0:
		return o, usageError{errors.New("--timeout must be positive; use --no-timeout for none")}
	}
	o.Timeout, o.NoTimeout = f.policyTimeout, f.noTimeout
	iface, err := defense.ParseInterface(f.iface)
	if err != nil {
		return o, usageError{fmt.Errorf("--interface: %w", err)}
	}
	o.Interface = iface
	if o.Require, err = parseRequire(f.require); err != nil {
		return o, err
	}
	o.DryRun = f.dry
	return o, nil
}

func parseRequire(specs []string) ([]defense.Flow, error) {
	var out []defense.Flow
	for _, s := range specs {
		fl, err := defense.ParseFlows(s)
		if err != nil {
			return nil, usageError{fmt.Errorf("--require: %w", err)}
		}
		out = append(out, fl...)
	}
	return out, nil
}

func newDefenseQuarantineCommand() *cobra.Command {
	var (
		f                   defenseFlags
		allow, dns          []string
		noDHCP, anti, stats bool
		name                string
	)
	cmd := &cobra.Command{
		Use:   "quarantine --host H --allow ENDPOINT... (--timeout D | --no-timeout)",
		Short: "Cut a machine off from everything but ARP, DHCP, DNS and the servers named",
		Long: "quarantine drops all host traffic except ARP, DHCP (unless --no-dhcp), DNS to the --dns resolvers and traffic with each\n" +
			"--allow endpoint: ADDR[/MASK|/BITS|-ADDR][:PORT[-PORT],...][/tcp|/udp] (IPv6 with ports in brackets; ports without a\n" +
			"protocol mean TCP; no ports allow every port). Applying it again replaces it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := defense.QuarantineOptions{Name: name, NoDHCP: noDHCP, AntiSpoofing: anti, Statistics: stats}
			for _, a := range allow {
				e, err := defense.ParseEndpoint(a)
				if err != nil {
					return usageError{fmt.Errorf("--allow: %w", err)}
				}
				opts.Allow = append(opts.Allow, e)
			}
			for _, d := range dns {
				ip, err := netip.ParseAddr(strings.TrimSpace(d))
				if err != nil {
					return usageError{fmt.Errorf("--dns: %q is not an IP address", d)}
				}
				opts.DNS = append(opts.DNS, ip)
			}
			if len(opts.Allow) == 0 {
				return usageError{errors.New("--allow is required: the servers the machine must still reach")}
			}
			p, err := defense.Quarantine(opts)
			if err != nil {
				return usageError{err}
			}
			return runApply(cmd, &f, p, "quarantine")
		},
	}
	f.registerApply(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&allow, "allow", nil, "an endpoint the machine may reach (repeatable)")
	fl.StringArrayVar(&dns, "dns", nil, "a DNS resolver the machine may query (repeatable)")
	fl.BoolVar(&noDHCP, "no-dhcp", false, "leave DHCP out (static address)")
	fl.BoolVar(&anti, "anti-spoofing", false, "drop packets the host sends with another source identity")
	fl.BoolVar(&stats, "statistics", false, "count the packets of every filter (uses the port's counters)")
	fl.StringVar(&name, "name", "quarantine", "policy name (at most 16 characters)")
	return cmd
}

func newDefensePingOnlyCommand() *cobra.Command {
	var (
		f           defenseFlags
		anti, stats bool
	)
	cmd := &cobra.Command{
		Use:   "ping-only --host H (--timeout D | --no-timeout)",
		Short: "Drop all host traffic but ARP and ICMP, so that the machine still answers ping",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := defense.PingOnly(defense.PingOnlyOptions{AntiSpoofing: anti, Statistics: stats})
			if err != nil {
				return usageError{err}
			}
			return runApply(cmd, &f, p, "ping-only")
		},
	}
	f.registerApply(cmd)
	cmd.Flags().BoolVar(&anti, "anti-spoofing", false, "drop packets the host sends with another source identity")
	cmd.Flags().BoolVar(&stats, "statistics", false, "count the packets of every filter (uses the port's counters)")
	return cmd
}

func readPolicyFile(path string) (*defense.Policy, error) {
	if path == "" {
		return nil, usageError{errors.New("--policy FILE is required")}
	}
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, defense.MaxFileSize+1))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, usageError{fmt.Errorf("--policy: %w", err)}
	}
	p, err := defense.ParsePolicyFile(data)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", path, err)}
	}
	return p, nil
}

func newDefenseApplyCommand() *cobra.Command {
	var (
		f    defenseFlags
		file string
	)
	cmd := &cobra.Command{
		Use:   "apply --host H --policy FILE (--timeout D | --no-timeout)",
		Short: "Apply a custom policy from a policy file",
		Long:  "apply reads a policy file (YAML; see examples/quarantine/policy.yaml), checks it against its require list and\n--require, and applies it.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := readPolicyFile(file)
			if err != nil {
				return err
			}
			return runApply(cmd, &f, p, "apply")
		},
	}
	f.registerApply(cmd)
	cmd.Flags().StringVar(&file, "policy", "", "policy file (- for standard input)")
	return cmd
}

// runApply applies p (or, with --dry-run, plans it) and prints the result.
func runApply(cmd *cobra.Command, f *defenseFlags, p *defense.Policy, action string) error {
	opts, err := f.applyOptions(cmd)
	if err != nil {
		return err
	}
	return f.run(cmd, func(ctx context.Context, c *amt.Client) error {
		return applyOn(ctx, cmd, c, f, p, opts, action)
	})
}

// applyOn applies p on c and prints the result.
func applyOn(ctx context.Context, cmd *cobra.Command, c *amt.Client, f *defenseFlags, p *defense.Policy, opts defense.ApplyOptions, action string) error {
	res, err := c.Defense.Apply(ctx, p, opts)
	if err != nil {
		var ref *defense.RefusedError
		if errors.As(err, &ref) && ref.Report != nil && f.output != "json" {
			fmt.Fprint(cmd.ErrOrStderr(), ref.Report.String())
		}
		var fe *defense.FieldError
		if errors.As(err, &fe) {
			return usageError{err}
		}
		return err
	}
	extra := map[string]any{
		"policy":      policyJSON(p),
		"policy_id":   nullString(res.PolicyID),
		"filter_ids":  nonNil(res.FilterIDs),
		"interfaces":  interfaceNames(res.Interfaces),
		"replaced":    nonNil(res.Replaced),
		"unbound":     nonNil(res.Unbound),
		"report":      reportJSON(res.Report),
		"round_trips": res.RoundTrips,
		"writes":      res.Writes,
	}
	w := cmd.OutOrStdout()
	if f.output != "json" {
		printPolicy(w, p)
		fmt.Fprint(w, res.Report.String())
	}
	timeout := "no timeout"
	if opts.Timeout > 0 {
		timeout = "timeout " + formatDuration(opts.Timeout.Round(time.Minute))
	}
	if res.DryRun {
		reqs := plannedRequests(res.Plan)
		msg := fmt.Sprintf("dry run: would apply policy %q (%d filters, %s) on %s in %d round trips (%d writes); nothing was sent",
			p.Name, len(p.Filters), timeout, strings.Join(interfaceNames(res.Interfaces), "+"), res.RoundTrips, res.Writes)
		return printAction(cmd, f.output, actionResult{Host: c.Host(), Action: action, Changed: boolp(false), Message: msg, DryRun: true, WouldSend: reqs, Extra: extra})
	}
	msg := fmt.Sprintf("policy %q (%s) applied with %d filters, %s, on %s; %d round trips",
		p.Name, res.PolicyID, len(res.FilterIDs), timeout, strings.Join(interfaceNames(res.Interfaces), "+"), res.RoundTrips)
	if len(res.Replaced) > 0 {
		msg += fmt.Sprintf("; replaced %s", strings.Join(res.Replaced, ", "))
	}
	return printAction(cmd, f.output, actionResult{Host: c.Host(), Action: action, Accepted: true, Changed: boolp(true), Message: msg, Extra: extra})
}

// checkFailed is the exit of "defense check" when a flow would be dropped.
type checkFailed struct{ n int }

func (e checkFailed) Error() string {
	return fmt.Sprintf("%d required flow(s) would be dropped", e.n)
}

func (checkFailed) Is(target error) bool { return target == defense.ErrUnsafe }

func newDefenseCheckCommand() *cobra.Command {
	var (
		file, output string
		require      []string
	)
	cmd := &cobra.Command{
		Use:   "check --policy FILE [--require FLOW...]",
		Short: "Check offline that a policy lets every required flow through (exit 10 when not)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOneOf("--output", output, "table", "json"); err != nil {
				return err
			}
			p, err := readPolicyFile(file)
			if err != nil {
				return err
			}
			extra, err := parseRequire(require)
			if err != nil {
				return err
			}
			r := defense.Check(p, append(p.Flows, extra...))
			w := cmd.OutOrStdout()
			if output == "json" {
				if err := writeJSON(w, map[string]any{"policy": policyJSON(p), "report": reportJSON(r), "ok": r.OK()}); err != nil {
					return err
				}
			} else {
				fmt.Fprint(w, r.String())
			}
			if !r.OK() {
				return checkFailed{len(r.Failed())}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "policy", "", "policy file (- for standard input)")
	cmd.Flags().StringArrayVar(&require, "require", nil, "a flow the policy must let through (repeatable)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newDefenseStatusCommand() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "status --host H",
		Short: "Show the System Defense policies enabled and active on each port, with their filters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd, &f, func(ctx context.Context, c *amt.Client) (*defense.Status, error) { return c.Defense.Status(ctx) },
				printDefenseStatus)
		},
	}
	f.register(cmd)
	return cmd
}

func newDefenseStatsCommand() *cobra.Command {
	var (
		f          deviceFlags
		reset, dry bool
	)
	cmd := &cobra.Command{
		Use:   "stats --host H [--reset]",
		Short: "Refresh and show the packets each filter and default of the active policies matched",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dry && !reset {
				return usageError{errors.New("--dry-run needs --reset: reading the counters changes nothing")}
			}
			if dry {
				return f.run(cmd, func(ctx context.Context, c *amt.Client) error { return statsResetDryRun(ctx, cmd, c, f.output) })
			}
			return show(cmd, &f, func(ctx context.Context, c *amt.Client) ([]defense.PortStatistics, error) {
				return c.Defense.Statistics(ctx, reset)
			}, func(w io.Writer, format, host string, stats []defense.PortStatistics) error {
				return printDefenseStats(w, format, host, stats, reset)
			})
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&reset, "reset", false, "zero the counters after reading them")
	registerDryRun(cmd, &dry)
	return cmd
}

// statsResetDryRun says what stats --reset would send: UpdateStatistics
// with ResetOnRead on the policy active on each port.
func statsResetDryRun(ctx context.Context, cmd *cobra.Command, c *amt.Client, format string) error {
	st, err := c.Defense.Status(ctx)
	if err != nil {
		return err
	}
	var reqs []plannedRequest
	var ports []string
	for _, in := range st.Interfaces {
		if in.Active == nil {
			continue
		}
		reqs = append(reqs, invoke("AMT_SystemDefensePolicy", "UpdateStatistics", "InstanceID", in.Active.ID,
			"NetworkInterface", in.Interface.String(), "ResetOnRead", true))
		ports = append(ports, fmt.Sprintf("%s (policy %q)", in.Interface, in.Active.Name))
	}
	msg := "would zero the counters of the active policies on " + strings.Join(ports, ", ")
	if len(ports) == 0 {
		msg = "no policy is active: there are no counters to zero"
	}
	return dryRun(cmd, format, c.Host(), "reset statistics", msg, reqs...)
}

func newDefenseCapsCommand() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "caps --host H",
		Short: "Show the device's System Defense limits and provisioning mode",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd, &f, func(ctx context.Context, c *amt.Client) (*defense.Capabilities, error) {
				return c.Defense.Capabilities(ctx)
			}, printDefenseCaps)
		},
	}
	f.register(cmd)
	return cmd
}

func newDefenseRemoveCommand() *cobra.Command {
	var (
		f        deviceFlags
		all, dry bool
	)
	cmd := &cobra.Command{
		Use:   "remove --host H [--all]",
		Short: "Disable and delete the policies and filters amtkit created (or, with --all, every one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, c *amt.Client) error {
				res, err := c.Defense.Remove(ctx, defense.RemoveOptions{All: all, DryRun: dry})
				if err != nil {
					return err
				}
				names := make([]string, 0, len(res.Policies))
				for _, p := range res.Policies {
					names = append(names, p.Name)
				}
				extra := map[string]any{"policies": names, "filter_ids": nonNil(res.Filters), "bindings": res.Bindings, "round_trips": res.RoundTrips}
				msg := fmt.Sprintf("removed %d policies (%s), %d filters, %d port bindings", len(names), strings.Join(names, ", "), len(res.Filters), res.Bindings)
				if dry {
					return printAction(cmd, f.output, actionResult{Host: c.Host(), Action: "remove", Changed: boolp(false), DryRun: true,
						Message: "dry run: would have " + msg + "; nothing was sent", WouldSend: plannedRequests(res.Plan), Extra: extra})
				}
				changed := len(names)+len(res.Filters) > 0
				return printAction(cmd, f.output, actionResult{Host: c.Host(), Action: "remove", Accepted: true, Changed: &changed, Message: msg, Extra: extra})
			})
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "remove every System Defense policy and filter, not only amtkit's")
	registerDryRun(cmd, &dry)
	return cmd
}

// defenseExit maps System Defense refusals to exit statuses.
func defenseExit(err error) (int, bool) {
	var ref *defense.RefusedError
	var cf checkFailed
	switch {
	case errors.As(err, &ref), errors.As(err, &cf):
		return exitRefused, true
	case errors.Is(err, defense.ErrBusy):
		return exitFailure, true
	}
	return 0, false
}

// plannedRequests are the requests a System Defense dry run planned.
func plannedRequests(plan []defense.Request) []plannedRequest {
	reqs := make([]plannedRequest, 0, len(plan))
	for _, r := range plan {
		reqs = append(reqs, plannedRequest{Operation: r.Operation, Resource: r.Class, Method: r.Method, Arguments: nonNilMap(r.Args)})
	}
	return reqs
}
