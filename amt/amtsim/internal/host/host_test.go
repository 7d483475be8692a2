package host

import (
	"slices"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu      sync.Mutex
	boots   []string
	changed int
	open    bool
	timers  int
}

func newMachine(t *testing.T, cfg Config) (*Machine, *recorder) {
	t.Helper()
	r := &recorder{}
	cfg.Lock = &r.mu
	cfg.StartTimer = func() bool { r.timers++; return true }
	cfg.TimerDone = func() {}
	cfg.Changed = func() { r.changed++ }
	cfg.Booted = func(_ time.Time, cause string) { r.boots = append(r.boots, cause) }
	cfg.Logged = func(Event) {}
	cfg.SessionOpen = func() bool { return r.open }
	return New(cfg), r
}

// TestRequests: changes are accepted as protocol.md §2.2 gives them, each
// restart boots once, power on while on is a no-op answered 0, a change
// not available from the state is 4097, and one outside the supported
// states 2.
func TestRequests(t *testing.T) {
	m, r := newMachine(t, Config{Major: 11, PowerState: On})
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tc := range []struct {
		req, rv, state int
	}{
		{On, RVOK, On},
		{Reset, RVOK, On},
		{Cycle, RVOK, On},
		{Off, RVOK, Off},
		{Reset, RVInvalidTransition, Off},
		{On, RVOK, On},
		{Sleep, RVOK, Sleep},
		{On, RVOK, On},
		{3, RVUnknownError, On},
	} {
		if rv := m.Request(tc.req); rv != tc.rv || m.State() != tc.state {
			t.Fatalf("Request(%d) = %d in state %d, want %d in %d", tc.req, rv, m.State(), tc.rv, tc.state)
		}
	}
	if want := []string{CauseReset, CausePowerCycle, CausePowerOn}; !slices.Equal(r.boots, want) {
		t.Fatalf("boots %v, want %v (a resume from sleep boots nothing)", r.boots, want)
	}
	r.open = true
	if rv := m.Request(Cycle); rv != RVInvalidTransition {
		t.Fatalf("power cycle with a session open: %d", rv)
	}
	m.SetLost(true)
	if rv := m.Request(Reset); rv != RVUnknownError {
		t.Fatalf("change from a lost state: %d", rv)
	}
}

// TestTransitionTime: a change takes TransitionTime, completes when asked
// after it (or by its timer), and a second change completes the first at
// once.
func TestTransitionTime(t *testing.T) {
	m, r := newMachine(t, Config{Major: 16, PowerState: On, TransitionTime: time.Hour})
	r.mu.Lock()
	defer r.mu.Unlock()
	if rv := m.Request(Off); rv != RVOK || !m.Pending() || m.State() != On {
		t.Fatalf("off: rv %d pending %v state %d", rv, m.Pending(), m.State())
	}
	m.Settle(time.Now())
	if m.State() != On {
		t.Fatal("settled before its time")
	}
	m.Settle(time.Now().Add(2 * time.Hour))
	if m.State() != Off || m.Pending() {
		t.Fatalf("state %d pending %v after its time", m.State(), m.Pending())
	}
	m.Request(On)
	m.Request(Reset) // the power on completes at once first
	m.StopTimer()
	m.Settle(time.Now().Add(2 * time.Hour))
	if !slices.Equal(r.boots, []string{CausePowerOn, CauseReset}) || r.timers != 3 {
		t.Fatalf("boots %v timers %d", r.boots, r.timers)
	}
}

// TestOSPowerSaving: OS power saving needs support, the host on and the
// agent for entering it; old firmware has no sleep or graceful changes.
func TestOSPowerSaving(t *testing.T) {
	m, r := newMachine(t, Config{Major: 12, PowerState: On})
	r.mu.Lock()
	defer r.mu.Unlock()
	if rv := m.RequestOSSaving(SavingSaved); rv != RVOK || m.OSSaving() != SavingSaved {
		t.Fatalf("saving: %d %d", rv, m.OSSaving())
	}
	if rv := m.RequestOSSaving(SavingSaved); rv != RVInvalidTransition {
		t.Fatalf("again: %d", rv)
	}
	m.RequestOSSaving(SavingFull)
	m.SetAgent(false)
	if rv := m.RequestOSSaving(SavingSaved); rv != RVInvalidTransition {
		t.Fatalf("without the agent: %d", rv)
	}
	if rv := m.RequestOSSaving(7); rv != RVInvalidParameter {
		t.Fatalf("bad value: %d", rv)
	}
	m.SetOSSavingSupported(false)
	if rv := m.RequestOSSaving(SavingFull); rv != RVNotSupported || m.OSSaving() != SavingNone {
		t.Fatalf("unsupported: %d %d", rv, m.OSSaving())
	}
	old, ro := newMachine(t, Config{Major: 8, PowerState: On})
	ro.mu.Lock()
	defer ro.mu.Unlock()
	if rv := old.Request(SoftOff); rv != RVUnknownError {
		t.Fatalf("AMT 8 soft-off: %d", rv)
	}
	if got := old.AvailableStates(); slices.Contains(got, Sleep) {
		t.Fatalf("AMT 8 offers sleep: %v", got)
	}
}
