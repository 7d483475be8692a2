package amtsim

import (
	"errors"
	"strconv"
)

// Namespace URIs used on the wire.
const (
	nsSOAP      = "http://www.w3.org/2003/05/soap-envelope"
	nsAddr      = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsWSMan     = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	nsTrust     = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	nsWSSec     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsCIMBind   = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"
	nsEnum      = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
	nsTransfer  = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
	nsEventing  = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
	nsCommon    = "http://schemas.dmtf.org/wbem/wscim/1/common"
	nsXSI       = "http://www.w3.org/2001/XMLSchema-instance"
	nsIdentity  = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
	nsDASH      = "http://schemas.dmtf.org/wbem/dash/1/dash.xsd"
	uriAnon     = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
	uriProtocol = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"

	prefixCIM = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
	prefixAMT = "http://intel.com/wbem/wscim/1/amt-schema/1/"
	prefixIPS = "http://intel.com/wbem/wscim/1/ips-schema/1/"
)

// Action URIs of the intrinsic operations.
const (
	actGet       = nsTransfer + "/Get"
	actPut       = nsTransfer + "/Put"
	actCreate    = nsTransfer + "/Create"
	actDelete    = nsTransfer + "/Delete"
	actEnumerate = nsEnum + "/Enumerate"
	actPull      = nsEnum + "/Pull"
	actRelease   = nsEnum + "/Release"

	actFaultAddr     = nsAddr + "/fault"
	actFaultWSMan    = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
	actFaultEnum     = nsEnum + "/fault"
	actFaultTransfer = nsTransfer + "/fault"

	// identifyAction is the key under which Identify is counted and matched,
	// since an Identify request carries no wsa:Action.
	identifyAction = "Identify"
)

// selector is one wsman:Selector. EPR-valued selectors keep their nested
// element tree in epr and an empty value.
type selector struct {
	name  string
	value string
	epr   *node
}

// request is a decoded WS-Management request.
type request struct {
	action      string
	to          string
	messageID   string
	resourceURI string
	selectors   []selector
	body        *node // first child of s:Body, nil when the body is empty
	identify    bool
}

var errNotEnvelope = errors.New("amtsim: not a SOAP 1.2 envelope")

func decodeRequest(data []byte) (*request, error) {
	root, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	if !root.is(nsSOAP, "Envelope") {
		return nil, errNotEnvelope
	}
	r := &request{}
	hdr := root.child(nsSOAP, "Header")
	body := root.child(nsSOAP, "Body")
	if body == nil {
		return nil, errNotEnvelope
	}
	r.body = body.firstChild()
	if hdr != nil {
		r.action = hdr.child(nsAddr, "Action").value()
		r.to = hdr.child(nsAddr, "To").value()
		r.messageID = hdr.child(nsAddr, "MessageID").value()
		r.resourceURI = hdr.child(nsWSMan, "ResourceURI").value()
		if ss := hdr.child(nsWSMan, "SelectorSet"); ss != nil {
			for _, s := range ss.children {
				if !s.is(nsWSMan, "Selector") {
					continue
				}
				name, _ := s.attr("Name")
				sel := selector{name: name}
				if epr := s.child(nsAddr, "EndpointReference"); epr != nil {
					sel.epr = epr
				} else {
					sel.value = s.value()
				}
				r.selectors = append(r.selectors, sel)
			}
		}
	}
	r.identify = r.action == "" && r.body.is(nsIdentity, "Identify")
	return r, nil
}

// opName is the action name used for fault matching and logs.
func (r *request) opName() string {
	if r.identify {
		return identifyAction
	}
	return r.action
}

// pullParams reads EnumerationContext and MaxElements from a Pull body.
func pullParams(body *node) (ctxID string, maxElements int, err error) {
	ctxID = body.child(nsEnum, "EnumerationContext").value()
	maxElements = 1 // DSP0226: one element when MaxElements is absent
	if me := body.child(nsEnum, "MaxElements"); me != nil {
		n, perr := strconv.Atoi(me.value())
		if perr != nil || n < 1 {
			return "", 0, errors.New("invalid MaxElements")
		}
		maxElements = n
	}
	return ctxID, maxElements, nil
}
