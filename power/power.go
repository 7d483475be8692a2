package power

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/amtkit/amtkit/wsman"
)

// Resource URIs (protocol.md §2.1).
var (
	uriAssociatedPower = wsman.ResourceURI("CIM_AssociatedPowerManagementService")
	uriPowerService    = wsman.ResourceURI("CIM_PowerManagementService")
	uriPowerCaps       = wsman.ResourceURI("CIM_PowerManagementCapabilities")
	uriIPSPower        = wsman.ResourceURI("IPS_PowerManagementService")
	uriComputerSystem  = wsman.ResourceURI("CIM_ComputerSystem")
)

// managedSystem is the host computer system the power methods act on.
var managedSystem = wsman.EPR{ResourceURI: uriComputerSystem, Selectors: []wsman.Selector{
	wsman.Sel("CreationClassName", "CIM_ComputerSystem"), wsman.Sel("Name", "ManagedSystem"),
}}

// TransitioningToPowerState values that mean "no transition" (§2.2).
const (
	transitionNotApplicable = 18
	transitionNoChange      = 19
)

// Status is the power state of a machine as its AMT device reports it.
type Status struct {
	State State
	// Transitioning is true while the device reports an earlier change in
	// progress; TransitioningTo is its target then.
	Transitioning   bool
	TransitioningTo State
	// Available lists the actions the device accepts in this state, in the
	// order it advertises them.
	Available []Action
	// OSPowerSaving tells whether the operating system sleeps while the
	// hardware is on (Modern Standby); OSPowerSavingUnsupported for
	// firmware without the service.
	OSPowerSaving OSPowerSaving
}

// Offers reports whether the device accepts a in this state.
func (s *Status) Offers(a Action) bool { return slices.Contains(s.Available, a) }

// Capabilities is CIM_PowerManagementCapabilities.
type Capabilities struct {
	// PowerChangeCapabilities, e.g. 3 power state settable, 4 power
	// cycling supported, 7 HW reset, 8 graceful shutdown.
	PowerChangeCapabilities []int
	StatesSupported         []State
	ActionsSupported        []Action
}

// Service reads and changes the power state and one-time boot options of
// one device. It is safe for concurrent use.
type Service struct {
	client func(ctx context.Context) (*wsman.Client, error)
	wrap   func(op string, err error) error
	poll   time.Duration
	gap    time.Duration

	// turn serialises power changes; last is when the device last
	// accepted one (or may have: an outcome unknown counts too).
	turn chan struct{}
	mu   sync.Mutex
	last time.Time

	tracker Tracker // WithTracker; nil records nothing

	// stateOnly: changes read the power state without the OS
	// power-saving state (WithoutOSPowerSavingRead).
	stateOnly bool
}

// DefaultMinGap is the default minimum time between two power changes to
// one device: firmware needs the BIOS to report back after a change
// (protocol.md §6) and refuses or loses a second one sent sooner.
const DefaultMinGap = 10 * time.Second

// Option configures a Service.
type Option func(*Service)

// WithErrorWrapper passes every error through wrap, so that a device client
// can classify them (package amt does).
func WithErrorWrapper(wrap func(op string, err error) error) Option {
	return func(s *Service) {
		if wrap != nil {
			s.wrap = wrap
		}
	}
}

// WithClientFunc makes the service ask f for the WS-Management client on
// every call, for device clients that choose their credentials on first
// use (package amt does); the client given to New may then be nil.
func WithClientFunc(f func(ctx context.Context) (*wsman.Client, error)) Option {
	return func(s *Service) {
		if f != nil {
			s.client = f
		}
	}
}

// WithPollInterval sets how often WaitFor reads the state (default 1s, as
// consoles do).
func WithPollInterval(d time.Duration) Option {
	return func(s *Service) {
		if d > 0 {
			s.poll = d
		}
	}
}

// WithMinGap sets the minimum time between two power changes this service
// sends (default DefaultMinGap). A change asked for sooner waits, within
// its context, for the gap to pass. Zero sends at once.
func WithMinGap(d time.Duration) Option {
	return func(s *Service) {
		if d >= 0 {
			s.gap = d
		}
	}
}

