package amtsim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIDERNewSessionAfterReset is the regression test of a console that
// reconnects right after the device reset its IDE-R session in the middle
// of a transfer. The new session must be accepted at once (the failed
// session's slot is free before the console sees the reset), and a reset
// requested over WS-Man must boot from it with nobody reading the device
// meanwhile (power changes complete on their own): before, the boot ran
// only when the device was next asked something, which for a console that
// waited for the BIOS was after its session had ended, "no IDE-R session
// open".
func TestIDERNewSessionAfterReset(t *testing.T) {
	t.Parallel()
	opts := redirOpts()
	opts.TransitionTime = 5 * time.Millisecond
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	img := isoImage(96, 4)
	ctx := waitCtx(t)

	// waitBIOS waits for the BIOS on the console's side only.
	waitBIOS := func(tc *testConsole) {
		t.Helper()
		require.Eventually(t, func() bool { return tc.resets.Load() > 0 && tc.reads.Load() > 0 },
			5*time.Second, time.Millisecond, "the boot never reached the console")
	}

	const rounds = 10
	for i := range rounds {
		// A session reset by the device mid-transfer.
		failed := dialConsole(t, d.RedirectAddr(), nil)
		failed.session("IDER", 4)
		failed.openIDER(0x09)
		done := serveAsync(failed, media{cd: img})
		d.InjectFault(Fault{Kind: FaultRedirReset, Times: 1})
		armIDER(t, wc, 1)
		require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
		require.Error(t, <-done, "round %d: the console sees the reset", i)

		// At once: the failed boot is recorded, the slot is free.
		boots := d.IDERBoots()
		require.Len(t, boots, 2*i+1, "round %d", i)
		assert.True(t, strings.HasSuffix(boots[2*i].Err, "connection reset (injected fault)"), boots[2*i].Err)
		next := dialConsole(t, d.RedirectAddr(), nil)
		st, err := next.start("IDER")
		require.NoError(t, err)
		require.Equal(t, byte(0), st, "round %d: the new session is not refused as busy", i)
		st, err = next.login(4, testUser, testPass)
		require.NoError(t, err)
		require.Equal(t, byte(0), st)
		next.openIDER(0x09)
		done = serveAsync(next, media{cd: img})
		armIDER(t, wc, 1)
		require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
		waitBIOS(next) // nothing reads the device until the BIOS runs
		b, err := d.WaitIDERBoot(ctx, 2*i+2)
		require.NoError(t, err)
		require.True(t, b.OK, "round %d: %s", i, b.Err)
		require.NoError(t, next.sendIDER(0x42, 0, nil))
		require.NoError(t, <-done)
		failed.c.Close()
		next.c.Close()
	}
	assert.Len(t, d.Boots(), 2*rounds)
}

// TestPowerChangeCompletesByItself checks that a requested change takes
// effect after TransitionTime without any request or inspection, and that
// Close stops a pending one cleanly.
func TestPowerChangeCompletesByItself(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.TransitionTime = 300 * time.Millisecond
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
	d.mu.Lock() // never fail the test with the lock held: Close needs it
	boots := len(d.boots)
	d.mu.Unlock()
	assert.Zero(t, boots, "the change is still in progress")
	require.Eventually(t, func() bool {
		d.mu.Lock() // peek without settling
		defer d.mu.Unlock()
		return !d.power.Pending() && len(d.boots) == 1
	}, 5*time.Second, time.Millisecond)

	// A change still pending at Close leaves no goroutine behind
	// (goleak checks) and Close does not wait for it.
	opts.TransitionTime = time.Hour
	sim2, err := New(opts)
	require.NoError(t, err)
	wc2 := newClient(t, sim2.URL(), testUser, testPass)
	require.Equal(t, 0, wc2.returnValue(powerReq(powerReset)))
	start := time.Now()
	require.NoError(t, sim2.Close())
	assert.Less(t, time.Since(start), 10*time.Second)
}
