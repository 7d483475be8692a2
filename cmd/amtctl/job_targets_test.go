package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseJobTargets: addresses, ports, ranges, CIDRs, files, standard
// input and collection names expand to one entry per machine, each once.
func TestParseJobTargets(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "floor3.txt")
	require.NoError(t, os.WriteFile(file, []byte("# floor 3\n127.120.0.1, 127.120.0.9\n127.120.0.20-22 # the lab\n"), 0o600))
	got, err := parseJobTargets([]string{"127.120.0.1,127.120.0.2", "127.120.0.8/30", "@" + file, "@-", "%lab", "pc-1.example.com", "%lab"},
		strings.NewReader("127.120.0.2 127.120.0.30:16993\n[::1]:16992\n"), 0, 1000)
	require.NoError(t, err)
	assert.Equal(t, []string{"127.120.0.1", "127.120.0.2", "127.120.0.9", "127.120.0.10", "127.120.0.20", "127.120.0.21",
		"127.120.0.22", "127.120.0.30:16993", "[::1]:16992", "pc-1.example.com"}, got.Hosts)
	assert.Equal(t, []string{"lab"}, got.Collections)

	got, err = parseJobTargets([]string{"127.120.0.1", "127.120.0.2:1234", "::1"}, nil, 16992, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"127.120.0.1:16992", "127.120.0.2:1234", "[::1]:16992"}, got.Hosts, "--port fills in the port")

	for _, bad := range [][]string{{"127.120.0.0/8"}, {"127.120.0.1:0"}, {"127.120.0.1:70000"}, {"%"}, {"@"}, {"not a host!"}, {","}, {"127.120.0.5-127.120.0.1"}} {
		_, err := parseJobTargets(bad, strings.NewReader(""), 0, 1000)
		assert.Error(t, err, "%q", bad)
		assert.Equal(t, exitUsage, exitCode(err), "%q: %v", bad, err)
	}
	_, err = parseJobTargets([]string{"127.120.0.0/24"}, nil, 0, 100)
	assert.ErrorContains(t, err, "--max-targets")
}

// TestHostOrder: reports list addresses numerically, then names.
func TestHostOrder(t *testing.T) {
	t.Parallel()
	ms := []jobMachine{{Host: "pc-2"}, {Host: "127.120.0.10"}, {Host: "127.120.0.9:16993"}, {Host: "[::1]:16992"}, {Host: "127.120.0.9:16992"}, {Host: "127.120.0.2"}}
	sortMachines(ms)
	var hosts []string
	for _, m := range ms {
		hosts = append(hosts, m.Host)
	}
	assert.Equal(t, []string{"127.120.0.2", "127.120.0.9:16992", "127.120.0.9:16993", "127.120.0.10", "[::1]:16992", "pc-2"}, hosts)
}

// TestReportRendering: the table and CSV of a report carry every column
// (a dash or an empty cell when unknown) and quote messages with commas.
func TestReportRendering(t *testing.T) {
	t.Parallel()
	ok, bad := "succeeded", "device_error"
	code, name, worker := 2, "PT_STATUS_INTERNAL_ERROR", "ops-1:42"
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := []jobMachine{
		{Job: 7, Host: "127.120.0.1", Action: "power-on", State: "done", Outcome: &ok, Attempts: 1, LastAttempt: &at, Worker: &worker, Message: "powered on"},
		{Job: 7, Host: "127.120.0.2", Action: "power-on", State: "done", Outcome: &bad, ReturnCode: &code, ReturnCodeName: &name, Attempts: 1, LastAttempt: &at, Worker: &worker, Message: "refused, says the device"},
		{Job: 7, Host: "127.120.0.3", Action: "power-on", State: "pending"},
	}
	var b strings.Builder
	require.NoError(t, writeMachineTable(&b, ms))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 4)
	assert.Contains(t, lines[0], "RETURN CODE")
	assert.Contains(t, lines[2], "2 (PT_STATUS_INTERNAL_ERROR)")
	assert.Regexp(t, `^127\.120\.0\.3 +pending +- +- +0 +0 +- +- *$`, lines[3])

	b.Reset()
	require.NoError(t, writeMachineCSV(&b, ms))
	assert.Equal(t, strings.Join([]string{
		strings.Join(csvColumns, ","),
		"7,127.120.0.1,power-on,done,succeeded,,,1,0,2026-01-02T03:04:05Z,ops-1:42,powered on",
		`7,127.120.0.2,power-on,done,device_error,2,PT_STATUS_INTERNAL_ERROR,1,0,2026-01-02T03:04:05Z,ops-1:42,"refused, says the device"`,
		"7,127.120.0.3,power-on,pending,,,,0,0,,,",
	}, "\n")+"\n", b.String())
	assert.Equal(t, "1 succeeded, 1 device_error", countsLine(map[string]int{"succeeded": 1, "device_error": 1, "expired": 0}))
	assert.Equal(t, 1, failedCount(map[string]int{"succeeded": 1, "device_error": 1, "expired": 0}))
}
