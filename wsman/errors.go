package wsman

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors for SOAP fault subcodes. A *Fault matches the sentinel of
// its subcode with errors.Is.
var (
	ErrDestinationUnreachable          = errors.New("destination unreachable")
	ErrActionNotSupported              = errors.New("action not supported")
	ErrInvalidSelectors                = errors.New("invalid selectors")
	ErrAccessDenied                    = errors.New("access denied")
	ErrInternalError                   = errors.New("internal error")
	ErrSchemaValidation                = errors.New("schema validation error")
	ErrInvalidRepresentation           = errors.New("invalid representation")
	ErrEncodingLimit                   = errors.New("encoding limit")
	ErrTimedOut                        = errors.New("timed out")
	ErrInvalidEnumerationContext       = errors.New("invalid enumeration context")
	ErrInvalidParameter                = errors.New("invalid parameter")
	ErrUnsupportedFeature              = errors.New("unsupported feature")
	ErrAlreadyExists                   = errors.New("already exists")
	ErrConcurrency                     = errors.New("concurrency")
	ErrQuotaLimit                      = errors.New("quota limit")
	ErrMessageInformationHeaderMissing = errors.New("message information header required")
	ErrInvalidMessageInformationHeader = errors.New("invalid message information header")
	ErrMustUnderstand                  = errors.New("must understand")
)

// Transport-level sentinel errors.
var (
	// ErrUnauthorized means the device rejected the credentials (HTTP 401
	// to a request that carried them), or that the client holds no
	// credentials for an operation that needs them. The client never
	// retries it: repeated failed logins lock the AMT account.
	ErrUnauthorized = errors.New("authentication failed")
	// ErrResponseTooLarge means the device sent more than the client's
	// response size limit.
	ErrResponseTooLarge = errors.New("response too large")
	// ErrMalformedResponse means the response could not be decoded as the
	// WS-Management message the operation expects.
	ErrMalformedResponse = errors.New("malformed response")
	// ErrOutcomeUnknown means a request that changes the device (an
	// Invoke, Create, Delete or Put) was sent, but no complete, well-formed
	// answer came back: the deadline passed, the context was cancelled,
	// the connection was reset or ended early, or the answer could not be
	// decoded. The device may or may not have carried it out. The client
	// never resends such a request; read the device's state instead.
	ErrOutcomeUnknown = errors.New("outcome unknown")
	// ErrNotSent means a request that changes the device was not sent
	// because the function given to WithBeforeChange failed.
	ErrNotSent = errors.New("change not sent")
	// ErrInvalidArgument means the call was refused before anything was
	// sent because an argument is wrong: a caller mistake, never a
	// failure of the device. Packages above wsman (power, redirect, amt)
	// use the same sentinel, through *ArgumentError.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrRealmChanged means the device answered with a digest realm other
	// than the one it used first, which can mean a different machine
	// answers at the address.
	ErrRealmChanged = errors.New("digest realm changed")
)

var (
	errNoCredentials = fmt.Errorf("%w: no credentials configured", ErrUnauthorized)
	errLatched       = fmt.Errorf("%w: not sent, because the device already rejected this client's credentials and another failed login would count towards the account lockout; use a new client with other credentials", ErrUnauthorized)
)

// QName is an XML qualified name resolved to its namespace URI.
type QName struct {
	Space string // namespace URI
	Local string
}

func (q QName) String() string {
	if q.Space == "" {
		return q.Local
	}
	return "{" + q.Space + "}" + q.Local
}

// Fault is a SOAP fault returned by the device.
type Fault struct {
	StatusCode  int    // HTTP status of the response (400 for AMT faults)
	Action      string // wsa:Action of the fault message
	Code        QName  // Sender or Receiver, in the SOAP envelope namespace
	Subcode     QName  // e.g. {wsman}AccessDenied
	Reason      string
	Detail      string // text content of the Detail element, if any
	PTStatus    int    // AMT status from a Detail of the form "AMT-STATUS <n>"
	HasPTStatus bool
}

func (f *Fault) Error() string {
	var b strings.Builder
	b.WriteString("fault ")
	if f.Subcode.Local != "" {
		b.WriteString(f.Subcode.Local)
	} else {
		b.WriteString(f.Code.Local)
	}
	if f.Reason != "" {
		b.WriteString(": ")
		b.WriteString(f.Reason)
	}
	if f.HasPTStatus {
		fmt.Fprintf(&b, " (AMT-STATUS %d %s)", f.PTStatus, PTStatusName(f.PTStatus))
	} else if f.Detail != "" {
		b.WriteString(" (")
		b.WriteString(f.Detail)
		b.WriteString(")")
	}
	return b.String()
}

