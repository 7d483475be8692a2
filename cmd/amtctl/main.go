// Command amtctl manages Intel AMT (vPro) machines out of band: identity
// and inventory now, power, boot, redirection, System Defense, discovery
// and fleet jobs as they land. Run "amtctl demo" for a tour against a
// simulated machine.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/power"
)

// Exit statuses, one per failure class, so that scripts can branch on why
// a command failed.
const (
	exitOK             = 0
	exitFailure        = 1
	exitUsage          = 2
	exitUnreachable    = 3
	exitNotDetected    = 4
	exitAuthFailed     = 5
	exitTLS            = 6
	exitNotProvisioned = 7
	exitDevice         = 8
	exitLockedOut      = 9
	exitRefused        = 10
	// exitOutcomeUnknown: a change was sent but its answer was lost;
	// whether the device acted is unknown.
	exitOutcomeUnknown = 11
	// exitNotReached: a change was accepted but --wait ran out before the
	// machine reached the state.
	exitNotReached = 12
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError marks errors in how the command was called.
type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, os.Stdin, stdout, stderr)
}

// runIO is run with its standard input given.
func runIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetIn(stdin)
	// Cobra reports an unknown command or wrong arguments before any
	// command runs, with plain errors; those are usage errors too.
	started := false
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		started = true
		return firstError(checkNamedFlags(cmd), applyDefaults(cmd), checkKeyFile(cmd))
	}
	root.SetArgs(args)
	rec, start := &commandRecord{}, time.Now()
	cmd, err := root.ExecuteContextC(context.WithValue(ctx, recordKey{}, rec))
	if started {
		recordActivity(ctx, cmd, cmd.Flags().Args(), rec, start, err, stderr)
	}
	rec.close(stderr)
	if err == nil {
		return exitOK
	}
	if !started {
		err = usageError{err}
	}
	code := exitCode(err)
	if cmd == nil {
		cmd = root
	}
	fmt.Fprintln(stderr, "amtctl:", userMessage(err))
	if code == exitUsage {
		fmt.Fprint(stderr, "\n", cmd.UsageString())
	}
	if outputFormat(cmd, args) == "json" {
		_ = writeJSONError(stdout, flagValue(cmd, "host"), err, code)
	}
	return code
}

// outputFormat is the --output of cmd, or, when cmd has no such flag (an
// unknown command), what the arguments ask for.
func outputFormat(cmd *cobra.Command, args []string) string {
	f := cmd.Flags().Lookup("output")
	if f != nil && f.Changed {
		return f.Value.String()
	}
	// Parsing may have stopped before --output (at an unknown flag).
args:
	for i, a := range args {
		switch {
		case (a == "--output" || a == "-o") && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, "--output="):
			return strings.TrimPrefix(a, "--output=")
		case a == "-ojson":
			return "json"
		case a == "--":
			break args
		}
	}
	if f != nil {
		return f.Value.String()
	}
	return ""
}

// flagValue is the value of cmd's flag name, "" when it has none.
func flagValue(cmd *cobra.Command, name string) string {
	if f := cmd.Flags().Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

func exitCode(err error) int {
	var ue usageError
	var se *signalError
	if code, ok := defenseExit(err); ok && !errors.As(err, &ue) {
		return code
	}
	if code, ok := jobExit(err); ok {
		return code
	}
	switch {
	case errors.As(err, &se):
		return se.exitCode()
	case errors.As(err, &ue), errors.Is(err, amt.ErrInvalidArgument):
		return exitUsage
	case errors.Is(err, amt.ErrOutcomeUnknown):
		return exitOutcomeUnknown
	case errors.Is(err, power.ErrNotAvailable), errors.Is(err, power.ErrTransitioning), errors.Is(err, power.ErrUnsupported),
		errors.Is(err, power.ErrStateUnknown):
		return exitRefused
	case errors.Is(err, power.ErrNotReached):
		return exitNotReached
	case errors.Is(err, amt.ErrAuthFailed):
		return exitAuthFailed
	case errors.Is(err, amt.ErrLockedOut):
		return exitLockedOut
	case errors.Is(err, amt.ErrTLS):
		return exitTLS
	case errors.Is(err, amt.ErrNotDetected):
		return exitNotDetected
	case errors.Is(err, amt.ErrNotProvisioned):
		return exitNotProvisioned
	case errors.Is(err, amt.ErrUnreachable):
		return exitUnreachable
	case errors.Is(err, amt.ErrDevice):
		return exitDevice
	}
	return exitFailure
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "amtctl",
		Short:         "Manage Intel AMT (vPro) machines out of band",
		Version:       readBuildVersion().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("amtctl {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	registerGlobalStateFlags(root.PersistentFlags(), &stateFlags{})
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{plainFlagError(err)} })
	root.PersistentFlags().BoolP("quiet", "q", false, "no progress on stderr")
	root.PersistentFlags().String("config", "", "configuration file (default $XDG_CONFIG_HOME/amtkit/config.yaml)")
	root.AddCommand(newDiscoverCommand(), newInfoCommand(), newPowerCommand(), newBootCommand(), newIDERCommand(), newSOLCommand(), newRedirectCommand(), newCredsCommand(), newDefenseCommand(), newDemoCommand())
	root.AddCommand(newVersionCommand(), newConfigCommand())
	root.AddCommand(newHWCommand(), newLogCommand(), newTimeCommand())
	root.AddCommand(newJobCommand(), newCollectionCommand())
	root.SetHelpCommand(newHelpCommand(root))
	applyFlagRules(root)
	registerCompletions(root)
	return root
}

func init() {
	// Every command's persistent pre-run hooks run, the root's first: its
	// checks and defaults hold for commands that add their own.
	cobra.EnableTraverseRunHooks = true
}
