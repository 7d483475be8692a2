package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/statedb"
)

// creds runtime list sorts addresses numerically, and forget takes the
// address without a port.
func TestCredsRuntimeListAndForget(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	sdb, err := statedb.Open(context.Background(), filepath.Join(state, statedb.FileName))
	require.NoError(t, err)
	db := sdb.Credentials()
	for _, h := range []string{"192.0.2.100:16993", "192.0.2.9:16992", "192.0.2.10:16992", "10.1.1.1"} {
		require.NoError(t, db.PutRuntime(context.Background(), h, credentials.RuntimeEntry{Credential: credentials.Credential{User: user, Password: password}, LearnedAt: time.Now()}))
	}
	require.NoError(t, sdb.Close())

	code, out, errOut := amtctl(t, "creds", "runtime", "list", "--state", state)
	require.Equal(t, exitOK, code, errOut)
	var hosts []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		hosts = append(hosts, strings.Fields(line)[0])
	}
	assert.Equal(t, []string{"10.1.1.1", "192.0.2.9", "192.0.2.10", "192.0.2.100"}, hosts)
	assert.NotContains(t, out, password)

	code, out, errOut = amtctl(t, "creds", "runtime", "forget", "192.0.2.10", "--state", state)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "192.0.2.10")
	code, out, _ = amtctl(t, "creds", "runtime", "list", "--state", state, "-o", "json")
	require.Equal(t, exitOK, code)
	assert.NotContains(t, out, `"192.0.2.10"`)
	assert.Contains(t, out, `"192.0.2.100"`)
	code, _, _ = amtctl(t, "creds", "runtime", "forget", "192.0.2.10:16993", "--state", state)
	assert.NotEqual(t, exitOK, code, "nothing left to forget for that device")
}