// faultSentinels maps subcodes to sentinel errors, keyed by namespace URI and
// local name.
var faultSentinels = map[QName]error{
	{NSAddressing, "DestinationUnreachable"}:           ErrDestinationUnreachable,
	{NSAddressing, "ActionNotSupported"}:               ErrActionNotSupported,
	{NSAddressing, "MessageInformationHeaderRequired"}: ErrMessageInformationHeaderMissing,
	{NSAddressing, "InvalidMessageInformationHeader"}:  ErrInvalidMessageInformationHeader,
	{NSWSMan, "InvalidSelectors"}:                      ErrInvalidSelectors,
	{NSWSMan, "AccessDenied"}:                          ErrAccessDenied,
	{NSWSMan, "InternalError"}:                         ErrInternalError,
	{NSWSMan, "SchemaValidationError"}:                 ErrSchemaValidation,
	{NSWSMan, "EncodingLimit"}:                         ErrEncodingLimit,
	{NSWSMan, "TimedOut"}:                              ErrTimedOut,
	{NSWSMan, "InvalidParameter"}:                      ErrInvalidParameter,
	{NSWSMan, "UnsupportedFeature"}:                    ErrUnsupportedFeature,
	{NSWSMan, "AlreadyExists"}:                         ErrAlreadyExists,
	{NSWSMan, "Concurrency"}:                           ErrConcurrency,
	{NSWSMan, "QuotaLimit"}:                            ErrQuotaLimit,
	{NSTransfer, "InvalidRepresentation"}:              ErrInvalidRepresentation,
	{NSTransfer, "AlreadyExists"}:                      ErrAlreadyExists,
	{NSEnumeration, "InvalidEnumerationContext"}:       ErrInvalidEnumerationContext,
	{NSEnumeration, "TimedOut"}:                        ErrTimedOut,
	{NSSOAP, "MustUnderstand"}:                         ErrMustUnderstand,
}

// Is reports whether target is the sentinel error for the fault's subcode.
func (f *Fault) Is(target error) bool {
	s, ok := faultSentinels[f.Subcode]
	return ok && s == target
}

// parsePTStatus reads "AMT-STATUS <n>" anywhere in a fault detail; n is
// decimal or 0x-prefixed hexadecimal.
func parsePTStatus(detail string) (int, bool) {
	i := strings.Index(detail, "AMT-STATUS")
	if i < 0 {
		return 0, false
	}
	rest := strings.TrimLeft(detail[i+len("AMT-STATUS"):], " :=\t\r\n")
	end := strings.IndexFunc(rest, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == 'x' || r == 'X')
	})
	if end < 0 {
		end = len(rest)
	}
	n, err := strconv.ParseInt(rest[:end], 0, 32)
	if err != nil || n < 0 {
		return 0, false
	}
	return int(n), true
}

// ReturnValueError is returned by Invoke when the device answered a method
// call with a non-zero ReturnValue.
type ReturnValueError struct {
	Class  string // class name, e.g. CIM_PowerManagementService
	Method string
	Code   int
}

func (e *ReturnValueError) Error() string {
	return fmt.Sprintf("%s.%s returned %d (%s)", e.Class, e.Method, e.Code, ReturnCodeName(e.Class, e.Code))
}

// PTStatus returns the Intel PT_STATUS carried by the return value: the
// value itself for Intel classes, the value less 32768 for a DMTF class's
// vendor-range code. ok is false for a DMTF class's own codes.
func (e *ReturnValueError) PTStatus() (code int, ok bool) {
	if !isDMTFClass(e.Class) {
		return e.Code, true
	}
	if e.Code >= 32768 && e.Code <= 65535 {
		return e.Code - 32768, true
	}
	return 0, false
}

// HTTPError is returned for an HTTP status the client does not decode as a
// WS-Management message: 401 (it matches ErrUnauthorized), 403, 404, 500
// without a SOAP fault, 503 after retries, and so on.
type HTTPError struct {
	StatusCode int
	Status     string
	Server     string // the Server header, which names AMT and its version
	Body       string // the start of the body, for diagnosis
}

func (e *HTTPError) Error() string {
	if e.StatusCode == 401 {
		return "authentication failed (HTTP 401)"
	}
	return "unexpected HTTP status " + e.Status
}

// Is makes a 401 match ErrUnauthorized.
func (e *HTTPError) Is(target error) bool {
	return target == ErrUnauthorized && e.StatusCode == 401
}

// DecodeError is returned when a response cannot be decoded. It matches
// ErrMalformedResponse.
type DecodeError struct {
	Reason string
	Err    error
	// Server is the HTTP Server header of the response, when the error
	// came from a request: it tells AMT from another web server.
	Server string
}

func (e *DecodeError) Error() string {
	if e.Err != nil {
		return "malformed response: " + e.Reason + ": " + e.Err.Error()
	}
	return "malformed response: " + e.Reason
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Is makes every DecodeError match ErrMalformedResponse.
func (e *DecodeError) Is(target error) bool { return target == ErrMalformedResponse }

func malformed(reason string, err error) error { return &DecodeError{Reason: reason, Err: err} }

// OutcomeUnknownError is returned when a request that changes the device
// was written but no complete answer came back. It matches
// ErrOutcomeUnknown and unwraps to the cause (a context error, a transport
// error, a *DecodeError).
type OutcomeUnknownError struct {
	Op  string // e.g. "Invoke CIM_PowerManagementService.RequestPowerStateChange"
	Err error
}

func (e *OutcomeUnknownError) Error() string {
	return e.Op + ": outcome unknown: the request was sent, but whether the device acted on it is unknown (" + e.Err.Error() + "); it was not resent: read the device's state before trying again"
}

func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// Is makes the error match ErrOutcomeUnknown.
func (e *OutcomeUnknownError) Is(target error) bool { return target == ErrOutcomeUnknown }

// ArgumentError is a caller mistake found before anything was sent. It
// matches ErrInvalidArgument.
type ArgumentError struct {
	Reason string // e.g. "power: unknown boot target 99"
}

func (e *ArgumentError) Error() string { return e.Reason }

// Is makes the error match ErrInvalidArgument.
func (e *ArgumentError) Is(target error) bool { return target == ErrInvalidArgument }

// InvalidArgument returns an *ArgumentError with the formatted reason.
func InvalidArgument(format string, args ...any) error {
	return &ArgumentError{Reason: fmt.Sprintf(format, args...)}
}
