package wsman_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/amtkit/amtkit/wsman"
)

// Every subcode AMT answers maps to its own sentinel and to no other,
// including those of the enumeration and transfer namespaces.
func TestFaultSubcodeTable(t *testing.T) {
	t.Parallel()
	all := []error{
		wsman.ErrDestinationUnreachable, wsman.ErrActionNotSupported, wsman.ErrInvalidSelectors, wsman.ErrAccessDenied,
		wsman.ErrInternalError, wsman.ErrSchemaValidation, wsman.ErrInvalidRepresentation, wsman.ErrEncodingLimit,
		wsman.ErrTimedOut, wsman.ErrInvalidEnumerationContext, wsman.ErrInvalidParameter, wsman.ErrUnsupportedFeature,
		wsman.ErrAlreadyExists, wsman.ErrConcurrency, wsman.ErrQuotaLimit, wsman.ErrMessageInformationHeaderMissing,
		wsman.ErrInvalidMessageInformationHeader, wsman.ErrMustUnderstand,
	}
	for _, tc := range []struct {
		space, local string
		want         error
	}{
		{wsman.NSAddressing, "DestinationUnreachable", wsman.ErrDestinationUnreachable},
		{wsman.NSAddressing, "ActionNotSupported", wsman.ErrActionNotSupported},
		{wsman.NSAddressing, "MessageInformationHeaderRequired", wsman.ErrMessageInformationHeaderMissing},
		{wsman.NSAddressing, "InvalidMessageInformationHeader", wsman.ErrInvalidMessageInformationHeader},
		{wsman.NSWSMan, "InvalidSelectors", wsman.ErrInvalidSelectors},
		{wsman.NSWSMan, "AccessDenied", wsman.ErrAccessDenied},
		{wsman.NSWSMan, "InternalError", wsman.ErrInternalError},
		{wsman.NSWSMan, "SchemaValidationError", wsman.ErrSchemaValidation},
		{wsman.NSWSMan, "EncodingLimit", wsman.ErrEncodingLimit},
		{wsman.NSWSMan, "TimedOut", wsman.ErrTimedOut},
		{wsman.NSWSMan, "InvalidParameter", wsman.ErrInvalidParameter},
		{wsman.NSWSMan, "UnsupportedFeature", wsman.ErrUnsupportedFeature},
		{wsman.NSWSMan, "AlreadyExists", wsman.ErrAlreadyExists},
		{wsman.NSWSMan, "Concurrency", wsman.ErrConcurrency},
		{wsman.NSWSMan, "QuotaLimit", wsman.ErrQuotaLimit},
		{wsman.NSTransfer, "InvalidRepresentation", wsman.ErrInvalidRepresentation},
		{wsman.NSTransfer, "AlreadyExists", wsman.ErrAlreadyExists},
		{wsman.NSEnumeration, "InvalidEnumerationContext", wsman.ErrInvalidEnumerationContext},
		{wsman.NSEnumeration, "TimedOut", wsman.ErrTimedOut},
		{wsman.NSSOAP, "MustUnderstand", wsman.ErrMustUnderstand},
	} {
		f := &wsman.Fault{StatusCode: 400, Subcode: wsman.QName{Space: tc.space, Local: tc.local}}
		for _, s := range all {
			assert.Equal(t, s == tc.want, errors.Is(f, s), "{%s}%s against %v", tc.space, tc.local, s)
		}
	}
	// An unknown subcode, or a known name in another namespace, matches none.
	for _, q := range []wsman.QName{{Space: wsman.NSWSMan, Local: "Bogus"}, {Space: wsman.NSEnumeration, Local: "AccessDenied"}} {
		f := &wsman.Fault{Subcode: q}
		for _, s := range all {
			assert.False(t, errors.Is(f, s), "%v against %v", q, s)
		}
	}
}
