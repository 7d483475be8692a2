package main

// Output helpers shared by every command. The JSON written with
// --output json is a contract (see "amtctl help json"):
//
//   - writeJSON writes one object per line. Keys are always present: a value
//     that is unknown is null (use a pointer or any), never omitted, and a
//     list with nothing in it is [] (make it non-nil).
//   - A command that changes a machine reports with printAction and an
//     actionResult: the same keys (host, action, accepted, changed, message,
//     dry_run, would_send) everywhere, plus the command's own keys in Extra.
//   - Errors need nothing from a command: return the error, and runIO
//     writes {"host":..,"error":{"class":..,"message":..,"exit":..}} on
//     stdout when --output is json (and the text on stderr in any case).
//   - Tables go through newTable; sizes, rates and durations through
//     formatSize, formatRate and formatDuration, so that units read alike
//     (1.5 MiB, 12.0 MiB/s, 1.2s, 350ms).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/power"
)

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// errorClasses names each exit status in JSON errors: one class per exit
// status, so that a script may branch on either.
var errorClasses = map[int]string{
	exitFailure:        "failure",
	exitUsage:          "usage",
	exitUnreachable:    "unreachable",
	exitNotDetected:    "not_detected",
	exitAuthFailed:     "auth_failed",
	exitTLS:            "tls",
	exitNotProvisioned: "not_provisioned",
	exitDevice:         "device_error",
	exitLockedOut:      "locked_out",
	exitRefused:        "refused",
	11:                 "outcome_unknown",
	12:                 "wait_timed_out",
	130:                "interrupted",
	143:                "interrupted",
	129:                "interrupted",
}

// errorClass returns the JSON class of an exit status.
func errorClass(code int) string {
	if c, ok := errorClasses[code]; ok {
		return c
	}
	return "failure"
}

// jsonError is the JSON form of a failed command.
type jsonError struct {
	Host  *string         `json:"host"`
	Error jsonErrorDetail `json:"error"`
}

type jsonErrorDetail struct {
	Class   string `json:"class"`
	Message string `json:"message"`
	Exit    int    `json:"exit"`
}

// writeJSONError writes the JSON error object of a command that failed
// with err and exits with code; host is "" when the command has none.
func writeJSONError(w io.Writer, host string, err error, code int) error {
	e := jsonError{Error: jsonErrorDetail{Class: errorClass(code), Message: oneLine(userMessage(err)), Exit: code}}
	if host != "" {
		e.Host = &host
	}
	return writeJSON(w, e)
}

// sdkWords are the words of the SDK's errors that mean nothing to an
// operator, and what the command line says instead: the credential of a
// run is the one --user/--password (or AMT_PASSWORD) gave, a context that
// ended is a timeout or an interruption, an action is a command.
var sdkWords = strings.NewReplacer(
	": task: ", ": --user/--password: ",
	"credentials task ", "credentials --user/--password ",
	"context deadline exceeded", "timed out",
	"context canceled", "interrupted",
	"context ended", "interrupted",
	"; the on action powers the machine on", "; `amtctl power on` powers the machine on",
)

// userMessage is the message of err as amtctl prints it.
func userMessage(err error) string { return sdkWords.Replace(err.Error()) }

// oneLine joins the lines of a message with "; ".
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// actionResult is the one shape of the result of a command that changes a
// machine (or, with --dry-run, would have).
type actionResult struct {
	Host   string
	Action string
	// Accepted: the device accepted the change. Changed: the state is now
	// different from before; nil when the command cannot tell.
	Accepted bool
	Changed  *bool
	// Message is the sentence the table output prints after the host.
	Message string
	// DryRun and WouldSend: nothing was sent; these requests would have been.
	DryRun    bool
	WouldSend []plannedRequest
	// Extra holds the command's own keys (each documented in "amtctl help
	// json"); they may not reuse the keys above.
	Extra map[string]any
}

// actionKeys are the keys every action result has.
var actionKeys = []string{"host", "action", "accepted", "changed", "message", "dry_run", "would_send"}

// MarshalJSON writes the common keys and then Extra's, in a stable order.
func (r actionResult) MarshalJSON() ([]byte, error) {
	ws := r.WouldSend
	if ws == nil {
		ws = []plannedRequest{}
	}
	m := map[string]any{
		"host": r.Host, "action": r.Action, "accepted": r.Accepted, "changed": r.Changed,
		"message": r.Message, "dry_run": r.DryRun, "would_send": ws,
	}
	var extra []string
	for k, v := range r.Extra {
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("action result: extra key %q is a common key", k)
		}
		m[k] = v
		extra = append(extra, k)
	}
	sort.Strings(extra)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range append(append([]string{}, actionKeys...), extra...) {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(m[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// printAction prints r: one JSON object with --output json, else
// "host: message" (and, for a dry run, the requests, one per line).
func printAction(cmd *cobra.Command, format string, r actionResult) error {
	w := cmd.OutOrStdout()
	if format == "json" {
		return writeJSON(w, r)
	}
	if _, err := fmt.Fprintf(w, "%s: %s\n", r.Host, r.Message); err != nil {
		return err
	}
	for _, p := range r.WouldSend {
		if _, err := fmt.Fprintf(w, "  would send: %s\n", p); err != nil {
			return err
		}
	}
	return nil
}

// boolp returns a pointer to b, for actionResult.Changed.
func boolp(b bool) *bool { return &b }

// newTable returns the writer of an aligned table; Flush it at the end.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// formatDuration writes a duration as an operator reads it: 350ms, 1.2s,
// 2m5s.
func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + formatDuration(-d)
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// formatSize writes a byte count in binary units: 512 B, 1.5 KiB, 700.0
// MiB, 4.2 GiB.
func formatSize(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= unit
		if f < unit && f > -unit || u == "TiB" {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return ""
}

// formatRate writes a rate in bytes per second in MiB/s, always, so that
// rates compare at a glance.
func formatRate(bytesPerSecond float64) string {
	return fmt.Sprintf("%.1f MiB/s", bytesPerSecond/(1<<20))
}

// mibPerSecond is a rate in bytes per second in MiB/s, for JSON
// (rate_mib_s).
func mibPerSecond(bytesPerSecond float64) float64 { return bytesPerSecond / (1 << 20) }

// machineIs says a power state as a sentence reads it: "the machine is
// on", "asleep", "hibernating", "off", or "in power state Master Bus
// Reset" for the rarer DMTF states.
func machineIs(st power.State) string {
	switch st {
	case power.StateOn:
		return "the machine is on"
	case power.StateSleep:
		return "the machine is asleep"
	case power.StateHibernate:
		return "the machine is hibernating"
	case power.StateOff:
		return "the machine is off"
	}
	return "the machine is in power state " + st.String()
}
