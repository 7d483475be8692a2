package fleet_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
)

func TestPowerStatusTwoExchanges(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.100.0.0/27"})
	res := collect(t, context.Background(), targets(sim), fleet.Task{Action: fleet.PowerStatus}, fastOpts())
	require.Len(t, res, len(sim.Devices()))
	for _, d := range sim.Devices() {
		r := res[d.HTTPAddr()]
		assert.Equal(t, fleet.Succeeded, r.Outcome, r.Message)
		var p fleet.PowerRecord
		require.NoError(t, json.Unmarshal(r.Data, &p))
		assert.Equal(t, 2, p.PowerState)
		assert.Equal(t, "on", p.PowerStateName)
		assert.Equal(t, "power on", r.Message)
		assert.EqualValues(t, 2, d.Stats().HTTPRequests, "HTTP exchanges for %s", d.HTTPAddr())
	}
}

func TestPowerResetOncePerMachine(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.100.1.0/28"})
	tg := targets(sim)
	tg = append(tg, tg[0], tg[1]) // duplicates are worked once
	res := collect(t, context.Background(), tg, fleet.Task{Action: fleet.PowerReset}, fastOpts())
	require.Len(t, res, len(sim.Devices()))
	for _, d := range sim.Devices() {
		r := res[d.HTTPAddr()]
		assert.Equal(t, fleet.Succeeded, r.Outcome, r.Message)
		assert.Equal(t, []int{10}, d.PowerRequests())
		t.Logf("%s: %d exchanges", d.HTTPAddr(), d.Stats().HTTPRequests)
	}
}
