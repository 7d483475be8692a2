package credentials_test

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
)

func TestDefaultStateDir(t *testing.T) { // not parallel: Setenv
	state := filepath.Join(t.TempDir(), "my-state")
	t.Setenv(credentials.StateEnv, state)
	got, err := credentials.DefaultStateDir()
	require.NoError(t, err)
	assert.Equal(t, state, got)
	assert.NoDirExists(t, state, "nothing is created")

	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		t.Skip("the XDG layout applies to Linux and the BSDs")
	}
	t.Setenv(credentials.StateEnv, "")
	xdg := filepath.Join(t.TempDir(), "xdg-state")
	t.Setenv("XDG_STATE_HOME", xdg)
	got, err = credentials.DefaultStateDir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(xdg, "amtkit"), got)

	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", "relative/ignored")
	got, err = credentials.DefaultStateDir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".local", "state", "amtkit"), got)
	assert.NoDirExists(t, got, "nothing is created")
}
