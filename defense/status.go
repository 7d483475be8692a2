package defense

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/amtkit/amtkit/wsman"
)

// PolicyInfo names a policy on the device.
type PolicyInfo struct {
	ID           string
	Name         string
	Precedence   uint32
	AntiSpoofing bool
	Amtkit       bool // created by amtkit
}

// FilterStatus is a filter of the active policy.
type FilterStatus struct {
	ID     string
	Filter Filter
	// MatchedPackets is the count the device last reported (after the last
	// UpdateStatistics); nil when the filter keeps no counter.
	MatchedPackets *uint64
}

// InterfaceStatus is System Defense on one port.
type InterfaceStatus struct {
	Interface Interface
	// Active is the policy the firmware applies now; nil when none.
	Active *PolicyInfo
	// Enabled lists the policies enabled on the port.
	Enabled []PolicyInfo
	// TimeoutRemaining is GetTimeout of the active policy: the time left
	// before the firmware deactivates it; nil when it has none or no
	// policy is active.
	TimeoutRemaining *time.Duration
	// AntiSpoofing of the active policy; nil when no policy is active.
	AntiSpoofing *bool
	Filters      []FilterStatus
}

// Status is System Defense on a device.
type Status struct {
	Mode       Mode
	Interfaces []InterfaceStatus
}

func (dp *devPolicy) info(st *state) PolicyInfo {
	return PolicyInfo{ID: dp.ID, Name: dp.Name, Precedence: dp.Precedence, AntiSpoofing: dp.AntiMode != 0, Amtkit: st.ours(dp)}
}

// active returns the policy active on a port: the binding the device marks
// Active, else the highest precedence among the enabled.
func (st *state) active(port int) *devPolicy {
	var best *devPolicy
	marked := false
	for _, b := range st.bindings {
		if b.Port != port || (b.Enabled != nil && !*b.Enabled) {
			continue
		}
		p := st.policy(b.PolicyID)
		if p == nil {
			continue
		}
		if b.Active != nil {
			marked = true
			if *b.Active {
				return p
			}
			continue
		}
		if best == nil || p.Precedence > best.Precedence {
			best = p
		}
	}
	if marked {
		return nil
	}
	return best
}

