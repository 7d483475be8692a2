package amtsim

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/sysdefense"
)

// Packet is one simulated host packet for Device.HostPacket: its port
// (0 wired, 1 wireless), direction (HostTransmit or HostReceive) and
// headers.
type Packet = sysdefense.Packet

// Verdict is what System Defense did with a host packet: passed or
// dropped, the rule that decided, the active policy and the deciding
// filter.
type Verdict = sysdefense.Verdict

// PacketRule names what decided a Verdict.
type PacketRule = sysdefense.Rule

// Directions of a host packet (AMT's FilterDirection values).
const (
	HostTransmit sysdefense.Direction = sysdefense.DirTx
	HostReceive  sysdefense.Direction = sysdefense.DirRx
)

// The rules of a Verdict.
const (
	RuleNoPolicy     = sysdefense.RuleNoPolicy
	RuleAntiSpoofing = sysdefense.RuleAntiSpoofing
	RuleDrop         = sysdefense.RuleDrop
	RuleRateLimit    = sysdefense.RuleRateLimit
	RulePass         = sysdefense.RulePass
	RuleDefault      = sysdefense.RuleDefault
)

// SystemDefensePortLimits are the per-port limits a device reports in
// AMT_NetworkPortSystemDefenseCapabilities and enforces when a policy is
// enabled on the port.
type SystemDefensePortLimits = sysdefense.PortLimits

// SystemDefenseOptions configures the modelled parts of System Defense
// (see the package documentation). Zero values mean the defaults.
type SystemDefenseOptions struct {
	// MaxPolicies and MaxFilters are GlobalMaxSupportedPolicies and
	// GlobalMaxSupportedFilters; defaults 8 and 80.
	MaxPolicies int `json:"max_policies,omitempty"`
	MaxFilters  int `json:"max_filters,omitempty"`
	// Wired and Wireless override the per-port limits.
	Wired    *SystemDefensePortLimits `json:"wired,omitempty"`
	Wireless *SystemDefensePortLimits `json:"wireless,omitempty"`
	// NoWireless leaves out the wireless port.
	NoWireless bool `json:"no_wireless,omitempty"`
	// MaxEnabledPerPort is how many policies may be enabled on a port at
	// once; default 1.
	MaxEnabledPerPort int `json:"max_enabled_per_port,omitempty"`
	// AntiSpoofingTxFilters is the Tx filter slots anti-spoofing takes;
	// default 2, -1 for none.
	AntiSpoofingTxFilters int `json:"anti_spoofing_tx_filters,omitempty"`
	// RateLimitNoCounter: rate limit filters keep no counter.
	RateLimitNoCounter bool `json:"rate_limit_no_counter,omitempty"`
	// NoDefaultStatistics: default counters are not reported in
	// AMT_ActiveFilterStatistics.
	NoDefaultStatistics bool `json:"no_default_statistics,omitempty"`
	// GetTimeoutConfigured: GetTimeout returns the configured timeout, not
	// the minutes left.
	GetTimeoutConfigured bool `json:"get_timeout_configured,omitempty"`
	// TimeoutMinute is the length of one minute of policy timeout
	// (default one minute), so that a running simulator shows timeouts
	// expire; in the fleet spec a Go duration string such as "1s".
	TimeoutMinute time.Duration `json:"-"`
	// Status codes (PT_STATUS) of the refusals: limits (default 23),
	// invalid values (36), in use (16), client control mode (3),
	// anti-spoofing unsupported on the port (2066).
	LimitStatus       int `json:"limit_status,omitempty"`
	InvalidStatus     int `json:"invalid_status,omitempty"`
	InUseStatus       int `json:"in_use_status,omitempty"`
	CCMStatus         int `json:"ccm_status,omitempty"`
	UnsupportedStatus int `json:"unsupported_status,omitempty"`
}