// WithoutOSPowerSavingRead makes the changes (Apply, StartBoot, ResetTo)
// read only CIM_AssociatedPowerManagementService before they send, and not
// the OS power-saving state, which no change decides on: one Get less per
// change. Their Change.Before then reports OSPowerSavingUnknown. Status,
// WaitFor and Wake still read it.
func WithoutOSPowerSavingRead() Option {
	return func(s *Service) { s.stateOnly = true }
}

// New returns the power service of the device behind ws.
func New(ws *wsman.Client, opts ...Option) *Service {
	s := &Service{
		client: func(context.Context) (*wsman.Client, error) { return ws, nil },
		poll:   time.Second,
		gap:    DefaultMinGap,
		wrap:   func(_ string, err error) error { return err },
		turn:   make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	return s.wrap(op, err)
}

// Status reads the power state, the actions the device offers in it, and
// the OS power-saving state.
func (s *Service) Status(ctx context.Context) (st *Status, err error) {
	ctx, done := s.begin(ctx, "power status", nil)
	defer func() { done(err) }()
	st, err = s.status(ctx)
	return st, s.fail("power status", err)
}

func (s *Service) status(ctx context.Context) (*Status, error) {
	ws, st, err := s.powerState(ctx)
	if err != nil {
		return nil, err
	}
	st.OSPowerSaving = OSPowerSavingUnsupported
	ips, err := ws.Get(ctx, uriIPSPower)
	switch {
	case err == nil:
		if v, err := ips.Uint("OSPowerSavingState"); err == nil {
			st.OSPowerSaving = OSPowerSaving(v)
		}
	case errors.Is(err, wsman.ErrDestinationUnreachable), errors.Is(err, wsman.ErrActionNotSupported):
		// Firmware before AMT 10 has no OS power-saving service.
	default:
		return nil, err
	}
	return st, nil
}

// changeStatus is the read a change decides on: the status, or with
// WithoutOSPowerSavingRead the power state and actions alone.
func (s *Service) changeStatus(ctx context.Context) (*Status, error) {
	if !s.stateOnly {
		return s.status(ctx)
	}
	_, st, err := s.powerState(ctx)
	return st, err
}

// powerState reads the power state and the actions offered in it (not the
// OS power-saving state), and returns the client it read them with.
func (s *Service) powerState(ctx context.Context) (*wsman.Client, *Status, error) {
	ws, err := s.client(ctx)
	if err != nil {
		return nil, nil, err
	}
	in, err := ws.Get(ctx, uriAssociatedPower)
	if err != nil {
		return nil, nil, err
	}
	st, err := DecodeStatus(in)
	if err != nil {
		return nil, nil, err
	}
	return ws, st, nil
}

// DecodeStatus reads a CIM_AssociatedPowerManagementService instance.
func DecodeStatus(in *wsman.Instance) (*Status, error) {
	ps, err := in.Uint("PowerState")
	if err != nil {
		return nil, err
	}
	st := &Status{State: State(ps)}
	for _, v := range in.Values("AvailableRequestedPowerStates") {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%w: AvailableRequestedPowerStates %q", wsman.ErrMalformedResponse, v)
		}
		st.Available = append(st.Available, Action(n))
	}
	if in.Has("TransitioningToPowerState") {
		t, err := in.Uint("TransitioningToPowerState")
		if err != nil {
			return nil, err
		}
		if t != 0 && t != transitionNotApplicable && t != transitionNoChange && State(t) != st.State {
			st.Transitioning, st.TransitioningTo = true, State(t)
		}
	}
	return st, nil
}

// Capabilities reads CIM_PowerManagementCapabilities.
func (s *Service) Capabilities(ctx context.Context) (_ *Capabilities, err error) {
	ctx, done := s.begin(ctx, "power capabilities", nil)
	defer func() { done(err) }()
	ws, err := s.client(ctx)
	if err != nil {
		return nil, s.fail("power capabilities", err)
	}
	in, err := ws.Get(ctx, uriPowerCaps)
	if err != nil {
		return nil, s.fail("power capabilities", err)
	}
	c, err := DecodeCapabilities(in)
	return c, s.fail("power capabilities", err)
}

