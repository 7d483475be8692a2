package defense

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/amtkit/amtkit/wsman"
)

// ApplyOptions configure Apply.
type ApplyOptions struct {
	// Timeout is the policy's safety net: the firmware deactivates the
	// policy after it (rounded up to whole minutes, at most 65535). It is
	// required unless NoTimeout says explicitly that none is wanted.
	Timeout   time.Duration
	NoTimeout bool
	// Interface is the port to enable the policy on (default Wired).
	Interface Interface
	// Require adds flows to the policy's own Flows; Apply refuses the
	// policy if Check finds any dropped.
	Require []Flow
	// DryRun reads the device and refuses as Apply would, but creates
	// nothing; the result says what would be created.
	DryRun bool
}

// ApplyResult reports what Apply did (or, with DryRun, would do).
type ApplyResult struct {
	Policy     string   // policy name
	PolicyID   string   // InstanceID the device assigned ("" in a dry run)
	FilterIDs  []string // creation handles of the filters, in policy order
	Interfaces []Interface
	// Replaced are the InstanceIDs of the earlier policies of the same name
	// that were removed; Unbound those of other policies no longer enabled
	// on the ports (System Defense enables one policy per port).
	Replaced []string
	Unbound  []string
	Report   *Report
	// RoundTrips counts the requests sent; in a dry run, the reads done
	// plus the writes an Apply would send.
	RoundTrips int
	DryRun     bool
	// Writes is the number of requests that change the device (Create,
	// Delete, SetTimeout).
	Writes int
	// Plan lists those requests in order (set in a dry run).
	Plan []Request
}

// Request is one request that changes the device, as a dry run plans it.
type Request struct {
	Operation string // Create, Delete or Invoke
	Class     string // e.g. AMT_IPHeadersFilter
	Method    string // for Invoke
	// Args are the properties or parameters that matter to a reader.
	Args map[string]any
}

func (r Request) String() string {
	s := r.Operation + " " + r.Class
	if r.Method != "" {
		s += "." + r.Method
	}
	keys := make([]string, 0, len(r.Args))
	for k := range r.Args {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s += "("
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s=%v", k, r.Args[k])
	}
	return s + ")"
}

// plan lists the writes of an apply.
func plan(p *Policy, minutes int, targets []int, moved []*devBinding, old []*devPolicy, st *state) []Request {
	var out []Request
	for _, f := range p.Filters {
		cls := "AMT_IPHeadersFilter"
		if f.Kind == Ethernet {
			cls = "AMT_Hdr8021Filter"
		}
		out = append(out, Request{Operation: "Create", Class: cls, Args: map[string]any{"Name": f.Name, "FilterDirection": int(f.Direction), "FilterProfile": profile(f.Action, f.Statistics)}})
	}
	out = append(out, Request{Operation: "Create", Class: "AMT_SystemDefensePolicy", Args: map[string]any{"PolicyName": p.Name, "PolicyPrecedence": p.Precedence, "FilterCreationHandles": len(p.Filters)}})
	if minutes > 0 {
		out = append(out, Request{Operation: "Invoke", Class: "AMT_SystemDefensePolicy", Method: "SetTimeout", Args: map[string]any{"Timeout": minutes}})
	}
	for _, b := range moved {
		out = append(out, Request{Operation: "Delete", Class: "AMT_NetworkPortSystemDefensePolicy", Args: map[string]any{"port": portName(b.Port), "policy": b.PolicyID}})
	}
	for _, n := range targets {
		out = append(out, Request{Operation: "Create", Class: "AMT_NetworkPortSystemDefensePolicy", Args: map[string]any{"port": portName(n), "policy": p.Name}})
	}
	for _, o := range old {
		out = append(out, Request{Operation: "Delete", Class: "AMT_SystemDefensePolicy", Args: map[string]any{"InstanceID": o.ID}})
		for _, f := range orphans(st, o, old) {
			out = append(out, Request{Operation: "Delete", Class: wsman.ClassName(f.URI), Args: map[string]any{"InstanceID": f.ID}})
		}
	}
	return out
}