// newSystemDefense builds the System Defense state of a device.
func (d *Device) newSystemDefense(o *SystemDefenseOptions) error {
	if o == nil {
		o = &SystemDefenseOptions{}
	}
	cfg := sysdefense.Config{
		Now:                   d.defenseNow,
		CCM:                   func() bool { return d.prof.provMode == provModeCCM },
		Minute:                o.TimeoutMinute,
		MaxPolicies:           o.MaxPolicies,
		MaxFilters:            o.MaxFilters,
		Wired:                 o.Wired,
		Wireless:              o.Wireless,
		NoWireless:            o.NoWireless,
		MaxEnabledPerPort:     o.MaxEnabledPerPort,
		AntiSpoofingTxFilters: o.AntiSpoofingTxFilters,
		RateLimitNoCounter:    o.RateLimitNoCounter,
		NoDefaultStatistics:   o.NoDefaultStatistics,
		GetTimeoutConfigured:  o.GetTimeoutConfigured,
		LimitStatus:           o.LimitStatus,
		InvalidStatus:         o.InvalidStatus,
		InUseStatus:           o.InUseStatus,
		CCMStatus:             o.CCMStatus,
		UnsupportedStatus:     o.UnsupportedStatus,
	}
	if mac, err := net.ParseMAC(strings.ReplaceAll(d.mac, "-", ":")); err == nil {
		cfg.HostMAC = mac
	}
	if ip, err := netip.ParseAddr(d.ip); err == nil {
		if ip.Unmap().Is4() {
			cfg.HostIPv4 = ip.Unmap()
		} else {
			cfg.HostIPv6 = ip
		}
	}
	u, err := sysdefense.New(cfg)
	if err != nil {
		return err
	}
	d.defense = u
	return nil
}

// defenseNow is the device clock System Defense runs on: the host clock
// moved by AdvanceDefenseClock.
func (d *Device) defenseNow() time.Time {
	return time.Now().Add(time.Duration(d.defenseOffset.Load()))
}

// AdvanceDefenseClock moves the clock System Defense runs on forward, so
// that tests see policy timeouts expire and rate limit windows pass
// without waiting.
func (d *Device) AdvanceDefenseClock(by time.Duration) {
	if by > 0 {
		d.defenseOffset.Add(int64(by))
	}
}

// HostPacket runs one simulated host packet through the System Defense
// policy active on its port, counts it in the policy's counters and
// returns whether it passed.
func (d *Device) HostPacket(p Packet) Verdict { return d.defense.HostPacket(p) }

// ActiveDefensePolicy returns the InstanceID of the System Defense policy
// active on the port now (0 wired, 1 wireless), or "" when none is.
func (d *Device) ActiveDefensePolicy(port int) string { return d.defense.Active(port) }

// defenseClasses indexes the System Defense classes by resource URI. A
// class the class table serves as captured (CIM_EthernetPort) is answered
// from there; the unit still knows every port.
var defenseClasses = func() map[string]sysdefense.Class {
	m := map[string]sysdefense.Class{}
	for _, c := range sysdefense.Classes() {
		m[c.URI] = c
	}
	return m
}()