// DecodeCapabilities reads a CIM_PowerManagementCapabilities instance.
func DecodeCapabilities(in *wsman.Instance) (*Capabilities, error) {
	c := &Capabilities{}
	ints := func(name string) ([]int, error) {
		var out []int
		for _, v := range in.Values(name) {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("%w: %s %q", wsman.ErrMalformedResponse, name, v)
			}
			out = append(out, n)
		}
		return out, nil
	}
	var err error
	if c.PowerChangeCapabilities, err = ints("PowerChangeCapabilities"); err != nil {
		return nil, err
	}
	states, err := ints("PowerStatesSupported")
	if err != nil {
		return nil, err
	}
	for _, n := range states {
		c.StatesSupported = append(c.StatesSupported, State(n))
	}
	reqs, err := ints("RequestedPowerStatesSupported")
	if err != nil {
		return nil, err
	}
	for _, n := range reqs {
		c.ActionsSupported = append(c.ActionsSupported, Action(n))
	}
	return c, nil
}

// Set asks the device for a power change. It first reads the state: an
// action the device does not offer now fails with *NotAvailableError, and
// a device still carrying out an earlier change fails with
// *TransitioningError; nothing is sent in either case.
//
// Set never resends the request. If the connection fails after it was
// sent, the error matches wsman.ErrOutcomeUnknown: read the state to learn
// whether the change happened, rather than asking again (a second reset
// would reset the machine twice).
//
// Set(On) of a machine that is on, and Set(Off) or Set(SoftOff) of one
// that is off, send nothing and succeed; Apply tells these apart.
func (s *Service) Set(ctx context.Context, a Action) error {
	_, err := s.Apply(ctx, a)
	return err
}

// Change reports what Apply did.
type Change struct {
	Action Action
	// Before is the status read before anything was sent.
	Before *Status
	// Sent is false when the machine already was in the state the action
	// leads to (on for On, off for Off and SoftOff): nothing was sent.
	Sent bool
}

// Apply is Set, reporting whether a request was sent: an action whose
// end state the machine is already in (On while on, Off or SoftOff while
// off) is a no-op.
func (s *Service) Apply(ctx context.Context, a Action) (_ *Change, err error) {
	ctx, done := s.begin(ctx, "power "+a.String(), nil)
	defer func() { done(err) }()
	if !a.known() {
		return nil, s.fail("power", wsman.InvalidArgument("power: %s", a))
	}
	op := "power " + a.String()
	st, err := s.changeStatus(ctx)
	if err != nil {
		return nil, s.fail(op, err)
	}
	ch := &Change{Action: a, Before: st}
	if alreadyIn(st, a) {
		return ch, nil
	}
	ch.Sent = true
	return ch, s.fail(op, s.set(ctx, st, a))
}

// alreadyIn reports whether the machine is in the state a leads to, so
// that sending a would change nothing.
func alreadyIn(st *Status, a Action) bool {
	if st.Transitioning {
		return false
	}
	switch a {
	case On:
		return st.State == StateOn
	case Off, SoftOff:
		return st.State == StateOff
	}
	return false
}

func (s *Service) set(ctx context.Context, st *Status, a Action) error {
	if !st.State.Known() {
		return &StateUnknownError{State: st.State}
	}
	if st.Transitioning {
		return &TransitioningError{State: st.State, To: st.TransitioningTo}
	}
	if !st.Offers(a) {
		return &NotAvailableError{Action: a, State: st.State, Available: st.Available}
	}
	ws, err := s.client(ctx)
	if err != nil {
		return err
	}
	release, err := s.waitGap(ctx)
	if err != nil {
		return err
	}
	defer release()
	_, err = ws.Invoke(ctx, uriPowerService, "RequestPowerStateChange", []wsman.Property{
		wsman.Param("PowerState", strconv.Itoa(int(a))),
		wsman.RefParam("ManagedElement", managedSystem),
	})
	var rv *wsman.ReturnValueError
	if errors.As(err, &rv) && rv.Code == returnUnknownError {
		// Firmware answers 2 when its stored state is outside the
		// table (DSP1027); read it again to tell that apart.
		if again, serr := s.changeStatus(ctx); serr == nil && !again.State.Known() {
			return &StateUnknownError{State: again.State, Err: err}
		}
	}
	return err
}

// returnUnknownError is DMTF ReturnValue 2, Unknown/Unspecified Error.
const returnUnknownError = 2

