package sysdefense

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Fixed identities of the device's own objects. The system keys are those
// the capture of AMT_Hdr8021Filter and CIM_EthernetPort show.
const (
	systemName        = "Intel(r) AMT"
	systemClass       = "CIM_ComputerSystem"
	serviceName       = "Intel(r) AMT System Defense Service"
	generalCapsID     = "Intel(r) AMT System Defense Capabilities"
	portCapsIDPrefix  = "Intel(r) AMT Network Port System Defense Capabilities "
	ethernetPortIDPfx = "Intel(r) AMT Ethernet Port "
)

// Unit is the System Defense state of one device: filters, policies, the
// policies enabled on or made default for each port, the active policy of
// each port with its counters, and the packet evaluator. It is safe for
// concurrent use.
type Unit struct {
	mu       sync.Mutex
	cfg      Config
	handle   uint32 // last creation handle assigned
	seq      uint64
	filters  []*filter
	policies []*policy
	enabled  []*enablement
	ports    []*portState
}

type policy struct {
	handle       uint32
	id           string
	name         string
	precedence   uint32
	antiSpoofing uint32
	handles      []uint32
	txDrop       bool
	rxDrop       bool
	txCount      bool
	rxCount      bool
	fields       *fieldValues
	timeout      uint32 // minutes, 0 none
}

// enablement is one AMT_NetworkPortSystemDefensePolicy: a policy enabled
// on a port.
type enablement struct {
	port       int
	policy     *policy
	seq        uint64
	expired    bool
	timerStart time.Time
}

type counter struct {
	live        uint64
	read        uint64
	matched     bool
	windowStart time.Time
	inWindow    uint64
}

// overRate counts one matching packet in the rate limit's current
// one-second window and reports whether it is beyond the rate.
func (c *counter) overRate(now time.Time, rate uint32) bool {
	if c.windowStart.IsZero() || now.Sub(c.windowStart) >= time.Second || now.Before(c.windowStart) {
		c.windowStart, c.inWindow = now, 0
	}
	c.inWindow++
	return c.inWindow > uint64(rate)
}

type portState struct {
	num      int
	limits   *PortLimits
	def      *policy // AMT_NetworkPortDefaultSystemDefensePolicy
	active   *policy
	via      *enablement // nil when the default policy is active
	since    time.Time
	reset    time.Time
	counters map[string]*counter
	defaults [2]counter
}

func (ps *portState) counter(id string) *counter {
	c := ps.counters[id]
	if c == nil {
		c = &counter{}
		ps.counters[id] = c
	}
	return c
}

// New returns the System Defense state of a device with no filters and no
// policies.
func New(cfg Config) (*Unit, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	u := &Unit{cfg: cfg}
	u.ports = append(u.ports, &portState{num: PortWired, limits: u.cfg.Wired})
	if !cfg.NoWireless {
		u.ports = append(u.ports, &portState{num: PortWireless, limits: u.cfg.Wireless})
	}
	return u, nil
}

func (u *Unit) port(n int) *portState {
	for _, ps := range u.ports {
		if ps.num == n {
			return ps
		}
	}
	return nil
}

func (u *Unit) filterByHandle(h uint32) *filter {
	for _, f := range u.filters {
		if f.handle == h {
			return f
		}
	}
	return nil
}

func (u *Unit) nextHandle() uint32 {
	u.handle++
	return u.handle
}

// settle brings each port's active policy up to now: an enabled policy
// whose timeout ran out expires at that instant and the next candidate
// (the highest precedence among the other enabled policies, else the
// port's default policy) becomes active from then. Call with u.mu held.
func (u *Unit) settle(now time.Time) {
	for _, ps := range u.ports {
		at := now
		for {
			if e := ps.via; e != nil && e.policy.timeout > 0 {
				exp := e.timerStart.Add(time.Duration(e.policy.timeout) * u.cfg.Minute)
				if !exp.After(now) {
					e.expired = true
					at = exp
				}
			}
			e, pol := u.candidate(ps)
			if e == ps.via && pol == ps.active {
				break
			}
			u.activate(ps, e, pol, at)
		}
	}
}

