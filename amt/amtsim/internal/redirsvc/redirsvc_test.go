package redirsvc

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func newConsent(mu *sync.Mutex, required int64) *Consent {
	return NewConsent(ConsentConfig{Lock: mu, Served: true, Required: required, CanModify: true,
		Code: func(n uint64) string { return "00000" + strconv.FormatUint(n, 10) }})
}

// TestConsentFlow walks a consent from the code on the screen to its use
// by a session and its lapse when the session ends.
func TestConsentFlow(t *testing.T) {
	var mu sync.Mutex
	mu.Lock()
	defer mu.Unlock()
	c := newConsent(&mu, OptInAll)
	now := time.Now()
	if !c.Missing(now) || !c.KVMMissing(now) {
		t.Fatal("consent required for all: missing before it is given")
	}
	if rv := c.Send(now, 1, true); rv != StatusNotReady {
		t.Fatalf("code sent with none displayed: %d, want %d", rv, StatusNotReady)
	}
	if rv := c.Start(now); rv != 0 || c.State() != StateDisplayed || c.Code(now) != "000001" {
		t.Fatalf("StartOptIn: rv %d state %d code %q", rv, c.State(), c.Code(now))
	}
	c.Start(now)
	if c.Code(now) != "000001" {
		t.Fatalf("StartOptIn while displayed shows %q, want the same code", c.Code(now))
	}
	if rv := c.Send(now, 2, true); rv != StatusUnsupported || c.State() != StateDisplayed {
		t.Fatalf("wrong code: rv %d state %d", rv, c.State())
	}
	if rv := c.Send(now, 0, false); rv != StatusInvalidParameter {
		t.Fatalf("missing code: rv %d", rv)
	}
	if rv := c.Send(now, 1, true); rv != 0 || c.State() != StateReceived || c.Missing(now) {
		t.Fatalf("right code: rv %d state %d", rv, c.State())
	}
	c.SessionStarted()
	if c.State() != StateInSession {
		t.Fatalf("session started: state %d, want %d", c.State(), StateInSession)
	}
	c.SessionsEnded()
	if c.State() != StateNotStarted || !c.Missing(now) {
		t.Fatalf("sessions ended: state %d, want %d", c.State(), StateNotStarted)
	}
}

func TestConsentWrongCodesAndTimeouts(t *testing.T) {
	var mu sync.Mutex
	mu.Lock()
	defer mu.Unlock()
	c := newConsent(&mu, OptInAll)
	now := time.Now()
	c.Start(now)
	for range Attempts {
		c.Send(now, 999999, true)
	}
	if c.State() != StateNotStarted {
		t.Fatalf("after %d wrong codes: state %d", Attempts, c.State())
	}
	c.Start(now)
	c.Settle(now.Add(DefaultDisplayTimeout * time.Second))
	if c.State() != StateNotStarted {
		t.Fatalf("displayed code after OptInDisplayTimeout: state %d", c.State())
	}
	c.Start(now)
	c.Send(now, 3, true)
	if c.State() != StateReceived {
		t.Fatalf("right code: state %d", c.State())
	}
	c.Settle(now.Add(DefaultCodeTimeout * time.Second))
	if c.State() != StateNotStarted {
		t.Fatalf("unused consent after OptInCodeTimeout: state %d", c.State())
	}
	c.SetDisplayTimeout("10")
	c.Start(now)
	c.Settle(now.Add(10 * time.Second))
	if c.State() != StateNotStarted {
		t.Fatalf("displayed code after a display timeout of 10 s: state %d", c.State())
	}
}

func TestConsentCancelAndPolicy(t *testing.T) {
	var mu sync.Mutex
	mu.Lock()
	defer mu.Unlock()
	now := time.Now()
	c := newConsent(&mu, OptInKVM)
	if c.Missing(now) || !c.KVMMissing(now) {
		t.Fatal("consent for KVM only: IDE-R and SOL need none, KVM does")
	}
	if rv, end := c.Cancel(now); rv != StatusNotReady || end {
		t.Fatalf("cancel with nothing started: %d %v", rv, end)
	}
	c.SetRequired(OptInAll)
	c.Start(now)
	c.Send(now, 1, true)
	c.SessionStarted()
	if rv, end := c.Cancel(now); rv != 0 || !end || c.State() != StateNotStarted {
		t.Fatalf("cancel of consent in use: rv %d, end sessions %v, state %d", rv, end, c.State())
	}
	old := NewConsent(ConsentConfig{Lock: &mu, Served: false, Required: OptInAll})
	if old.Required() != OptInNone || old.Missing(now) || old.KVMMissing(now) {
		t.Fatal("firmware without IPS_OptInService needs no consent")
	}
	for _, n := range []int64{OptInNone, OptInKVM, OptInAll} {
		if !ValidRequired(n) {
			t.Errorf("ValidRequired(%d) false", n)
		}
	}
	if ValidRequired(2) {
		t.Error("ValidRequired(2) true")
	}
}

func TestService(t *testing.T) {
	var mu sync.Mutex
	mu.Lock()
	defer mu.Unlock()
	s := NewService(ServiceConfig{Lock: &mu, EnabledState: StateBase | FeatureSOL})
	if !s.Listener() || s.FeatureEnabled(FeatureIDER) || !s.FeatureEnabled(FeatureSOL) {
		t.Fatal("32770: listener open, SOL only")
	}
	if s.SetEnabledState(5) || s.EnabledState() != StateBase|FeatureSOL {
		t.Fatal("an invalid EnabledState changed the service")
	}
	if !s.SetEnabledState(StateAll) || !s.FeatureEnabled(FeatureIDER) {
		t.Fatal("32771 enables IDE-R")
	}
	if e, r := s.KVMState(); e != KVMEnabledOffline || r != 2 {
		t.Fatalf("KVM access point starts %d/%d, want 6/2 as captured", e, r)
	}
	s.KVMSessionStarted()
	if e, _ := s.KVMState(); e != KVMEnabledSession {
		t.Fatalf("KVM session: EnabledState %d", e)
	}
	s.KVMSessionEnded()
	if rv := s.KVMRequestStateChange(3, true); rv != 0 || !s.KVMDisabled() {
		t.Fatal("RequestStateChange 3 disables the access point")
	}
	s.KVMSessionStarted()
	if e, _ := s.KVMState(); e != KVMDisabled {
		t.Fatal("a disabled access point shows no session")
	}
	if rv := s.KVMRequestStateChange(7, true); rv != 5 {
		t.Fatalf("RequestStateChange 7: %d, want 5", rv)
	}
}

// TestMustHold: the units refuse to be used without the device lock.
func TestMustHold(t *testing.T) {
	var mu sync.Mutex
	s := NewService(ServiceConfig{Lock: &mu, EnabledState: StateAll})
	c := newConsent(&mu, OptInAll)
	for name, f := range map[string]func(){
		"Service.EnabledState": func() { s.EnabledState() },
		"Consent.Missing":      func() { c.Missing(time.Now()) },
		"Consent.Start":        func() { c.Start(time.Now()) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s without the device lock did not panic", name)
				}
			}()
			f()
		}()
	}
	if !mu.TryLock() {
		t.Fatal("MustHold left the lock held")
	}
}