// waitGap takes the service's power-change turn and waits until the
// minimum gap since the last change has passed. release records the
// change and gives the turn back.
func (s *Service) waitGap(ctx context.Context) (release func(), err error) {
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	wait := time.Until(s.last.Add(s.gap))
	s.mu.Unlock()
	if wait > 0 && !s.last.IsZero() {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			<-s.turn
			return nil, fmt.Errorf("waiting %s between two power changes (protocol.md §6): %w", s.gap, ctx.Err())
		}
	}
	return func() {
		s.mu.Lock()
		s.last = time.Now()
		s.mu.Unlock()
		<-s.turn
	}, nil
}

// Poll is what WaitFor saw at one reading of the state.
type Poll struct {
	Status  *Status // nil when the reading failed
	Err     error   // a failure WaitFor reads through (the device busy rebooting)
	Elapsed time.Duration
}

// WaitOption adjusts WaitFor.
type WaitOption func(*waitConfig)

type waitConfig struct {
	progress func(Poll)
}

// OnPoll has WaitFor call f after every reading of the state, for a
// progress display.
func OnPoll(f func(Poll)) WaitOption {
	return func(c *waitConfig) { c.progress = f }
}

// WaitFor reads the state until the machine is in state, or ctx ends. It
// returns the last status read. It reads PowerState as firmware reports
// it; a TransitioningToPowerState still in progress, where firmware
// reports one, is waited out too. A device busy while the machine changes
// state (refused or reset connections, timeouts, 5xx answers) is read
// again until ctx ends. When ctx ends first the error matches
// ErrNotReached: the change was accepted, the state not reached yet.
func (s *Service) WaitFor(ctx context.Context, state State, opts ...WaitOption) (_ *Status, err error) {
	ctx, done := s.begin(ctx, "power wait", map[string]string{"state": state.String()})
	defer func() { done(err) }()
	var cfg waitConfig
	for _, o := range opts {
		o(&cfg)
	}
	started := time.Now()
	t := time.NewTicker(s.poll)
	defer t.Stop()
	var last *Status
	var lastErr error
	for {
		st, err := s.status(ctx)
		if st != nil {
			last = st
		}
		if cfg.progress != nil && ctx.Err() == nil {
			cfg.progress(Poll{Status: st, Err: err, Elapsed: time.Since(started)})
		}
		if err == nil && st.State == state && !st.Transitioning {
			return st, nil
		}
		if err != nil && ctx.Err() == nil && !transientRead(err) {
			return last, s.fail("power wait", err)
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return last, s.fail("power wait", &NotReachedError{Want: state, Last: last, LastErr: lastErr, Waited: time.Since(started), Err: ctx.Err()})
		case <-t.C:
		}
	}
}

// transientRead reports errors worth reading again while a machine
// changes state: the device stops answering while it resets, and AMT
// often drops the first request after a wake.
func transientRead(err error) bool {
	var he *wsman.HTTPError
	var ne net.Error
	return errors.Is(err, wsman.ErrOutcomeUnknown) || errors.As(err, &he) && he.StatusCode >= 500 ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Wake brings the operating system out of its power-saving mode (Modern
// Standby) to full power, through IPS_PowerManagementService (AMT 10 and
// later). It is never resent. A machine that is not on is refused with
// *WakeNotAvailableError (matching ErrNotAvailable): the On action brings
// it up.
func (s *Service) Wake(ctx context.Context) (err error) {
	ctx, done := s.begin(ctx, "power wake", nil)
	defer func() { done(err) }()
	st, err := s.status(ctx)
	if err != nil {
		return s.fail("power wake", err)
	}
	if st.OSPowerSaving == OSPowerSavingUnsupported {
		return s.fail("power wake", &UnsupportedError{What: []string{"OS power saving (IPS_PowerManagementService)"}})
	}
	if st.State != StateOn {
		return s.fail("power wake", &WakeNotAvailableError{State: st.State, Available: st.Available})
	}
	if st.OSPowerSaving == OSFullPower {
		return nil
	}
	ws, err := s.client(ctx)
	if err != nil {
		return s.fail("power wake", err)
	}
	_, err = ws.Invoke(ctx, uriIPSPower, "RequestOSPowerSavingStateChange", []wsman.Property{
		wsman.Param("OSPowerSavingState", strconv.Itoa(int(OSFullPower))),
		wsman.RefParam("ManagedElement", managedSystem),
	})
	return s.fail("power wake", err)
}
