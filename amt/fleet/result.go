package fleet

import (
	"encoding/json"
	"time"
)

// Outcome is what happened on one machine: exactly one per machine and
// task. The names are stable (JSON, reports, the state database).
type Outcome string

// The outcomes.
const (
	Succeeded      Outcome = "succeeded"
	Unreachable    Outcome = "unreachable"     // nothing answered (after the retries)
	NotDetected    Outcome = "not_detected"    // something answered, but not AMT
	AuthFailed     Outcome = "auth_failed"     // every candidate credential was rejected
	LockedOut      Outcome = "locked_out"      // the lockout guard refused to try (nothing sent)
	NotProvisioned Outcome = "not_provisioned" // AMT present but not activated
	TLS            Outcome = "tls"             // the TLS certificate could not be verified
	DeviceError    Outcome = "device_error"    // a fault or non-zero return code (Result.ReturnCode)
	Refused        Outcome = "refused"         // the device does not offer the action now
	OutcomeUnknown Outcome = "outcome_unknown" // a change was sent and its answer lost; never resent
	Expired        Outcome = "expired"         // not tried (or not retried) before the expiry
	Cancelled      Outcome = "cancelled"       // not tried because the run was cancelled
)

// Outcomes lists every outcome in report order.
var Outcomes = []Outcome{Succeeded, Unreachable, NotDetected, AuthFailed, LockedOut, NotProvisioned, TLS,
	DeviceError, Refused, OutcomeUnknown, Expired, Cancelled}

// Result is the report for one machine.
type Result struct {
	Host    string  `json:"host"`
	Action  Action  `json:"action"`
	Outcome Outcome `json:"outcome"`
	// ReturnCode and ReturnCodeName are the device's status code and its
	// PT_STATUS or DMTF name, when the device gave one (nil otherwise).
	ReturnCode     *int    `json:"return_code"`
	ReturnCodeName *string `json:"return_code_name"`
	// Attempts made, and retries that were left when the machine finished.
	Attempts         int `json:"attempts"`
	RetriesRemaining int `json:"retries_remaining"`
	// LastAttempt is when the last attempt started (nil when never tried).
	LastAttempt *time.Time `json:"last_attempt"`
	// Worker names the process that ran the last attempt.
	Worker string `json:"worker"`
	// Message is one line that says why (or what was done).
	Message string `json:"message"`
	// Data is the action's reading as JSON (power state, inventory, ...),
	// null when the action reads nothing or failed.
	Data json.RawMessage `json:"data"`
	// Err is the last attempt's error (nil on success); not stored.
	Err error `json:"-"`
}
