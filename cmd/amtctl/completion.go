package main

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// registerCompletions adds, to every command that has the flags, the
// completion of --output values, of --profile names from the credential
// store and of --host from the hosts of the runtime profile. (The shell
// scripts themselves come from cobra: amtctl completion bash|zsh|fish|powershell.)
func registerCompletions(cmd *cobra.Command) {
	fl := cmd.Flags()
	if fl.Lookup("output") != nil {
		_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	}
	if fl.Lookup("profile") != nil {
		_ = cmd.RegisterFlagCompletionFunc("profile", func(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
			return completeFromStore(c, prefix, func(ctx context.Context, db *stateStore) []string {
				ps, err := db.Profiles(ctx)
				if err != nil {
					return nil
				}
				var names []string
				for _, p := range ps {
					names = append(names, p.Name)
				}
				return names
			})
		})
	}
	if fl.Lookup("host") != nil {
		_ = cmd.RegisterFlagCompletionFunc("host", func(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
			return completeFromStore(c, prefix, func(ctx context.Context, db *stateStore) []string {
				rs, err := db.RuntimeEntries(ctx)
				if err != nil {
					return nil
				}
				var hosts []string
				for _, e := range rs {
					hosts = append(hosts, e.Host)
				}
				return hosts
			})
		})
	}
	for _, sub := range cmd.Commands() {
		registerCompletions(sub)
	}
}

// completeFromStore lists names from the credential store, if it exists,
// that start with prefix.
func completeFromStore(cmd *cobra.Command, prefix string, list func(context.Context, *stateStore) []string) ([]string, cobra.ShellCompDirective) {
	dir := flagValue(cmd, "state")
	target, _, err := stateTarget(cmd, dir)
	if err != nil || !stateExists(target) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cmd.SetContext(ctx)
	db, err := openStore(cmd, dir)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer db.Close()
	var out []string
	for _, n := range list(ctx, db) {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}
