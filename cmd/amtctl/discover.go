package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/discovery"
	"github.com/amtkit/amtkit/credentials"
)

// discoverFlags are the flags of amtctl discover.
type discoverFlags struct {
	rmcpPort, httpPort, tlsPort int
	rate                        int
	noRMCP                      bool
	rmcpWait                    time.Duration
	concurrency                 int
	timeout                     time.Duration
	all                         bool
	maxAddresses                uint64
	inventory                   bool
	user, password              string
	profile, state              string
	fallback, remember          bool
	output                      string
	verbose                     bool
}

func newDiscoverCommand() *cobra.Command {
	var f discoverFlags
	cmd := &cobra.Command{
		Use:   "discover TARGET...",
		Short: "Find Intel AMT machines on a network, without credentials; inventory them with",
		Long: "discover sweeps the targets for Intel AMT: an RMCP presence ping (UDP 623) to every address, then an\n" +
			"unauthenticated probe of the WS-Management ports (16992/16993) for the firmware version, digest realm and\n" +
			"TLS certificate. Addresses that do not answer RMCP are probed over TCP too, so machines with RMCP disabled\n" +
			"are found. With --inventory it logs in to every provisioned machine found and reads its capability record\n" +
			"(SKU, provisioning mode, names, UUID, boot capabilities, redirection, user consent, System Defense limits,\n" +
			"power state); over TLS it pins the certificate seen by the probe (trust on first use).\n\n" +
			"TARGET is an IPv4 CIDR (10.0.0.0/24), a range (10.0.0.10-10.0.0.50 or 10.0.0.10-50), an address,\n" +
			"a host name, or @FILE with one target per line (# starts a comment).\n\n" +
			"Each address where anything answered is printed as it completes (--output json: one object per line);\n" +
			"progress goes to stderr when it is a terminal, and a summary at the end. The exit status is non-zero\n" +
			"only when the command was misused or the scan could not run, not for machines that failed.",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tuneGCForFleets()
			return runDiscover(cmd, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.rmcpPort, "rmcp-port", discovery.DefaultRMCPPort, "UDP port of the RMCP presence ping")
	fl.IntVar(&f.httpPort, "http-port", amt.PortHTTP, "WS-Management port without TLS")
	fl.IntVar(&f.tlsPort, "tls-port", amt.PortTLS, "WS-Management port with TLS")
	fl.IntVar(&f.rate, "rate", discovery.DefaultRate, "RMCP packets per second at most")
	fl.BoolVar(&f.noRMCP, "no-rmcp", false, "skip the RMCP ping: probe every address over TCP")
	fl.DurationVar(&f.rmcpWait, "rmcp-wait", discovery.DefaultRMCPWait, "how long to wait for late RMCP pongs")
	fl.IntVar(&f.concurrency, "concurrency", discovery.DefaultConcurrency, "addresses probed over TCP at once")
	fl.DurationVar(&f.timeout, "timeout", discovery.DefaultProbeTimeout, "timeout of each port probe once connected")
	fl.BoolVar(&f.all, "all", false, "also print addresses where nothing answered")
	fl.Uint64Var(&f.maxAddresses, "max-addresses", discovery.DefaultMaxAddresses, "refuse to scan more addresses than this")
	fl.BoolVar(&f.inventory, "inventory", false, "log in to provisioned machines and read their capability record")
	fl.StringVarP(&f.user, "user", "u", "admin", "AMT user for --inventory")
	fl.StringVarP(&f.password, "password", "p", "", "AMT password for --inventory (or set AMT_PASSWORD)")
	fl.StringVar(&f.profile, "profile", "", "credential profile for --inventory (default: the store's default profile)")
	fl.StringVar(&f.state, "state", "", "directory of the credential store (default: $AMTKIT_STATE or the per-user state directory)")
	fl.BoolVar(&f.fallback, "fallback", false, "after --password, fall back to --profile (or the default profile) and the runtime entries")
	fl.BoolVar(&f.remember, "remember", false, "remember --password (or AMT_PASSWORD) in the runtime profile where it works")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log to stderr")
	return cmd
}

func runDiscover(cmd *cobra.Command, f *discoverFlags, args []string) error {
	if len(args) == 0 {
		return usageError{errors.New("discover: name at least one TARGET (CIDR, range, address, host name, @file or @-)")}
	}
	if err := firstError(
		checkOneOf("--output", f.output, "table", "json"),
		checkPort("--rmcp-port", f.rmcpPort, false),
		checkPort("--http-port", f.httpPort, false),
		checkPort("--tls-port", f.tlsPort, false),
	); err != nil {
		return err
	}
	switch {
	case f.rate < 1 || f.rate > discovery.MaxRate:
		return usageError{fmt.Errorf("--rate must be 1..%d packets per second", discovery.MaxRate)}
	case f.concurrency < 1 || f.concurrency > discovery.MaxConcurrency:
		return usageError{fmt.Errorf("--concurrency must be 1..%d", discovery.MaxConcurrency)}
	case f.rmcpWait < 0 || f.timeout <= 0:
		return usageError{errors.New("--rmcp-wait must not be negative and --timeout must be positive")}
	case f.maxAddresses == 0:
		return usageError{errors.New("--max-addresses must be positive")}
	}
	specs, err := readTargetSpecs(args, cmd.InOrStdin())
	if err != nil {
		return err
	}
	targets, err := uniqueTargets(specs, f.maxAddresses)
	if err != nil {
		return err
	}
	if targets.Len() > f.maxAddresses {
		return usageError{fmt.Errorf("%d addresses exceed --max-addresses %d; raise --max-addresses to scan them anyway", targets.Len(), f.maxAddresses)}
	}
	stderr := cmd.ErrOrStderr()
	opts := discovery.Options{
		RMCPPort: f.rmcpPort, HTTPPort: f.httpPort, TLSPort: f.tlsPort,
		Rate: f.rate, DisableRMCP: f.noRMCP, RMCPWait: f.rmcpWait,
		Concurrency: f.concurrency, ProbeTimeout: f.timeout,
		ReportAll: f.all, MaxAddresses: f.maxAddresses,
	}
	if f.verbose {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	password := f.password
	if password == "" {
		password = os.Getenv("AMT_PASSWORD")
	}
	if f.inventory {
		src, closeStore, err := f.source(cmd, password, stderr)
		if err != nil {
			return err
		}
		defer closeStore()
		opts.Inventory, opts.Source = true, src
	} else if password != "" || f.profile != "" {
		fmt.Fprintln(stderr, "amtctl: credentials are used only with --inventory")
	}

	prog := newProgress(cmd)
	if prog.Enabled() {
		opts.Progress = func(pr discovery.Progress) {
			prog.Show("discover: %d/%d addresses, %d AMT, %.0f/s", pr.Done, pr.Total, pr.Found, pr.Rate)
		}
		opts.ProgressInterval = 250 * time.Millisecond
	}

	out := cmd.OutOrStdout()
	var table *discoverTable
	var enc *json.Encoder
	if f.output == "json" {
		enc = json.NewEncoder(out)
	} else {
		table = &discoverTable{w: out, inventory: f.inventory}
	}
	seen := map[string]bool{}
	var sum summary
	start := time.Now()
	var scanErr error
	for r, err := range discovery.Scan(cmd.Context(), targets, opts) {
		if err != nil {
			scanErr = err
			break
		}
		// A host name that resolves to an address already scanned is
		// reported once.
		key := r.Host
		if r.Address.IsValid() {
			key = r.Address.String()
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		sum.add(r)
		if enc != nil {
			prog.Done()
			if err := enc.Encode(newDiscoverRecord(r)); err != nil {
				return err
			}
		} else {
			table.add(r)
		}
	}
	prog.Done()
	if table != nil {
		if err := table.flush(); err != nil {
			return err
		}
	}
	if scanErr != nil {
		if errors.Is(scanErr, discovery.ErrTooManyAddresses) {
			return usageError{fmt.Errorf("%d addresses exceed --max-addresses %d; raise --max-addresses to scan them anyway", targets.Len(), f.maxAddresses)}
		}
		fmt.Fprintln(stderr, sum.line(targets.Len(), time.Since(start), true))
		if errors.Is(scanErr, context.Canceled) {
			return errors.New("discover: interrupted")
		}
		return scanErr
	}
	fmt.Fprintln(stderr, sum.line(targets.Len(), time.Since(start), false))
	return nil
}

// source builds the credential source of --inventory: --user/--password
// alone (with --fallback, then the profiles), or a profile from the store
// (--profile, else the default profile); every login under the lockout
// guard kept in the local state.
func (f *discoverFlags) source(cmd *cobra.Command, password string, stderr io.Writer) (credentials.Source, func(), error) {
	ctx := cmd.Context()
	ch := credentialChoice{profile: f.profile, state: f.state, fallback: f.fallback, remember: f.remember}
	if password != "" {
		ch.task = &credentials.Credential{User: f.user, Password: password}
	}
	src, store, err := credentialSource(cmd, ch, stderr)
	if err != nil {
		return nil, nil, err
	}
	closeStore := func() { _ = store.Close() }
	if ch.task == nil && ch.profile == "" {
		profiles, err := store.Profiles(ctx)
		if err != nil {
			closeStore()
			return nil, nil, err
		}
		hasDefault := false
		for _, p := range profiles {
			hasDefault = hasDefault || p.Default
		}
		if !hasDefault {
			closeStore()
			return nil, nil, usageError{errors.New("--inventory needs --password (or AMT_PASSWORD), --profile, or a default profile in the credential store")}
		}
	}
	return src, closeStore, nil
}

// summary counts the results by classification.
type summary struct {
	reported, amt int
	byClass       [5]int
}

func (s *summary) add(r *discovery.Result) {
	s.reported++
	if r.AMT {
		s.amt++
	}
	if c := int(r.Classification); c >= 0 && c < len(s.byClass) {
		s.byClass[c]++
	}
}

func (s *summary) line(total uint64, took time.Duration, stopped bool) string {
	verb := "scanned"
	if stopped {
		verb = "stopped after scanning part of"
	}
	return fmt.Sprintf("amtctl: discover: %s %d addresses in %s: %d AMT (%d provisioned, %d not provisioned, %d authentication failed, %d errors), %d other answers",
		verb, total, formatDuration(took), s.amt, s.byClass[discovery.Provisioned], s.byClass[discovery.NotProvisioned],
		s.byClass[discovery.AuthFailed], s.byClass[discovery.Error], s.byClass[discovery.NoAMT])
}