// state is System Defense as read from a device.
type state struct {
	policies []*devPolicy
	filters  []*devFilter
	bindings []*devBinding
}

func (st *state) filter(id string) *devFilter {
	for _, f := range st.filters {
		if f.ID == id {
			return f
		}
	}
	return nil
}

func (st *state) policy(id string) *devPolicy {
	for _, p := range st.policies {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// ours tells whether amtkit created a policy.
func (st *state) ours(p *devPolicy) bool {
	if len(p.ElementName) >= len(Marker) && p.ElementName[:len(Marker)] == Marker {
		return true
	}
	if len(p.Handles) == 0 {
		return false
	}
	for _, h := range p.Handles {
		if f := st.filter(h); f == nil || !f.ours() {
			return false
		}
	}
	return true
}

func (x *session) readState(ctx context.Context) (*state, error) {
	st := &state{}
	for _, uri := range []string{uriIPFilter, uriEthFilter} {
		all, err := x.enumerate(ctx, uri)
		if err != nil {
			return nil, err
		}
		for _, in := range all {
			f, err := decodeFilter(in)
			if err != nil {
				return nil, err
			}
			st.filters = append(st.filters, f)
		}
	}
	all, err := x.enumerate(ctx, uriPolicy)
	if err != nil {
		return nil, err
	}
	for _, in := range all {
		p, err := decodePolicy(in)
		if err != nil {
			return nil, err
		}
		st.policies = append(st.policies, p)
	}
	if all, err = x.enumerate(ctx, uriBinding); err != nil {
		return nil, err
	}
	for _, in := range all {
		b, err := decodeBinding(in)
		if err != nil {
			return nil, err
		}
		st.bindings = append(st.bindings, b)
	}
	return st, nil
}

// timeoutMinutes returns the SetTimeout value of the options.
func (o *ApplyOptions) timeoutMinutes() (int, error) {
	switch {
	case o.NoTimeout && o.Timeout != 0:
		return 0, &FieldError{Field: "timeout", Reason: "a timeout and NoTimeout exclude each other"}
	case o.NoTimeout:
		return 0, nil
	case o.Timeout < 0:
		return 0, &FieldError{Field: "timeout", Reason: "negative"}
	case o.Timeout == 0:
		return -1, nil
	}
	m := int((o.Timeout + time.Minute - 1) / time.Minute)
	if m > 65535 {
		return 0, &FieldError{Field: "timeout", Reason: fmt.Sprintf("%s is longer than the firmware's 65535 minutes", o.Timeout)}
	}
	return m, nil
}

// fit adds a problem for every limit the policy exceeds on a port.
func fit(ref *RefusedError, p *Policy, pc PortCapabilities, antiSlots int) {
	type use struct{ v4, v6, v4c, v6c int }
	var tx, rx use
	ratio := max(1, pc.IPv6ToIPv4Ratio)
	for _, f := range p.Filters {
		u := &tx
		if f.Direction == Rx {
			u = &rx
		}
		counts := f.Statistics || f.Action == RateLimit
		if f.Kind == IPHeader && f.ipVersion() == 6 {
			u.v4 += ratio
			u.v6++
			if counts {
				u.v4c += ratio
				u.v6c++
			}
			continue
		}
		u.v4++
		if counts {
			u.v4c++
		}
	}
	if p.TxDefaultCount {
		tx.v4c++
	}
	if p.RxDefaultCount {
		rx.v4c++
	}
	if p.AntiSpoofing {
		tx.v4 += antiSlots
	}
	port := pc.Interface.String()
	check := func(what string, n, limit int) {
		if n > limit {
			ref.add(ErrTooLarge, "%s port: %d %s, the port allows %d", port, n, what, limit)
		}
	}
	check("Tx filter slots", tx.v4, pc.IPv4MaxTxFilters)
	check("Rx filter slots", rx.v4, pc.IPv4MaxRxFilters)
	check("Tx counters", tx.v4c, pc.IPv4MaxTxCounters)
	check("Rx counters", rx.v4c, pc.IPv4MaxRxCounters)
	if tx.v6+rx.v6 > 0 && !pc.HasIPv6 {
		ref.add(ErrUnsupported, "%s port: no IPv6 filters", port)
	} else if pc.HasIPv6 {
		check("IPv6 Tx filters", tx.v6, pc.IPv6MaxTxFilters)
		check("IPv6 Rx filters", rx.v6, pc.IPv6MaxRxFilters)
		check("IPv6 Tx counters", tx.v6c, pc.IPv6MaxTxCounters)
		check("IPv6 Rx counters", rx.v6c, pc.IPv6MaxRxCounters)
	}
	if p.AntiSpoofing && !pc.IPv4AntiSpoofing {
		ref.add(ErrUnsupported, "%s port: anti-spoofing not supported", port)
	}
}

// AntiSpoofingTxFilters is how many Tx filter slots anti-spoofing takes
// when counting a policy against a port's limits (protocol.md §4.5).
const AntiSpoofingTxFilters = 2

// Apply creates the policy on the device and enables it on the ports.
//
// It refuses, having changed nothing, when the device is in Client Control
// Mode, when the policy does not fit the device's limits, when Check finds
// a required flow dropped (the policy's Flows and opts.Require), or when no
// timeout was given and NoTimeout was not set: the *RefusedError lists every
// problem. Otherwise it creates the filters, then the policy, sets its
// timeout, and only then moves the ports' binding to it; an earlier policy
// of the same name is removed afterwards. If a step fails, what this call
// created is deleted and the ports keep the policy they had.
func (s *Service) Apply(ctx context.Context, p *Policy, opts ApplyOptions) (_ *ApplyResult, err error) {
	ctx, done := s.begin(ctx, "defense apply", applyParams(p, opts))
	defer func() { done(err) }()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	minutes, err := opts.timeoutMinutes()
	if err != nil {
		return nil, err
	}
	if opts.Interface < Wired || opts.Interface > Both {
		return nil, &FieldError{Field: "interface", Reason: "must be wired, wireless or both"}
	}
	for i := range opts.Require {
		if err := opts.Require[i].validate(fmt.Sprintf("require[%d].", i)); err != nil {
			return nil, err
		}
	}
	ref := &RefusedError{Policy: p.Name}
	if minutes < 0 {
		ref.add(ErrUnsafe, "no timeout: give one as a safety net, or say explicitly that none is wanted")
	}
	flows := append(slices.Clone(p.Flows), opts.Require...)
	ref.Report = Check(p, flows)
	for _, f := range ref.Report.Failed() {
		ref.add(ErrUnsafe, "required flow %s: %s", f.Flow, f.Reason())
	}

	x, unlock, err := s.lockedSession(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()

	caps, err := x.capabilities(ctx)
	if err != nil {
		if len(ref.Problems) > 0 {
			return nil, ref
		}
		return nil, err
	}
	if caps.Mode == ModeCCM {
		ref.add(ErrUnsupported, "the device is in Client Control Mode; System Defense needs Admin Control Mode")
	}
	for _, n := range opts.Interface.ports() {
		pc, ok := caps.Port(Interface(n))
		if !ok {
			ref.add(ErrUnsupported, "the device has no %s port", portName(n))
			continue
		}
		fit(ref, p, pc, AntiSpoofingTxFilters)
	}
	st, err := x.readState(ctx)
	if err != nil {
		return nil, err
	}
	if n := len(st.policies) + 1; caps.MaxPolicies > 0 && n > caps.MaxPolicies {
		ref.add(ErrTooLarge, "%d policies on the device with this one, the device allows %d", n, caps.MaxPolicies)
	}
	if n := len(st.filters) + len(p.Filters); caps.MaxFilters > 0 && n > caps.MaxFilters {
		ref.add(ErrTooLarge, "%d filters on the device with this policy's %d, the device allows %d", n, len(p.Filters), caps.MaxFilters)
	}
	if len(ref.Problems) > 0 {
		return nil, ref
	}

	res := &ApplyResult{Policy: p.Name, Interfaces: []Interface{opts.Interface}, Report: ref.Report, DryRun: opts.DryRun}
	if opts.Interface == Both {
		res.Interfaces = []Interface{Wired, Wireless}
	}
	var old []*devPolicy // same name: replaced
	for _, dp := range st.policies {
		if dp.Name == p.Name {
			old = append(old, dp)
		}
	}
	targets := opts.Interface.ports()
	// The bindings this call moves: every binding on a target port, and
	// every binding of a policy it replaces.
	var moved []*devBinding
	for _, b := range st.bindings {
		isOld := slices.ContainsFunc(old, func(o *devPolicy) bool { return o.ID == b.PolicyID })
		if slices.Contains(targets, b.Port) || isOld {
			moved = append(moved, b)
		}
	}
	if opts.DryRun {
		res.Plan = plan(p, minutes, targets, moved, old, st)
		res.Writes = len(res.Plan)
		res.RoundTrips = int(x.rt.Load()) + res.Writes
		return res, nil
	}

	reads := x.rt.Load()
	mark := Marker + " " + token()
	tx := &txn{x: x, mark: mark}
	if err := tx.run(ctx, p, minutes, targets, moved, res); err != nil {
		tx.rollback(ctx)
		res.RoundTrips = int(x.rt.Load())
		return nil, err
	}
	// The new policy is in force; the replaced ones go, with the filters
	// nothing else uses.
	for _, o := range old {
		if err := x.delete(ctx, uriPolicy, wsman.Sel("InstanceID", o.ID)); err != nil {
			return res, fmt.Errorf("defense: policy %q is applied, but the earlier one (%s) could not be removed: %w", p.Name, o.ID, err)
		}
		res.Replaced = append(res.Replaced, o.ID)
		for _, f := range orphans(st, o, old) {
			if err := x.delete(ctx, f.URI, wsman.Sel("InstanceID", f.ID)); err != nil {
				return res, fmt.Errorf("defense: policy %q is applied, but filter %s of the earlier one could not be removed: %w", p.Name, f.ID, err)
			}
		}
	}
	for _, b := range moved {
		if !slices.Contains(res.Replaced, b.PolicyID) && !slices.Contains(res.Unbound, b.PolicyID) {
			res.Unbound = append(res.Unbound, b.PolicyID)
		}
	}
	res.RoundTrips = int(x.rt.Load())
	res.Writes = int(x.rt.Load() - reads)
	return res, nil
}

// orphans returns the filters of policy o that no other policy (outside
// gone) references.
func orphans(st *state, o *devPolicy, gone []*devPolicy) []*devFilter {
	var out []*devFilter
	for _, h := range o.Handles {
		f := st.filter(h)
		if f == nil {
			continue
		}
		used := false
		for _, q := range st.policies {
			if q.ID == o.ID || slices.Contains(gone, q) {
				continue
			}
			if slices.Contains(q.Handles, h) {
				used = true
			}
		}
		if !used && !slices.ContainsFunc(out, func(g *devFilter) bool { return g.ID == f.ID }) {
			out = append(out, f)
		}
	}
	return out
}

func token() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// txn is one Apply's writes, with what it must undo on failure.
type txn struct {
	x       *session
	mark    string
	filters []*devFilter // created
	policy  string       // created policy InstanceID
	bound   []int        // ports bound to the new policy
	removed []*devBinding
	unknown bool // a create's outcome is unknown: look for the mark
}

func (t *txn) run(ctx context.Context, p *Policy, minutes int, targets []int, moved []*devBinding, res *ApplyResult) error {
	x := t.x
	for i := range p.Filters {
		f := &p.Filters[i]
		in := encodeFilter(f, t.mark)
		epr, err := x.create(ctx, in, f.Name)
		if err != nil {
			t.unknown = t.unknown || errors.Is(err, wsman.ErrOutcomeUnknown)
			return fmt.Errorf("defense: creating filter %q: %w", f.Name, err)
		}
		id, ok := epr.Selector("InstanceID")
		if !ok || id == "" {
			t.unknown = true
			return fmt.Errorf("defense: creating filter %q: %w", f.Name, errors.New("the device assigned no InstanceID"))
		}
		t.filters = append(t.filters, &devFilter{ID: id, URI: in.ResourceURI})
		res.FilterIDs = append(res.FilterIDs, id)
	}
	epr, err := x.create(ctx, encodePolicy(p, res.FilterIDs, t.mark, x.s.antiMode), p.Name)
	if err != nil {
		t.unknown = t.unknown || errors.Is(err, wsman.ErrOutcomeUnknown)
		return fmt.Errorf("defense: creating policy %q: %w", p.Name, err)
	}
	id, ok := epr.Selector("InstanceID")
	if !ok || id == "" {
		t.unknown = true
		return fmt.Errorf("defense: creating policy %q: the device assigned no InstanceID", p.Name)
	}
	t.policy, res.PolicyID = id, id
	if minutes > 0 {
		if _, err := x.invoke(ctx, uriPolicy, "SetTimeout", []wsman.Property{wsman.Param("Timeout", strconv.Itoa(minutes))}, wsman.Sel("InstanceID", id)); err != nil {
			return fmt.Errorf("defense: setting the timeout of policy %q: %w", p.Name, err)
		}
	}
	// One binding change at a time, each awaited: the port's earlier
	// binding goes, then the new one is made.
	for _, b := range moved {
		if err := x.delete(ctx, uriBinding, bindingSelectors(b)...); err != nil {
			return fmt.Errorf("defense: disabling policy %s on the %s port: %w", b.PolicyID, portName(b.Port), err)
		}
		t.removed = append(t.removed, b)
	}
	for _, n := range targets {
		if _, err := x.create(ctx, bindingInstance(n, id), "on "+portName(n)); err != nil {
			if errors.Is(err, wsman.ErrOutcomeUnknown) {
				t.bound = append(t.bound, n) // try to undo it anyway
			}
			return fmt.Errorf("defense: enabling policy %q on the %s port: %w", p.Name, portName(n), err)
		}
		t.bound = append(t.bound, n)
	}
	return nil
}

// rollback undoes what run did, in reverse, even when ctx is done. Its own
// failures are not returned: the first error already says the apply
// failed; what could not be undone stays marked for Remove.
func (t *txn) rollback(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	x := t.x
	for _, n := range t.bound {
		_ = x.delete(ctx, uriBinding, bindingSelectors(&devBinding{Port: n, PolicyID: t.policy})...)
	}
	for i := len(t.removed) - 1; i >= 0; i-- {
		b := t.removed[i]
		_, _ = x.create(ctx, bindingInstance(b.Port, b.PolicyID), "restore")
	}
	if t.policy != "" {
		_ = x.delete(ctx, uriPolicy, wsman.Sel("InstanceID", t.policy))
	}
	for i := len(t.filters) - 1; i >= 0; i-- {
		_ = x.delete(ctx, t.filters[i].URI, wsman.Sel("InstanceID", t.filters[i].ID))
	}
	if !t.unknown {
		return
	}
	// A create whose answer was lost may have happened: find what carries
	// this call's mark.
	st, err := x.readState(ctx)
	if err != nil {
		return
	}
	for _, p := range st.policies {
		if p.ElementName == t.mark {
			_ = x.delete(ctx, uriPolicy, wsman.Sel("InstanceID", p.ID))
		}
	}
	for _, f := range st.filters {
		if f.ElementName == t.mark {
			_ = x.delete(ctx, f.URI, wsman.Sel("InstanceID", f.ID))
		}
	}
}

func bindingInstance(port int, policyID string) *wsman.Instance {
	in := wsman.NewInstance(uriBinding)
	ant := portEPR(port)
	ant.Selectors = ant.Selectors[1:] // DeviceID, as protocol.md §4.4 creates it
	in.SetRef("Antecedent", ant)
	in.SetRef("Dependent", policyEPR(policyID))
	return in
}

func bindingSelectors(b *devBinding) []wsman.Selector {
	ant := portEPR(b.Port)
	dep := policyEPR(b.PolicyID)
	return []wsman.Selector{{Name: "Antecedent", Ref: &ant}, {Name: "Dependent", Ref: &dep}}
}
