package amt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/wsman"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	amtServer := "Intel(R) Active Management Technology 11.8.50.3425"
	tests := []struct {
		name string
		err  error
		kind error
	}{
		{"unprovisioned method (Intel class)",
			&wsman.ReturnValueError{Class: "AMT_SetupAndConfigurationService", Method: "CommitChanges", Code: 32}, ErrNotProvisioned},
		{"unprovisioned method (DMTF class, vendor range)",
			&wsman.ReturnValueError{Class: "CIM_BootService", Method: "SetBootConfigRole", Code: 32768 + 32}, ErrNotProvisioned},
		{"DMTF code 32 is not PT_STATUS 32",
			&wsman.ReturnValueError{Class: "CIM_BootService", Method: "SetBootConfigRole", Code: 32}, ErrDevice},
		{"other method failure",
			&wsman.ReturnValueError{Class: "AMT_SetupAndConfigurationService", Method: "Unprovision", Code: 2076}, ErrDevice},
		{"fault with AMT-STATUS 32", &wsman.Fault{StatusCode: 400, PTStatus: 32, HasPTStatus: true}, ErrNotProvisioned},
		{"fault with other AMT-STATUS", &wsman.Fault{StatusCode: 400, PTStatus: 1, HasPTStatus: true}, ErrDevice},
		{"fault without AMT-STATUS", &wsman.Fault{StatusCode: 400}, ErrDevice},
		{"401 from AMT", &wsman.HTTPError{StatusCode: 401, Server: amtServer}, ErrAuthFailed},
		{"401 from another server", &wsman.HTTPError{StatusCode: 401, Server: "lighttpd"}, ErrNotDetected},
		{"500 from AMT", &wsman.HTTPError{StatusCode: 500, Server: amtServer}, ErrDevice},
		{"404 from another server", &wsman.HTTPError{StatusCode: 404}, ErrNotDetected},
		{"malformed", fmt.Errorf("wsman: Get X: %w", wsman.ErrMalformedResponse), ErrDevice},
		{"missing property", fmt.Errorf("wsman: %w: AMT_SetupAndConfigurationService.ProvisioningState", wsman.ErrNoProperty), ErrDevice},
		{"too large", fmt.Errorf("wsman: Get X: %w", wsman.ErrResponseTooLarge), ErrDevice},
		{"realm changed", fmt.Errorf("wsman: Get X: %w", wsman.ErrRealmChanged), ErrDevice},
		{"pin", fmt.Errorf("wsman: Get X: %w", wsman.ErrCertificatePin), ErrTLS},
		{"alert sent", fmt.Errorf("handshake: %w", tls.AlertError(42)), ErrTLS},
		{"alert received", &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, ErrTLS},
		{"plain HTTP on a TLS client", fmt.Errorf("wsman: Identify: %w", http.ErrSchemeMismatch), ErrNotDetected},
		{"not TLS", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, ErrNotDetected},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, ErrUnreachable},
		{"reset", fmt.Errorf("wsman: Get X: %w", syscall.ECONNRESET), ErrUnreachable},
		{"closed", fmt.Errorf("wsman: Get X: %w", io.EOF), ErrUnreachable},
		{"timeout", fmt.Errorf("wsman: Get X: %w", context.DeadlineExceeded), ErrUnreachable},
		{"outcome unknown", &wsman.OutcomeUnknownError{Op: "Invoke X.Y", Err: io.ErrUnexpectedEOF}, ErrOutcomeUnknown},
		{"outcome unknown after the deadline", fmt.Errorf("wsman: %w", &wsman.OutcomeUnknownError{Op: "Invoke X.Y", Err: context.DeadlineExceeded}), ErrOutcomeUnknown},
		{"outcome unknown after a cancellation", fmt.Errorf("wsman: %w", &wsman.OutcomeUnknownError{Op: "Invoke X.Y", Err: context.Canceled}), ErrOutcomeUnknown},
		{"outcome unknown after a malformed answer", &wsman.OutcomeUnknownError{Op: "Invoke X.Y", Err: &wsman.DecodeError{Reason: "x"}}, ErrOutcomeUnknown},
		{"canceled", fmt.Errorf("wsman: Get X: %w", context.Canceled), nil},
	}
	for _, tt := range tests {
		err := classify("192.0.2.10:16992", "Op", tt.err)
		var ae *Error
		require.ErrorAs(t, err, &ae, tt.name)
		assert.Equal(t, tt.kind, ae.Kind, tt.name)
		assert.ErrorIs(t, err, tt.err, "%s: the cause stays reachable", tt.name)
		if tt.kind != nil {
			assert.ErrorIs(t, err, tt.kind, tt.name)
		}
	}
	assert.NoError(t, classify("h", "Op", nil))
	once := classify("h", "Inventory", io.EOF)
	assert.Same(t, once, classify("h", "Other", once), "an *Error is not wrapped twice")
}

func TestReturnCode(t *testing.T) {
	t.Parallel()
	code, ok := ReturnCode(classify("h", "Op", &wsman.ReturnValueError{Class: "AMT_SetupAndConfigurationService", Method: "Unprovision", Code: 2076}))
	assert.True(t, ok)
	assert.Equal(t, 2076, code)
	code, ok = ReturnCode(fmt.Errorf("x: %w", &wsman.Fault{PTStatus: 2053, HasPTStatus: true}))
	assert.True(t, ok)
	assert.Equal(t, 2053, code)
	_, ok = ReturnCode(&wsman.Fault{})
	assert.False(t, ok)
	_, ok = ReturnCode(io.EOF)
	assert.False(t, ok)
	_, ok = ReturnCode(nil)
	assert.False(t, ok)
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	err := classify("192.0.2.10:16992", "Inventory", fmt.Errorf("wsman: Get AMT_GeneralSettings: %w", &wsman.HTTPError{StatusCode: 500, Status: "500 Internal Server Error", Server: "Intel(R) Active Management Technology 11.8.50.3425"}))
	assert.Equal(t, "amt: 192.0.2.10:16992: Inventory: device error: Get AMT_GeneralSettings: unexpected HTTP status 500 Internal Server Error", err.Error())

	err = classify("192.0.2.10:16992", "Identify", fmt.Errorf("wsman: Identify: %w", &wsman.HTTPError{StatusCode: 401, Server: "Intel(R) Active Management Technology"}))
	assert.Equal(t, "amt: 192.0.2.10:16992: Identify: authentication failed (HTTP 401)", err.Error(), "neither the kind nor the operation is said twice")

	err = classify("192.0.2.10:16992", "Inventory", fmt.Errorf("wsman: Get AMT_GeneralSettings: %w", context.Canceled))
	assert.Equal(t, "amt: 192.0.2.10:16992: Inventory: Get AMT_GeneralSettings: context canceled", err.Error())

	assert.Equal(t, "amt: AMT not detected", (&Error{Kind: ErrNotDetected}).Error())
}
