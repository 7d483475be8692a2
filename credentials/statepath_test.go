package credentials_test

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
)

func TestDefaultStatePath(t *testing.T) { // not parallel: Setenv
	state := filepath.Join(t.TempDir(), "my-state")
	t.Setenv(credentials.StateEnv, state)
	got, err := credentials.DefaultStatePath()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(state, "amtkit.db"), got)
	assert.NoDirExists(t, state, "nothing is created")

	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		t.Skip("the XDG layout applies to Linux and the BSDs")
	}
	t.Setenv(credentials.StateEnv, "")
	xdg := filepath.Join(t.TempDir(), "xdg-state")
	t.Setenv("XDG_STATE_HOME", xdg)
	got, err = credentials.DefaultStatePath()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(xdg, "amtkit", "amtkit.db"), got)

	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", "relative/ignored")
	got, err = credentials.DefaultStatePath()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".local", "state", "amtkit", "amtkit.db"), got)
	dir, err := credentials.DefaultStateDir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".local", "state", "amtkit"), dir)

	// Opening the default path creates the directory with mode 0700.
	db, err := credentials.Open(got)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	assert.FileExists(t, filepath.Join(dir, "amtkit.key"))
}
