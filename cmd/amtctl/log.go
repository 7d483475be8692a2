package main

import "github.com/spf13/cobra"

// newLogCommand is the parent of the log commands.
func newLogCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "log", Short: "Logs: amtctl's activity log"}
	addActivityLogCommands(cmd)
	return cmd
}
