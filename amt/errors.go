package amt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
	"github.com/amtkit/amtkit/wsman"
)

// Failure classes. Every error a Client returns for a device call is an
// *Error whose Kind is one of these, so that a person (or a fleet report)
// can tell why a machine failed; match them with errors.Is.
var (
	// ErrUnreachable: nothing answered at the address and port, or the
	// connection failed or timed out.
	ErrUnreachable = errors.New("device unreachable")
	// ErrNotDetected: something answered, but not Intel AMT.
	ErrNotDetected = errors.New("AMT not detected")
	// ErrTLS: the device answered over TLS, but its certificate could not
	// be trusted (unknown authority, wrong name, or a pin mismatch), or the
	// handshake failed (for example, the device refused the client
	// certificate or asked for one that was not given).
	ErrTLS = errors.New("TLS verification failed")
	// ErrAuthFailed: the device rejected the credentials.
	ErrAuthFailed = errors.New("authentication failed")
	// ErrLockedOut: no login was attempted because that would risk locking
	// the AMT account (the device's anti-hammering lockout).
	ErrLockedOut = errors.New("account locked out")
	// ErrNotProvisioned: AMT is present but not provisioned (activated),
	// or the operation needs a provisioning state the device is not in.
	ErrNotProvisioned = errors.New("AMT not provisioned")
	// ErrDevice: the device answered with an error, a fault or a non-zero
	// return value. ReturnCode gives the code where there is one.
	ErrDevice = errors.New("device error")
	// ErrOutcomeUnknown: a request that changes the device (a power
	// change, a boot setting, a method call) was sent, but its answer was
	// lost: the deadline passed, the call was cancelled, the connection
	// failed, or the answer was malformed. The device may or may not have
	// acted; it was not asked again. Read its state before trying again.
	// The error matches wsman.ErrOutcomeUnknown and the cause too.
	ErrOutcomeUnknown = errors.New("outcome unknown")
)

// Error is a classified failure of an operation on one device. It matches
// its Kind and, through Err, the underlying wsman or network error.
type Error struct {
	Host string
	Op   string // e.g. "Inventory"
	Kind error  // one of the Err* failure classes, or nil for cancellation
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("amt: ")
	if e.Host != "" {
		b.WriteString(e.Host)
		b.WriteString(": ")
	}
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	cause := ""
	if e.Err != nil {
		cause = strings.TrimPrefix(e.Err.Error(), "wsman: ")
		if e.Op != "" {
			// wsman names the operation too; say it once.
			cause = strings.TrimPrefix(cause, e.Op+": ")
		}
	}
	if e.Kind != nil && !strings.Contains(cause, e.Kind.Error()) {
		b.WriteString(e.Kind.Error())
		if cause != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(cause)
	return b.String()
}

// Unwrap returns the kind and the cause, so errors.Is matches both.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Is lets a failed login also match credentials.ErrAuthFailed, so that a
// credentials.Resolver recognises it without configuration.
func (e *Error) Is(target error) bool {
	return target == credentials.ErrAuthFailed && e.Kind == ErrAuthFailed
}

// ReturnCode returns the status code a device error carries: the
// ReturnValue of a method, or the AMT-STATUS of a fault.
func ReturnCode(err error) (int, bool) {
	var rv *wsman.ReturnValueError
	if errors.As(err, &rv) {
		return rv.Code, true
	}
	var f *wsman.Fault
	if errors.As(err, &f) && f.HasPTStatus {
		return f.PTStatus, true
	}
	return 0, false
}

// ptInvalidProvisioningState is PT_STATUS INVALID_PROVISIONING_STATE.
const ptInvalidProvisioningState = 32

// classify wraps err as an *Error of the right kind.
func classify(host, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, credentials.ErrLockoutRisk) {
		// The guard refused further logins: the honest answer is that
		// trying would risk the device's lockout.
		return &Error{Host: host, Op: op, Kind: ErrLockedOut, Err: err}
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	return &Error{Host: host, Op: op, Kind: kindOf(err), Err: err}
}

func kindOf(err error) error {
	var (
		httpErr   *wsman.HTTPError
		certErr   *tls.CertificateVerificationError
		unknown   x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		recErr    tls.RecordHeaderError
		alertErr  tls.AlertError
		netErr    net.Error
		opErr     *net.OpError
		rv        *wsman.ReturnValueError
		fault     *wsman.Fault
		decodeErr *wsman.DecodeError
	)
	switch {
	case errors.Is(err, wsman.ErrOutcomeUnknown):
		// Before everything else: a sent change whose wait ended in a
		// cancellation, a timeout or a reset is neither of those.
		return ErrOutcomeUnknown
	case errors.Is(err, context.Canceled):
		return nil
	case errors.Is(err, power.ErrNotAvailable), errors.Is(err, power.ErrTransitioning), errors.Is(err, power.ErrUnsupported),
		errors.Is(err, power.ErrNotReached):
		// Refused before anything was sent: not a failure of the device.
		return nil
	case errors.Is(err, wsman.ErrCertificatePin), errors.As(err, &certErr), errors.As(err, &unknown),
		errors.As(err, &hostErr), errors.As(err, &invalid), errors.As(err, &alertErr):
		return ErrTLS
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// crypto/tls reports an alert from the peer this way: the
		// device refused the handshake, typically because mutual TLS
		// needs a client certificate it trusts, or because the TLS
		// versions do not overlap.
		return ErrTLS
	case errors.As(err, &recErr), errors.Is(err, http.ErrSchemeMismatch):
		// A TLS client met a plain-text server: something answers, but
		// it does not speak TLS as AMT's TLS port does. (net/http turns
		// the record header error into ErrSchemeMismatch when the
		// answer looks like HTTP.)
		return ErrNotDetected
	case errors.As(err, &httpErr) && !IsAMTServer(httpErr.Server):
		// AMT names itself in the Server header of every answer, 401s
		// included; anything else is another web server.
		return ErrNotDetected
	case errors.Is(err, wsman.ErrUnauthorized), errors.Is(err, redirect.ErrAuthFailed):
		return ErrAuthFailed
	case errors.Is(err, redirect.ErrRefused), errors.Is(err, redirect.ErrProtocol), errors.Is(err, redirect.ErrConsentRequired),
		errors.Is(err, redirect.ErrRestore), errors.Is(err, redirect.ErrPeerClosed):
		return ErrDevice
	case errors.As(err, &rv):
		if code, ok := rv.PTStatus(); ok && code == ptInvalidProvisioningState {
			return ErrNotProvisioned
		}
		return ErrDevice
	case errors.As(err, &fault):
		if fault.HasPTStatus && fault.PTStatus == ptInvalidProvisioningState {
			return ErrNotProvisioned
		}
		return ErrDevice
	case errors.As(err, &httpErr):
		return ErrDevice
	case errors.As(err, &decodeErr) && decodeErr.Server != "" && !IsAMTServer(decodeErr.Server):
		// A web server that is not AMT answered 200 with something that
		// is not WS-Management.
		return ErrNotDetected
	case errors.Is(err, wsman.ErrMalformedResponse), errors.Is(err, wsman.ErrNoProperty),
		errors.Is(err, wsman.ErrResponseTooLarge), errors.Is(err, wsman.ErrRealmChanged):
		// The device answered, but not with what the operation needs.
		return ErrDevice
	case strings.Contains(err.Error(), "malformed HTTP"):
		// Something answers on the port, but not with HTTP. net/http
		// has no error type for this.
		return ErrNotDetected
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &opErr), errors.As(err, &netErr):
		return ErrUnreachable
	}
	return ErrUnreachable
}
