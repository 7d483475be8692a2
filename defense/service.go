package defense

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/amtkit/amtkit/wsman"
)

// Resource URIs (protocol.md §4.1, §5.5).
var (
	uriIPFilter    = wsman.ResourceURI("AMT_IPHeadersFilter")
	uriEthFilter   = wsman.ResourceURI("AMT_Hdr8021Filter")
	uriPolicy      = wsman.ResourceURI("AMT_SystemDefensePolicy")
	uriBinding     = wsman.ResourceURI("AMT_NetworkPortSystemDefensePolicy")
	uriStats       = wsman.ResourceURI("AMT_ActiveFilterStatistics")
	uriGeneralCaps = wsman.ResourceURI("AMT_GeneralSystemDefenseCapabilities")
	uriPortCaps    = wsman.ResourceURI("AMT_NetworkPortSystemDefenseCapabilities")
	uriPort        = wsman.ResourceURI("CIM_EthernetPort")
	uriSetup       = wsman.ResourceURI("AMT_SetupAndConfigurationService")
)

// Marker starts the ElementName of every filter and policy Apply creates,
// so that Remove can tell amtkit's objects from others'.
const Marker = "amtkit"

// DefaultAntiSpoofingMode is the AntiSpoofingSupport value sent for a
// policy with anti-spoofing: the value of Intel's PowerShell sample. The
// labels of 1..4 are unverified (protocol.md §4.5 [U]); WithAntiSpoofingMode
// changes it.
const DefaultAntiSpoofingMode = 3

// Interface is a network port of the device.
type Interface int

// Interfaces. Wired is CIM_EthernetPort "Intel(r) AMT Ethernet Port 0",
// wireless is port 1.
const (
	Wired Interface = iota
	Wireless
	Both
)

func (i Interface) String() string {
	switch i {
	case Wired:
		return "wired"
	case Wireless:
		return "wireless"
	case Both:
		return "both"
	}
	return "interface(" + strconv.Itoa(int(i)) + ")"
}

// ParseInterface reads "wired", "wireless" or "both".
func ParseInterface(s string) (Interface, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "wired", "":
		return Wired, nil
	case "wireless", "wifi", "wlan":
		return Wireless, nil
	case "both":
		return Both, nil
	}
	return 0, fmt.Errorf("interface %q is not wired, wireless or both", s)
}

// ports returns the port numbers an interface choice names.
func (i Interface) ports() []int {
	switch i {
	case Wireless:
		return []int{1}
	case Both:
		return []int{0, 1}
	}
	return []int{0}
}

func portName(n int) string {
	if n == 1 {
		return "wireless"
	}
	return "wired"
}

func portEPR(n int) wsman.EPR {
	return wsman.EPR{ResourceURI: uriPort, Selectors: []wsman.Selector{
		wsman.Sel("CreationClassName", "CIM_EthernetPort"),
		wsman.Sel("DeviceID", "Intel(r) AMT Ethernet Port "+strconv.Itoa(n)),
	}}
}

func policyEPR(id string) wsman.EPR {
	return wsman.EPR{ResourceURI: uriPolicy, Selectors: []wsman.Selector{wsman.Sel("InstanceID", id)}}
}

// Service configures System Defense on one device. It is safe for
// concurrent use; operations that change bindings are serialised per
// device.
type Service struct {
	client   func(ctx context.Context) (*wsman.Client, error)
	wrap     func(op string, err error) error
	antiMode int
	tracker  Tracker // WithTracker; nil records nothing
}

// Option configures a Service.
type Option func(*Service)

// WithClientFunc makes the service ask f for the WS-Management client on
// every call (package amt does, choosing credentials on first use).
func WithClientFunc(f func(ctx context.Context) (*wsman.Client, error)) Option {
	return func(s *Service) {
		if f != nil {
			s.client = f
		}
	}
}

// WithErrorWrapper passes every device error through wrap, so that a
// device client can classify it.
func WithErrorWrapper(wrap func(op string, err error) error) Option {
	return func(s *Service) {
		if wrap != nil {
			s.wrap = wrap
		}
	}
}

// WithAntiSpoofingMode sets the AntiSpoofingSupport value (1..4) sent for
// policies with anti-spoofing; see DefaultAntiSpoofingMode.
func WithAntiSpoofingMode(v int) Option {
	return func(s *Service) {
		if v >= 1 && v <= 4 {
			s.antiMode = v
		}
	}
}

