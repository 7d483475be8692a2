// Package soap is amtsim's SOAP layer: the WS-Management envelopes AMT
// firmware reads and writes. It decodes a request (header, selectors,
// body), writes responses and faults with the firmware's namespace
// declarations and prefixes, reads the enumeration parameters and writes
// endpoint references. It knows nothing of devices or classes: the class
// table above it decides what a request means.
package soap

// Namespace URIs used on the wire.
const (
	NSSOAP      = "http://www.w3.org/2003/05/soap-envelope"
	NSAddr      = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	NSWSMan     = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	NSTrust     = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	NSWSSec     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSCIMBind   = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"
	NSEnum      = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
	NSTransfer  = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
	NSEventing  = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
	NSCommon    = "http://schemas.dmtf.org/wbem/wscim/1/common"
	NSXSI       = "http://www.w3.org/2001/XMLSchema-instance"
	NSIdentity  = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
	NSDASH      = "http://schemas.dmtf.org/wbem/dash/1/dash.xsd"
	URIAnon     = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
	URIProtocol = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"

	PrefixCIM = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
	PrefixAMT = "http://intel.com/wbem/wscim/1/amt-schema/1/"
	PrefixIPS = "http://intel.com/wbem/wscim/1/ips-schema/1/"
)

// Action URIs of the intrinsic operations.
const (
	ActGet       = NSTransfer + "/Get"
	ActPut       = NSTransfer + "/Put"
	ActCreate    = NSTransfer + "/Create"
	ActDelete    = NSTransfer + "/Delete"
	ActEnumerate = NSEnum + "/Enumerate"
	ActPull      = NSEnum + "/Pull"
	ActRelease   = NSEnum + "/Release"

	ActFaultAddr     = NSAddr + "/fault"
	ActFaultWSMan    = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
	ActFaultEnum     = NSEnum + "/fault"
	ActFaultTransfer = NSTransfer + "/fault"

	// IdentifyAction is the key under which Identify is counted and
	// matched, since an Identify request carries no wsa:Action.
	IdentifyAction = "Identify"
)