// dispatchDefense serves a request for a System Defense class. Call with
// d.mu held.
func (d *Device) dispatchDefense(c sysdefense.Class, req *request, acct Account, relatesTo string) ([]byte, *wsFault) {
	respond := func(action string, bodyNS []string, body func(w *xmlWriter, pfx []string)) []byte {
		return responseEnvelope(relatesTo, d.nextMessageID(), action, req.resourceURI, bodyNS, body)
	}
	instanceNS := []string{c.URI}
	if c.CommonNS {
		instanceNS = append(instanceNS, nsCommon)
	}
	writeOne := func(w *xmlWriter, pfx []string, in *sysdefense.Instance) {
		common := ""
		if c.CommonNS {
			common = pfx[len(pfx)-1]
		}
		writeDefenseInstance(w, pfx[0], common, in)
	}
	sels, err := defenseSelectors(req.selectors)
	if err != nil {
		return nil, faultInvalidSelectors()
	}
	switch req.action {
	case actGet:
		in, err := d.defense.Get(c.Name, sels)
		if err != nil {
			return nil, defenseFault(err)
		}
		return respond(actGet+"Response", instanceNS, func(w *xmlWriter, pfx []string) { writeOne(w, pfx, in) }), nil

	case actPut:
		return nil, faultActionNotSupported()

	case actCreate:
		if !c.Create {
			return nil, faultActionNotSupported()
		}
		if acct.ReadOnly {
			return nil, faultAccessDenied()
		}
		if !req.body.is(c.URI, c.Name) {
			return nil, faultSchemaValidation()
		}
		fields, err := defenseFields(req.body, c.URI)
		if err != nil {
			return nil, faultSchemaValidation()
		}
		epr, err := d.defense.Create(c.Name, fields)
		if err != nil {
			return nil, defenseFault(err)
		}
		return respond(actCreate+"Response", []string{nsTransfer}, func(w *xmlWriter, pfx []string) {
			w.start(pfx[0] + ":ResourceCreated")
			writeDefenseEPR(w, epr)
			w.end(pfx[0] + ":ResourceCreated")
		}), nil

	case actDelete:
		if !c.Delete {
			return nil, faultActionNotSupported()
		}
		if acct.ReadOnly {
			return nil, faultAccessDenied()
		}
		if err := d.defense.Delete(c.Name, sels); err != nil {
			return nil, defenseFault(err)
		}
		return respond(actDelete+"Response", nil, nil), nil

	case actEnumerate:
		mode, f := enumerationMode(req.body)
		if f != nil {
			return nil, f
		}
		items, err := d.defense.Enumerate(c.Name)
		if err != nil {
			return nil, defenseFault(err)
		}
		id := d.openDefenseEnumeration(c.URI, items)
		d.enums[id].mode = mode
		return respond(actEnumerate+"Response", []string{nsEnum}, func(w *xmlWriter, pfx []string) {
			g := pfx[0]
			w.start(g + ":EnumerateResponse")
			w.elem(g+":EnumerationContext", id)
			w.end(g + ":EnumerateResponse")
		}), nil

	case actPull:
		if !req.body.is(nsEnum, "Pull") {
			return nil, faultSchemaValidation()
		}
		id, maxElements, err := pullParams(req.body)
		if err != nil {
			return nil, faultSchemaValidation()
		}
		e := d.lookupDefenseEnumeration(id, c.URI)
		if e == nil {
			return nil, faultInvalidEnumerationContext()
		}
		n := min(maxElements, len(e.defenseItems))
		page := e.defenseItems[:n]
		e.defenseItems = e.defenseItems[n:]
		done := len(e.defenseItems) == 0
		if done {
			delete(d.enums, id)
		}
		// A page of EPRs alone declares no instance namespace.
		ns := []string{nsEnum}
		if len(page) > 0 && e.mode != modeEPR {
			ns = append(ns, instanceNS...)
		}
		return respond(actPull+"Response", ns, func(w *xmlWriter, pfx []string) {
			g := pfx[0]
			w.start(g + ":PullResponse")
			if !done {
				w.elem(g+":EnumerationContext", id)
			}
			w.start(g + ":Items")
			for _, in := range page {
				switch e.mode {
				case modeEPR:
					writeDefenseInstanceEPR(w, c, in)
				case modeObjectAndEPR:
					w.start("c:Item")
					writeOne(w, pfx[1:], in)
					writeDefenseInstanceEPR(w, c, in)
					w.end("c:Item")
				default:
					writeOne(w, pfx[1:], in)
				}
			}
			w.end(g + ":Items")
			if done {
				w.elem(g+":EndOfSequence", "")
			}
			w.end(g + ":PullResponse")
		}), nil

	case actRelease:
		if !req.body.is(nsEnum, "Release") {
			return nil, faultSchemaValidation()
		}
		id := req.body.child(nsEnum, "EnumerationContext").value()
		if d.lookupDefenseEnumeration(id, c.URI) == nil {
			return nil, faultInvalidEnumerationContext()
		}
		delete(d.enums, id)
		return respond(actRelease+"Response", nil, nil), nil
	}

	method, ok := strings.CutPrefix(req.action, c.URI+"/")
	if !ok || method == "" || strings.Contains(method, "/") {
		return nil, faultActionNotSupported()
	}
	if acct.ReadOnly {
		return nil, faultAccessDenied()
	}
	var input []sysdefense.Field
	if req.body != nil {
		if !req.body.is(c.URI, method+"_INPUT") {
			return nil, faultSchemaValidation()
		}
		if input, err = defenseFields(req.body, c.URI); err != nil {
			return nil, faultSchemaValidation()
		}
	}
	out, err := d.defense.Invoke(c.Name, method, sels, input)
	if err != nil {
		return nil, defenseFault(err)
	}
	return respond(req.action+"Response", []string{c.URI}, func(w *xmlWriter, pfx []string) {
		el := pfx[0] + ":" + method + "_OUTPUT"
		w.start(el)
		for _, p := range out {
			w.elem(pfx[0]+":"+p.Name, p.Value)
		}
		w.end(el)
	}), nil
}

