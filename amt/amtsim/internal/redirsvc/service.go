package redirsvc

import "sync"

// AMT_RedirectionService.EnabledState: 32768 plus a bit per feature.
const (
	StateBase   = 32768 // IDE-R and SOL disabled
	FeatureIDER = 1
	FeatureSOL  = 2
	StateAll    = StateBase | FeatureIDER | FeatureSOL // 32771
)

// CIM_KVMRedirectionSAP.EnabledState (protocol.md §3.6) and the
// RequestStateChange values that set it.
const (
	KVMEnabledOffline = 6 // enabled, no session
	KVMEnabledSession = 2 // enabled, a session open
	KVMDisabled       = 3

	kvmRequestEnable  = 2
	kvmRequestDisable = 3

	rvOK               = 0
	rvInvalidParameter = 5
)

// ValidState reports whether st is an EnabledState the service accepts:
// 32768 to 32771.
func ValidState(st int) bool { return st >= StateBase && st <= StateAll }

// ServiceConfig is a Service's starting state.
type ServiceConfig struct {
	Lock             *sync.Mutex // the device lock
	EnabledState     int         // AMT_RedirectionService.EnabledState
	ListenerDisabled bool
}

// Service is the state of AMT_RedirectionService and of the KVM access
// point (CIM_KVMRedirectionSAP). Call every method with the device lock
// held.
type Service struct {
	lock     *sync.Mutex
	state    int
	listener bool
	kvm      int // CIM_KVMRedirectionSAP EnabledState
	kvmReq   int // CIM_KVMRedirectionSAP RequestedState
}

// NewService returns the service in its starting state. The KVM access
// point starts enabled with no session and RequestedState 2, as
// CIM_KVMRedirectionSAP/GetResponse__gwm__1 shows.
func NewService(cfg ServiceConfig) *Service {
	return &Service{lock: cfg.Lock, state: cfg.EnabledState, listener: !cfg.ListenerDisabled,
		kvm: KVMEnabledOffline, kvmReq: kvmRequestEnable}
}

// EnabledState returns AMT_RedirectionService.EnabledState.
func (s *Service) EnabledState() int { MustHold(s.lock); return s.state }

// Listener returns AMT_RedirectionService.ListenerEnabled.
func (s *Service) Listener() bool { MustHold(s.lock); return s.listener }

// SetEnabledState sets EnabledState (a Put or RequestStateChange); it
// refuses, changing nothing, a value ValidState refuses.
func (s *Service) SetEnabledState(st int) bool {
	MustHold(s.lock)
	if !ValidState(st) {
		return false
	}
	s.state = st
	return true
}

// SetListener sets ListenerEnabled.
func (s *Service) SetListener(on bool) { MustHold(s.lock); s.listener = on }

// FeatureEnabled reports whether EnabledState enables the feature
// (FeatureIDER or FeatureSOL).
func (s *Service) FeatureEnabled(feature int) bool {
	MustHold(s.lock)
	return ValidState(s.state) && (s.state-StateBase)&feature != 0
}

// KVMState returns CIM_KVMRedirectionSAP's EnabledState and
// RequestedState.
func (s *Service) KVMState() (enabled, requested int) {
	MustHold(s.lock)
	return s.kvm, s.kvmReq
}

// KVMDisabled reports whether the KVM access point is disabled.
func (s *Service) KVMDisabled() bool { MustHold(s.lock); return s.kvm == KVMDisabled }

// KVMRequestStateChange applies CIM_KVMRedirectionSAP.RequestStateChange
// and returns its ReturnValue: 2 enables the access point (EnabledState
// 6, as captured), 3 disables it; another value, or none (ok false),
// answers 5 [modelled].
func (s *Service) KVMRequestStateChange(v uint64, ok bool) int {
	MustHold(s.lock)
	switch {
	case ok && v == kvmRequestEnable:
		s.kvm, s.kvmReq = KVMEnabledOffline, kvmRequestEnable
	case ok && v == kvmRequestDisable:
		s.kvm, s.kvmReq = KVMDisabled, kvmRequestDisable
	default:
		return rvInvalidParameter
	}
	return rvOK
}

// KVMSessionStarted shows a KVM session on the access point
// (EnabledState 2) while it is enabled.
func (s *Service) KVMSessionStarted() {
	MustHold(s.lock)
	if s.kvm == KVMEnabledOffline {
		s.kvm = KVMEnabledSession
	}
}

// KVMSessionEnded shows the access point enabled with no session again.
func (s *Service) KVMSessionEnded() {
	MustHold(s.lock)
	if s.kvm == KVMEnabledSession {
		s.kvm = KVMEnabledOffline
	}
}
