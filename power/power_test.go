package power_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/wsman"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	user     = "admin"
	password = "P@ssw0rd1"
)

var actionRPSC = wsman.ResourceURI("CIM_PowerManagementService") + "/RequestPowerStateChange"

// setup starts a simulated machine and returns a power service for it.
func setup(t *testing.T, opts amtsim.Options) (*power.Service, *amtsim.Device, *wsman.Client) {
	t.Helper()
	opts.TLSPort = -1
	sim, err := amtsim.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	ws, err := wsman.NewClient(sim.URL()+"/wsman", wsman.WithCredentials(user, password), wsman.WithRetry(2, time.Millisecond, 5*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(ws.CloseIdleConnections)
	return power.New(ws, power.WithPollInterval(10*time.Millisecond), power.WithMinGap(0)), sim.Devices()[0], ws
}

// expected is the state each accepted action leads to (protocol.md §2.2).
var expected = map[power.Action]power.State{
	power.On: power.StateOn, power.Reset: power.StateOn, power.PowerCycle: power.StateOn, power.SoftReset: power.StateOn,
	power.NMI: power.StateOn, power.Off: power.StateOff, power.SoftOff: power.StateOff,
	power.Sleep: power.StateSleep, power.Hibernate: power.StateHibernate,
}

func TestEveryActionFromEveryState(t *testing.T) {
	for _, agent := range []bool{true, false} {
		for _, from := range []power.State{power.StateOn, power.StateOff, power.StateSleep, power.StateHibernate} {
			for _, a := range power.Actions() {
				t.Run(fmt.Sprintf("agent=%v/%s/%s", agent, from, a), func(t *testing.T) {
					t.Parallel()
					svc, dev, _ := setup(t, amtsim.Options{NoOSAgent: !agent})
					dev.SetPowerState(int(from))
					ctx := context.Background()
					st, err := svc.Status(ctx)
					require.NoError(t, err)
					require.Equal(t, from, st.State)

					allowed := from == power.StateOn && (a == power.Reset || a == power.Off || a == power.PowerCycle || a == power.NMI ||
						agent && (a == power.SoftOff || a == power.SoftReset || a == power.Sleep || a == power.Hibernate)) ||
						from != power.StateOn && a == power.On
					assert.Equal(t, allowed, st.Offers(a), "what the device offers")

					err = svc.Set(ctx, a)
					if noop := from == power.StateOn && a == power.On || from == power.StateOff && (a == power.Off || a == power.SoftOff); noop {
						require.NoError(t, err, "already in the state the action leads to")
						assert.Empty(t, dev.PowerRequests(), "a no-op: nothing sent")
						return
					}
					if !allowed {
						var na *power.NotAvailableError
						require.ErrorAs(t, err, &na)
						assert.ErrorIs(t, err, power.ErrNotAvailable)
						assert.Equal(t, st.Available, na.Available, "the error lists what is offered")
						assert.Contains(t, err.Error(), a.String())
						assert.Empty(t, dev.PowerRequests(), "refused locally: nothing reached the device")
						assert.Zero(t, dev.Stats().Actions[actionRPSC])
						assert.Equal(t, int(from), dev.PowerState())
						return
					}
					require.NoError(t, err)
					assert.Equal(t, []int{int(a)}, dev.PowerRequests())
					after, err := svc.WaitFor(ctx, expected[a])
					require.NoError(t, err)
					assert.Equal(t, expected[a], after.State)
				})
			}
		}
	}
}

func TestResetOutcomeUnknownIsNotRepeated(t *testing.T) {
	svc, dev, _ := setup(t, amtsim.Options{})
	ctx := context.Background()
	_, err := svc.Status(ctx)
	require.NoError(t, err)
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetAfterRequest, Action: "RequestPowerStateChange", Times: 1})

	err = svc.Set(ctx, power.Reset)
	require.Error(t, err)
	assert.ErrorIs(t, err, wsman.ErrOutcomeUnknown)
	assert.Equal(t, []int{int(power.Reset)}, dev.PowerRequests(), "the device recorded exactly one reset")
	assert.Len(t, dev.Boots(), 1, "and booted once")

	st, err := svc.Status(ctx)
	require.NoError(t, err, "the caller can read the state again")
	assert.Equal(t, power.StateOn, st.State)
}

