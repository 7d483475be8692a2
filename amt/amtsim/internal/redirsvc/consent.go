package redirsvc

import (
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// IPS_OptInService.OptInRequired values.
const (
	OptInNone = 0          // no consent needed
	OptInKVM  = 1          // for KVM only
	OptInAll  = 4294967295 // for KVM, IDE-R, SOL and the boot options
)

// IPS_OptInService.OptInState values.
const (
	StateNotStarted = 0
	StateRequested  = 1 // not used by the simulator
	StateDisplayed  = 2
	StateReceived   = 3
	StateInSession  = 4
)

const (
	// Attempts is how many wrong codes drop the code [assumption].
	Attempts = 3

	DefaultCodeTimeout    = 120 // seconds, as the captures show
	DefaultDisplayTimeout = 300

	// PT_STATUS codes of the consent methods and Puts.
	StatusNotReady         = 2    // nothing to send or cancel
	StatusNotPermitted     = 16   // the policy cannot be modified
	StatusInvalidParameter = 36   // a missing or malformed parameter
	StatusUnsupported      = 2066 // a wrong consent code [assumption]
)

// ValidRequired reports whether n is an OptInRequired value: 0, 1 or
// 4294967295.
func ValidRequired(n int64) bool { return n == OptInNone || n == OptInKVM || n == OptInAll }

// ConsentConfig is a Consent's starting state and what it needs of its
// device.
type ConsentConfig struct {
	Lock *sync.Mutex // the device lock
	// Served: the firmware has IPS_OptInService (AMT 6 and later);
	// without it nothing needs consent.
	Served bool
	// Required is the starting OptInRequired; CanModify is
	// CanModifyOptInPolicy (false in client control mode).
	Required  int64
	CanModify bool
	// Code returns the n-th (1-based) code shown on the host's screen.
	Code func(n uint64) string
	// Log and IP: where the consent events are logged, and the device's
	// address they name.
	Log *slog.Logger
	IP  string
}

// Consent is the user consent state of a device (IPS_OptInService). Call
// every method with the device lock held.
type Consent struct {
	cfg            ConsentConfig
	required       int64
	displayTimeout string // OptInDisplayTimeout as last written
	state          int
	code           string // the code on the host's screen, "" when none
	codes          uint64 // codes generated so far
	wrong          int    // wrong codes sent for the current one
	deadline       time.Time
}

// NewConsent returns the consent state of a new device: nothing started.
func NewConsent(cfg ConsentConfig) *Consent {
	return &Consent{cfg: cfg, required: cfg.Required, displayTimeout: strconv.Itoa(DefaultDisplayTimeout)}
}

// Required returns OptInRequired (0 on firmware without the service).
func (c *Consent) Required() int64 {
	MustHold(c.cfg.Lock)
	if !c.cfg.Served {
		return OptInNone
	}
	return c.required
}

// CanModify returns CanModifyOptInPolicy.
func (c *Consent) CanModify() bool { return c.cfg.CanModify }

// State returns OptInState as it stands (see Settle).
func (c *Consent) State() int { MustHold(c.cfg.Lock); return c.state }

// Code returns the code on the host's screen, "" when none is displayed.
func (c *Consent) Code(now time.Time) string {
	c.Settle(now)
	if c.state != StateDisplayed {
		return ""
	}
	return c.code
}

// CodeTimeout and DisplayTimeout are OptInCodeTimeout and
// OptInDisplayTimeout as the instance shows them.
func (c *Consent) CodeTimeout() string { return strconv.Itoa(DefaultCodeTimeout) }

// DisplayTimeout: see CodeTimeout.
func (c *Consent) DisplayTimeout() string { MustHold(c.cfg.Lock); return c.displayTimeout }

// SetRequired sets OptInRequired (a Put the caller has checked with
// CanModify and ValidRequired).
func (c *Consent) SetRequired(n int64) { MustHold(c.cfg.Lock); c.required = n }

// SetDisplayTimeout sets OptInDisplayTimeout, an unsigned number of
// seconds.
func (c *Consent) SetDisplayTimeout(v string) { MustHold(c.cfg.Lock); c.displayTimeout = v }

func timeout(v string, def int) time.Duration {
	sec := def
	if n, err := strconv.Atoi(v); err == nil {
		sec = n
	}
	return time.Duration(sec) * time.Second
}

func (c *Consent) logInfo(msg string, args ...any) {
	if c.cfg.Log != nil {
		c.cfg.Log.Info(msg, append([]any{"device", c.cfg.IP}, args...)...)
	}
}

// reset drops the code and any consent.
func (c *Consent) reset(why string) {
	if c.state == StateNotStarted {
		return
	}
	c.code, c.wrong, c.deadline = "", 0, time.Time{}
	c.state = StateNotStarted
	c.logInfo("amtsim user consent", "state", StateNotStarted, "reason", why)
}

// Settle lets a displayed code expire after OptInDisplayTimeout and a
// received consent not yet used by a session after OptInCodeTimeout.
func (c *Consent) Settle(now time.Time) {
	MustHold(c.cfg.Lock)
	switch c.state {
	case StateDisplayed, StateReceived:
		if !c.deadline.IsZero() && !now.Before(c.deadline) {
			c.reset("timeout")
		}
	}
}

func (c *Consent) given() bool { return c.state == StateReceived || c.state == StateInSession }

// Missing reports whether IDE-R, SOL and the boot options need consent
// that has not been given (OptInRequired all).
func (c *Consent) Missing(now time.Time) bool {
	if c.Required() != OptInAll {
		return false
	}
	c.Settle(now)
	return !c.given()
}

// KVMMissing reports whether KVM needs consent that has not been given
// (OptInRequired 1 or all).
func (c *Consent) KVMMissing(now time.Time) bool {
	if c.Required() == OptInNone {
		return false
	}
	c.Settle(now)
	return !c.given()
}

// Start is StartOptIn: it shows a new code on the host's screen (state
// 2). While a code is displayed it shows the same code again; once
// consent is received or in use nothing changes. It returns 0.
func (c *Consent) Start(now time.Time) int {
	c.Settle(now)
	switch c.state {
	case StateNotStarted, StateRequested:
		c.codes++
		c.code = c.cfg.Code(c.codes)
		c.wrong = 0
		c.deadline = now.Add(timeout(c.displayTimeout, DefaultDisplayTimeout))
		c.state = StateDisplayed
		// What the machine's screen shows.
		c.logInfo("amtsim user consent code", "code", c.code)
	}
	return rvOK
}

// Send is SendOptInCode with the code sent (valid false when OptInCode
// is missing or not a number: PT_STATUS 36). The right code gives consent
// (state 3) and returns 0; a wrong one returns PT_STATUS 2066, and the
// third wrong one drops the code (state 0). Without a displayed code it
// returns PT_STATUS 2 (NOT_READY), as firmware answers a code sent out of
// turn.
func (c *Consent) Send(now time.Time, code uint64, valid bool) int {
	c.Settle(now)
	if !valid {
		return StatusInvalidParameter
	}
	if c.state != StateDisplayed {
		return StatusNotReady
	}
	want, _ := strconv.ParseUint(c.code, 10, 32)
	if code != want {
		c.wrong++
		c.logInfo("amtsim user consent: wrong code", "attempt", c.wrong)
		if c.wrong >= Attempts {
			c.reset("too many wrong codes")
		}
		return StatusUnsupported
	}
	c.code, c.wrong = "", 0
	c.deadline = now.Add(timeout(c.CodeTimeout(), DefaultCodeTimeout))
	c.state = StateReceived
	c.logInfo("amtsim user consent", "state", StateReceived)
	return rvOK
}

// Cancel is CancelOptIn: it drops the code or the consent (state 0) and
// returns 0, and endSessions reports that the IDE-R and SOL sessions the
// consent was in use by must end. With nothing started it returns
// PT_STATUS 2 (NOT_READY), as the capture shows.
func (c *Consent) Cancel(now time.Time) (rv int, endSessions bool) {
	c.Settle(now)
	if c.state == StateNotStarted {
		return StatusNotReady, false
	}
	inSession := c.state == StateInSession
	c.reset("cancelled")
	return rvOK, inSession && c.Required() == OptInAll
}

// SessionStarted puts received consent in use by an authenticated
// redirection session (state 4). No AccessLog is kept: no Get or Pull
// capture shows one.
func (c *Consent) SessionStarted() {
	MustHold(c.cfg.Lock)
	if c.state == StateReceived {
		c.state = StateInSession
	}
}

// SessionsEnded lets consent in use lapse: the last redirection session
// has ended.
func (c *Consent) SessionsEnded() {
	MustHold(c.cfg.Lock)
	if c.state == StateInSession {
		c.reset("session ended")
	}
}
