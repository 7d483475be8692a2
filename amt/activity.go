package amt

import (
	"context"
	"errors"
	"maps"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/redirect"
	"github.com/amtkit/amtkit/wsman"
)

// Activity is one entry of an activity log: who did what to which machine,
// and how it ended. It never holds a secret: Params carries no password, and
// Profile is a profile's name.
type Activity struct {
	Time  time.Time `json:"time"`
	Actor string    `json:"actor"`
	// Host is the machine, as the caller named it (host or host:port).
	Host string `json:"host"`
	// Operation is what was asked: "power reset", "boot next pxe",
	// "ider boot", "info", "login", ...
	Operation string `json:"operation"`
	// Params are the operation's parameters, without secrets.
	Params map[string]string `json:"params"`
	// Technology is what carried the operation: TechWSMan or
	// TechRedirection.
	Technology string `json:"technology"`
	// Profile names the credential profile used, when one was.
	Profile string `json:"profile"`
	// Outcome is OutcomeOK or the failure class (see OutcomeOf).
	Outcome string `json:"outcome"`
	// ReturnCode and ReturnCodeName are the device's status code, when it
	// answered with one.
	ReturnCode     *int   `json:"return_code"`
	ReturnCodeName string `json:"return_code_name"`
	// AuthStep says which step refused an authentication: "wsman login on
	// port 16992", "tls handshake on port 16993", "redirection login on port
	// 16994", or "access denied for <operation> as <user>".
	AuthStep string `json:"auth_step"`
	// Job is the fleet job the operation belonged to, if any.
	Job      string        `json:"job"`
	Duration time.Duration `json:"duration"`
	// Message is the error, on one line, when the operation failed.
	Message string `json:"message"`
}

// Technologies of an Activity.
const (
	TechWSMan       = "wsman"
	TechRedirection = "redirection"
)

// Outcomes of an Activity besides the failure classes.
const (
	OutcomeOK        = "ok"
	OutcomeUnknown   = "outcome_unknown"
	OutcomeCancelled = "cancelled"
	OutcomeRefused   = "refused"
	OutcomeFailure   = "failure"
)

// ActivityLog receives activity entries. Record must not block for long:
// a log that writes to a database batches the writes.
type ActivityLog interface {
	Record(Activity)
}

type activityConfig struct {
	log   ActivityLog
	actor string
	job   string
}

// WithActivityLog records in log, under the actor given (an OS user name,
// an operator, a service), the client's logins and one entry per operation
// of its services: c.Power and its boot options ("power status", "power
// reset", "boot next pxe", "boot clear", ...), c.Defense ("defense apply",
// "defense remove", ...), c.Redirect ("sol", "ider session", "ider boot",
// "ider restore", "redirect status", "redirect set") and c.Clock ("time",
// "time set"), each with its parameters (never a secret), outcome, the
// device's return code and duration. An operation made of others (a boot
// from an image arms and clears the boot options) is one entry. job, when
// not empty, names the fleet job the client works for.
func WithActivityLog(log ActivityLog, actor, job string) Option {
	return func(o *options) error {
		if log == nil {
			return errors.New("amt: nil activity log")
		}
		o.activity = &activityConfig{log: log, actor: actor, job: job}
		return nil
	}
}

// Track starts recording an operation in the client's activity log and
// returns the function that ends it with the operation's error (nil for
// success), for operations the services do not record themselves (calls
// through WSMan, say). Without WithActivityLog it records nothing. params
// must not hold secrets. To make several service calls one entry, use
// TrackContext and make the calls under the context it returns.
func (c *Client) Track(operation, technology string, params map[string]string) func(err error) {
	if c.activity == nil {
		return func(error) {}
	}
	start := time.Now()
	params = maps.Clone(params)
	return func(err error) {
		c.activity.log.Record(c.ActivityOf(operation, technology, params, start, err))
	}
}

// activityKey marks a context in which an entry of the client is being
// recorded: the services leave their own calls under it out.
type activityKey struct{ c *Client }

// TrackContext is Track for a group of service calls: the calls made
// under the returned context are not recorded on their own, the group is
// one entry.
func (c *Client) TrackContext(ctx context.Context, operation, technology string, params map[string]string) (context.Context, func(err error)) {
	if c.activity == nil || ctx.Value(activityKey{c}) != nil {
		return ctx, func(error) {}
	}
	return context.WithValue(ctx, activityKey{c}, true), c.Track(operation, technology, params)
}

// wsmanTracker is the services' tracker for operations over WS-Man.
func (c *Client) wsmanTracker(ctx context.Context, operation string, params map[string]string) (context.Context, func(error)) {
	return c.TrackContext(ctx, operation, TechWSMan, params)
}