// openDefenseEnumeration stores a snapshot of System Defense instances
// under a new context, with the bounds of openEnumeration. Call with d.mu
// held.
func (d *Device) openDefenseEnumeration(uri string, items []*sysdefense.Instance) string {
	d.pruneEnumerations()
	id := d.nextEnumerationID()
	d.enums[id] = &enumeration{defenseURI: uri, defenseItems: items, lastUsed: time.Now()}
	return id
}

func (d *Device) lookupDefenseEnumeration(id, uri string) *enumeration {
	e := d.enums[id]
	if e == nil {
		return nil
	}
	now := time.Now()
	if now.Sub(e.lastUsed) > d.srv.opts.EnumerationTimeout {
		delete(d.enums, id)
		return nil
	}
	if e.defenseURI != uri {
		return nil
	}
	e.lastUsed = now
	return e
}

var errBadReference = errors.New("amtsim: malformed endpoint reference")

// defenseSelectors converts request selectors, EPR-valued ones included.
func defenseSelectors(sels []selector) ([]sysdefense.Selector, error) {
	out := make([]sysdefense.Selector, 0, len(sels))
	for _, s := range sels {
		ds := sysdefense.Selector{Name: s.name, Value: s.value}
		if s.epr != nil {
			e, err := defenseEPR(s.epr)
			if err != nil {
				return nil, err
			}
			ds.EPR = e
		}
		out = append(out, ds)
	}
	return out, nil
}

// defenseEPR reads an endpoint reference: n holds a:ReferenceParameters
// (an a:EndpointReference, or a property or parameter of reference type).
func defenseEPR(n *node) (*sysdefense.EPR, error) {
	rp := n.child(nsAddr, "ReferenceParameters")
	if rp == nil {
		return nil, errBadReference
	}
	e := &sysdefense.EPR{ResourceURI: rp.child(nsWSMan, "ResourceURI").value()}
	if ss := rp.child(nsWSMan, "SelectorSet"); ss != nil {
		for _, s := range ss.children {
			if !s.is(nsWSMan, "Selector") {
				return nil, errBadReference
			}
			name, _ := s.attr("Name")
			sel := sysdefense.Selector{Name: name}
			if inner := s.child(nsAddr, "EndpointReference"); inner != nil {
				ie, err := defenseEPR(inner)
				if err != nil {
					return nil, err
				}
				sel.EPR = ie
			} else {
				sel.Value = s.value()
			}
			e.Selectors = append(e.Selectors, sel)
		}
	}
	return e, nil
}

// defenseFields reads the children of a Create body or a method's _INPUT
// element; every child must be in the class namespace.
func defenseFields(body *node, uri string) ([]sysdefense.Field, error) {
	var out []sysdefense.Field
	for _, ch := range body.children {
		if ch.space != uri {
			return nil, errBadReference
		}
		f := sysdefense.Field{Name: ch.local}
		if ch.child(nsAddr, "ReferenceParameters") != nil {
			e, err := defenseEPR(ch)
			if err != nil {
				return nil, err
			}
			f.EPR = e
		} else {
			if len(ch.children) > 0 {
				return nil, errBadReference
			}
			f.Value = ch.value()
		}
		out = append(out, f)
	}
	return out, nil
}

