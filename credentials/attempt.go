package credentials

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// Origin says where a candidate credential came from.
type Origin int

// Origins, in the resolver's default order.
const (
	// Task is the credential given for one job or command (--user/--password).
	Task Origin = iota + 1
	// Named is the profile the job names.
	Named
	// Default is the store's default profile.
	Default
	// Runtime is the runtime profile's entry for the host: the credential
	// that last worked there.
	Runtime
	// Other is any other profile, tried only when the resolver allows it.
	Other
)

var originNames = map[Origin]string{
	Task:    "task",
	Named:   "profile",
	Default: "default",
	Runtime: "runtime",
	Other:   "other",
}

// String returns "task", "profile", "default", "runtime" or "other".
func (o Origin) String() string {
	if s, ok := originNames[o]; ok {
		return s
	}
	return fmt.Sprintf("origin(%d)", int(o))
}

// Valid reports whether o is one of the defined origins.
func (o Origin) Valid() bool { _, ok := originNames[o]; return ok }

// ParseOrigin parses the names String returns.
func ParseOrigin(s string) (Origin, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for o, name := range originNames {
		if name == s {
			return o, nil
		}
	}
	if s == "named" {
		return Named, nil
	}
	return 0, fmt.Errorf("credentials: unknown origin %q (want task, profile, default, runtime or other)", s)
}

// MarshalText encodes o as its name.
func (o Origin) MarshalText() ([]byte, error) {
	if !o.Valid() {
		if o == 0 {
			return []byte(""), nil
		}
		return nil, fmt.Errorf("credentials: cannot encode %v", o)
	}
	return []byte(o.String()), nil
}

// UnmarshalText decodes a name written by MarshalText.
func (o *Origin) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*o = 0
		return nil
	}
	v, err := ParseOrigin(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// Outcome is what became of one candidate during a resolution.
type Outcome int

// Outcomes.
const (
	// Succeeded: the credential worked; resolution ended here.
	Succeeded Outcome = iota + 1
	// AuthFailed: the device rejected the credential; resolution moved on.
	AuthFailed
	// Failed: any other error (network, TLS, timeout, cancellation);
	// resolution stopped here.
	Failed
	// Skipped: the guard refused the candidate because it already failed on
	// this host within the guard's window; resolution moved on.
	Skipped
	// NotTried: resolution ended before this candidate (success, a stop, or
	// the guard's budget was spent).
	NotTried
	// Denied: the credential logged in but the device refused it the
	// operation (AccessDenied); resolution moved on, and it cost no failed
	// login.
	Denied
)

var outcomeNames = map[Outcome]string{
	Succeeded:  "succeeded",
	AuthFailed: "auth_failed",
	Failed:     "failed",
	Skipped:    "skipped",
	NotTried:   "not_tried",
	Denied:     "denied",
}

// String returns "succeeded", "auth_failed", "failed", "skipped", "not_tried"
// or "denied".
func (o Outcome) String() string {
	if s, ok := outcomeNames[o]; ok {
		return s
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// MarshalText encodes o as its name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Candidate is one credential the resolver would try, with where it came from.
type Candidate struct {
	Origin Origin
	// Profile is the profile's name; empty for a task credential; for a
	// runtime candidate, the profile it was learned from, if any.
	Profile    string
	Credential Credential
}

// String describes c without secrets.
func (c Candidate) String() string {
	return fmt.Sprintf("%s %s", describe(c.Origin, c.Profile), c.Credential)
}

// LogValue records the origin, profile and user, never secrets.
func (c Candidate) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("origin", c.Origin.String()),
		slog.String("profile", c.Profile),
		slog.Any("credential", c.Credential),
	)
}

func describe(o Origin, profile string) string {
	if profile == "" {
		return o.String()
	}
	return fmt.Sprintf("%s %q", o, profile)
}

// Attempt reports what became of one candidate, for reports. It holds no
// credential, only where the candidate came from.
type Attempt struct {
	Origin  Origin
	Profile string
	Outcome Outcome
	// Err is the error of an AuthFailed or Failed attempt, ErrRecentlyFailed
	// for a Skipped one, and nil for NotTried. For Succeeded it is nil unless
	// the success could not be recorded in the runtime profile.
	Err error
}

// String describes the attempt, e.g. `profile "corp": auth_failed: ...`.
func (a Attempt) String() string {
	s := describe(a.Origin, a.Profile) + ": " + a.Outcome.String()
	if a.Err != nil {
		s += ": " + a.Err.Error()
	}
	return s
}

// LogValue records origin, profile, outcome and error.
func (a Attempt) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("origin", a.Origin.String()),
		slog.String("profile", a.Profile),
		slog.String("outcome", a.Outcome.String()),
	}
	if a.Err != nil {
		attrs = append(attrs, slog.String("error", a.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes the attempt for reports:
// {"origin":"profile","profile":"corp","outcome":"auth_failed","error":"..."}.
func (a Attempt) MarshalJSON() ([]byte, error) {
	v := struct {
		Origin  string `json:"origin"`
		Profile string `json:"profile,omitempty"`
		Outcome string `json:"outcome"`
		Error   string `json:"error,omitempty"`
	}{Origin: a.Origin.String(), Profile: a.Profile, Outcome: a.Outcome.String()}
	if a.Err != nil {
		v.Error = a.Err.Error()
	}
	return json.Marshal(v)
}