// Firmware that reports TransitioningToPowerState (amtsim does not: no
// capture shows it) gets no second change while it is changing: the client
// refuses it before sending anything.
func TestSecondChangeWhileTransitioning(t *testing.T) {
	t.Parallel()
	sim, err := amtsim.New(amtsim.Options{TLSPort: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	dev := sim.Devices()[0]
	f := newFront(t, sim.URL(), func(_ int, body string) string {
		return insertAfter(body, `<h:TransitioningToPowerState>8</h:TransitioningToPowerState>`)
	})
	svc := frontService(t, f)
	err = svc.Set(context.Background(), power.On)
	var te *power.TransitioningError
	require.ErrorAs(t, err, &te, "a change while the device reports a transition is refused")
	assert.ErrorIs(t, err, power.ErrTransitioning)
	assert.Equal(t, power.StateOff, te.To)
	assert.Empty(t, dev.PowerRequests(), "the change was not sent")
}

func TestWaitForGivesUpWithContext(t *testing.T) {
	svc, _, _ := setup(t, amtsim.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	st, err := svc.WaitFor(ctx, power.StateOff)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, power.ErrNotReached)
	if st != nil {
		assert.Equal(t, power.StateOn, st.State, "the last state read is returned")
	}
}

func TestResetToPXEBootsPXEOnce(t *testing.T) {
	svc, dev, _ := setup(t, amtsim.Options{})
	ctx := context.Background()
	a, err := svc.ResetTo(ctx, power.BootPXE, power.BootOptions{})
	require.NoError(t, err)
	assert.Equal(t, power.Reset, a, "a machine that is on is reset")
	_, err = svc.WaitFor(ctx, power.StateOn)
	require.NoError(t, err)

	require.NoError(t, svc.Set(ctx, power.Reset))
	_, err = svc.WaitFor(ctx, power.StateOn)
	require.NoError(t, err)
	boots := dev.Boots()
	require.Len(t, boots, 2)
	assert.Equal(t, amtsim.BootSourcePXE, boots[0].Source, "the first boot goes to PXE")
	assert.Equal(t, amtsim.CauseReset, boots[0].Cause)
	assert.Equal(t, amtsim.BootSourceHDD, boots[1].Source, "the next one to disk: the setting was used once")
	assert.Equal(t, []int{int(power.Reset), int(power.Reset)}, dev.PowerRequests())
}

func TestResetToFromOffPowersOn(t *testing.T) {
	for _, from := range []power.State{power.StateOff, power.StateHibernate, power.StateSleep} {
		t.Run(from.String(), func(t *testing.T) {
			t.Parallel()
			svc, dev, _ := setup(t, amtsim.Options{})
			dev.SetPowerState(int(from))
			a, err := svc.ResetTo(context.Background(), power.BootPXE, power.BootOptions{})
			require.NoError(t, err)
			boots := dev.Boots()
			require.Len(t, boots, 1)
			assert.Equal(t, amtsim.BootSourcePXE, boots[0].Source)
			if from == power.StateSleep {
				assert.Equal(t, power.Reset, a, "a sleeping machine is woken, then reset: resuming runs no BIOS boot")
				assert.Equal(t, []int{int(power.On), int(power.Reset)}, dev.PowerRequests())
			} else {
				assert.Equal(t, power.On, a)
				assert.Equal(t, amtsim.CausePowerOn, boots[0].Cause)
			}
		})
	}
}

func TestNextBootTargetsAndOptions(t *testing.T) {
	cases := []struct {
		target power.BootTarget
		opts   power.BootOptions
		source string
	}{
		{power.BootPXE, power.BootOptions{}, amtsim.BootSourcePXE},
		{power.BootHardDisk, power.BootOptions{MediaIndex: 1}, amtsim.BootSourceHDD},
		{power.BootCD, power.BootOptions{}, amtsim.BootSourceCD},
		{power.BootBIOSSetup, power.BootOptions{}, amtsim.BootSourceBIOSSetup},
		{power.BootIDERCD, power.BootOptions{}, amtsim.BootSourceIDERCD},
		{power.BootIDERFloppy, power.BootOptions{}, amtsim.BootSourceIDERFloppy},
		{power.BootPXE, power.BootOptions{SOL: true, LockKeyboard: true}, amtsim.BootSourcePXE},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%+v", tc.target, tc.opts), func(t *testing.T) {
			t.Parallel()
			svc, dev, _ := setup(t, amtsim.Options{})
			ctx := context.Background()
			require.NoError(t, svc.NextBoot(ctx, tc.target, tc.opts))
			assert.Empty(t, dev.Boots(), "NextBoot does not change the power state")
			require.NoError(t, svc.Set(ctx, power.Reset))
			boots := dev.Boots()
			require.Len(t, boots, 1)
			b := boots[0]
			assert.Equal(t, tc.source, b.Requested, "the settings asked for this source")
			if tc.target == power.BootIDERCD || tc.target == power.BootIDERFloppy {
				assert.Equal(t, amtsim.BootSourceHDD, b.Source, "with no IDE-R session open the BIOS falls back to disk")
			} else {
				assert.Equal(t, tc.source, b.Source)
			}
			assert.True(t, b.OneTime)
			assert.Equal(t, tc.opts.SOL, b.UseSOL)
			assert.Equal(t, tc.opts.LockKeyboard, b.LockKeyboard)
			assert.Equal(t, tc.opts.LockResetButton, b.LockResetButton)
			assert.Equal(t, tc.opts.MediaIndex, b.BootMediaIndex)
		})
	}
}

