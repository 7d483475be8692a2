package amtsim

import "github.com/amtkit/amtkit/amt/amtsim/internal/soap"

// The SOAP layer is internal/soap. These are the names the wire layer
// (http.go) uses to hand a request body over and to write what it answers
// by itself.

// request is a decoded request as the wire layer sees it.
type request struct {
	*soap.Request
	identify    bool
	messageID   string
	resourceURI string
}

func decodeRequest(data []byte) (*request, error) {
	r, err := soap.Decode(data)
	if err != nil {
		return nil, err
	}
	return &request{Request: r, identify: r.Identify, messageID: r.MessageID, resourceURI: r.ResourceURI}, nil
}

func (r *request) opName() string { return r.OpName() }

func identifyEnvelope(productVersion string, tls bool) []byte {
	return soap.Identify(productVersion, tls)
}

func faultEnvelope(relatesTo, messageID string, f *soap.Fault) []byte {
	return soap.FaultEnvelope(relatesTo, messageID, f)
}

func faultInternalError(ptStatus int) *soap.Fault { return soap.FaultInternalError(ptStatus) }

var errNoRoot = soap.ErrNoRoot

const identifyAction = soap.IdentifyAction
