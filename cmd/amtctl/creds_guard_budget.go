package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/statedb"
)

// The lockout guard's budget as amtctl allows it to be set. The safe limit
// is the default: below the smallest lockout threshold of real firmware
// (amtsim's default, 3, models it) within a window no shorter than the
// default. Beyond it only with --unsafe, and never beyond the hard limits.
const (
	guardSafeMaxFailures = credentials.DefaultMaxFailures
	guardSafeMinWindow   = credentials.DefaultWindow
	guardHardMaxFailures = 10
	guardHardMinWindow   = time.Minute
	guardHardMaxWindow   = 24 * time.Hour
)

// budget is the guard's budget and where it came from.
type budget struct {
	MaxFailures int
	Window      time.Duration
	set         bool // kept in the state database (else the defaults)
}

func (b budget) safe() bool {
	return b.MaxFailures <= guardSafeMaxFailures && b.Window >= guardSafeMinWindow
}

func (b budget) String() string {
	s := fmt.Sprintf("the lockout guard allows %d failed login(s) per device within %v", b.MaxFailures, b.Window)
	switch {
	case !b.safe():
		s += fmt.Sprintf(", beyond the safe limit of %d within %v: a device that locks sooner will lock", guardSafeMaxFailures, guardSafeMinWindow)
	case !b.set:
		s += " (the default)"
	}
	return s
}

// guardBudget returns the budget kept in the state database, or the
// defaults.
func guardBudget(ctx context.Context, store credentials.Store) (budget, error) {
	b := budget{MaxFailures: credentials.DefaultMaxFailures, Window: credentials.DefaultWindow}
	ss, ok := store.(*stateStore)
	if !ok {
		return b, nil
	}
	kept, ok, err := ss.db.GuardBudget(ctx)
	if err != nil {
		return b, fmt.Errorf("state database: %w", err)
	}
	if ok {
		b = budget{MaxFailures: kept.MaxFailures, Window: kept.Window, set: true}
	}
	return b, nil
}

// checkBudget validates a budget to be set.
func checkBudget(b budget, unsafe bool) error {
	switch {
	case b.MaxFailures < 1 || b.MaxFailures > guardHardMaxFailures:
		return usageError{fmt.Errorf("--max-failures must be 1 to %d, not %d", guardHardMaxFailures, b.MaxFailures)}
	case b.Window < guardHardMinWindow || b.Window > guardHardMaxWindow:
		return usageError{fmt.Errorf("--window must be %v to %v, not %v", guardHardMinWindow, guardHardMaxWindow, b.Window)}
	case b.Window%time.Second != 0:
		return usageError{fmt.Errorf("--window must be whole seconds, not %v", b.Window)}
	case !b.safe() && !unsafe:
		return usageError{fmt.Errorf("%d failed login(s) within %v is beyond the safe limit of %d within %v, below the smallest lockout threshold of real firmware; "+
			"give --unsafe if these devices are known to lock later", b.MaxFailures, b.Window, guardSafeMaxFailures, guardSafeMinWindow)}
	}
	return nil
}

func newGuardSetCommand() *cobra.Command {
	var (
		state       string
		maxFailures int
		window      time.Duration
		unsafe      bool
		reset       bool
	)
	cmd := &cobra.Command{
		Use:   "set --max-failures N --window D",
		Short: "Set the lockout guard's budget, shared by every amtctl process using the state database",
		Long: fmt.Sprintf("set keeps the budget in the state database, beside the counts, so that every process and worker\n"+
			"sharing them spends it under the same limit. The default, and the safe limit, is %d failed logins per\n"+
			"device within %v. A lower count or a longer window is always allowed; beyond that only with --unsafe\n"+
			"(every device command then says so on stderr), and never beyond %d failures or below a window of %v.\n"+
			"--default removes the setting.", guardSafeMaxFailures, guardSafeMinWindow, guardHardMaxFailures, guardHardMinWindow),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if reset {
				if fl.Changed("max-failures") || fl.Changed("window") || unsafe {
					return usageError{errors.New("--default takes no other flag")}
				}
			} else if !fl.Changed("max-failures") && !fl.Changed("window") {
				return usageError{errors.New("give --max-failures, --window or both (or --default)")}
			}
			return withStore(cmd, state, func(db *stateStore) error {
				ctx := cmd.Context()
				if reset {
					if err := db.db.SetGuardBudget(ctx, statedb.GuardBudget{}); err != nil {
						return err
					}
					b, err := guardBudget(ctx, db)
					if err != nil {
						return err
					}
					fmt.Fprintln(cmd.OutOrStdout(), b)
					return nil
				}
				b, err := guardBudget(ctx, db)
				if err != nil {
					return err
				}
				if fl.Changed("max-failures") {
					b.MaxFailures = maxFailures
				}
				if fl.Changed("window") {
					b.Window = window
				}
				if err := checkBudget(b, unsafe); err != nil {
					return err
				}
				if err := db.db.SetGuardBudget(ctx, statedb.GuardBudget{MaxFailures: b.MaxFailures, Window: b.Window}); err != nil {
					return err
				}
				b.set = true
				fmt.Fprintln(cmd.OutOrStdout(), b)
				return nil
			})
		},
	}
	registerStateFlag(cmd.Flags(), &state)
	cmd.Flags().IntVar(&maxFailures, "max-failures", credentials.DefaultMaxFailures, "failed logins allowed per device within the window")
	cmd.Flags().DurationVar(&window, "window", credentials.DefaultWindow, "the sliding window the failures are counted in")
	cmd.Flags().BoolVar(&unsafe, "unsafe", false, "allow a budget beyond the safe limit (devices known to lock later)")
	cmd.Flags().BoolVar(&reset, "default", false, "remove the setting: the default budget applies again")
	return cmd
}
