package fleet_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/credentials"
)

// A reset costs 3 exchanges (challenge, the state read that is also the
// login, the change), with one known login and with a resolver; a
// power-off of a machine that is off costs 2 and sends nothing.
func TestPowerResetThreeExchanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cidr  string
		creds func(testing.TB) credentials.Source
	}{
		{"static", "127.100.2.0/29", func(testing.TB) credentials.Source { return staticCreds() }},
		{"resolver", "127.100.2.8/29", func(t testing.TB) credentials.Source { return resolverFor(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := newFleet(t, amtsim.Options{DevicesCIDR: tc.cidr})
			opts := fastOpts()
			opts.Credentials = tc.creds(t)
			res := collect(t, context.Background(), targets(sim), fleet.Task{Action: fleet.PowerReset}, opts)
			require.Len(t, res, len(sim.Devices()))
			for _, d := range sim.Devices() {
				r := res[d.HTTPAddr()]
				assert.Equal(t, fleet.Succeeded, r.Outcome, r.Message)
				assert.Equal(t, []int{10}, d.PowerRequests())
				assert.EqualValues(t, 3, d.Stats().HTTPRequests, "HTTP exchanges for %s", d.HTTPAddr())
			}
		})
	}
	t.Run("already off", func(t *testing.T) {
		sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.100.2.16/29"})
		for _, d := range sim.Devices() {
			d.SetPowerState(8)
		}
		opts := fastOpts()
		opts.Credentials = resolverFor(t)
		res := collect(t, context.Background(), targets(sim), fleet.Task{Action: fleet.PowerOff}, opts)
		for _, d := range sim.Devices() {
			r := res[d.HTTPAddr()]
			assert.Equal(t, fleet.Succeeded, r.Outcome, r.Message)
			var ch struct {
				Sent bool `json:"sent"`
			}
			require.NoError(t, json.Unmarshal(r.Data, &ch))
			assert.False(t, ch.Sent)
			assert.Empty(t, d.PowerRequests())
			assert.EqualValues(t, 2, d.Stats().HTTPRequests, "HTTP exchanges for %s", d.HTTPAddr())
		}
	})
}

// A read-only account that logs in is denied the change and gives way to
// the next candidate without counting as a failed login.
func TestPowerResetReadOnlyGivesWay(t *testing.T) {
	t.Parallel()
	sim := newFleet(t, amtsim.Options{DevicesCIDR: "127.100.2.24/30"})
	for _, d := range sim.Devices() {
		d.SetAccounts([]amtsim.Account{{User: "viewer", Password: password, ReadOnly: true}, {User: user, Password: password}})
	}
	store := credentials.NewMemoryStore()
	ctx := context.Background()
	require.NoError(t, store.PutProfile(ctx, credentials.Profile{Name: "default", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: "viewer", Password: password}}}))
	require.NoError(t, store.SetDefault(ctx, "default"))
	require.NoError(t, store.PutProfile(ctx, credentials.Profile{Name: "admin", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: password}}}))
	// A budget of one failed login: a denial counted as one would lock
	// out the second candidate.
	resolver, err := credentials.NewResolver(store, credentials.AllowOtherProfiles(true), credentials.WithGuard(credentials.NewGuard(1, time.Minute)))
	require.NoError(t, err)
	opts := fastOpts()
	opts.Credentials = resolver
	res := collect(t, ctx, targets(sim), fleet.Task{Action: fleet.PowerReset}, opts)
	for _, d := range sim.Devices() {
		r := res[d.HTTPAddr()]
		assert.Equal(t, fleet.Succeeded, r.Outcome, r.Message)
		assert.Equal(t, []int{10}, d.PowerRequests())
	}
}
