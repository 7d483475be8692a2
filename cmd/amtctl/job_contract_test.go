package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// jobContractCases are TestContract's cases of the job and collection
// commands, run in order, after the others, with their state directory
// (where no job was made before: the first job's ID is 1). The lines job
// run prints as machines finish are checked by TestJobRunMixedFleet.
func jobContractCases(t *testing.T, state string) []contractCase {
	t.Helper()
	sim := simFleet(t, "127.121.10.0/29", "", amtsim.Options{})
	port := fmt.Sprint(sim.HTTPPort())
	j := func(a ...string) []string { return append(a, "--output", "json", "--state", state) }
	array := func(elem shape, n int) func(t *testing.T, stdout, _ string) {
		return func(t *testing.T, stdout, _ string) {
			var list []map[string]any
			require.NoError(t, json.Unmarshal([]byte(stdout), &list), stdout)
			assert.Len(t, list, n)
			for _, o := range list {
				assertShape(t, "element", elem, o)
			}
		}
	}
	return []contractCase{
		{name: "creds profile add for jobs", command: "creds profile add", args: []string{"creds", "profile", "add", "jobs", "--user", user,
			"--password-stdin", "--default", "--state", state}, stdin: password + "\n"},
		{name: "collection list, empty", command: "collection list", args: j("collection", "list"),
			after: func(t *testing.T, stdout, _ string) { assert.Equal(t, "[]\n", stdout) }},
		{name: "collection create", command: "collection create", args: j("collection", "create", "floor", "127.121.10.1-4", "--port", port), shape: collChange},
		{name: "collection add", command: "collection add", args: j("collection", "add", "floor", "127.121.10.5-6", "--port", port), shape: collChange},
		{name: "collection remove", command: "collection remove", args: j("collection", "remove", "floor", "127.121.10.6", "--port", port), shape: collChange},
		{name: "collection show", command: "collection show", args: j("collection", "show", "floor"), shape: collShowShape},
		{name: "collection list", command: "collection list", args: j("collection", "list"), after: array(collShape, 1)},
		{name: "collection show of none", command: "collection show", args: j("collection", "show", "none"), exit: exitUsage},
		{name: "job list, empty", command: "job list", args: j("job", "list"),
			after: func(t *testing.T, stdout, _ string) { assert.Equal(t, "[]\n", stdout) }},
		{name: "job run --dry-run", command: "job run", args: j("job", "run", "power-reset", "--targets", "%floor", "--dry-run"), shape: jobPlanShape},
		{name: "job run --detach", command: "job run", args: j("job", "run", "power-status", "--targets", "%floor", "--detach"), shape: jobRecordShape,
			check: func(t *testing.T, o map[string]any) { assert.Equal(t, 1.0, o["job"]) }},
		{name: "job run without targets", command: "job run", args: j("job", "run", "power-on"), exit: exitUsage},
		{name: "job status", command: "job status", args: j("job", "status", "1"), shape: jobStatusShape},
		{name: "job list", command: "job list", args: j("job", "list"), after: array(jobRecordShape, 1)},
		{name: "job report", command: "job report", args: j("job", "report", "1"), after: array(jobMachineShape, 5)},
		{name: "job report --output csv", command: "job report", args: []string{"job", "report", "1", "--output", "csv", "--state", state}},
		{name: "job report of no job", command: "job report", args: j("job", "report", "7"), exit: exitUsage},
		{name: "job continue of a job without a canary", command: "job continue", args: j("job", "continue", "1"), exit: exitUsage},
		{name: "job cancel", command: "job cancel", args: j("job", "cancel", "1"), shape: jobChangeShape,
			check: func(t *testing.T, o map[string]any) { assert.Equal(t, "cancelled", o["state"]) }},
		{name: "job retry", command: "job retry", args: j("job", "retry", "1", "--outcome", "cancelled"), shape: jobChangeShape},
		{name: "job cancel again", command: "job cancel", args: j("job", "cancel", "1"), shape: jobChangeShape},
		{name: "job purge", command: "job purge", args: j("job", "purge", "--older-than", "0s"),
			shape: shape{"jobs": "number", "machines": "number", "older_than_s": "number"}},
		{name: "job worker with a bad concurrency", command: "job worker", args: []string{"job", "worker", "--concurrency", "0", "--state", state}, exit: exitUsage},
		{name: "job ui on a remote address without TLS or a login", command: "job ui", args: []string{"job", "ui", "--listen", "0.0.0.0:8089", "--state", state}, exit: exitUsage},
		{name: "collection delete", command: "collection delete", args: j("collection", "delete", "floor"), shape: collChange},
	}
}
