package amtsim

import "fmt"

// baseNamespaces are declared, in this order, on the root of every
// non-fault response; body namespaces follow as g, h, i, ... and xsi last.
var baseNamespaces = []attr{
	{"a", nsSOAP},
	{"b", nsAddr},
	{"c", nsWSMan},
	{"d", nsTrust},
	{"e", nsWSSec},
	{"f", nsCIMBind},
}

// faultNamespaces is the firmware's fixed declaration order on fault
// envelopes, which differs from that of ordinary responses.
var faultNamespaces = []attr{
	{"g", nsCIMBind},
	{"f", nsEventing},
	{"e", nsWSMan},
	{"d", nsTransfer},
	{"c", nsEnum},
	{"b", nsAddr},
	{"a", nsSOAP},
	{"h", nsTrust},
	{"i", nsWSSec},
	{"xsi", nsXSI},
}

func nsAttrs(decls []attr) []attr {
	out := make([]attr, len(decls))
	for i, d := range decls {
		out[i] = attr{"xmlns:" + d.name, d.value}
	}
	return out
}

// responseEnvelope writes a complete response. bodyNS are the namespaces the
// body uses, in order of first use; body receives the prefix of each.
func responseEnvelope(relatesTo, messageID, action, resourceURI string, bodyNS []string, body func(w *xmlWriter, pfx []string)) []byte {
	decls := append([]attr(nil), baseNamespaces...)
	pfx := make([]string, len(bodyNS))
	for i, ns := range bodyNS {
		pfx[i] = string(rune('g' + i))
		decls = append(decls, attr{pfx[i], ns})
	}
	decls = append(decls, attr{"xsi", nsXSI})
	w := newXMLWriter()
	w.start("a:Envelope", nsAttrs(decls)...)
	w.start("a:Header")
	w.elem("b:To", uriAnon)
	w.elem("b:RelatesTo", relatesTo)
	w.elem("b:Action", action, attr{"a:mustUnderstand", "true"})
	w.elem("b:MessageID", messageID)
	if resourceURI != "" {
		w.elem("c:ResourceURI", resourceURI)
	}
	w.end("a:Header")
	w.start("a:Body")
	if body != nil {
		body(w, pfx)
	}
	w.end("a:Body")
	w.end("a:Envelope")
	return w.bytes()
}

// identifyEnvelope answers wsmid:Identify. The firmware uses its own short
// declaration list here: SOAP, the identity namespace and DASH.
func identifyEnvelope(productVersion string, tls bool) []byte {
	w := newXMLWriter()
	w.start("a:Envelope", nsAttrs([]attr{{"a", nsSOAP}, {"b", nsIdentity}, {"c", nsDASH}})...)
	w.start("a:Header")
	w.end("a:Header")
	w.start("a:Body")
	w.start("b:IdentifyResponse")
	w.elem("b:ProtocolVersion", uriProtocol)
	w.elem("b:ProductVendor", "Intel(r)")
	w.elem("b:ProductVersion", productVersion)
	w.elem("c:DASHVersion", "1.0.0")
	w.start("b:SecurityProfiles")
	scheme := "http"
	if tls {
		scheme = "https"
	}
	w.elem("b:SecurityProfileName", "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/"+scheme+"/digest")
	w.end("b:SecurityProfiles")
	w.end("b:IdentifyResponse")
	w.end("a:Body")
	w.end("a:Envelope")
	return w.bytes()
}

// wsFault is a SOAP fault the device answers with HTTP 400.
type wsFault struct {
	receiver bool   // Code a:Receiver instead of a:Sender
	subNS    string // namespace of the subcode QName
	subcode  string // local part of the subcode
	reason   string
	detail   string // text of a:Detail; usually empty
}

func (f *wsFault) Error() string { return fmt.Sprintf("%s: %s", f.subcode, f.reason) }

var faultPrefix = map[string]string{
	nsAddr:     "b",
	nsEnum:     "c",
	nsTransfer: "d",
	nsWSMan:    "e",
}

var faultAction = map[string]string{
	nsAddr:     actFaultAddr,
	nsEnum:     actFaultEnum,
	nsTransfer: actFaultTransfer,
	nsWSMan:    actFaultWSMan,
}

func faultEnvelope(relatesTo, messageID string, f *wsFault) []byte {
	w := newXMLWriter()
	w.start("a:Envelope", nsAttrs(faultNamespaces)...)
	w.start("a:Header")
	w.elem("b:To", uriAnon)
	w.elem("b:RelatesTo", relatesTo)
	w.elem("b:Action", faultAction[f.subNS], attr{"a:mustUnderstand", "true"})
	w.elem("b:MessageID", messageID)
	w.end("a:Header")
	w.start("a:Body")
	w.start("a:Fault")
	w.start("a:Code")
	code := "a:Sender"
	if f.receiver {
		code = "a:Receiver"
	}
	w.elem("a:Value", code)
	w.start("a:Subcode")
	w.elem("a:Value", faultPrefix[f.subNS]+":"+f.subcode)
	w.end("a:Subcode")
	w.end("a:Code")
	w.start("a:Reason")
	w.elem("a:Text", f.reason, attr{"xml:lang", "en-US"})
	w.end("a:Reason")
	w.elem("a:Detail", f.detail)
	w.end("a:Fault")
	w.end("a:Body")
	w.end("a:Envelope")
	return w.bytes()
}

// Fault constructors for the subcodes the simulator produces.

func faultDestinationUnreachable() *wsFault {
	return &wsFault{subNS: nsAddr, subcode: "DestinationUnreachable",
		reason: "No route can be determined to reach the destination role defined by the WSAddressing To."}
}

func faultActionNotSupported() *wsFault {
	return &wsFault{subNS: nsAddr, subcode: "ActionNotSupported",
		reason: "The action is not supported by the service."}
}

func faultHeaderRequired() *wsFault {
	return &wsFault{subNS: nsAddr, subcode: "MessageInformationHeaderRequired",
		reason: "A required header representing a Message Addressing Property is not present."}
}

func faultInvalidSelectors() *wsFault {
	return &wsFault{subNS: nsWSMan, subcode: "InvalidSelectors",
		reason: "The Selectors for the resource are not valid."}
}

func faultAccessDenied() *wsFault {
	return &wsFault{subNS: nsWSMan, subcode: "AccessDenied",
		reason: "The sender was not authorized to access the resource."}
}

func faultSchemaValidation() *wsFault {
	return &wsFault{subNS: nsWSMan, subcode: "SchemaValidationError",
		reason: "The supplied SOAP violates the corresponding XML Schema definition."}
}

func faultInvalidRepresentation() *wsFault {
	return &wsFault{subNS: nsTransfer, subcode: "InvalidRepresentation",
		reason: "The XML content is invalid."}
}

func faultInvalidEnumerationContext() *wsFault {
	return &wsFault{receiver: true, subNS: nsEnum, subcode: "InvalidEnumerationContext",
		reason: "The supplied enumeration context is invalid."}
}

func faultInternalError(ptStatus int) *wsFault {
	return &wsFault{receiver: true, subNS: nsWSMan, subcode: "InternalError",
		reason: "The service cannot comply with the request due to internal processing errors.",
		detail: fmt.Sprintf("AMT-STATUS %d", ptStatus)}
}

func faultUnsupportedFeature() *wsFault {
	return &wsFault{subNS: nsWSMan, subcode: "UnsupportedFeature",
		reason: "The specified feature is not supported."}
}