// New returns the System Defense service of the device behind ws.
func New(ws *wsman.Client, opts ...Option) *Service {
	s := &Service{
		client:   func(context.Context) (*wsman.Client, error) { return ws, nil },
		wrap:     func(_ string, err error) error { return err },
		antiMode: DefaultAntiSpoofingMode,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// locks serialises binding changes per device endpoint in this process.
var locks sync.Map // endpoint -> chan struct{}

func lockDevice(ctx context.Context, endpoint string) (func(), error) {
	v, _ := locks.LoadOrStore(endpoint, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("defense: %w: %w", ErrBusy, ctx.Err())
	}
}

// session is one operation's view of the device: the client and a count
// of round trips.
type session struct {
	s  *Service
	ws *wsman.Client
	rt atomic.Int64
}

func (s *Service) session(ctx context.Context) (*session, error) {
	ws, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	if ws == nil {
		return nil, errors.New("defense: no WS-Management client")
	}
	return &session{s: s, ws: ws}, nil
}

// lockedSession is session for an operation that changes the device: it
// waits for the device's lock (lockDevice) too. The caller calls unlock when
// done.
func (s *Service) lockedSession(ctx context.Context) (_ *session, unlock func(), err error) {
	x, err := s.session(ctx)
	if err != nil {
		return nil, nil, err
	}
	unlock, err = lockDevice(ctx, x.ws.Endpoint())
	if err != nil {
		return nil, nil, err
	}
	return x, unlock, nil
}

func (x *session) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	return x.s.wrap(op, err)
}

func (x *session) get(ctx context.Context, uri string, sel ...wsman.Selector) (*wsman.Instance, error) {
	x.rt.Add(1)
	in, err := x.ws.Get(ctx, uri, sel...)
	return in, x.fail("Get "+wsman.ClassName(uri), err)
}

// enumerate reads every instance of a class; a class the firmware does not
// have yields nothing when optional.
func (x *session) enumerate(ctx context.Context, uri string) ([]*wsman.Instance, error) {
	all, err := x.ws.EnumerateAll(ctx, uri)
	x.rt.Add(int64(1 + max(1, (len(all)+99)/100)))
	if err != nil {
		return nil, x.fail("Enumerate "+wsman.ClassName(uri), err)
	}
	return all, nil
}

func (x *session) create(ctx context.Context, in *wsman.Instance, what string) (*wsman.EPR, error) {
	x.rt.Add(1)
	ref, err := x.ws.Create(ctx, in)
	if err != nil {
		return nil, x.fail("Create "+in.Class+" "+what, mapDeviceError("Create "+in.Class+" "+what, err))
	}
	return ref, nil
}

func (x *session) delete(ctx context.Context, uri string, sel ...wsman.Selector) error {
	x.rt.Add(1)
	err := x.ws.Delete(ctx, uri, sel...)
	return x.fail("Delete "+wsman.ClassName(uri), err)
}

func (x *session) invoke(ctx context.Context, uri, method string, params []wsman.Property, sel ...wsman.Selector) (*wsman.Instance, error) {
	x.rt.Add(1)
	out, err := x.ws.Invoke(ctx, uri, method, params, sel...)
	return out, x.fail("Invoke "+wsman.ClassName(uri)+"."+method, mapDeviceError(method, err))
}

// Mode is how the device was provisioned (ProvisioningMode, protocol.md
// §5.5).
type Mode int

// Provisioning modes System Defense cares about.
const (
	ModeUnknown Mode = 0
	ModeACM     Mode = 1 // Admin Control Mode: System Defense available
	ModeCCM     Mode = 4 // Client Control Mode: System Defense unavailable
)

func (m Mode) String() string {
	switch m {
	case ModeACM:
		return "ACM"
	case ModeCCM:
		return "CCM"
	case ModeUnknown:
		return "unknown"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// PortCapabilities are the System Defense limits of one port
// (AMT_NetworkPortSystemDefenseCapabilities).
type PortCapabilities struct {
	Interface         Interface // Wired or Wireless
	ID                string    // InstanceID
	IPv4MaxTxFilters  int
	IPv4MaxTxCounters int
	IPv4MaxRxFilters  int
	IPv4MaxRxCounters int
	IPv4AntiSpoofing  bool
	IPv6MaxTxFilters  int
	IPv6MaxTxCounters int
	IPv6MaxRxFilters  int
	IPv6MaxRxCounters int
	IPv6AntiSpoofing  bool
	IPv6ToIPv4Ratio   int  // IPv4 slots one IPv6 filter or counter takes
	HasIPv6           bool // the port reports IPv6 limits
}

// Capabilities are what the device supports.
type Capabilities struct {
	Mode Mode
	// MaxPolicies and MaxFilters are the device-wide limits
	// (AMT_GeneralSystemDefenseCapabilities).
	MaxPolicies, MaxFilters int
	Ports                   []PortCapabilities
}

// Port returns the capabilities of a port, if the device has it.
func (c *Capabilities) Port(i Interface) (PortCapabilities, bool) {
	for _, p := range c.Ports {
		if p.Interface == i {
			return p, true
		}
	}
	return PortCapabilities{}, false
}

// Capabilities reads the provisioning mode and the System Defense limits
// (AMT_GeneralSystemDefenseCapabilities, AMT_NetworkPortSystemDefenseCapabilities).
func (s *Service) Capabilities(ctx context.Context) (_ *Capabilities, err error) {
	ctx, done := s.begin(ctx, "defense capabilities", nil)
	defer func() { done(err) }()
	x, err := s.session(ctx)
	if err != nil {
		return nil, err
	}
	return x.capabilities(ctx)
}

func (x *session) mode(ctx context.Context) (Mode, error) {
	in, err := x.get(ctx, uriSetup)
	if err != nil {
		return ModeUnknown, err
	}
	v, err := in.Uint("ProvisioningMode")
	if err != nil {
		return ModeUnknown, fmt.Errorf("defense: AMT_SetupAndConfigurationService: %w", err)
	}
	return Mode(v), nil
}

func (x *session) capabilities(ctx context.Context) (*Capabilities, error) {
	mode, err := x.mode(ctx)
	if err != nil {
		return nil, err
	}
	c := &Capabilities{Mode: mode}
	gen, err := x.enumerate(ctx, uriGeneralCaps)
	if err != nil {
		return nil, err
	}
	if len(gen) == 0 {
		return nil, fmt.Errorf("defense: %w: the device has no AMT_GeneralSystemDefenseCapabilities", ErrUnsupported)
	}
	if c.MaxPolicies, err = intProp(gen[0], "GlobalMaxSupportedPolicies"); err != nil {
		return nil, err
	}
	if c.MaxFilters, err = intProp(gen[0], "GlobalMaxSupportedFilters"); err != nil {
		return nil, err
	}
	ports, err := x.enumerate(ctx, uriPortCaps)
	if err != nil {
		return nil, err
	}
	for i, in := range ports {
		pc, err := decodePortCaps(in, i)
		if err != nil {
			return nil, err
		}
		c.Ports = append(c.Ports, pc)
	}
	return c, nil
}

func intProp(in *wsman.Instance, name string) (int, error) {
	v, err := in.Uint(name)
	if err != nil {
		return 0, fmt.Errorf("defense: %w", err)
	}
	if v > 1<<31-1 {
		return 0, fmt.Errorf("defense: %s.%s = %d is out of range", in.Class, name, v)
	}
	return int(v), nil
}

func optInt(in *wsman.Instance, name string) (int, bool, error) {
	if !in.Has(name) {
		return 0, false, nil
	}
	v, err := intProp(in, name)
	return v, true, err
}

// trailingNumber returns the number at the end of s.
func trailingNumber(s string) (int, bool) {
	s = strings.TrimSpace(s)
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	if i == len(s) || len(s)-i > 3 {
		return 0, false
	}
	n, err := strconv.Atoi(s[i:])
	return n, err == nil
}

func decodePortCaps(in *wsman.Instance, index int) (PortCapabilities, error) {
	pc := PortCapabilities{ID: in.String("InstanceID"), IPv6ToIPv4Ratio: 1}
	port := index
	for _, key := range []string{"InstanceID", "DeviceID", "ElementName", "Name"} {
		if n, ok := trailingNumber(in.String(key)); ok && n <= 1 {
			port = n
			break
		}
	}
	pc.Interface = Interface(port)
	var err error
	req := func(dst *int, name string) {
		if err == nil {
			*dst, err = intProp(in, name)
		}
	}
	req(&pc.IPv4MaxTxFilters, "IPv4_MaxTxFilters")
	req(&pc.IPv4MaxTxCounters, "IPv4_MaxTxCounters")
	req(&pc.IPv4MaxRxFilters, "IPv4_MaxRxFilters")
	req(&pc.IPv4MaxRxCounters, "IPv4_MaxRxCounters")
	if err != nil {
		return pc, err
	}
	if in.Has("IPv4_AntiSpoofingCapable") {
		if pc.IPv4AntiSpoofing, err = in.Bool("IPv4_AntiSpoofingCapable"); err != nil {
			return pc, fmt.Errorf("defense: %w", err)
		}
	}
	var ok bool
	if pc.IPv6MaxTxFilters, ok, err = optInt(in, "IPv6_MaxTxFilters"); err != nil {
		return pc, err
	}
	pc.HasIPv6 = ok
	for _, o := range []struct {
		dst  *int
		name string
	}{{&pc.IPv6MaxTxCounters, "IPv6_MaxTxCounters"}, {&pc.IPv6MaxRxFilters, "IPv6_MaxRxFilters"}, {&pc.IPv6MaxRxCounters, "IPv6_MaxRxCounters"}} {
		if *o.dst, _, err = optInt(in, o.name); err != nil {
			return pc, err
		}
	}
	if in.Has("IPv6_AntiSpoofingCapable") {
		if pc.IPv6AntiSpoofing, err = in.Bool("IPv6_AntiSpoofingCapable"); err != nil {
			return pc, fmt.Errorf("defense: %w", err)
		}
	}
	if r, ok, err := optInt(in, "IPv6_to_IPv4_Ratio"); err != nil {
		return pc, err
	} else if ok && r > 0 {
		pc.IPv6ToIPv4Ratio = r
	}
	return pc, nil
}
