package fleet_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/internal/testiso"
)

// readOnlyFirst is a resolver whose first candidate (the default profile)
// is a read-only account and whose second is the administrator, under a
// lockout guard with the budget given.
func readOnlyFirst(t *testing.T, sim *amtsim.Server, budget int) credentials.Source {
	t.Helper()
	for _, d := range sim.Devices() {
		d.SetAccounts([]amtsim.Account{{User: "viewer", Password: password, ReadOnly: true}, {User: user, Password: password}})
	}
	ctx := context.Background()
	store := credentials.NewMemoryStore()
	require.NoError(t, store.PutProfile(ctx, credentials.Profile{Name: "default", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: "viewer", Password: password}}}))
	require.NoError(t, store.SetDefault(ctx, "default"))
	require.NoError(t, store.PutProfile(ctx, credentials.Profile{Name: "admin", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: password}}}))
	resolver, err := credentials.NewResolver(store, credentials.AllowOtherProfiles(true), credentials.WithGuard(credentials.NewGuard(budget, time.Minute)))
	require.NoError(t, err)
	return resolver
}

// TestWakeAndIDERUnderAuthorize: the wake-first tasks and IDE-R boots run
// under Authorize as the other changes do: a first candidate that logs in
// but lacks the right to the change (a read-only account) gives way to
// the second, without a failed login, and the machine is done once.
func TestWakeAndIDERUnderAuthorize(t *testing.T) {
	t.Parallel()
	iso := filepath.Join(t.TempDir(), "boot.iso")
	require.NoError(t, os.WriteFile(iso, testiso.Make(600, 4), 0o600))
	cases := []struct {
		name  string
		cidr  string
		off   bool
		ider  bool
		task  fleet.Task
		check func(t *testing.T, d *amtsim.Device)
	}{
		{"wake power-on then power status", "127.186.0.0/30", true, false,
			fleet.Task{Action: fleet.PowerStatus, Wake: fleet.WakePowerOn, WakeTimeout: fleet.Duration(20 * time.Second)},
			func(t *testing.T, d *amtsim.Device) { assert.Equal(t, []int{2}, d.PowerRequests(), "powered on once") }},
		{"wake power-on then clock set", "127.186.0.4/30", true, false,
			fleet.Task{Action: fleet.ClockSet, Wake: fleet.WakePowerOn, WakeTimeout: fleet.Duration(20 * time.Second)},
			func(t *testing.T, d *amtsim.Device) { assert.Equal(t, []int{2}, d.PowerRequests(), "powered on once") }},
		{"ider-boot", "127.186.0.8/30", false, true,
			fleet.Task{Action: fleet.IDERBoot, Image: iso, ServeIdle: fleet.Duration(300 * time.Millisecond)},
			func(t *testing.T, d *amtsim.Device) {
				boots := d.IDERBoots()
				require.Len(t, boots, 1)
				assert.True(t, boots[0].OK, boots[0].Err)
			}},
		{"wake power-on then ider-boot", "127.186.0.12/30", true, true,
			fleet.Task{Action: fleet.IDERBoot, Image: iso, ServeIdle: fleet.Duration(300 * time.Millisecond), Wake: fleet.WakePowerOn, WakeTimeout: fleet.Duration(20 * time.Second)},
			func(t *testing.T, d *amtsim.Device) {
				boots := d.IDERBoots()
				require.Len(t, boots, 1)
				assert.True(t, boots[0].OK, boots[0].Err)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := amtsim.Options{DevicesCIDR: tc.cidr, TLSPort: -1, RMCPPort: -1, RedirectTLSPort: -1}
			if tc.off {
				o.PowerState = 8
			}
			if !tc.ider {
				o.RedirectPort = -1
			}
			sim := newSim(t, o)
			opts := fastOpts()
			opts.Timeout = 20 * time.Second
			opts.IDERTimeout = time.Minute
			// A budget of one failed login: a WS-Man denial counted as one
			// would lock the second candidate out. The redirection login a
			// read-only account is refused counts as one (the device does not
			// say why it refused), so an IDE-R boot needs a budget of two.
			budget := 1
			if tc.ider && !tc.off {
				budget = 2
			}
			opts.Credentials = readOnlyFirst(t, sim, budget)
			if tc.ider {
				opts.ClientOptions = append(opts.ClientOptions, amt.WithRedirectPort(sim.RedirectPort()))
			}
			res := collect(t, context.Background(), targets(sim), tc.task, opts)
			require.NotEmpty(t, res)
			for _, d := range sim.Devices() {
				r := res[d.HTTPAddr()]
				require.Equal(t, fleet.Succeeded, r.Outcome, "%s: %s", d.HTTPAddr(), r.Message)
				assert.Equal(t, 1, r.Attempts)
				assert.Zero(t, d.Stats().FailedLogins, "the read-only account's denial is no failed login")
				assert.False(t, d.LockedOut())
				tc.check(t, d)
			}
		})
	}
}

// TestIDERReadOnlyBudget: when the redirection refusal of a read-only
// first candidate spends the lockout budget, the second candidate is not
// tried and the machine is LockedOut (not AuthFailed), with no boot.
func TestIDERReadOnlyBudget(t *testing.T) {
	t.Parallel()
	iso := filepath.Join(t.TempDir(), "boot.iso")
	require.NoError(t, os.WriteFile(iso, testiso.Make(600, 4), 0o600))
	sim := newSim(t, amtsim.Options{DevicesCIDR: "127.186.0.16/30", TLSPort: -1, RMCPPort: -1, RedirectTLSPort: -1})
	opts := fastOpts()
	opts.Credentials = readOnlyFirst(t, sim, 1)
	opts.ClientOptions = append(opts.ClientOptions, amt.WithRedirectPort(sim.RedirectPort()))
	res := collect(t, context.Background(), targets(sim), fleet.Task{Action: fleet.IDERBoot, Image: iso, ServeIdle: fleet.Duration(300 * time.Millisecond)}, opts)
	require.NotEmpty(t, res)
	for _, d := range sim.Devices() {
		r := res[d.HTTPAddr()]
		assert.Equal(t, fleet.LockedOut, r.Outcome, r.Message)
		assert.Empty(t, d.IDERBoots())
	}
}
