package wsman_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/wsman"
)

var uriPowerService = wsman.PrefixCIM + "CIM_PowerManagementService"

// A change whose answer does not come before the operation's timeout is
// outcome unknown, and still says it was the deadline.
func TestSentChangeHittingTimeoutIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL(), wsman.WithTimeout(300*time.Millisecond))
	ctx := context.Background()
	_, err := c.Get(ctx, uriGeneral) // learn the nonce: the next request goes out with credentials
	require.NoError(t, err)
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelayAnswer, Action: "GetUuid", Delay: 10 * time.Second, Times: 1})
	_, err = c.Invoke(ctx, uriSetup, "GetUuid", nil)
	require.Error(t, err)
	assert.Equal(t, 1, dev.Stats().Actions[uriSetup+"/GetUuid"], "carried out once, never resent")
	assert.ErrorIs(t, err, wsman.ErrOutcomeUnknown)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the cause is kept")
	var ou *wsman.OutcomeUnknownError
	require.ErrorAs(t, err, &ou)
	assert.Equal(t, "Invoke AMT_SetupAndConfigurationService.GetUuid", ou.Op)
	assert.Contains(t, err.Error(), "the request was sent")
	assert.Contains(t, err.Error(), "read the device's state before trying again")
}

// The caller's cancellation after the request went out is outcome unknown
// too, and matches context.Canceled.
func TestSentChangeCancelledIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	_, err := c.Get(context.Background(), uriGeneral)
	require.NoError(t, err)
	before := dev.Stats().Authenticated
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelay, Action: "GetUuid", Delay: 10 * time.Second, Times: 1})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the device has the request.
		for dev.Stats().Authenticated == before {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	_, err = c.Invoke(ctx, uriSetup, "GetUuid", nil)
	assert.ErrorIs(t, err, wsman.ErrOutcomeUnknown)
	assert.ErrorIs(t, err, context.Canceled)
}

// A cancellation before anything was sent is not outcome unknown.
func TestChangeCancelledBeforeSendingIsNotOutcomeUnknown(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Invoke(ctx, uriSetup, "GetUuid", nil)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, wsman.ErrOutcomeUnknown)
	assert.Zero(t, dev.Stats().HTTPRequests)
}

// A malformed answer to a sent change is outcome unknown and malformed.
func TestMalformedAnswerToChangeIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultMalformedBody, Action: "GetUuid", Times: 1})
	_, err := c.Invoke(context.Background(), uriSetup, "GetUuid", nil)
	assert.ErrorIs(t, err, wsman.ErrOutcomeUnknown)
	assert.ErrorIs(t, err, wsman.ErrMalformedResponse)
	assert.Equal(t, 1, dev.Stats().Actions[uriSetup+"/GetUuid"])
}

// A Put of settings whose answer is lost is outcome unknown and is not
// resent, although a Put is retried while it cannot have reached the
// device.
func TestPutNotResentAfterItWasWritten(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	ctx := context.Background()
	in, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetAfterRequest, Action: "Put", Times: 1})
	_, err = c.Put(ctx, in)
	assert.ErrorIs(t, err, wsman.ErrOutcomeUnknown)
	assert.Equal(t, 1, dev.Stats().Actions[wsman.ActionPut], "sent once")

	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultStatus, Status: 503, Action: "Put", Times: 1})
	_, err = c.Put(ctx, in)
	require.NoError(t, err, "a 503 (not carried out) is retried")
	assert.Equal(t, 2, dev.Stats().Actions[wsman.ActionPut])
}

// A Delete whose connection is reset after it was written is outcome
// unknown.
func TestDeleteResetIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetAfterRequest, Action: "Delete", Times: 1})
	err := c.Delete(context.Background(), uriPowerService, wsman.Sel("Name", "x"))
	assert.ErrorIs(t, err, wsman.ErrOutcomeUnknown)
}

// The operation's timeout starts when the request may be sent: a request
// that waited for the single concurrency slot still gets its whole
// timeout.
func TestTimeoutCountsFromSending(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	const delay = 3 * time.Second
	c := newClient(t, sim.URL(), wsman.WithTimeout(4*time.Second))
	ctx := context.Background()
	_, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelay, Action: "Get", Delay: delay, Times: 2})
	before := dev.Stats().Authenticated
	first := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, uriGeneral)
		first <- err
	}()
	for dev.Stats().Authenticated == before {
		time.Sleep(5 * time.Millisecond)
	}
	// The first Get holds the slot now; this one waits for it, then
	// takes as long itself: longer than the timeout in all, but each
	// within it.
	_, err = c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	require.NoError(t, <-first)
}