func TestNextBootRefusesWhatTheFirmwareCannotDo(t *testing.T) {
	svc, dev, _ := setup(t, amtsim.Options{BootCapabilities: map[string]bool{"ForcePXEBoot": false, "KeyboardLock": false}})
	ctx := context.Background()
	err := svc.NextBoot(ctx, power.BootPXE, power.BootOptions{LockKeyboard: true})
	var ue *power.UnsupportedError
	require.ErrorAs(t, err, &ue)
	assert.ErrorIs(t, err, power.ErrUnsupported)
	assert.Contains(t, err.Error(), "boot target pxe")
	assert.Contains(t, err.Error(), "lock-keyboard")
	stats := dev.Stats()
	assert.Zero(t, stats.Actions[wsman.ActionPut], "nothing was changed")
	assert.Zero(t, stats.Actions[wsman.ResourceURI("CIM_BootConfigSetting")+"/ChangeBootOrder"])

	err = svc.NextBoot(ctx, power.BootPXE, power.BootOptions{MediaIndex: 2})
	assert.ErrorIs(t, err, wsman.ErrInvalidArgument, "a media index is for hdd and cd only: a caller mistake")
	assert.NotErrorIs(t, err, power.ErrUnsupported)
}

// A target or option no firmware has is a caller mistake, named once.
func TestBootCallerMistakes(t *testing.T) {
	svc, dev, _ := setup(t, amtsim.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		target power.BootTarget
		opts   power.BootOptions
	}{
		{"unknown target", 99, power.BootOptions{}},
		{"safe mode without hdd", power.BootPXE, power.BootOptions{SafeMode: true}},
		{"unknown verbosity", power.BootPXE, power.BootOptions{Verbosity: 7}},
		{"negative media index", power.BootHardDisk, power.BootOptions{MediaIndex: -1}},
	} {
		err := svc.NextBoot(ctx, tc.target, tc.opts)
		assert.ErrorIs(t, err, wsman.ErrInvalidArgument, tc.name)
		assert.NotContains(t, err.Error(), "boot boot", tc.name)
		_, err = svc.ResetTo(ctx, tc.target, tc.opts)
		assert.ErrorIs(t, err, wsman.ErrInvalidArgument, tc.name)
	}
	err := svc.Set(ctx, power.Action(6))
	assert.ErrorIs(t, err, wsman.ErrInvalidArgument, "an action AMT does not have")
	assert.Zero(t, dev.Stats().HTTPRequests, "nothing was sent")
}

func TestClearBootOptions(t *testing.T) {
	svc, dev, _ := setup(t, amtsim.Options{})
	ctx := context.Background()
	require.NoError(t, svc.NextBoot(ctx, power.BootPXE, power.BootOptions{SOL: true}))
	require.NoError(t, svc.ClearBootOptions(ctx))
	require.NoError(t, svc.Set(ctx, power.Reset))
	boots := dev.Boots()
	require.Len(t, boots, 1)
	assert.Equal(t, amtsim.BootSourceHDD, boots[0].Source)
	assert.False(t, boots[0].UseSOL)
	assert.False(t, boots[0].OneTime, "no one-time boot left armed: the role is IsNotNext again")
	in, err := svc.BootSettings(ctx)
	require.NoError(t, err)
	assert.Equal(t, "false", in.String("UseSOL"))
}

