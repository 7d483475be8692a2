package soap

import (
	"errors"
	"strconv"
)

// Selector is one wsman:Selector. An EPR-valued selector keeps its nested
// element tree in EPR and an empty Value.
type Selector struct {
	Name  string
	Value string
	EPR   *Node
}

// Request is a decoded WS-Management request.
type Request struct {
	Action      string
	To          string
	MessageID   string
	ResourceURI string
	Selectors   []Selector
	Body        *Node // first child of s:Body, nil when the body is empty
	Identify    bool
}

// ErrNotEnvelope is returned for a document that is not a SOAP 1.2
// envelope with a body.
var ErrNotEnvelope = errors.New("soap: not a SOAP 1.2 envelope")

// Decode reads a request envelope.
func Decode(data []byte) (*Request, error) {
	root, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if !root.Is(NSSOAP, "Envelope") {
		return nil, ErrNotEnvelope
	}
	r := &Request{}
	hdr := root.Child(NSSOAP, "Header")
	body := root.Child(NSSOAP, "Body")
	if body == nil {
		return nil, ErrNotEnvelope
	}
	r.Body = body.FirstChild()
	if hdr != nil {
		r.Action = hdr.Child(NSAddr, "Action").Value()
		r.To = hdr.Child(NSAddr, "To").Value()
		r.MessageID = hdr.Child(NSAddr, "MessageID").Value()
		r.ResourceURI = hdr.Child(NSWSMan, "ResourceURI").Value()
		if ss := hdr.Child(NSWSMan, "SelectorSet"); ss != nil {
			for _, s := range ss.Children {
				if !s.Is(NSWSMan, "Selector") {
					continue
				}
				name, _ := s.Attr("Name")
				sel := Selector{Name: name}
				if epr := s.Child(NSAddr, "EndpointReference"); epr != nil {
					sel.EPR = epr
				} else {
					sel.Value = s.Value()
				}
				r.Selectors = append(r.Selectors, sel)
			}
		}
	}
	r.Identify = r.Action == "" && r.Body.Is(NSIdentity, "Identify")
	return r, nil
}

// OpName is the action name used for fault matching and logs.
func (r *Request) OpName() string {
	if r.Identify {
		return IdentifyAction
	}
	return r.Action
}

// PullParams reads EnumerationContext and MaxElements from a Pull body.
func PullParams(body *Node) (ctxID string, maxElements int, err error) {
	ctxID = body.Child(NSEnum, "EnumerationContext").Value()
	maxElements = 1 // DSP0226: one element when MaxElements is absent
	if me := body.Child(NSEnum, "MaxElements"); me != nil {
		n, perr := strconv.Atoi(me.Value())
		if perr != nil || n < 1 {
			return "", 0, errors.New("invalid MaxElements")
		}
		maxElements = n
	}
	return ctxID, maxElements, nil
}

// Mode is an enumeration mode (DSP0226 8.7, wsman:EnumerationMode).
type Mode int

// The enumeration modes.
const (
	ModeObject       Mode = iota // the instances (no EnumerationMode)
	ModeEPR                      // EnumerateEPR: an EndpointReference per instance
	ModeObjectAndEPR             // EnumerateObjectAndEPR: w:Item with both
)

// EnumerationMode reads wsman:EnumerationMode of an Enumerate body. An
// unknown mode is refused with wsman:UnsupportedFeature [modelled: DSP0226
// names the fault; no capture shows it].
func EnumerationMode(body *Node) (Mode, *Fault) {
	m := body.Child(NSWSMan, "EnumerationMode")
	if m == nil {
		return ModeObject, nil
	}
	switch m.Value() {
	case "EnumerateEPR":
		return ModeEPR, nil
	case "EnumerateObjectAndEPR":
		return ModeObjectAndEPR, nil
	}
	return 0, FaultUnsupportedFeature()
}
