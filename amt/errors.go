package amt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

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
	// It is wsman.ErrOutcomeUnknown (one failure, one identity), and the
	// error matches the cause too.
	ErrOutcomeUnknown = wsman.ErrOutcomeUnknown
	// ErrInvalidArgument: the call was refused before anything was sent
	// because an argument is wrong (an unknown boot target, options that
	// contradict each other, boot options without an image): a caller
	// mistake. It is wsman.ErrInvalidArgument, which power and redirect
	// use too.
	ErrInvalidArgument = wsman.ErrInvalidArgument
)

// Error is a classified failure of an operation on one device. It matches
// its Kind and, through Err, the underlying wsman or network error. Kind is
// nil for a cancellation, for a refusal before anything was sent (a power
// action the device does not offer now), and for a cause this package does
// not know: the message then carries the cause as it is.
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
		// The resolver names the device too; the host was said above.
		if e.Host != "" {
			cause = strings.TrimPrefix(cause, "credentials: "+e.Host+": ")
			cause = strings.TrimPrefix(cause, "credentials: "+hostOnly(e.Host)+": ")
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

// Is lets a failed login also match credentials.ErrAuthFailed, and an
// AccessDenied fault credentials.ErrAccessDenied, so that a
// credentials.Resolver recognises them without configuration.
func (e *Error) Is(target error) bool {
	return (target == credentials.ErrAuthFailed && e.Kind == ErrAuthFailed) ||
		(target == credentials.ErrAccessDenied && errors.Is(e.Err, wsman.ErrAccessDenied))
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// loginError is the error a login attempt gives the credential resolver:
// classified, so that the resolver and the caller see the failure class,
// but without the host, which the resolver and classify add once.
type loginError struct {
	kind error
	err  error
}

func (e *loginError) Error() string {
	cause := strings.TrimPrefix(e.err.Error(), "wsman: ")
	if e.kind != nil && !strings.Contains(cause, e.kind.Error()) {
		return e.kind.Error() + ": " + cause
	}
	return cause
}

func (e *loginError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

// Is lets a rejected login match credentials.ErrAuthFailed.
func (e *loginError) Is(target error) bool {
	return target == credentials.ErrAuthFailed && e.kind == ErrAuthFailed
}

// classifyLogin classifies err of a login attempt without naming the host.
func classifyLogin(err error) error {
	if err == nil {
		return nil
	}
	return &loginError{kind: kindOf(err), err: err}
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
		// Classified by a layer below (a power call inside a boot from
		// an image): the host is said once already.
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
	var le *loginError
	if errors.As(err, &le) {
		return le.kind
	}
	switch {
	case errors.Is(err, wsman.ErrInvalidArgument):
		return ErrInvalidArgument
	case errors.Is(err, wsman.ErrOutcomeUnknown):
		// Before everything else: a sent change whose wait ended in a
		// cancellation, a timeout or a reset is neither of those.
		return ErrOutcomeUnknown
	case errors.Is(err, context.Canceled):
		return nil
	case errors.Is(err, power.ErrNotAvailable), errors.Is(err, power.ErrTransitioning), errors.Is(err, power.ErrUnsupported),
		errors.Is(err, power.ErrNotReached), errors.Is(err, power.ErrStateUnknown):
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
		errors.As(err, &opErr), errors.As(err, &netErr),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// Nothing answered, or the connection failed before an answer:
		// for a read (a change would be outcome unknown, above).
		return ErrUnreachable
	}
	// A cause this package does not know stays unclassified: saying
	// "unreachable" (or anything else) would be a guess.
	return nil
}
