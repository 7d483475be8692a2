package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/credentials"
)

// The simulator's default administrator account.
const (
	user     = "admin"
	password = "P@ssw0rd1"
)

// newFleet starts simulated devices on loopback addresses of cidr (each
// test its own range within 127.100.0.0-127.109.255.255).
func newFleet(t testing.TB, opts amtsim.Options) *amtsim.Server {
	t.Helper()
	if opts.TLSPort == 0 {
		opts.TLSPort = -1
	}
	if opts.RMCPPort == 0 {
		opts.RMCPPort = -1
	}
	if opts.RedirectPort == 0 {
		opts.RedirectPort = -1
	}
	if opts.RedirectTLSPort == 0 {
		opts.RedirectTLSPort = -1
	}
	return newSim(t, opts)
}

// newSim starts simulated devices with the ports opts asks for.
func newSim(t testing.TB, opts amtsim.Options) *amtsim.Server {
	t.Helper()
	sim, err := amtsim.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func targets(sim *amtsim.Server) []string {
	var out []string
	for _, d := range sim.Devices() {
		out = append(out, d.HTTPAddr())
	}
	return out
}

// collect runs the task and returns the results by host.
func collect(t testing.TB, ctx context.Context, tg []string, task fleet.Task, opts fleet.Options) map[string]fleet.Result {
	t.Helper()
	seq, err := fleet.Run(ctx, tg, task, opts)
	require.NoError(t, err)
	out := map[string]fleet.Result{}
	for r := range seq {
		_, dup := out[r.Host]
		require.False(t, dup, "two results for %s", r.Host)
		out[r.Host] = r
	}
	return out
}

func staticCreds() credentials.Source {
	return credentials.Static(credentials.Credential{User: user, Password: password})
}

func fastOpts() fleet.Options {
	return fleet.Options{
		Concurrency: 16, Credentials: staticCreds(), RetryDelay: 50 * time.Millisecond, Timeout: 5 * time.Second,
		ClientOptions: []amt.Option{amt.WithPowerChangeGap(0)},
	}
}