// ActivityOf builds the entry of an operation that started at start and
// ended with err, naming the profile the client logged in with.
func (c *Client) ActivityOf(operation, technology string, params map[string]string, start time.Time, err error) Activity {
	a := NewActivity(c.host, operation, technology, params, start, err)
	var redirAuth *redirect.AuthError
	if errors.As(err, &redirAuth) && c.Redirect != nil {
		a.AuthStep = "redirection login on " + c.Redirect.Addr()
	}
	if c.activity != nil {
		a.Actor, a.Job = c.activity.actor, c.activity.job
	}
	if res := c.Resolution(); res != nil {
		a.Profile = res.Profile
	}
	return a
}

// NewActivity builds the entry of an operation on host that started at start
// and ended with err: its outcome, the device's return code, and for an
// authentication failure the step that refused it.
func NewActivity(host, operation, technology string, params map[string]string, start time.Time, err error) Activity {
	if params == nil {
		params = map[string]string{}
	}
	a := Activity{
		Time: start.UTC(), Host: host, Operation: operation, Params: params, Technology: technology,
		Outcome: OutcomeOf(err), Duration: time.Since(start),
	}
	if err == nil {
		return a
	}
	a.Message = strings.Join(strings.Fields(err.Error()), " ")
	if code, ok := ReturnCode(err); ok {
		a.ReturnCode = &code
		var rv *wsman.ReturnValueError
		if errors.As(err, &rv) {
			a.ReturnCodeName = wsman.ReturnCodeName(rv.Class, rv.Code)
		} else {
			a.ReturnCodeName = wsman.PTStatusName(code)
		}
	}
	a.AuthStep = AuthStep(host, err)
	if a.AuthStep == "access denied" {
		a.AuthStep += " for " + operation
		if u := params["user"]; u != "" {
			a.AuthStep += " as " + u
		}
	}
	return a
}

// OutcomeOf names the failure class of err for an activity log or a fleet
// report: "ok" for nil, then "auth_failed", "locked_out", "tls",
// "not_detected", "not_provisioned", "unreachable", "device_error",
// "outcome_unknown", "cancelled", "refused", or "failure" for an error
// of no known class.
func OutcomeOf(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrOutcomeUnknown), errors.Is(err, wsman.ErrOutcomeUnknown):
		return OutcomeUnknown
	case errors.Is(err, context.Canceled):
		return OutcomeCancelled
	case errors.Is(err, ErrLockedOut), errors.Is(err, credentials.ErrLockoutRisk):
		return "locked_out"
	case errors.Is(err, ErrAuthFailed):
		return "auth_failed"
	case errors.Is(err, ErrTLS):
		return "tls"
	case errors.Is(err, ErrNotDetected):
		return "not_detected"
	case errors.Is(err, ErrNotProvisioned):
		return "not_provisioned"
	case errors.Is(err, ErrDevice):
		return "device_error"
	case errors.Is(err, ErrUnreachable):
		return "unreachable"
	}
	var ae *Error
	if errors.As(err, &ae) && ae.Kind == nil {
		return OutcomeRefused // refused before anything was sent
	}
	return OutcomeFailure
}

// AuthStep says which step refused an authentication failure (or a TLS
// failure) on host: the WS-Man login on which port, the TLS handshake, the
// redirection login, or an access denial. It is empty for other errors.
func AuthStep(host string, err error) string {
	port := func(def int) string {
		if _, p, e := net.SplitHostPort(host); e == nil && p != "" {
			return p
		}
		return strconv.Itoa(def)
	}
	var f *wsman.Fault
	// redirect.ErrAuthFailed is the one authentication-failure identity of
	// every layer; only a *redirect.AuthError comes from the redirection
	// port's login.
	var redirAuth *redirect.AuthError
	switch {
	case errors.Is(err, ErrTLS):
		return "tls handshake on port " + port(PortTLS)
	case errors.As(err, &redirAuth):
		return "redirection login"
	case errors.As(err, &f) && strings.Contains(strings.ToLower(f.Subcode.Local+" "+f.Reason), "accessdenied"):
		return "access denied"
	case errors.Is(err, ErrAuthFailed):
		return "wsman login on port " + port(PortHTTP)
	}
	return ""
}

// recordLogin records a credential resolution that started at start, once
// it has ended, when the client has an activity log.
func (c *Client) recordLogin(start time.Time) {
	if c.activity == nil {
		return
	}
	c.mu.Lock()
	res := c.res
	c.mu.Unlock()
	if res == nil {
		return
	}
	var err error
	if res.Err != nil {
		err = c.wrap("login", res.Err)
	}
	a := c.ActivityOf("login", TechWSMan, nil, start, err)
	a.Profile = res.Profile
	c.activity.log.Record(a)
}
