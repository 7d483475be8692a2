package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/statedb"
)

// checkKeyFile refuses to run, as ssh refuses a private key others can
// read, when the key file that seals the stored credentials is readable
// or writable by anyone but its owner. It runs before every command, so
// no command reads a secret through a key that may be known to others.
func checkKeyFile(cmd *cobra.Command) error {
	path := os.Getenv(statedb.KeyFileEnv)
	if path == "" {
		target, _, err := stateTarget(cmd, flagValue(cmd, "state"))
		if err != nil || statedb.IsPostgres(target) {
			return nil // with Postgres the key file is named by the environment
		}
		path = filepath.Join(filepath.Dir(strings.TrimPrefix(target, "sqlite:")), statedb.KeyFileName)
	}
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("refusing to use the key file %s: it is accessible by others (mode %04o); "+
			"run chmod 600 %s, and change the stored passwords if others may have read it", path, perm, path)
	}
	return nil
}