// candidate returns the policy that should be active on the port: the
// highest PolicyPrecedence among its unexpired enabled policies (the
// earlier enabled one on a tie), else its default policy.
func (u *Unit) candidate(ps *portState) (*enablement, *policy) {
	var best *enablement
	for _, e := range u.enabled {
		if e.port != ps.num || e.expired {
			continue
		}
		if best == nil || e.policy.precedence > best.policy.precedence {
			best = e
		}
	}
	if best != nil {
		return best, best.policy
	}
	return nil, ps.def
}

func (u *Unit) activate(ps *portState, e *enablement, pol *policy, at time.Time) {
	ps.via, ps.active = e, pol
	ps.since, ps.reset = at, at
	ps.counters = map[string]*counter{}
	ps.defaults = [2]counter{}
	if e != nil {
		e.timerStart = at
	}
}

// Active returns the InstanceID of the policy active on the port now, or
// "" when none is.
func (u *Unit) Active(port int) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.settle(u.cfg.Now())
	if ps := u.port(port); ps != nil && ps.active != nil {
		return ps.active.id
	}
	return ""
}

// Ports returns the port numbers the device has.
func (u *Unit) Ports() []int {
	var out []int
	for _, ps := range u.ports {
		out = append(out, ps.num)
	}
	return out
}

// ---- endpoint references of the model's objects ----

func portEPR(n int) EPR {
	return EPR{ResourceURI: URI(ClassEthernetPort), Selectors: []Selector{
		{Name: "CreationClassName", Value: ClassEthernetPort},
		{Name: "DeviceID", Value: ethernetPortIDPfx + strconv.Itoa(n)},
	}}
}

func policyEPR(p *policy) EPR {
	return EPR{ResourceURI: URI(ClassPolicy), Selectors: []Selector{{Name: "InstanceID", Value: p.id}}}
}

func filterEPR(f *filter) EPR {
	return EPR{ResourceURI: URI(f.class), Selectors: []Selector{
		{Name: "CreationClassName", Value: f.class},
		{Name: "InstanceID", Value: f.id},
		{Name: "Name", Value: f.name},
		{Name: "SystemCreationClassName", Value: systemClass},
		{Name: "SystemName", Value: systemName},
	}}
}

func serviceEPR() EPR {
	return EPR{ResourceURI: URI(ClassService), Selectors: []Selector{
		{Name: "CreationClassName", Value: ClassService},
		{Name: "Name", Value: serviceName},
		{Name: "SystemCreationClassName", Value: systemClass},
		{Name: "SystemName", Value: systemName},
	}}
}

// identifying lists the selectors an EPR of a resource must carry to name
// one object.
func identifying(uri string) []string {
	switch uri {
	case URI(ClassEthernetPort):
		return []string{"DeviceID"}
	case URI(ClassFilterInPolicy), URI(ClassPolicyInService), URI(ClassPortPolicy),
		URI(ClassPortDefaultPolicy), URI(ClassActiveStatistics):
		return []string{"Antecedent", "Dependent"}
	case URI(ClassService), URI(ClassGeneralCapabilities):
		return nil
	}
	return []string{"InstanceID"}
}

// eprMatches reports whether a given reference names the stored one: the
// same resource, the identifying selectors present, and every selector
// given equal to the stored one. The address is not compared.
func eprMatches(stored, given *EPR) bool {
	if stored == nil || given == nil || stored.ResourceURI != given.ResourceURI {
		return false
	}
	return selectorsMatch(stored.Selectors, given.Selectors, identifying(stored.ResourceURI))
}

func selectorsMatch(stored, given []Selector, required []string) bool {
	seen := map[string]bool{}
	for _, g := range given {
		if seen[g.Name] {
			return false
		}
		seen[g.Name] = true
		i := slices.IndexFunc(stored, func(s Selector) bool { return s.Name == g.Name })
		if i < 0 {
			return false
		}
		s := stored[i]
		if s.EPR != nil || g.EPR != nil {
			if !eprMatches(s.EPR, g.EPR) {
				return false
			}
			continue
		}
		if s.Value != g.Value {
			return false
		}
	}
	for _, r := range required {
		if !seen[r] {
			return false
		}
	}
	return true
}

// ---- operations ----

// item is an instance with the object behind it.
type item struct {
	inst *Instance
	obj  any
}

func (u *Unit) class(name string) (*Class, *Fault) {
	c := classByName(name)
	if c == nil {
		return nil, &Fault{Code: FaultActionNotSupported, Reason: "not a System Defense class"}
	}
	return c, nil
}

