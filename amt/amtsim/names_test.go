package amtsim

import "github.com/amtkit/amtkit/amt/amtsim/internal/soap"

// Short names of the SOAP layer's constants for the wire layer's tests.
const (
	actGet      = soap.ActGet
	nsIdentity  = soap.NSIdentity
	nsDASH      = soap.NSDASH
	uriProtocol = soap.URIProtocol
)
