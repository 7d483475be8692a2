package main

// Rules that hold for every command without any code in it; they are
// applied to the whole command tree by newRootCommand, after every command
// is added:
//
//   - a flag given twice is a usage error ("--host given twice"), except
//     list flags that take many values (--pin A --pin B);
//   - a command that only groups subcommands (boot, creds, ...) fails with
//     exit 2 and its usage when called without one or with an unknown one;
//   - --profile, when given, must be a name (not empty).

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// onceValue wraps a flag's value to refuse a second Set.
type onceValue struct {
	pflag.Value
	name string
	set  bool
}

func (v *onceValue) Set(s string) error {
	if v.set {
		return fmt.Errorf("--%s given twice: give it once", v.name)
	}
	v.set = true
	return v.Value.Set(s)
}

// Type keeps the wrapped flag's type (bool flags need "bool" for
// completion and help).
func (v *onceValue) Type() string { return v.Value.Type() }

// IsBoolFlag is kept for the help's rendering.
func (v *onceValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// manyValued reports whether a flag takes many values by repetition.
func manyValued(f *pflag.Flag) bool {
	t := f.Value.Type()
	return strings.HasSuffix(t, "Slice") || strings.HasSuffix(t, "Array") || t == "count" ||
		strings.HasPrefix(t, "stringTo")
}

// applyFlagRules applies the rules above to cmd and everything under it.
func applyFlagRules(cmd *cobra.Command) {
	wrap := func(f *pflag.Flag) {
		if _, done := f.Value.(*onceValue); done || manyValued(f) {
			return
		}
		f.Value = &onceValue{Value: f.Value, name: f.Name}
	}
	cmd.Flags().VisitAll(wrap)
	cmd.PersistentFlags().VisitAll(wrap)
	if cmd.HasSubCommands() && cmd.Run == nil && cmd.RunE == nil {
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())}
			}
			return usageError{fmt.Errorf("%s needs a command: %s", c.CommandPath(), strings.Join(subcommandNames(c), ", "))}
		}
	}
	for _, sub := range cmd.Commands() {
		applyFlagRules(sub)
	}
}

func subcommandNames(c *cobra.Command) []string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return names
}

// checkNamedFlags refuses an empty --profile (and the like) given on the
// command line.
func checkNamedFlags(cmd *cobra.Command) error {
	for _, n := range []string{"profile"} {
		if f := cmd.Flags().Lookup(n); f != nil && f.Changed {
			if err := checkName("--"+n, f.Value.String()); err != nil {
				return err
			}
		}
	}
	return nil
}

// plainFlagError keeps only the reason of a flag given twice, which the
// flag parser wraps in "invalid argument ... for ... flag".
func plainFlagError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, ": --"); i >= 0 && strings.Contains(msg[i:], " given twice") {
		return errors.New(msg[i+2:])
	}
	return err
}
