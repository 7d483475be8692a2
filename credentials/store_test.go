package credentials_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/credentials/credtest"
)

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	credtest.RunAll(t, credtest.Engine{Ephemeral: true, Open: func(t *testing.T, _ string) credentials.Store {
		s := credentials.NewMemoryStore()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}})
}

func TestDBStore(t *testing.T) {
	t.Parallel()
	credtest.RunAll(t, credtest.Engine{Open: func(t *testing.T, location string) credentials.Store {
		return openTestDB(t, location)
	}})
}

func TestFileStore(t *testing.T) {
	t.Parallel()
	credtest.RunAll(t, credtest.Engine{Shared: true, Open: func(t *testing.T, location string) credentials.Store {
		s, err := credentials.OpenFile(filepath.Join(location, credentials.DatabaseFileName))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}})
}