// Enumerate returns every instance of the class, in creation order.
func (u *Unit) Enumerate(class string) ([]*Instance, error) {
	if _, f := u.class(class); f != nil {
		return nil, f
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.settle(u.cfg.Now())
	items := u.list(class)
	out := make([]*Instance, len(items))
	for i, it := range items {
		out[i] = it.inst
	}
	return out, nil
}

// Get returns the instance the selectors name.
func (u *Unit) Get(class string, sels []Selector) (*Instance, error) {
	c, f := u.class(class)
	if f != nil {
		return nil, f
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.settle(u.cfg.Now())
	it, f := u.resolve(c, sels)
	if f != nil {
		return nil, f
	}
	return it.inst, nil
}

// resolve finds the one instance the selectors name: every selector is a
// key of the class, the identifying keys are given (none for singletons),
// and each given value equals the instance's.
func (u *Unit) resolve(c *Class, sels []Selector) (*item, *Fault) {
	for _, s := range sels {
		if !slices.Contains(c.Keys, s.Name) {
			return nil, selectorFault("%s is not a key of %s", s.Name, c.Name)
		}
	}
	required := identifying(c.URI)
	if c.Singleton && len(sels) == 0 {
		required = nil
	}
	items := u.list(c.Name)
	for i := range items {
		var stored []Selector
		for _, p := range items[i].inst.Props {
			if !slices.Contains(c.Keys, p.Name) {
				continue
			}
			s := Selector{Name: p.Name, EPR: p.EPR}
			if len(p.Values) > 0 {
				s.Value = p.Values[0]
			}
			stored = append(stored, s)
		}
		if selectorsMatch(stored, sels, required) {
			return &items[i], nil
		}
	}
	return nil, selectorFault("no %s matches the selectors", c.Name)
}

// Create creates an instance of a filter class, a policy or a port
// association and returns the reference the device assigned.
func (u *Unit) Create(class string, body []Field) (*EPR, error) {
	c, f := u.class(class)
	if f != nil {
		return nil, f
	}
	if !c.Create {
		return nil, &Fault{Code: FaultActionNotSupported, Reason: class + " cannot be created"}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.cfg.Now()
	u.settle(now)
	if u.cfg.CCM() {
		return nil, statusFault(u.cfg.CCMStatus, "System Defense needs admin control mode")
	}
	var epr *EPR
	switch class {
	case ClassHdr8021Filter, ClassIPHeadersFilter:
		epr, f = u.createFilter(class, body)
	case ClassPolicy:
		epr, f = u.createPolicy(body)
	default:
		epr, f = u.createAssociation(class, body)
	}
	if f != nil {
		return nil, f
	}
	u.settle(now)
	return epr, nil
}

func (u *Unit) createFilter(class string, body []Field) (*EPR, *Fault) {
	f, fault := parseFilter(class, body, &u.cfg)
	if fault != nil {
		return nil, fault
	}
	if len(u.filters) >= u.cfg.MaxFilters {
		return nil, statusFault(u.cfg.LimitStatus, "the device holds %d filters already", len(u.filters))
	}
	f.handle = u.nextHandle()
	f.id = strconv.FormatUint(uint64(f.handle), 10)
	u.filters = append(u.filters, f)
	e := filterEPR(f)
	return &e, nil
}

var policyFields = map[string]fieldSpec{
	"InstanceID":            {kind: kString},
	"ElementName":           {kind: kString},
	"PolicyName":            {kind: kString},
	"PolicyPrecedence":      {kind: kUint32},
	"AntiSpoofingSupport":   {kind: kUint32},
	"FilterCreationHandles": {kind: kUint32, array: true},
	"TxDefaultDrop":         {kind: kBool},
	"TxDefaultCount":        {kind: kBool},
	"TxDefaultMatchEvent":   {kind: kBool},
	"RxDefaultDrop":         {kind: kBool},
	"RxDefaultCount":        {kind: kBool},
	"RxDefaultMatchEvent":   {kind: kBool},
}

func (u *Unit) createPolicy(body []Field) (*EPR, *Fault) {
	fv, fault := readFields(body, policyFields)
	if fault != nil {
		return nil, fault
	}
	for _, req := range []string{"PolicyPrecedence", "TxDefaultDrop", "TxDefaultCount", "TxDefaultMatchEvent",
		"RxDefaultDrop", "RxDefaultCount", "RxDefaultMatchEvent"} {
		if !fv.has(req) {
			return nil, schemaFault("%s is required", req)
		}
	}
	p := &policy{fields: fv, name: fv.str("PolicyName")}
	if len([]rune(p.name)) > maxNameLen {
		return nil, statusFault(u.cfg.InvalidStatus, "PolicyName has more than %d characters", maxNameLen)
	}
	prec, _ := fv.uint("PolicyPrecedence")
	p.precedence = uint32(prec)
	if as, ok := fv.uint("AntiSpoofingSupport"); ok {
		if as > 4 {
			return nil, statusFault(u.cfg.InvalidStatus, "AntiSpoofingSupport %d is not 0..4", as)
		}
		p.antiSpoofing = uint32(as)
	}
	hs := fv.uints("FilterCreationHandles")
	if len(hs) > u.cfg.MaxHandlesPerPolicy {
		return nil, statusFault(u.cfg.LimitStatus, "%d filter handles, at most %d", len(hs), u.cfg.MaxHandlesPerPolicy)
	}
	for _, h := range hs {
		if u.filterByHandle(uint32(h)) == nil {
			return nil, statusFault(u.cfg.InvalidStatus, "no filter has the handle %d", h)
		}
		if slices.Contains(p.handles, uint32(h)) {
			return nil, statusFault(u.cfg.InvalidStatus, "filter handle %d given twice", h)
		}
		p.handles = append(p.handles, uint32(h))
	}
	p.txDrop = fv.str("TxDefaultDrop") == "true"
	p.rxDrop = fv.str("RxDefaultDrop") == "true"
	p.txCount = fv.str("TxDefaultCount") == "true"
	p.rxCount = fv.str("RxDefaultCount") == "true"
	if len(u.policies) >= u.cfg.MaxPolicies {
		return nil, statusFault(u.cfg.LimitStatus, "the device holds %d policies already", len(u.policies))
	}
	p.handle = u.nextHandle()
	p.id = strconv.FormatUint(uint64(p.handle), 10)
	u.policies = append(u.policies, p)
	e := policyEPR(p)
	return &e, nil
}

// references reads the Antecedent (a CIM_EthernetPort) and Dependent (a
// policy) of a port association body.
func (u *Unit) references(body []Field) (*portState, *policy, *Fault) {
	var ante, dep *EPR
	for _, f := range body {
		switch f.Name {
		case "Antecedent", "Dependent":
			if f.EPR == nil {
				return nil, nil, schemaFault("%s is not a reference", f.Name)
			}
			if (f.Name == "Antecedent" && ante != nil) || (f.Name == "Dependent" && dep != nil) {
				return nil, nil, schemaFault("%s given twice", f.Name)
			}
			if f.Name == "Antecedent" {
				ante = f.EPR
			} else {
				dep = f.EPR
			}
		default:
			return nil, nil, schemaFault("unknown property %s", f.Name)
		}
	}
	if ante == nil || dep == nil {
		return nil, nil, schemaFault("Antecedent and Dependent are required")
	}
	var ps *portState
	for _, p := range u.ports {
		e := portEPR(p.num)
		if eprMatches(&e, ante) {
			ps = p
		}
	}
	if ps == nil {
		return nil, nil, statusFault(u.cfg.InvalidStatus, "Antecedent names no Ethernet port of the device")
	}
	var pol *policy
	for _, p := range u.policies {
		e := policyEPR(p)
		if eprMatches(&e, dep) {
			pol = p
		}
	}
	if pol == nil {
		return nil, nil, statusFault(u.cfg.InvalidStatus, "Dependent names no System Defense policy")
	}
	return ps, pol, nil
}

func (u *Unit) createAssociation(class string, body []Field) (*EPR, *Fault) {
	ps, pol, f := u.references(body)
	if f != nil {
		return nil, f
	}
	if class == ClassPortDefaultPolicy {
		if ps.def == pol {
			return nil, &Fault{Code: FaultAlreadyExists, Reason: "the policy is the port's default already"}
		}
		if ps.def != nil {
			return nil, statusFault(u.cfg.LimitStatus, "the port has a default policy already")
		}
	} else {
		n := 0
		for _, e := range u.enabled {
			if e.port != ps.num {
				continue
			}
			if e.policy == pol {
				return nil, &Fault{Code: FaultAlreadyExists, Reason: "the policy is enabled on the port already"}
			}
			n++
		}
		if n >= u.cfg.MaxEnabledPerPort {
			return nil, statusFault(u.cfg.LimitStatus, "the port has %d enabled policies already", n)
		}
	}
	if f := u.fits(pol, ps); f != nil {
		return nil, f
	}
	if class == ClassPortDefaultPolicy {
		ps.def = pol
	} else {
		u.seq++
		u.enabled = append(u.enabled, &enablement{port: ps.num, policy: pol, seq: u.seq})
	}
	pe, de := portEPR(ps.num), policyEPR(pol)
	return &EPR{ResourceURI: URI(class), Selectors: []Selector{
		{Name: "Antecedent", EPR: &pe}, {Name: "Dependent", EPR: &de},
	}}, nil
}

// fits checks a policy against a port's limits: filter slots and counters
// per direction (an IPv6 filter or counter takes IPv6ToIPv4Ratio IPv4
// slots and one IPv6 slot), a counter per default count flag, the Tx
// slots anti-spoofing takes, and anti-spoofing support.
func (u *Unit) fits(pol *policy, ps *portState) *Fault {
	l := ps.limits
	var slots4, slots6, counters4, counters6 [2]int
	for _, h := range pol.handles {
		f := u.filterByHandle(h)
		w := 1
		if f.ipv6() {
			w = l.IPv6ToIPv4Ratio
			slots6[f.dir]++
			if f.counting(&u.cfg) {
				counters6[f.dir]++
			}
		}
		slots4[f.dir] += w
		if f.counting(&u.cfg) {
			counters4[f.dir] += w
		}
	}
	if pol.txCount {
		counters4[DirTx]++
	}
	if pol.rxCount {
		counters4[DirRx]++
	}
	if pol.antiSpoofing != 0 {
		if !l.IPv4AntiSpoofing {
			return statusFault(u.cfg.UnsupportedStatus, "port %d has no anti-spoofing", ps.num)
		}
		slots4[DirTx] += u.cfg.AntiSpoofingTxFilters
	}
	checks := []struct {
		what      string
		used, max int
	}{
		{"IPv4 Tx filters", slots4[DirTx], l.IPv4MaxTxFilters},
		{"IPv4 Rx filters", slots4[DirRx], l.IPv4MaxRxFilters},
		{"IPv4 Tx counters", counters4[DirTx], l.IPv4MaxTxCounters},
		{"IPv4 Rx counters", counters4[DirRx], l.IPv4MaxRxCounters},
		{"IPv6 Tx filters", slots6[DirTx], l.IPv6MaxTxFilters},
		{"IPv6 Rx filters", slots6[DirRx], l.IPv6MaxRxFilters},
		{"IPv6 Tx counters", counters6[DirTx], l.IPv6MaxTxCounters},
		{"IPv6 Rx counters", counters6[DirRx], l.IPv6MaxRxCounters},
	}
	for _, c := range checks {
		if c.used > c.max {
			return statusFault(u.cfg.LimitStatus, "the policy needs %d %s on port %d, which has %d", c.used, c.what, ps.num, c.max)
		}
	}
	return nil
}

// Delete deletes the instance the selectors name: a filter no policy
// references, a policy neither enabled on nor default for a port, or a
// port association.
func (u *Unit) Delete(class string, sels []Selector) error {
	c, f := u.class(class)
	if f != nil {
		return f
	}
	if !c.Delete {
		return &Fault{Code: FaultActionNotSupported, Reason: class + " cannot be deleted"}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.cfg.Now()
	u.settle(now)
	if u.cfg.CCM() {
		return statusFault(u.cfg.CCMStatus, "System Defense needs admin control mode")
	}
	it, f := u.resolve(c, sels)
	if f != nil {
		return f
	}
	switch o := it.obj.(type) {
	case *filter:
		for _, p := range u.policies {
			if slices.Contains(p.handles, o.handle) {
				return statusFault(u.cfg.InUseStatus, "filter %s is in policy %s", o.id, p.id)
			}
		}
		u.filters = slices.DeleteFunc(u.filters, func(x *filter) bool { return x == o })
	case *policy:
		for _, ps := range u.ports {
			if ps.def == o {
				return statusFault(u.cfg.InUseStatus, "policy %s is the default of port %d", o.id, ps.num)
			}
		}
		for _, e := range u.enabled {
			if e.policy == o {
				return statusFault(u.cfg.InUseStatus, "policy %s is enabled on port %d", o.id, e.port)
			}
		}
		u.policies = slices.DeleteFunc(u.policies, func(x *policy) bool { return x == o })
	case *enablement:
		u.enabled = slices.DeleteFunc(u.enabled, func(x *enablement) bool { return x == o })
	case *portState:
		o.def = nil
	}
	u.settle(now)
	return nil
}

// Invoke runs a method of AMT_SystemDefensePolicy on the policy the
// selectors name. Failures of the method itself are a non-zero
// ReturnValue (a PT_STATUS), as for every AMT_ class (protocol.md §1.8).
func (u *Unit) Invoke(class, method string, sels []Selector, input []Field) ([]Field, error) {
	c, f := u.class(class)
	if f != nil {
		return nil, f
	}
	if !slices.Contains(c.Methods, method) {
		return nil, &Fault{Code: FaultActionNotSupported, Reason: class + " has no method " + method}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.cfg.Now()
	u.settle(now)
	it, f := u.resolve(c, sels)
	if f != nil {
		return nil, f
	}
	pol := it.obj.(*policy)
	ret := func(status int, out ...Field) []Field {
		return append(out, Field{Name: "ReturnValue", Value: strconv.Itoa(status)})
	}
	if u.cfg.CCM() {
		return ret(u.cfg.CCMStatus), nil
	}
	switch method {
	case MethodGetTimeout:
		if len(input) > 0 {
			return nil, schemaFault("GetTimeout takes no parameters")
		}
		return ret(0, Field{Name: "Timeout", Value: strconv.FormatUint(uint64(u.timeoutLeft(pol, now)), 10)}), nil
	case MethodSetTimeout:
		fv, fault := readFields(input, map[string]fieldSpec{"Timeout": {kind: kUint32}})
		if fault != nil {
			return nil, fault
		}
		t, ok := fv.uint("Timeout")
		if !ok || t > 65535 {
			return ret(u.cfg.InvalidStatus), nil
		}
		pol.timeout = uint32(t)
		for _, e := range u.enabled {
			if e.policy != pol {
				continue
			}
			e.expired = false
			if ps := u.port(e.port); ps.via == e {
				e.timerStart = now
			}
		}
		u.settle(now)
		return ret(0), nil
	case MethodUpdateStatistics:
		var ps *portState
		reset := false
		for _, in := range input {
			switch in.Name {
			case "NetworkInterface":
				for _, p := range u.ports {
					e := portEPR(p.num)
					if in.EPR != nil && eprMatches(&e, in.EPR) {
						ps = p
					}
				}
				if ps == nil {
					return ret(u.cfg.InvalidStatus), nil
				}
			case "ResetOnRead":
				if in.Value != "true" && in.Value != "false" {
					return nil, schemaFault("ResetOnRead: invalid value %q", in.Value)
				}
				reset = in.Value == "true"
			default:
				return nil, schemaFault("unknown parameter %s", in.Name)
			}
		}
		if ps == nil || ps.active != pol {
			return ret(u.cfg.InvalidStatus), nil
		}
		snap := func(c *counter) {
			c.read, c.matched = c.live, c.live > 0
			if reset {
				c.live = 0
			}
		}
		for _, c := range ps.counters {
			snap(c)
		}
		snap(&ps.defaults[0])
		snap(&ps.defaults[1])
		if reset {
			ps.reset = now
		}
		return ret(0), nil
	}
	return nil, &Fault{Code: FaultActionNotSupported}
}

// timeoutLeft is what GetTimeout reports: the minutes left (rounded up)
// while the policy is active on a port with a timeout, else the
// configured timeout.
func (u *Unit) timeoutLeft(pol *policy, now time.Time) uint32 {
	if u.cfg.GetTimeoutConfigured || pol.timeout == 0 {
		return pol.timeout
	}
	for _, ps := range u.ports {
		if ps.via == nil || ps.via.policy != pol {
			continue
		}
		left := ps.via.timerStart.Add(time.Duration(pol.timeout) * u.cfg.Minute).Sub(now)
		return uint32((left + u.cfg.Minute - 1) / u.cfg.Minute)
	}
	return pol.timeout
}

// ---- instances ----

func (u *Unit) list(class string) []item {
	var out []item
	add := func(in *Instance, obj any) { out = append(out, item{in, obj}) }
	switch class {
	case ClassService:
		b := newBuilder(class)
		for _, s := range serviceEPR().Selectors {
			b.set(s.Name, s.Value)
		}
		b.set("ElementName", serviceName)
		add(b.build(), nil)
	case ClassHdr8021Filter, ClassIPHeadersFilter:
		for _, f := range u.filters {
			if f.class == class {
				add(u.filterInstance(f), f)
			}
		}
	case ClassNetworkFilter:
		for _, f := range u.filters {
			b := newBuilder(class)
			for _, s := range filterEPR(f).Selectors {
				b.set(s.Name, s.Value)
			}
			for _, p := range u.policies {
				if slices.Contains(p.handles, f.handle) {
					b.set("OwnerID", p.id)
					break
				}
			}
			add(b.build(), f)
		}
	case ClassPolicy:
		for _, p := range u.policies {
			b := newBuilder(class)
			for _, name := range p.fields.order {
				if name != "InstanceID" {
					b.set(name, p.fields.values[name]...)
				}
			}
			b.set("InstanceID", p.id)
			add(b.build(), p)
		}
	case ClassFilterInPolicy:
		for _, p := range u.policies {
			for _, h := range p.handles {
				f := u.filterByHandle(h)
				add(newBuilder(class).epr("Antecedent", policyEPR(p)).epr("Dependent", filterEPR(f)).build(), nil)
			}
		}
	case ClassPolicyInService:
		for _, p := range u.policies {
			add(newBuilder(class).epr("Antecedent", serviceEPR()).epr("Dependent", policyEPR(p)).build(), nil)
		}
	case ClassPortPolicy:
		for _, e := range u.enabled {
			active := u.port(e.port).via == e
			add(newBuilder(class).
				set("Active", boolText(active)).
				epr("Antecedent", portEPR(e.port)).
				epr("Dependent", policyEPR(e.policy)).
				set("Enabled", "true").build(), e)
		}
	case ClassPortDefaultPolicy:
		for _, ps := range u.ports {
			if ps.def == nil {
				continue
			}
			active := ps.via == nil && ps.active == ps.def
			add(newBuilder(class).
				set("Active", boolText(active)).
				epr("Antecedent", portEPR(ps.num)).
				epr("Dependent", policyEPR(ps.def)).build(), ps)
		}
	case ClassActiveStatistics:
		for _, ps := range u.ports {
			for _, in := range u.statistics(ps) {
				add(in, nil)
			}
		}
	case ClassGeneralCapabilities:
		add(newBuilder(class).
			set("ElementName", generalCapsID).
			set("GlobalMaxSupportedFilters", strconv.Itoa(u.cfg.MaxFilters)).
			set("GlobalMaxSupportedPolicies", strconv.Itoa(u.cfg.MaxPolicies)).
			set("InstanceID", generalCapsID).build(), nil)
	case ClassPortCapabilities:
		for _, ps := range u.ports {
			l := ps.limits
			id := portCapsIDPrefix + strconv.Itoa(ps.num)
			add(newBuilder(class).
				set("ElementName", id).
				set("IPv4_AntiSpoofingCapable", boolText(l.IPv4AntiSpoofing)).
				set("IPv4_MaxRxCounters", strconv.Itoa(l.IPv4MaxRxCounters)).
				set("IPv4_MaxRxFilters", strconv.Itoa(l.IPv4MaxRxFilters)).
				set("IPv4_MaxTxCounters", strconv.Itoa(l.IPv4MaxTxCounters)).
				set("IPv4_MaxTxFilters", strconv.Itoa(l.IPv4MaxTxFilters)).
				set("IPv6_AntiSpoofingCapable", boolText(l.IPv6AntiSpoofing)).
				set("IPv6_MaxRxCounters", strconv.Itoa(l.IPv6MaxRxCounters)).
				set("IPv6_MaxRxFilters", strconv.Itoa(l.IPv6MaxRxFilters)).
				set("IPv6_MaxTxCounters", strconv.Itoa(l.IPv6MaxTxCounters)).
				set("IPv6_MaxTxFilters", strconv.Itoa(l.IPv6MaxTxFilters)).
				set("IPv6_to_IPv4_Ratio", strconv.Itoa(l.IPv6ToIPv4Ratio)).
				set("InstanceID", id).build(), nil)
		}
	case ClassEthernetPort:
		for _, ps := range u.ports {
			add(u.ethernetPort(ps.num), nil)
		}
	}
	return out
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// placeholderKeys are the key properties a Create carries as placeholders
// and the device overwrites (protocol.md §4.2).
var placeholderKeys = []string{"InstanceID", "CreationClassName", "SystemName", "SystemCreationClassName"}

func (u *Unit) filterInstance(f *filter) *Instance {
	b := newBuilder(f.class)
	for _, name := range f.fields.order {
		if !slices.Contains(placeholderKeys, name) {
			b.set(name, f.fields.values[name]...)
		}
	}
	b.set("CreationClassName", f.class).
		set("InstanceID", f.id).
		set("SystemCreationClassName", systemClass).
		set("SystemName", systemName)
	return b.build()
}

// ethernetPort follows the CIM_EthernetPort capture of a wired port; the
// wireless port is modelled on it.
func (u *Unit) ethernetPort(n int) *Instance {
	mac := "000000000000"
	desc := "Wireless" + strconv.Itoa(n)
	linkTech, maxSpeed, speed, portType, enabled := "", "", "", "", "3"
	if n == PortWired {
		desc = "Wired0"
		if u.cfg.HostMAC != nil {
			mac = fmt.Sprintf("%x", []byte(u.cfg.HostMAC))
		}
		linkTech, maxSpeed, speed, portType, enabled = "2", "2500000000", "1000000000", "53", "2"
	}
	b := newBuilder(ClassEthernetPort).
		set("CreationClassName", ClassEthernetPort).
		set("Description", desc).
		set("DeviceID", ethernetPortIDPfx+strconv.Itoa(n)).
		set("ElementName", "Intel(r) AMT Ethernet Port").
		set("EnabledDefault", "5").
		set("EnabledState", enabled).
		set("NetworkAddresses", mac).
		set("OperationalStatus", "0").
		set("RequestedState", "12").
		set("SystemCreationClassName", systemClass).
		set("SystemName", systemName)
	if linkTech != "" {
		b.set("LinkTechnology", linkTech).set("MaxSpeed", maxSpeed).set("PortType", portType).set("Speed", speed)
	}
	return b.build()
}

// statistics are the AMT_ActiveFilterStatistics of a port: one per
// counting filter of its active policy, then one per default counter, with
// the values of the last UpdateStatistics.
func (u *Unit) statistics(ps *portState) []*Instance {
	if ps.active == nil {
		return nil
	}
	pol := ps.active
	var out []*Instance
	entry := func(target EPR, c *counter) {
		dep := EPR{ResourceURI: URI(ClassFilterInPolicy), Selectors: []Selector{
			{Name: "Antecedent", EPR: ptr(policyEPR(pol))}, {Name: "Dependent", EPR: &target},
		}}
		out = append(out, newBuilder(ClassActiveStatistics).
			datetime("ActivationTime", ps.since).
			epr("Antecedent", portEPR(ps.num)).
			epr("Dependent", dep).
			set("FilterMatched", boolText(c.matched)).
			datetime("LastResetTime", ps.reset).
			set("ReadCount", strconv.FormatUint(c.read, 10)).build())
	}
	for _, h := range pol.handles {
		f := u.filterByHandle(h)
		if f.counting(&u.cfg) {
			entry(filterEPR(f), ps.counter(f.id))
		}
	}
	if !u.cfg.NoDefaultStatistics {
		for _, d := range []struct {
			on   bool
			name string
			dir  int
		}{{pol.txCount, "TxDefault", DirTx}, {pol.rxCount, "RxDefault", DirRx}} {
			if d.on {
				entry(defaultEPR(d.name), &ps.defaults[d.dir])
			}
		}
	}
	return out
}

// defaultEPR names a default counter in the statistics: there is no
// filter behind it, so it is named as an AMT_NetworkFilter whose
// InstanceID and Name are "TxDefault" or "RxDefault".
func defaultEPR(name string) EPR {
	return EPR{ResourceURI: URI(ClassNetworkFilter), Selectors: []Selector{
		{Name: "InstanceID", Value: name}, {Name: "Name", Value: name},
	}}
}

func ptr[T any](v T) *T { return &v }