// Status reads, per port, the enabled and the active policy, the active
// policy's filters with their last counts, its time left and anti-spoofing.
func (s *Service) Status(ctx context.Context) (_ *Status, err error) {
	ctx, done := s.begin(ctx, "defense status", nil)
	defer func() { done(err) }()
	x, err := s.session(ctx)
	if err != nil {
		return nil, err
	}
	mode, err := x.mode(ctx)
	if err != nil {
		return nil, err
	}
	st, err := x.readState(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := x.readStats(ctx)
	if err != nil {
		return nil, err
	}
	out := &Status{Mode: mode}
	for _, port := range []int{0, 1} {
		is := InterfaceStatus{Interface: Interface(port)}
		for _, b := range st.bindings {
			if b.Port == port && (b.Enabled == nil || *b.Enabled) {
				if p := st.policy(b.PolicyID); p != nil {
					is.Enabled = append(is.Enabled, p.info(st))
				}
			}
		}
		if ap := st.active(port); ap != nil {
			info := ap.info(st)
			is.Active = &info
			anti := ap.AntiMode != 0
			is.AntiSpoofing = &anti
			out, err := x.invoke(ctx, uriPolicy, "GetTimeout", nil, wsman.Sel("InstanceID", ap.ID))
			if err != nil {
				return nil, err
			}
			if v, ok := out.Get("Timeout"); ok {
				m, err := strconv.ParseUint(v, 10, 32)
				if err != nil {
					return nil, fmt.Errorf("defense: GetTimeout returned %q", clip(v))
				}
				if m > 0 {
					d := time.Duration(m) * time.Minute
					is.TimeoutRemaining = &d
				}
			}
			for _, h := range ap.Handles {
				fs := FilterStatus{ID: h}
				if f := st.filter(h); f != nil {
					fs.Filter = f.Filter
				}
				if c, ok := counts[statKey{port, h}]; ok {
					c := c
					fs.MatchedPackets = &c
				}
				is.Filters = append(is.Filters, fs)
			}
		}
		out.Interfaces = append(out.Interfaces, is)
	}
	return out, nil
}

type statKey struct {
	port int
	id   string
}

// readStats enumerates AMT_ActiveFilterStatistics, keyed by port and
// filter InstanceID (or Name when the reference has no InstanceID).
func (x *session) readStats(ctx context.Context) (map[statKey]uint64, error) {
	all, err := x.enumerate(ctx, uriStats)
	if err != nil {
		return nil, err
	}
	m := map[statKey]uint64{}
	for _, in := range all {
		port, id, name, n, err := decodeStat(in)
		if err != nil {
			return nil, err
		}
		if id == "" {
			id = name
		}
		m[statKey{port, id}] = n
	}
	return m, nil
}

// FilterCount is the matched packets of one filter.
type FilterCount struct {
	ID        string
	Name      string
	Direction Direction
	Action    Action
	Matched   uint64
}

// PortStatistics are the counters of the policy active on one port.
type PortStatistics struct {
	Interface Interface
	Policy    PolicyInfo
	Filters   []FilterCount // filters that keep a counter
	// TxDefault and RxDefault count packets no filter matched; nil when the
	// policy does not count them or the device does not report them.
	TxDefault, RxDefault *uint64
}

// Statistics refreshes the counters of the policy active on each port
// (UpdateStatistics, zeroing them afterwards when reset) and reads them
// from AMT_ActiveFilterStatistics.
func (s *Service) Statistics(ctx context.Context, reset bool) (_ []PortStatistics, err error) {
	ctx, done := s.begin(ctx, "defense statistics", map[string]string{"reset": strconv.FormatBool(reset)})
	defer func() { done(err) }()
	x, err := s.session(ctx)
	if err != nil {
		return nil, err
	}
	st, err := x.readState(ctx)
	if err != nil {
		return nil, err
	}
	var out []PortStatistics
	for _, port := range []int{0, 1} {
		ap := st.active(port)
		if ap == nil {
			continue
		}
		_, err := x.invoke(ctx, uriPolicy, "UpdateStatistics", []wsman.Property{
			wsman.RefParam("NetworkInterface", portEPR(port)),
			wsman.Param("ResetOnRead", strconv.FormatBool(reset)),
		}, wsman.Sel("InstanceID", ap.ID))
		if err != nil {
			return nil, err
		}
		out = append(out, PortStatistics{Interface: Interface(port), Policy: ap.info(st)})
	}
	if len(out) == 0 {
		return nil, nil
	}
	counts, err := x.readStats(ctx)
	if err != nil {
		return nil, err
	}
	for i := range out {
		ps := &out[i]
		port := int(ps.Interface)
		ap := st.policy(ps.Policy.ID)
		for _, h := range ap.Handles {
			f := st.filter(h)
			c, ok := counts[statKey{port, h}]
			if !ok && f != nil {
				c, ok = counts[statKey{port, f.Filter.Name}]
			}
			if !ok {
				continue
			}
			fc := FilterCount{ID: h, Matched: c}
			if f != nil {
				fc.Name, fc.Direction, fc.Action = f.Filter.Name, f.Filter.Direction, f.Filter.Action
			}
			ps.Filters = append(ps.Filters, fc)
		}
		if c, ok := counts[statKey{port, "TxDefault"}]; ok && ap.TxCount {
			ps.TxDefault = &c
		}
		if c, ok := counts[statKey{port, "RxDefault"}]; ok && ap.RxCount {
			ps.RxDefault = &c
		}
	}
	return out, nil
}

// RemoveOptions configure Remove.
type RemoveOptions struct {
	// All removes every System Defense policy and filter, not only those
	// amtkit created.
	All bool
	// DryRun reads the device and reports what would be deleted, deleting
	// nothing.
	DryRun bool
}

// RemoveResult lists what Remove deleted.
type RemoveResult struct {
	Policies   []PolicyInfo
	Filters    []string // InstanceIDs
	Bindings   int
	RoundTrips int
	DryRun     bool
	// Plan lists, in a dry run, the requests Remove would have sent, in
	// order; nil otherwise.
	Plan []Request
}

// Remove disables and deletes the policies amtkit created (or, with All,
// every policy), then the filters nothing references any more that amtkit
// created (or, with All, every unreferenced filter).
func (s *Service) Remove(ctx context.Context, opts RemoveOptions) (_ *RemoveResult, err error) {
	ctx, done := s.begin(ctx, "defense remove", map[string]string{"all": strconv.FormatBool(opts.All), "dry_run": strconv.FormatBool(opts.DryRun)})
	defer func() { done(err) }()
	x, unlock, err := s.lockedSession(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := x.readState(ctx)
	if err != nil {
		return nil, err
	}
	res := &RemoveResult{DryRun: opts.DryRun}
	var gone []*devPolicy
	for _, p := range st.policies {
		if opts.All || st.ours(p) {
			gone = append(gone, p)
		}
	}
	for _, b := range st.bindings {
		if !slices.ContainsFunc(gone, func(p *devPolicy) bool { return p.ID == b.PolicyID }) {
			continue
		}
		res.planDelete("AMT_NetworkPortSystemDefensePolicy", map[string]any{"port": portName(b.Port), "policy": b.PolicyID})
		if err := x.deleteUnless(opts.DryRun, ctx, uriBinding, bindingSelectors(b)...); err != nil {
			return res, fmt.Errorf("defense: disabling policy %s on the %s port: %w", b.PolicyID, portName(b.Port), err)
		}
		res.Bindings++
	}
	for _, p := range gone {
		res.planDelete("AMT_SystemDefensePolicy", map[string]any{"InstanceID": p.ID})
		if err := x.deleteUnless(opts.DryRun, ctx, uriPolicy, wsman.Sel("InstanceID", p.ID)); err != nil {
			return res, fmt.Errorf("defense: deleting policy %q (%s): %w", p.Name, p.ID, err)
		}
		res.Policies = append(res.Policies, p.info(st))
	}
	for _, f := range st.filters {
		if !opts.All && !f.ours() {
			continue
		}
		used := false
		for _, p := range st.policies {
			if !slices.Contains(gone, p) && slices.Contains(p.Handles, f.ID) {
				used = true
			}
		}
		if used {
			continue
		}
		res.planDelete(wsman.ClassName(f.URI), map[string]any{"InstanceID": f.ID})
		if err := x.deleteUnless(opts.DryRun, ctx, f.URI, wsman.Sel("InstanceID", f.ID)); err != nil {
			return res, fmt.Errorf("defense: deleting filter %q (%s): %w", f.Filter.Name, f.ID, err)
		}
		res.Filters = append(res.Filters, f.ID)
	}
	res.RoundTrips = int(x.rt.Load())
	return res, nil
}

// planDelete records, in a dry run, a Delete that Remove would send.
func (r *RemoveResult) planDelete(class string, args map[string]any) {
	if r.DryRun {
		r.Plan = append(r.Plan, Request{Operation: "Delete", Class: class, Args: args})
	}
}

// deleteUnless deletes unless dry, when it only counts the request.
func (x *session) deleteUnless(dry bool, ctx context.Context, uri string, sel ...wsman.Selector) error {
	if dry {
		x.rt.Add(1)
		return nil
	}
	return x.delete(ctx, uri, sel...)
}
