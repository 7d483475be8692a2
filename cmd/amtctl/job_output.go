package main

// The output of the job commands: one shape per concept (see "amtctl help
// json"). A machine of a job is a jobMachine everywhere: each line job run
// prints with --output json, each element of job report's array and each
// row of its table and CSV. A job is a jobRecord (job list, job status).

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/amtkit/amtkit/amt/fleet"
)

// Exit statuses of the job commands, after the device commands' (main.go).
const (
	// exitIncomplete: the job ended and at least one machine did not
	// succeed; the report says which and why.
	exitIncomplete = 13
	// exitPaused: the canary succeeded and the job waits for "amtctl job
	// continue".
	exitPaused = 14
)

func init() {
	errorClasses[exitIncomplete] = "incomplete"
	errorClasses[exitPaused] = "paused"
}

// jobEndError ends job run (and the commands that follow a job) with
// exitIncomplete or exitPaused; the summary was printed already.
type jobEndError struct {
	code int
	msg  string
}

func (e *jobEndError) Error() string { return e.msg }

// jobExit maps a jobEndError to its exit status.
func jobExit(err error) (int, bool) {
	var je *jobEndError
	if errors.As(err, &je) {
		return je.code, true
	}
	return 0, false
}

// jobMachine is one machine of a job.
type jobMachine struct {
	Job    int64  `json:"job"`
	Host   string `json:"host"`
	Action string `json:"action"`
	// State is pending, running or done.
	State string `json:"state"`
	// Outcome is null until the machine is done.
	Outcome          *string    `json:"outcome"`
	ReturnCode       *int       `json:"return_code"`
	ReturnCodeName   *string    `json:"return_code_name"`
	Attempts         int        `json:"attempts"`
	RetriesRemaining int        `json:"retries_remaining"`
	LastAttempt      *time.Time `json:"last_attempt"`
	Worker           *string    `json:"worker"`
	Message          string     `json:"message"`
	// Data is the task's reading, e.g. for power-status the keys of
	// "amtctl power status" (power_state, power_state_name, ...); null
	// when the task reads nothing or the machine failed.
	Data json.RawMessage `json:"data"`
}

// outcomeCounts has every outcome, 0 when none.
func outcomeCounts(c map[fleet.Outcome]int) map[string]int {
	out := make(map[string]int, len(fleet.Outcomes))
	for _, o := range fleet.Outcomes {
		out[string(o)] = c[o]
	}
	return out
}

// jobSummary is the last line job run prints with --output json.
type jobSummary struct {
	Job    int64          `json:"job"`
	Action string         `json:"action"`
	State  string         `json:"state"`
	Total  int            `json:"total"`
	Done   int            `json:"done"`
	Counts map[string]int `json:"counts"`
}

// countsLine writes the outcomes that occurred: "45 succeeded, 3
// unreachable, 2 auth_failed".
func countsLine(counts map[string]int) string {
	var parts []string
	for _, o := range fleet.Outcomes {
		if n := counts[string(o)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	if len(parts) == 0 {
		return "none done"
	}
	return strings.Join(parts, ", ")
}

// failedCount is the machines done without success.
func failedCount(counts map[string]int) int {
	n := 0
	for o, c := range counts {
		if o != string(fleet.Succeeded) {
			n += c
		}
	}
	return n
}

// hostLess orders hosts as an operator reads them: addresses numerically
// (IPv4 before IPv6), then names; a port breaks ties.
func hostLess(a, b string) bool {
	ah, ap := splitTargetPort(a)
	bh, bp := splitTargetPort(b)
	aa, aerr := netip.ParseAddr(ah)
	ba, berr := netip.ParseAddr(bh)
	switch {
	case aerr == nil && berr == nil:
		if c := aa.Compare(ba); c != 0 {
			return c < 0
		}
		return ap < bp
	case aerr == nil:
		return true
	case berr == nil:
		return false
	}
	if ah != bh {
		return ah < bh
	}
	return ap < bp
}

// splitTargetPort splits a target into host and port (0: none).
func splitTargetPort(s string) (string, int) {
	if h, p, ok := hostWithPort(s); ok {
		return h, p
	}
	return strings.Trim(s, "[]"), 0
}

func sortMachines(ms []jobMachine) {
	sort.SliceStable(ms, func(i, j int) bool { return hostLess(ms[i].Host, ms[j].Host) })
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

// codeText writes a return code with its name: "2 (PT_STATUS_...)", "-".
func codeText(code *int, name *string) string {
	if code == nil {
		return "-"
	}
	if name != nil && *name != "" {
		return fmt.Sprintf("%d (%s)", *code, *name)
	}
	return strconv.Itoa(*code)
}

func timeText(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func timeCSV(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// writeMachineTable writes the report grid a help desk reads.
func writeMachineTable(w io.Writer, ms []jobMachine) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "HOST\tSTATE\tOUTCOME\tRETURN CODE\tATTEMPTS\tRETRIES LEFT\tLAST ATTEMPT\tWORKER\tMESSAGE")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", m.Host, m.State, orDash(m.Outcome),
			codeText(m.ReturnCode, m.ReturnCodeName), m.Attempts, m.RetriesRemaining, timeText(m.LastAttempt),
			orDash(m.Worker), oneLine(m.Message))
	}
	return tw.Flush()
}

// csvColumns are job report's CSV columns, the JSON keys without data.
var csvColumns = []string{"job", "host", "action", "state", "outcome", "return_code", "return_code_name",
	"attempts", "retries_remaining", "last_attempt", "worker", "message"}

// writeMachineCSV writes the report as CSV (RFC 4180), with a header.
func writeMachineCSV(w io.Writer, ms []jobMachine) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvColumns); err != nil {
		return err
	}
	val := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	for _, m := range ms {
		code := ""
		if m.ReturnCode != nil {
			code = strconv.Itoa(*m.ReturnCode)
		}
		if err := cw.Write([]string{strconv.FormatInt(m.Job, 10), m.Host, m.Action, m.State, val(m.Outcome), code,
			val(m.ReturnCodeName), strconv.Itoa(m.Attempts), strconv.Itoa(m.RetriesRemaining), timeCSV(m.LastAttempt),
			val(m.Worker), oneLine(m.Message)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// machineLine writes one finished machine as job run's table output does:
// nothing for a success, "host: outcome (code): message" otherwise.
func machineLine(m jobMachine) string {
	o := orDash(m.Outcome)
	if m.ReturnCode != nil {
		o += " " + codeText(m.ReturnCode, m.ReturnCodeName)
	}
	return fmt.Sprintf("%s: %s: %s", m.Host, o, oneLine(m.Message))
}
