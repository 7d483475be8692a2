package discovery_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/discovery"
)

func addrs(t *testing.T, tg *discovery.Targets) []string {
	t.Helper()
	var out []string
	for a := range tg.Addresses(context.Background()) {
		require.NoError(t, a.Err)
		out = append(out, a.Addr.String())
	}
	return out
}

func TestParseTargets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		specs []string
		want  []string
	}{
		{[]string{"192.0.2.0/30"}, []string{"192.0.2.1", "192.0.2.2"}},
		{[]string{"192.0.2.7/31"}, []string{"192.0.2.6", "192.0.2.7"}},
		{[]string{"192.0.2.9/32"}, []string{"192.0.2.9"}},
		{[]string{"192.0.2.5/29"}, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"}},
		{[]string{"192.0.2.254-192.0.3.1"}, []string{"192.0.2.254", "192.0.2.255", "192.0.3.0", "192.0.3.1"}},
		{[]string{"192.0.2.10-12"}, []string{"192.0.2.10", "192.0.2.11", "192.0.2.12"}},
		{[]string{"192.0.2.1, 2001:db8::5 192.0.2.3"}, []string{"192.0.2.1", "2001:db8::5", "192.0.2.3"}},
		{[]string{"2001:db8::1/128"}, []string{"2001:db8::1"}},
		{[]string{"255.255.255.254-255"}, []string{"255.255.255.254", "255.255.255.255"}},
	}
	for _, tt := range tests {
		tg, err := discovery.ParseTargets(tt.specs...)
		require.NoError(t, err, tt.specs)
		assert.Equal(t, tt.want, addrs(t, tg), tt.specs)
		assert.Equal(t, uint64(len(tt.want)), tg.Len(), tt.specs)
	}
}

func TestParseTargetsLazy(t *testing.T) {
	t.Parallel()
	tg, err := discovery.ParseTargets("10.0.0.0/8", "0.0.0.0/0")
	require.NoError(t, err)
	assert.Equal(t, uint64(1<<24-2+1<<32-2), tg.Len())
	n := 0
	for a := range tg.Addresses(context.Background()) {
		n++
		if n == 3 {
			assert.Equal(t, "10.0.0.3", a.Addr.String())
			break
		}
	}
}

func TestParseTargetsErrors(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{
		"", "192.0.2.0/33", "2001:db8::/64", "192.0.2.10-5", "192.0.2.10-300", "192.0.2.10-192.0.1.1",
		"192.0.2.1-2001:db8::1", "not a host!", "-bad.example", "999.1.1.1", "@", "@/nonexistent/targets.txt",
	} {
		_, err := discovery.ParseTargets(spec)
		assert.Error(t, err, "%q", spec)
	}
}

func TestParseTargetsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "targets.txt")
	require.NoError(t, os.WriteFile(path, []byte("# branch offices\n192.0.2.1\n\n192.0.2.8-9 # two\n  198.51.100.0/31\n"), 0o600))
	tg, err := discovery.ParseTargets("@"+path, "203.0.113.1")
	require.NoError(t, err)
	assert.Equal(t, []string{"192.0.2.1", "192.0.2.8", "192.0.2.9", "198.51.100.0", "198.51.100.1", "203.0.113.1"}, addrs(t, tg))

	nested := filepath.Join(dir, "nested.txt")
	require.NoError(t, os.WriteFile(nested, []byte("@"+path+"\n"), 0o600))
	_, err = discovery.ParseTargets("@" + nested)
	assert.ErrorContains(t, err, "nested")

	bad := filepath.Join(dir, "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("192.0.2.1\n192.0.2.0/40\n"), 0o600))
	_, err = discovery.ParseTargets("@" + bad)
	assert.ErrorContains(t, err, "bad.txt:2")
}

func TestTargetsHostNames(t *testing.T) {
	t.Parallel()
	tg, err := discovery.ParseTargets("localhost", "does-not-exist.invalid")
	require.NoError(t, err)
	var got []discovery.Target
	for a := range tg.Addresses(context.Background()) {
		got = append(got, a)
	}
	require.Len(t, got, 2)
	require.NoError(t, got[0].Err)
	assert.True(t, got[0].Addr.IsLoopback())
	assert.Equal(t, "localhost", got[0].Host)
	assert.Error(t, got[1].Err)
	assert.Equal(t, "does-not-exist.invalid", got[1].Host)
}
