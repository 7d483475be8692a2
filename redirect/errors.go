package redirect

import (
	"errors"
	"fmt"
	"strings"

	"github.com/amtkit/amtkit/wsman"
)

// Sentinel errors. The typed errors below match them with errors.Is.
var (
	// ErrRefused: the device refused the session or the device
	// (StartRedirectionSessionReply, OPEN_SESSION_REPLY or the enable
	// request answered with a non-zero status). Returned as *RefusedError.
	ErrRefused = errors.New("redirection refused")
	// ErrAuthFailed: the device rejected the credentials. Dial never
	// retries it: AMT counts failed logins on the redirection port and on
	// WS-Management together and locks the account after a few.
	// It is wsman.ErrUnauthorized: one failure, one identity, whichever
	// port refused the login.
	ErrAuthFailed = wsman.ErrUnauthorized
	// ErrProtocol: the device sent something the protocol does not allow
	// (an unknown command, a bad length, a sequence number out of order).
	// Returned as *ProtocolError. The session is unusable afterwards.
	ErrProtocol = errors.New("redirection protocol violation")
	// ErrPeerClosed: the device closed the connection before the session
	// ended.
	ErrPeerClosed = errors.New("connection closed by the device")
	// ErrConsentRequired: the device requires user consent for storage
	// redirection and no way to obtain the code was given. Returned as
	// *ConsentRequiredError, after everything changed was restored.
	ErrConsentRequired = errors.New("user consent required")
	// ErrRestore: BootFromImage could not put back every setting it
	// changed. Returned as *RestoreError.
	ErrRestore = errors.New("settings not restored")
)

// RefusedError is a refusal by the device, with the status it gave.
type RefusedError struct {
	Stage  string // "session", "IDE-R open", "IDE-R enable", "SOL start"
	Status uint32
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("redirect: %s refused by the device (status %d)", e.Stage, e.Status)
}

// Is matches ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// AuthError is a rejected login. Err, when set, is what ended the exchange
// (the device may close the connection instead of answering).
type AuthError struct {
	User string
	Type byte // authentication type used: 3 or 4 (digest)
	Err  error
}

func (e *AuthError) Error() string {
	s := fmt.Sprintf("redirect: authentication failed for user %q (digest type %d)", e.User, e.Type)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches ErrAuthFailed.
func (e *AuthError) Is(target error) bool { return target == ErrAuthFailed }

func (e *AuthError) Unwrap() error { return e.Err }

// ProtocolError describes a protocol violation: what was expected and what
// the device sent.
type ProtocolError struct {
	Op       string // what the client was doing, e.g. "IDE-R open"
	Expected string
	Got      string
}

func (e *ProtocolError) Error() string {
	var b strings.Builder
	b.WriteString("redirect: protocol violation")
	if e.Op != "" {
		b.WriteString(" during ")
		b.WriteString(e.Op)
	}
	if e.Expected != "" {
		b.WriteString(": expected ")
		b.WriteString(e.Expected)
	}
	if e.Got != "" {
		b.WriteString(", got ")
		b.WriteString(e.Got)
	}
	return b.String()
}

// Is matches ErrProtocol.
func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

func protoErr(op, expected, format string, args ...any) error {
	return &ProtocolError{Op: op, Expected: expected, Got: fmt.Sprintf(format, args...)}
}

// PeerClosedError is a connection the device closed (or reset) in the
// middle of an exchange.
type PeerClosedError struct {
	Op  string
	Err error // the network error, io.EOF for an orderly close
}

func (e *PeerClosedError) Error() string {
	return fmt.Sprintf("redirect: %s: connection closed by the device (%v)", e.Op, e.Err)
}

// Is matches ErrPeerClosed.
func (e *PeerClosedError) Is(target error) bool { return target == ErrPeerClosed }

func (e *PeerClosedError) Unwrap() error { return e.Err }

// ConsentRequiredError is returned when the device requires user consent
// (IPS_OptInService.OptInRequired = all) and BootOptions.ConsentCode is
// nil. Nothing that was changed before is left changed.
type ConsentRequiredError struct {
	OptInRequired uint64 // 4294967295: KVM, IDE-R, SOL and boot options
	OptInState    uint64 // 0 not started, 1 requested, 2 displayed
}

func (e *ConsentRequiredError) Error() string {
	return fmt.Sprintf("redirect: the device requires user consent for redirection (opt-in state %d); supply the code shown on the machine's screen", e.OptInState)
}

// Is matches ErrConsentRequired.
func (e *ConsentRequiredError) Is(target error) bool { return target == ErrConsentRequired }

// RestoreError lists what BootFromImage could not put back.
type RestoreError struct {
	Errs []error
}

func (e *RestoreError) Error() string {
	parts := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		parts[i] = err.Error()
	}
	return "redirect: restoring settings: " + strings.Join(parts, "; ")
}

// Is matches ErrRestore.
func (e *RestoreError) Is(target error) bool { return target == ErrRestore }

func (e *RestoreError) Unwrap() []error { return e.Errs }
