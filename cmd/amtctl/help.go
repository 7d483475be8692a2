package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newHelpCommand replaces cobra's help command: "amtctl help COMMAND" as
// usual, plus the topics "json" (the JSON contract) and "man" (man pages
// generated from the command tree).
func newHelpCommand(root *cobra.Command) *cobra.Command {
	var manDir string
	cmd := &cobra.Command{
		Use:   "help [COMMAND... | json | man [--dir DIR]]",
		Short: "Help about a command, the JSON output (json) or the man pages (man)",
		Long: "help COMMAND shows a command's help. help json documents the keys of every command's JSON output\n" +
			"and of errors. help man writes the man page of amtctl to standard output, or with --dir one page per\n" +
			"command (amtctl.1, amtctl-info.1, ...) into that directory.",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 1 && args[0] == "json":
				_, err := fmt.Fprint(cmd.OutOrStdout(), jsonContract)
				return err
			case len(args) == 1 && args[0] == "man":
				return writeMan(root, cmd, manDir)
			}
			if manDir != "" {
				return usageError{errors.New("--dir goes with help man")}
			}
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 && target.HasSubCommands() {
				return usageError{fmt.Errorf("unknown help topic %q", args)}
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		},
	}
	cmd.Flags().StringVar(&manDir, "dir", "", "with man: write one man page per command into this directory")
	return cmd
}

// writeMan writes the man pages of the command tree.
func writeMan(root, cmd *cobra.Command, dir string) error {
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		var sec int64
		if _, err := fmt.Sscan(epoch, &sec); err == nil {
			date = time.Unix(sec, 0).UTC()
		}
	}
	header := &doc.GenManHeader{Title: "AMTCTL", Section: "1", Source: "amtkit " + readBuildVersion().Version, Manual: "amtkit manual", Date: &date}
	root.DisableAutoGenTag = true
	if dir == "" {
		return doc.GenMan(root, header, cmd.OutOrStdout())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "amtctl: man pages written to %s\n", dir)
	return nil
}
