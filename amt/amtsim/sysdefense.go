package amtsim

import (
	"slices"

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

// registerDefense adds the System Defense classes, served from the unit
// (internal/sysdefense), to the class table with defenseOps. A class the
// table serves as captured (CIM_EthernetPort) is answered from there; the
// unit still knows every port.
func registerDefense() {
	for _, dc := range sysdefense.Classes() {
		if classByURI[dc.URI] != nil {
			continue
		}
		registerClass(&classDef{
			name:      dc.Name,
			uri:       dc.URI,
			commonNS:  dc.CommonNS,
			singleton: dc.Singleton,
			keys:      dc.Keys,
			ops:       defenseOps(dc),
		})
	}
}

// defenseOps are the operations of one System Defense class.
func defenseOps(dc sysdefense.Class) *classOps {
	ops := &classOps{
		get: func(d *Device, c *classDef, sels []soap.Selector) (entry, *soap.Fault) {
			ds, err := defenseSelectors(sels)
			if err != nil {
				return entry{}, soap.FaultInvalidSelectors()
			}
			in, err := d.defense.Get(dc.Name, ds)
			if err != nil {
				return entry{}, defenseFault(err)
			}
			return defenseEntry(dc, in), nil
		},
		enumerate: func(d *Device, c *classDef, _ *soap.Node) ([]entry, *soap.Fault) {
			ins, err := d.defense.Enumerate(dc.Name)
			if err != nil {
				return nil, defenseFault(err)
			}
			items := make([]entry, 0, len(ins))
			for _, in := range ins {
				items = append(items, defenseEntry(dc, in))
			}
			return items, nil
		},
		hasMethod: func(_ *classDef, method string) bool { return slices.Contains(dc.Methods, method) },
		invoke: func(d *Device, c *classDef, method string, sels []soap.Selector, input *soap.Node) ([]outParam, *soap.Fault) {
			ds, err := defenseSelectors(sels)
			if err != nil {
				return nil, soap.FaultInvalidSelectors()
			}
			var fields []sysdefense.Field
			if input != nil {
				if !input.Is(dc.URI, method+"_INPUT") {
					return nil, soap.FaultSchemaValidation()
				}
				if fields, err = defenseFields(input, dc.URI); err != nil {
					return nil, soap.FaultSchemaValidation()
				}
			}
			out, err := d.defense.Invoke(dc.Name, method, ds, fields)
			if err != nil {
				return nil, defenseFault(err)
			}
			params := make([]outParam, 0, len(out))
			for _, p := range out {
				params = append(params, outParam{name: p.Name, values: []string{p.Value}})
			}
			return params, nil
		},
	}
	if len(dc.Methods) == 0 {
		ops.invoke = nil
	}
	if dc.Create {
		ops.create = func(d *Device, c *classDef, body *soap.Node) (*soap.EPR, *soap.Fault) {
			fields, err := defenseFields(body, dc.URI)
			if err != nil {
				return nil, soap.FaultSchemaValidation()
			}
			ref, err := d.defense.Create(dc.Name, fields)
			if err != nil {
				return nil, defenseFault(err)
			}
			return soapRef(ref), nil
		}
	}
	if dc.Delete {
		ops.delete = func(d *Device, c *classDef, sels []soap.Selector) *soap.Fault {
			ds, err := defenseSelectors(sels)
			if err != nil {
				return soap.FaultInvalidSelectors()
			}
			if err := d.defense.Delete(dc.Name, ds); err != nil {
				return defenseFault(err)
			}
			return nil
		}
	}
	return ops
}

// defenseEntry is an instance of the unit as the dispatcher writes it.
func defenseEntry(dc sysdefense.Class, in *sysdefense.Instance) entry {
	return entry{
		write: func(w *soap.Writer, _ string, pfx []string) {
			common := ""
			if dc.CommonNS {
				common = pfx[len(pfx)-1]
			}
			writeDefenseInstance(w, pfx[0], common, in)
		},
		ref: func() *soap.EPR { return defenseInstanceEPR(dc, in) },
	}
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
			soap.WriteEPR(w, soapRef(p.EPR))
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

// soapRef is a reference of the unit as the SOAP layer writes it.
func soapRef(e *sysdefense.EPR) *soap.EPR {
	out := &soap.EPR{ResourceURI: e.ResourceURI}
	for _, s := range e.Selectors {
		sel := soap.EPRSelector{Name: s.Name, Value: s.Value}
		if s.EPR != nil {
			sel.EPR = soapRef(s.EPR)
		}
		out.Selectors = append(out.Selectors, sel)
	}
	return out
}

// defenseInstanceEPR is the EndpointReference of an instance in the EPR
// enumeration modes: the class's resource URI and a selector per key
// property, in key order, as instanceEPR gives it for the store.
func defenseInstanceEPR(c sysdefense.Class, in *sysdefense.Instance) *soap.EPR {
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
	return soapRef(e)
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
