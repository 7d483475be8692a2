package fleet_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
)

// TestTLSAlone: amt.WithTLS without other TLS settings (verification
// against the system roots) gives each machine a TLS transport: the
// simulator's self-signed certificate is refused as TLS, before any
// request, rather than sent to the shared plain-HTTP transport.
func TestTLSAlone(t *testing.T) {
	t.Parallel()
	sim := newSim(t, amtsim.Options{DevicesCIDR: "127.186.1.0/30", HTTPPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1})
	var tg []string
	for _, d := range sim.Devices() {
		tg = append(tg, d.TLSAddr())
	}
	opts := fastOpts()
	opts.ClientOptions = append(opts.ClientOptions, amt.WithTLS())
	res := collect(t, context.Background(), tg, fleet.Task{Action: fleet.PowerStatus}, opts)
	require.Len(t, res, len(tg))
	for _, d := range sim.Devices() {
		r := res[d.TLSAddr()]
		assert.Equal(t, fleet.TLS, r.Outcome, r.Message)
		assert.Zero(t, d.Stats().HTTPRequests, "nothing got past TLS")
	}
}