// writeDefenseInstance writes <pfx:Class> with its properties; common is
// the prefix of the wscim common namespace for datetimes.
func writeDefenseInstance(w *xmlWriter, pfx, common string, in *sysdefense.Instance) {
	root := pfx + ":" + in.Class
	w.start(root)
	for _, p := range in.Props {
		el := pfx + ":" + p.Name
		switch {
		case p.EPR != nil:
			w.start(el)
			writeDefenseEPR(w, p.EPR)
			w.end(el)
		case p.Datetime != nil:
			w.start(el)
			w.elem(common+":Datetime", p.Datetime.UTC().Format("2006-01-02T15:04:05Z"))
			w.end(el)
		default:
			for _, v := range p.Values {
				w.elem(el, v)
			}
		}
	}
	w.end(root)
}

// writeDefenseEPR writes the content of an endpoint reference with the
// envelope prefixes b (addressing) and c (wsman); an EPR-valued selector
// nests a b:EndpointReference, as the firmware's ResourceCreated does.
func writeDefenseEPR(w *xmlWriter, e *sysdefense.EPR) {
	w.elem("b:Address", uriAnon)
	w.start("b:ReferenceParameters")
	w.elem("c:ResourceURI", e.ResourceURI)
	w.start("c:SelectorSet")
	for _, s := range e.Selectors {
		if s.EPR != nil {
			w.start("c:Selector", attr{"Name", s.Name})
			w.start("b:EndpointReference")
			writeDefenseEPR(w, s.EPR)
			w.end("b:EndpointReference")
			w.end("c:Selector")
			continue
		}
		w.elem("c:Selector", s.Value, attr{"Name", s.Name})
	}
	w.end("c:SelectorSet")
	w.end("b:ReferenceParameters")
}

// writeDefenseInstanceEPR writes the EndpointReference of an instance in
// the EPR enumeration modes: the class's resource URI and a selector per
// key property, in key order, as writeInstanceEPR does for the class table.
func writeDefenseInstanceEPR(w *xmlWriter, c sysdefense.Class, in *sysdefense.Instance) {
	e := &sysdefense.EPR{ResourceURI: c.URI}
	for _, k := range c.Keys {
		p, ok := in.Prop(k)
		switch {
		case !ok:
		case p.EPR != nil:
			e.Selectors = append(e.Selectors, sysdefense.Selector{Name: k, EPR: p.EPR})
		case len(p.Values) == 1:
			e.Selectors = append(e.Selectors, sysdefense.Selector{Name: k, Value: p.Values[0]})
		}
	}
	w.start("b:EndpointReference")
	writeDefenseEPR(w, e)
	w.end("b:EndpointReference")
}

// defenseFault maps the unit's faults to the envelope's.
func defenseFault(err error) *wsFault {
	var f *sysdefense.Fault
	if !errors.As(err, &f) {
		return faultInternalError(1)
	}
	switch f.Code {
	case sysdefense.FaultInvalidSelectors:
		return faultInvalidSelectors()
	case sysdefense.FaultSchemaValidation:
		return faultSchemaValidation()
	case sysdefense.FaultActionNotSupported:
		return faultActionNotSupported()
	case sysdefense.FaultAlreadyExists:
		return faultAlreadyExists()
	}
	return faultInternalError(f.Status)
}

// faultAlreadyExists is the fault of the captures (Fault/AlreadyExists).
func faultAlreadyExists() *wsFault {
	return &wsFault{subNS: nsWSMan, subcode: "AlreadyExists",
		reason: "The sender attempted to create a resource which already exists."}
}

// validate checks the options by building a unit from them.
func (o *SystemDefenseOptions) validate() error {
	if o == nil {
		return nil
	}
	d := &Device{prof: &profile{}}
	if err := d.newSystemDefense(o); err != nil {
		return fmt.Errorf("amtsim: system defense: %w", err)
	}
	return nil
}
