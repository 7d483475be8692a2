package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/credentials"
)

// checkKeyFile refuses to run, as ssh refuses a private key others can
// read, when the key file that seals the stored credentials is readable
// or writable by anyone but its owner. It runs before every command, so
// no command reads a secret through a key that may be known to others.
func checkKeyFile(cmd *cobra.Command) error {
	path := os.Getenv(credentials.KeyFileEnv)
	if path == "" {
		db, _, err := statePath(flagValue(cmd, "state"))
		if err != nil {
			return nil
		}
		path = filepath.Join(filepath.Dir(db), credentials.KeyFileName)
	}
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return usageError{fmt.Errorf("refusing to use the key file %s: it is accessible by others (mode %04o); "+
			"run chmod 600 %s, and change the stored passwords if others may have read it", path, perm, path)}
	}
	return nil
}
