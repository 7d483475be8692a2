package wsman

// Namespace URIs used by WS-Management as Intel AMT speaks it (protocol.md §1.3).
const (
	NSSOAP        = "http://www.w3.org/2003/05/soap-envelope"
	NSAddressing  = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	NSWSMan       = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	NSIdentity    = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
	NSTransfer    = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
	NSEnumeration = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
	NSEventing    = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
	NSCIMBinding  = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"
	NSXSI         = "http://www.w3.org/2001/XMLSchema-instance"
	NSDASH        = "http://schemas.dmtf.org/wbem/dash/1/dash.xsd"

	// AddressAnonymous is the anonymous WS-Addressing endpoint.
	AddressAnonymous = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
)

// Resource URI prefixes of the class families; a resource URI is the prefix
// followed by the class name.
const (
	PrefixCIM = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
	PrefixAMT = "http://intel.com/wbem/wscim/1/amt-schema/1/"
	PrefixIPS = "http://intel.com/wbem/wscim/1/ips-schema/1/"
)

// Actions (protocol.md §1.4).
const (
	ActionGet       = NSTransfer + "/Get"
	ActionPut       = NSTransfer + "/Put"
	ActionCreate    = NSTransfer + "/Create"
	ActionDelete    = NSTransfer + "/Delete"
	ActionEnumerate = NSEnumeration + "/Enumerate"
	ActionPull      = NSEnumeration + "/Pull"
	ActionRelease   = NSEnumeration + "/Release"
)

// ResourceURI returns the resource URI of a class from its name, choosing
// the family by prefix: CIM_ is DMTF, AMT_ and IPS_ are Intel's.
func ResourceURI(className string) string {
	switch {
	case len(className) > 4 && className[:4] == "AMT_":
		return PrefixAMT + className
	case len(className) > 4 && className[:4] == "IPS_":
		return PrefixIPS + className
	default:
		return PrefixCIM + className
	}
}

// ClassName returns the class name at the end of a resource URI.
func ClassName(resourceURI string) string {
	for i := len(resourceURI) - 1; i >= 0; i-- {
		if resourceURI[i] == '/' {
			return resourceURI[i+1:]
		}
	}
	return resourceURI
}
