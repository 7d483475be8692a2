package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildVersion is what the binary knows of its own build: the module
// version, the commit (with "-dirty" when built from a modified tree) and
// the Go version, from the build information the Go toolchain embeds.
type buildVersion struct {
	Module    string  `json:"module"`
	Version   string  `json:"version"`
	Commit    *string `json:"commit"`
	Modified  bool    `json:"modified"`
	GoVersion string  `json:"go_version"`
}

// buildCommit is the commit when the build has no VCS information
// (go build -ldflags "-X main.buildCommit=...").
var buildCommit string

func readBuildVersion() buildVersion {
	v := buildVersion{Module: "github.com/amtkit/amtkit", Version: "(unknown)"}
	if buildCommit != "" {
		v.Commit = &buildCommit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.GoVersion = bi.GoVersion
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			c := s.Value
			v.Commit = &c
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the line amtctl --version prints.
func (v buildVersion) String() string {
	commit := "unknown commit"
	if v.Commit != nil {
		commit = "commit " + *v.Commit
		if v.Modified {
			commit += "-dirty"
		}
	}
	return fmt.Sprintf("%s %s (%s, %s)", v.Module, v.Version, commit, v.GoVersion)
}

func newVersionCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show amtctl's module version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOneOf("--output", output, "table", "json"); err != nil {
				return err
			}
			v := readBuildVersion()
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "amtctl", v)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
