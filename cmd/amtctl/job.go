package main

// amtctl job: fleet jobs kept in the state database (see "amtctl help job").

import (
	"github.com/spf13/cobra"
)

func newJobCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Run a task over many machines as a durable job, and follow, report, cancel or retry it",
	}
	cmd.AddCommand(newJobUICommand())
	return cmd
}
