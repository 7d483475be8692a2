package amt_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
)

// TestFleetCredentialFallbackNeverLocksOut runs credential resolution over
// 500 simulated devices that lock an account after 4 consecutive failed
// logins, where the first two profiles tried are wrong for most of them: no
// device locks out, every device ends with the right credential learned,
// and a second pass costs one login per device.
func TestFleetCredentialFallbackNeverLocksOut(t *testing.T) {
	if testing.Short() {
		t.Skip("500-device fleet")
	}
	const (
		pwA = "Profile-A1!" // the default profile: right for a few devices
		pwB = "Profile-B2!" // right for a few others
		pwC = "Profile-C3!" // right for most
	)
	fleet := &amtsim.FleetSpec{Groups: []amtsim.DeviceGroup{
		{Name: "most", Weight: 0.8, Accounts: []amtsim.Account{{User: user, Password: pwC}}},
		{Name: "a", Weight: 0.1, Accounts: []amtsim.Account{{User: user, Password: pwA}}},
		{Name: "b", Weight: 0.1, Accounts: []amtsim.Account{{User: user, Password: pwB}}},
	}}
	sim, err := amtsim.New(amtsim.Options{
		DevicesCIDR: "127.81.0.0/23", DeviceCount: 500, TLSPort: -1, RMCPPort: -1,
		LockoutAfter: 4, LockoutDuration: time.Hour, Fleet: fleet,
	})
	require.NoError(t, err)
	defer sim.Close()
	devices := sim.Devices()
	require.Len(t, devices, 500)
	want := map[string]string{"most": "c", "a": "a", "b": "b"}

	store := credentials.NewMemoryStore()
	defer store.Close()
	ctx := context.Background()
	for _, p := range []credentials.Profile{
		{Name: "a", Default: true, Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: pwA}}},
		{Name: "b", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: pwB}}},
		{Name: "c", Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: pwC}}},
	} {
		require.NoError(t, store.PutProfile(ctx, p))
	}
	// Three failures per host at most: below the devices' threshold of 4.
	r, err := credentials.NewResolver(store, credentials.AllowOtherProfiles(true),
		credentials.WithGuard(credentials.NewGuard(3, time.Hour)))
	require.NoError(t, err)

	pass := func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for _, dev := range devices {
			wg.Add(1)
			sem <- struct{}{}
			go func(dev *amtsim.Device) {
				defer wg.Done()
				defer func() { <-sem }()
				c, err := amt.New(dev.HTTPAddr(), amt.WithCredentialSource(r), fastRetry)
				if !assert.NoError(t, err) {
					return
				}
				defer c.CloseIdleConnections()
				_, err = c.Power.Status(ctx)
				if assert.NoError(t, err, dev.IP()) {
					assert.Equal(t, want[dev.Group()], c.Resolution().Profile, dev.IP())
				}
			}(dev)
		}
		wg.Wait()
	}

	pass()
	for _, dev := range devices {
		assert.False(t, dev.LockedOut(), dev.IP())
		assert.LessOrEqual(t, dev.Stats().FailedLogins, 2, dev.IP())
		e, ok, err := store.Runtime(ctx, dev.HTTPAddr())
		require.NoError(t, err)
		require.True(t, ok, dev.IP())
		assert.Equal(t, want[dev.Group()], e.Profile, "learned for "+dev.IP())
	}

	failed := map[string]int{}
	for _, dev := range devices {
		failed[dev.IP()] = dev.Stats().FailedLogins
	}
	pass()
	for _, dev := range devices {
		assert.Equal(t, failed[dev.IP()], dev.Stats().FailedLogins, "the second pass logs in once, with what was learned")
	}
}
