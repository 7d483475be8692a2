package credentials

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// StateEnv names the environment variable that overrides the state directory.
const StateEnv = "AMTKIT_STATE"

// DefaultStateDir returns the directory that holds amtkit's state: $AMTKIT_STATE
// when set; otherwise the per-user state directory, which is
// $XDG_STATE_HOME/amtkit (when XDG_STATE_HOME is an absolute path) or
// ~/.local/state/amtkit on Linux and the BSDs, ~/Library/Application
// Support/amtkit on macOS, and %LocalAppData%\amtkit on Windows. It creates
// nothing.
func DefaultStateDir() (string, error) {
	if dir := os.Getenv(StateEnv); dir != "" {
		return dir, nil
	}
	switch runtime.GOOS {
	case "windows":
		dir := os.Getenv("LocalAppData")
		if dir == "" {
			return "", errors.New("credentials: %LocalAppData% is not set; set " + StateEnv)
		}
		return filepath.Join(dir, "amtkit"), nil
	case "darwin", "ios":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("credentials: no state directory (set %s): %w", StateEnv, err)
		}
		return filepath.Join(home, "Library", "Application Support", "amtkit"), nil
	}
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "amtkit"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("credentials: no state directory (set %s): %w", StateEnv, err)
	}
	return filepath.Join(home, ".local", "state", "amtkit"), nil
}