func TestRedirectionSessionBlocksCycleAndOff(t *testing.T) {
	svc, dev, _ := setup(t, amtsim.Options{})
	dev.SetRedirectionSession(true)
	ctx := context.Background()
	for _, a := range []power.Action{power.PowerCycle, power.Off} {
		err := svc.Set(ctx, a)
		var rv *wsman.ReturnValueError
		require.ErrorAs(t, err, &rv, a.String())
		assert.Equal(t, 4097, rv.Code)
	}
	assert.Equal(t, int(power.StateOn), dev.PowerState())
	require.NoError(t, svc.Set(ctx, power.Reset), "a reset is what boots into IDE-R")
}

func TestWake(t *testing.T) {
	svc, dev, ws := setup(t, amtsim.Options{Version: "15.0.23.1706"})
	ctx := context.Background()
	_, err := ws.Invoke(ctx, wsman.ResourceURI("IPS_PowerManagementService"), "RequestOSPowerSavingStateChange", []wsman.Property{
		wsman.Param("OSPowerSavingState", "3"),
		wsman.RefParam("ManagedElement", wsman.EPR{ResourceURI: wsman.ResourceURI("CIM_ComputerSystem"), Selectors: []wsman.Selector{
			wsman.Sel("CreationClassName", "CIM_ComputerSystem"), wsman.Sel("Name", "ManagedSystem")}}),
	})
	require.NoError(t, err)
	st, err := svc.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, power.StateOn, st.State)
	assert.Equal(t, power.OSPowerSavingOn, st.OSPowerSaving, "on, but in Modern Standby, is visible")

	require.NoError(t, svc.Wake(ctx))
	assert.Equal(t, int(power.OSFullPower), dev.OSPowerSavingState())
	require.NoError(t, svc.Wake(ctx), "waking a machine at full power is a no-op")
}

// Wake of a machine that is not on says what wake needs and what brings
// the machine up instead, and sends nothing.
func TestWakeRefusedWhenNotOn(t *testing.T) {
	svc, dev, _ := setup(t, amtsim.Options{Version: "15.0.23.1706"})
	ctx := context.Background()
	for _, from := range []power.State{power.StateOff, power.StateSleep, power.StateHibernate} {
		dev.SetPowerState(int(from))
		err := svc.Wake(ctx)
		var wn *power.WakeNotAvailableError
		require.ErrorAs(t, err, &wn)
		assert.ErrorIs(t, err, power.ErrNotAvailable)
		assert.Equal(t, from, wn.State)
		assert.Equal(t, []power.Action{power.On}, wn.Available)
		assert.Contains(t, err.Error(), "wake is not available while the machine is "+from.String())
		assert.Contains(t, err.Error(), "needs the machine on and in OS power saving; the on action powers the machine on")
		assert.NotContains(t, err.Error(), "on is not available")
	}
	assert.Empty(t, dev.PowerRequests())
	assert.Zero(t, dev.Stats().Actions[wsman.ResourceURI("IPS_PowerManagementService")+"/RequestOSPowerSavingStateChange"])
}

func TestWakeUnsupportedOnOldFirmware(t *testing.T) {
	svc, _, _ := setup(t, amtsim.Options{Version: "9.5.30.1000"})
	st, err := svc.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, power.OSPowerSavingUnsupported, st.OSPowerSaving)
	assert.ErrorIs(t, svc.Wake(context.Background()), power.ErrUnsupported)
}

func TestErrorWrapper(t *testing.T) {
	sentinel := errors.New("classified")
	sim, err := amtsim.New(amtsim.Options{TLSPort: -1})
	require.NoError(t, err)
	defer sim.Close()
	ws, err := wsman.NewClient(sim.URL()+"/wsman", wsman.WithCredentials(user, "wrong"))
	require.NoError(t, err)
	defer ws.CloseIdleConnections()
	svc := power.New(ws, power.WithErrorWrapper(func(op string, err error) error { return fmt.Errorf("%s: %w: %w", op, sentinel, err) }))
	_, err = svc.Status(context.Background())
	assert.ErrorIs(t, err, sentinel)
	assert.ErrorIs(t, err, wsman.ErrUnauthorized)
	assert.Contains(t, err.Error(), "power status")
}
