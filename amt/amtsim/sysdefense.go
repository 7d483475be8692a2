package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

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
func (d *Device) dispatchDefense(c sysdefense.Class, req *request, acct Account, relatesTo string) ([]byte, *soap.Fault) {
	respond := func(action string, bodyNS []string, body func(w *soap.Writer, pfx []string)) []byte {
		return soap.Response(relatesTo, d.nextMessageID(), action, req.ResourceURI, bodyNS, body)
	}
	instanceNS := []string{c.URI}
	if c.CommonNS {
		instanceNS = append(instanceNS, soap.NSCommon)
	}
	writeOne := func(w *soap.Writer, pfx []string, in *sysdefense.Instance) {
		common := ""
		if c.CommonNS {
			common = pfx[len(pfx)-1]
		}
		writeDefenseInstance(w, pfx[0], common, in)
	}
	sels, err := defenseSelectors(req.Selectors)
	if err != nil {
		return nil, soap.FaultInvalidSelectors()
	}
	switch req.Action {
	case soap.ActGet:
		in, err := d.defense.Get(c.Name, sels)
		if err != nil {
			return nil, defenseFault(err)
		}
		return respond(soap.ActGet+"Response", instanceNS, func(w *soap.Writer, pfx []string) { writeOne(w, pfx, in) }), nil

	case soap.ActPut:
		return nil, soap.FaultActionNotSupported()

	case soap.ActCreate:
		if !c.Create {
			return nil, soap.FaultActionNotSupported()
		}
		if acct.ReadOnly {
			return nil, soap.FaultAccessDenied()
		}
		if !req.Body.Is(c.URI, c.Name) {
			return nil, soap.FaultSchemaValidation()
		}
		fields, err := defenseFields(req.Body, c.URI)
		if err != nil {
			return nil, soap.FaultSchemaValidation()
		}
		epr, err := d.defense.Create(c.Name, fields)
		if err != nil {
			return nil, defenseFault(err)
		}
		return respond(soap.ActCreate+"Response", []string{soap.NSTransfer}, func(w *soap.Writer, pfx []string) {
			w.Start(pfx[0] + ":ResourceCreated")
			writeDefenseEPR(w, epr)
			w.End(pfx[0] + ":ResourceCreated")
		}), nil

	case soap.ActDelete:
		if !c.Delete {
			return nil, soap.FaultActionNotSupported()
		}
		if acct.ReadOnly {
			return nil, soap.FaultAccessDenied()
		}
		if err := d.defense.Delete(c.Name, sels); err != nil {
			return nil, defenseFault(err)
		}
		return respond(soap.ActDelete+"Response", nil, nil), nil

	case soap.ActEnumerate:
		mode, f := soap.EnumerationMode(req.Body)
		if f != nil {
			return nil, f
		}
		items, err := d.defense.Enumerate(c.Name)
		if err != nil {
			return nil, defenseFault(err)
		}
		id := d.openDefenseEnumeration(c.URI, items)
		d.enums[id].mode = mode
		return respond(soap.ActEnumerate+"Response", []string{soap.NSEnum}, func(w *soap.Writer, pfx []string) {
			g := pfx[0]
			w.Start(g + ":EnumerateResponse")
			w.Elem(g+":EnumerationContext", id)
			w.End(g + ":EnumerateResponse")
		}), nil

	case soap.ActPull:
		if !req.Body.Is(soap.NSEnum, "Pull") {
			return nil, soap.FaultSchemaValidation()
		}
		id, maxElements, err := soap.PullParams(req.Body)
		if err != nil {
			return nil, soap.FaultSchemaValidation()
		}
		e := d.lookupDefenseEnumeration(id, c.URI)
		if e == nil {
			return nil, soap.FaultInvalidEnumerationContext()
		}
		n := min(maxElements, len(e.defenseItems))
		page := e.defenseItems[:n]
		e.defenseItems = e.defenseItems[n:]
		done := len(e.defenseItems) == 0
		if done {
			delete(d.enums, id)
		}
		// A page of EPRs alone declares no instance namespace.
		ns := []string{soap.NSEnum}
		if len(page) > 0 && e.mode != soap.ModeEPR {
			ns = append(ns, instanceNS...)
		}
		return respond(soap.ActPull+"Response", ns, func(w *soap.Writer, pfx []string) {
			g := pfx[0]
			w.Start(g + ":PullResponse")
			if !done {
				w.Elem(g+":EnumerationContext", id)
			}
			w.Start(g + ":Items")
			for _, in := range page {
				switch e.mode {
				case soap.ModeEPR:
					writeDefenseInstanceEPR(w, c, in)
				case soap.ModeObjectAndEPR:
					w.Start("c:Item")
					writeOne(w, pfx[1:], in)
					writeDefenseInstanceEPR(w, c, in)
					w.End("c:Item")
				default:
					writeOne(w, pfx[1:], in)
				}
			}
			w.End(g + ":Items")
			if done {
				w.Elem(g+":EndOfSequence", "")
			}
			w.End(g + ":PullResponse")
		}), nil

	case soap.ActRelease:
		if !req.Body.Is(soap.NSEnum, "Release") {
			return nil, soap.FaultSchemaValidation()
		}
		id := req.Body.Child(soap.NSEnum, "EnumerationContext").Value()
		if d.lookupDefenseEnumeration(id, c.URI) == nil {
			return nil, soap.FaultInvalidEnumerationContext()
		}
		delete(d.enums, id)
		return respond(soap.ActRelease+"Response", nil, nil), nil
	}

	method, ok := strings.CutPrefix(req.Action, c.URI+"/")
	if !ok || method == "" || strings.Contains(method, "/") {
		return nil, soap.FaultActionNotSupported()
	}
	if acct.ReadOnly {
		return nil, soap.FaultAccessDenied()
	}
	var input []sysdefense.Field
	if req.Body != nil {
		if !req.Body.Is(c.URI, method+"_INPUT") {
			return nil, soap.FaultSchemaValidation()
		}
		if input, err = defenseFields(req.Body, c.URI); err != nil {
			return nil, soap.FaultSchemaValidation()
		}
	}
	out, err := d.defense.Invoke(c.Name, method, sels, input)
	if err != nil {
		return nil, defenseFault(err)
	}
	return respond(req.Action+"Response", []string{c.URI}, func(w *soap.Writer, pfx []string) {
		el := pfx[0] + ":" + method + "_OUTPUT"
		w.Start(el)
		for _, p := range out {
			w.Elem(pfx[0]+":"+p.Name, p.Value)
		}
		w.End(el)
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
func defenseSelectors(sels []soap.Selector) ([]sysdefense.Selector, error) {
	out := make([]sysdefense.Selector, 0, len(sels))
	for _, s := range sels {
		ds := sysdefense.Selector{Name: s.Name, Value: s.Value}
		if s.EPR != nil {
			e, err := defenseEPR(s.EPR)
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
func defenseEPR(n *soap.Node) (*sysdefense.EPR, error) {
	rp := n.Child(soap.NSAddr, "ReferenceParameters")
	if rp == nil {
		return nil, errBadReference
	}
	e := &sysdefense.EPR{ResourceURI: rp.Child(soap.NSWSMan, "ResourceURI").Value()}
	if ss := rp.Child(soap.NSWSMan, "SelectorSet"); ss != nil {
		for _, s := range ss.Children {
			if !s.Is(soap.NSWSMan, "Selector") {
				return nil, errBadReference
			}
			name, _ := s.Attr("Name")
			sel := sysdefense.Selector{Name: name}
			if inner := s.Child(soap.NSAddr, "EndpointReference"); inner != nil {
				ie, err := defenseEPR(inner)
				if err != nil {
					return nil, err
				}
				sel.EPR = ie
			} else {
				sel.Value = s.Value()
			}
			e.Selectors = append(e.Selectors, sel)
		}
	}
	return e, nil
}

// defenseFields reads the children of a Create body or a method's _INPUT
// element; every child must be in the class namespace.
func defenseFields(body *soap.Node, uri string) ([]sysdefense.Field, error) {
	var out []sysdefense.Field
	for _, ch := range body.Children {
		if ch.Space != uri {
			return nil, errBadReference
		}
		f := sysdefense.Field{Name: ch.Local}
		if ch.Child(soap.NSAddr, "ReferenceParameters") != nil {
			e, err := defenseEPR(ch)
			if err != nil {
				return nil, err
			}
			f.EPR = e
		} else {
			if len(ch.Children) > 0 {
				return nil, errBadReference
			}
			f.Value = ch.Value()
		}
		out = append(out, f)
	}
	return out, nil
}

// writeDefenseInstance writes <pfx:Class> with its properties; common is
// the prefix of the wscim common namespace for datetimes.
func writeDefenseInstance(w *soap.Writer, pfx, common string, in *sysdefense.Instance) {
	root := pfx + ":" + in.Class
	w.Start(root)
	for _, p := range in.Props {
		el := pfx + ":" + p.Name
		switch {
		case p.EPR != nil:
			w.Start(el)
			writeDefenseEPR(w, p.EPR)
			w.End(el)
		case p.Datetime != nil:
			w.Start(el)
			w.Elem(common+":Datetime", p.Datetime.UTC().Format("2006-01-02T15:04:05Z"))
			w.End(el)
		default:
			for _, v := range p.Values {
				w.Elem(el, v)
			}
		}
	}
	w.End(root)
}

// writeDefenseEPR writes the content of an endpoint reference with the
// envelope prefixes b (addressing) and c (wsman); an EPR-valued selector
// nests a b:EndpointReference, as the firmware's ResourceCreated does.
func writeDefenseEPR(w *soap.Writer, e *sysdefense.EPR) {
	w.Elem("b:Address", soap.URIAnon)
	w.Start("b:ReferenceParameters")
	w.Elem("c:ResourceURI", e.ResourceURI)
	w.Start("c:SelectorSet")
	for _, s := range e.Selectors {
		if s.EPR != nil {
			w.Start("c:Selector", soap.Attr{Name: "Name", Value: s.Name})
			w.Start("b:EndpointReference")
			writeDefenseEPR(w, s.EPR)
			w.End("b:EndpointReference")
			w.End("c:Selector")
			continue
		}
		w.Elem("c:Selector", s.Value, soap.Attr{Name: "Name", Value: s.Name})
	}
	w.End("c:SelectorSet")
	w.End("b:ReferenceParameters")
}

// writeDefenseInstanceEPR writes the EndpointReference of an instance in
// the EPR enumeration modes: the class's resource URI and a selector per
// key property, in key order, as writeInstanceEPR does for the class table.
func writeDefenseInstanceEPR(w *soap.Writer, c sysdefense.Class, in *sysdefense.Instance) {
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
	w.Start("b:EndpointReference")
	writeDefenseEPR(w, e)
	w.End("b:EndpointReference")
}

// defenseFault maps the unit's faults to the envelope's.
func defenseFault(err error) *soap.Fault {
	var f *sysdefense.Fault
	if !errors.As(err, &f) {
		return soap.FaultInternalError(1)
	}
	switch f.Code {
	case sysdefense.FaultInvalidSelectors:
		return soap.FaultInvalidSelectors()
	case sysdefense.FaultSchemaValidation:
		return soap.FaultSchemaValidation()
	case sysdefense.FaultActionNotSupported:
		return soap.FaultActionNotSupported()
	case sysdefense.FaultAlreadyExists:
		return soap.FaultAlreadyExists()
	}
	return soap.FaultInternalError(f.Status)
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
