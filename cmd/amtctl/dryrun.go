package main

// --dry-run, for every command that changes a machine. A command registers
// the flag with registerDryRun, validates its flags and reads what it must
// read as usual, and then, instead of the change, returns dryRun(...) with
// the WS-Management requests (or redirection-port steps) it would send, in
// order:
//
//	registerDryRun(cmd, &dry)
//	...
//	if dry {
//		return dryRun(cmd, f.output, c.Host(), "reset", "would reset the machine",
//			invoke("CIM_PowerManagementService", "RequestPowerStateChange", "PowerState", 10))
//	}
//
// Nothing that changes the device may be sent before that point.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// plannedRequest is one request a change would send.
type plannedRequest struct {
	// Operation is the WS-Management operation (Put, Invoke, Create,
	// Delete) or, for the redirection port, "Redirect".
	Operation string `json:"operation"`
	// Resource is the class the request addresses, e.g.
	// "CIM_PowerManagementService".
	Resource string `json:"resource"`
	// Method is the invoked method, "" for other operations.
	Method string `json:"method"`
	// Arguments are the method's input or the properties put; never nil.
	Arguments map[string]any `json:"arguments"`
}

// String writes the request on one line, e.g. "Invoke
// CIM_PowerManagementService.RequestPowerStateChange(PowerState=10)".
func (p plannedRequest) String() string {
	var b strings.Builder
	b.WriteString(p.Operation)
	b.WriteByte(' ')
	b.WriteString(p.Resource)
	if p.Method != "" {
		b.WriteByte('.')
		b.WriteString(p.Method)
	}
	keys := make([]string, 0, len(p.Arguments))
	for k := range p.Arguments {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteByte('(')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%v", k, p.Arguments[k])
	}
	b.WriteByte(')')
	return b.String()
}

// args pairs up names and values: args("PowerState", 10, "Name", "x").
func args(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return m
}

// invoke is a planned method invocation.
func invoke(resource, method string, kv ...any) plannedRequest {
	return plannedRequest{Operation: "Invoke", Resource: resource, Method: method, Arguments: args(kv...)}
}

// put is a planned Put of the named properties of a resource.
func put(resource string, kv ...any) plannedRequest {
	return plannedRequest{Operation: "Put", Resource: resource, Arguments: args(kv...)}
}

// registerDryRun adds --dry-run to a command that changes a machine.
func registerDryRun(cmd *cobra.Command, dry *bool) {
	cmd.Flags().BoolVar(dry, "dry-run", false, "say exactly what would be sent to the machine, and send nothing that changes it")
}

// dryRun prints what a change would send, as an action result with
// dry_run true, accepted false and changed false.
func dryRun(cmd *cobra.Command, format, host, action, message string, reqs ...plannedRequest) error {
	return dryRunWith(cmd, format, nil, host, action, message, reqs...)
}

// dryRunWith is dryRun with the command's own keys (those its result has
// when it is not a dry run, with their values as they are now).
func dryRunWith(cmd *cobra.Command, format string, extra map[string]any, host, action, message string, reqs ...plannedRequest) error {
	if reqs == nil {
		reqs = []plannedRequest{}
	}
	return printAction(cmd, format, actionResult{
		Host: host, Action: action, Accepted: false, Changed: boolp(false),
		Message: "dry run: " + message + "; nothing was sent", DryRun: true, WouldSend: reqs, Extra: extra,
	})
}
