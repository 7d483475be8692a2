package main

import "testing"

// jobContractCases are TestContract's cases of the job and collection
// commands, run in order with the other cases' state directory.
func jobContractCases(t *testing.T, state string) []contractCase {
	t.Helper()
	return []contractCase{
		{name: "job ui on a remote address without TLS or a login", command: "job ui", args: []string{"job", "ui", "--listen", "0.0.0.0:8089", "--state", state}, exit: exitUsage},
	}
}
