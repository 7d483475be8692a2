package power_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/wsman"
)

// front stands between a client and a simulated device and may rewrite
// the answers to Gets of CIM_AssociatedPowerManagementService, to show
// what some firmware reports and the simulator does not.
type front struct {
	srv     *httptest.Server
	mu      sync.Mutex
	gets    int
	rewrite func(n int, body string) string // n counts the Gets, from 1
}

func newFront(t *testing.T, target string, rewrite func(n int, body string) string) *front {
	f := &front{rewrite: rewrite}
	hc := &http.Client{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := hc.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "transfer/Get") &&
			strings.Contains(string(body), "CIM_AssociatedPowerManagementService") {
			f.mu.Lock()
			f.gets++
			n := f.gets
			f.mu.Unlock()
			out = []byte(f.rewrite(n, string(out)))
		}
		for k, v := range resp.Header {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
	}))
	t.Cleanup(func() {
		f.srv.Close()
		hc.CloseIdleConnections()
	})
	return f
}

func frontService(t *testing.T, f *front, opts ...power.Option) *power.Service {
	ws, err := wsman.NewClient(f.srv.URL+"/wsman", wsman.WithCredentials(user, password), wsman.WithRetry(0, 0, 0))
	require.NoError(t, err)
	t.Cleanup(ws.CloseIdleConnections)
	return power.New(ws, append([]power.Option{power.WithPollInterval(5 * time.Millisecond), power.WithMinGap(0)}, opts...)...)
}

// insertAfter puts extra after the PowerState element of an answer.
func insertAfter(body, extra string) string {
	i := strings.Index(body, "PowerState>")
	if i < 0 {
		return body
	}
	end := strings.Index(body[i+len("PowerState>"):], ">")
	j := i + len("PowerState>") + end + 1
	return body[:j] + extra + body[j:]
}

// Where firmware reports a transition still in progress, WaitFor waits it
// out even though PowerState already shows the target.
func TestWaitForWaitsOutAReportedTransition(t *testing.T) {
	t.Parallel()
	sim, err := amtsim.New(amtsim.Options{TLSPort: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	f := newFront(t, sim.URL(), func(n int, body string) string {
		if n <= 3 {
			// Resetting: still on, changing through a reset (10).
			return insertAfter(body, `<h:TransitioningToPowerState>10</h:TransitioningToPowerState>`)
		}
		return body
	})
	svc := frontService(t, f)
	st, err := svc.WaitFor(context.Background(), power.StateOn)
	require.NoError(t, err)
	assert.False(t, st.Transitioning)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, 4, f.gets, "read until the transition was over")
}

// A stored power state of Unknown is its own cause, refused before
// anything is sent, with the remedy in the message.
func TestPowerStateUnknownIsItsOwnCause(t *testing.T) {
	t.Parallel()
	sim, err := amtsim.New(amtsim.Options{TLSPort: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	for _, v := range []string{"0", "42"} {
		f := newFront(t, sim.URL(), func(_ int, body string) string {
			return strings.Replace(body, "PowerState>2<", "PowerState>"+v+"<", 1)
		})
		svc := frontService(t, f)
		err = svc.Set(context.Background(), power.Reset)
		require.ErrorIs(t, err, power.ErrStateUnknown, v)
		assert.NotErrorIs(t, err, power.ErrNotAvailable)
		assert.Contains(t, err.Error(), "power state unknown")
		assert.Contains(t, err.Error(), "rebooted once from its operating system")
		_, err = svc.ResetTo(context.Background(), power.BootPXE, power.BootOptions{})
		require.ErrorIs(t, err, power.ErrStateUnknown, v)
	}
	assert.Empty(t, sim.Devices()[0].PowerRequests(), "nothing was sent")
}

// Two power changes keep the minimum gap: the second waits, and a context
// that ends first sends nothing.
func TestMinimumGapBetweenPowerChanges(t *testing.T) {
	t.Parallel()
	sim, err := amtsim.New(amtsim.Options{TLSPort: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	dev := sim.Devices()[0]
	ws, err := wsman.NewClient(sim.URL()+"/wsman", wsman.WithCredentials(user, password))
	require.NoError(t, err)
	t.Cleanup(ws.CloseIdleConnections)
	svc := power.New(ws, power.WithMinGap(time.Hour))
	require.NoError(t, svc.Set(context.Background(), power.Reset))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = svc.Set(ctx, power.Reset)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "between two power changes")
	assert.Equal(t, []int{int(power.Reset)}, dev.PowerRequests(), "the second change was not sent")
}

// On of a machine that is on and Off of one that is off send nothing.
func TestApplyAlreadyInStateSendsNothing(t *testing.T) {
	t.Parallel()
	svc, dev, _ := setup(t, amtsim.Options{})
	ch, err := svc.Apply(context.Background(), power.On)
	require.NoError(t, err)
	assert.False(t, ch.Sent)
	assert.Equal(t, power.StateOn, ch.Before.State)
	dev.SetPowerState(8)
	for _, a := range []power.Action{power.Off, power.SoftOff} {
		ch, err = svc.Apply(context.Background(), a)
		require.NoError(t, err)
		assert.False(t, ch.Sent, a.String())
	}
	require.NoError(t, svc.Set(context.Background(), power.Off))
	assert.Empty(t, dev.PowerRequests())
}

// WaitFor reads through a device that does not answer while it changes
// state, and says so when it runs out.
func TestWaitForReadsThroughABusyDevice(t *testing.T) {
	t.Parallel()
	svc, dev, _ := setup(t, amtsim.Options{})
	dev.SetPowerState(8)
	// More resets than the client's own retries absorb.
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetAfterRequest, Action: "Get", Times: 6})
	errc := make(chan error, 1)
	go func() {
		_, err := svc.WaitFor(context.Background(), power.StateOn, power.OnPoll(func(p power.Poll) {
			if p.Err != nil && dev.PowerState() != 2 {
				dev.SetPowerState(2)
			}
		}))
		errc <- err
	}()
	require.NoError(t, <-errc)

	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetAfterRequest, Action: "Get"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := svc.WaitFor(ctx, power.StateOff)
	require.ErrorIs(t, err, power.ErrNotReached)
	var nr *power.NotReachedError
	require.ErrorAs(t, err, &nr)
	assert.Contains(t, err.Error(), "the change was accepted")
	dev.ClearFaults()
}
