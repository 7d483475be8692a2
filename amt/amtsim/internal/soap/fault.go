package soap

import "fmt"

// Fault is a SOAP fault the device answers with HTTP 400.
type Fault struct {
	Receiver bool   // Code a:Receiver instead of a:Sender
	SubNS    string // namespace of the subcode QName
	Subcode  string // local part of the subcode
	Reason   string
	Detail   string // text of a:Detail; usually empty
}

func (f *Fault) Error() string { return fmt.Sprintf("%s: %s", f.Subcode, f.Reason) }

var faultPrefix = map[string]string{
	NSAddr:     "b",
	NSEnum:     "c",
	NSTransfer: "d",
	NSWSMan:    "e",
}

var faultAction = map[string]string{
	NSAddr:     ActFaultAddr,
	NSEnum:     ActFaultEnum,
	NSTransfer: ActFaultTransfer,
	NSWSMan:    ActFaultWSMan,
}

// FaultEnvelope writes the envelope of a fault.
func FaultEnvelope(relatesTo, messageID string, f *Fault) []byte {
	w := NewWriter()
	w.Start("a:Envelope", nsAttrs(faultNamespaces)...)
	w.Start("a:Header")
	w.Elem("b:To", URIAnon)
	w.Elem("b:RelatesTo", relatesTo)
	w.Elem("b:Action", faultAction[f.SubNS], Attr{"a:mustUnderstand", "true"})
	w.Elem("b:MessageID", messageID)
	w.End("a:Header")
	w.Start("a:Body")
	w.Start("a:Fault")
	w.Start("a:Code")
	code := "a:Sender"
	if f.Receiver {
		code = "a:Receiver"
	}
	w.Elem("a:Value", code)
	w.Start("a:Subcode")
	w.Elem("a:Value", faultPrefix[f.SubNS]+":"+f.Subcode)
	w.End("a:Subcode")
	w.End("a:Code")
	w.Start("a:Reason")
	w.Elem("a:Text", f.Reason, Attr{"xml:lang", "en-US"})
	w.End("a:Reason")
	w.Elem("a:Detail", f.Detail)
	w.End("a:Fault")
	w.End("a:Body")
	w.End("a:Envelope")
	return w.Bytes()
}

// Constructors for the subcodes the simulator produces.

// FaultDestinationUnreachable: a resource URI the device does not serve.
func FaultDestinationUnreachable() *Fault {
	return &Fault{SubNS: NSAddr, Subcode: "DestinationUnreachable",
		Reason: "No route can be determined to reach the destination role defined by the WSAddressing To."}
}

// FaultActionNotSupported: an action the class does not support.
func FaultActionNotSupported() *Fault {
	return &Fault{SubNS: NSAddr, Subcode: "ActionNotSupported",
		Reason: "The action is not supported by the service."}
}

// FaultHeaderRequired: wsa:Action or wsa:MessageID missing.
func FaultHeaderRequired() *Fault {
	return &Fault{SubNS: NSAddr, Subcode: "MessageInformationHeaderRequired",
		Reason: "A required header representing a Message Addressing Property is not present."}
}

// FaultInvalidSelectors: selectors that address no instance.
func FaultInvalidSelectors() *Fault {
	return &Fault{SubNS: NSWSMan, Subcode: "InvalidSelectors",
		Reason: "The Selectors for the resource are not valid."}
}

// FaultAccessDenied: the account may not do this.
func FaultAccessDenied() *Fault {
	return &Fault{SubNS: NSWSMan, Subcode: "AccessDenied",
		Reason: "The sender was not authorized to access the resource."}
}

// FaultSchemaValidation: a body the schema refuses.
func FaultSchemaValidation() *Fault {
	return &Fault{SubNS: NSWSMan, Subcode: "SchemaValidationError",
		Reason: "The supplied SOAP violates the corresponding XML Schema definition."}
}

// FaultInvalidRepresentation: a Put changing what may not change.
func FaultInvalidRepresentation() *Fault {
	return &Fault{SubNS: NSTransfer, Subcode: "InvalidRepresentation",
		Reason: "The XML content is invalid."}
}

// FaultInvalidEnumerationContext: an unknown or expired context.
func FaultInvalidEnumerationContext() *Fault {
	return &Fault{Receiver: true, SubNS: NSEnum, Subcode: "InvalidEnumerationContext",
		Reason: "The supplied enumeration context is invalid."}
}

// FaultInternalError carries a PT_STATUS in its detail.
func FaultInternalError(ptStatus int) *Fault {
	return &Fault{Receiver: true, SubNS: NSWSMan, Subcode: "InternalError",
		Reason: "The service cannot comply with the request due to internal processing errors.",
		Detail: fmt.Sprintf("AMT-STATUS %d", ptStatus)}
}

// FaultUnsupportedFeature: an option the device does not support.
func FaultUnsupportedFeature() *Fault {
	return &Fault{SubNS: NSWSMan, Subcode: "UnsupportedFeature",
		Reason: "The specified feature is not supported."}
}

// FaultAlreadyExists is the fault of the captures (Fault/AlreadyExists).
func FaultAlreadyExists() *Fault {
	return &Fault{SubNS: NSWSMan, Subcode: "AlreadyExists",
		Reason: "The sender attempted to create a resource which already exists."}
}
