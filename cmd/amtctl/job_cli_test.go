package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// TestJobRunProgressOnTerminal: with stderr a terminal, job run draws its
// progress bar there (done/total, rate, counts by outcome) and prints the
// machines that failed and the summary on stdout; with -q, or stderr not a
// terminal, stderr has no bar.
func TestJobRunProgressOnTerminal(t *testing.T) {
	t.Parallel()
	const cidr = "127.121.7.0/29"
	sim := simFleet(t, cidr, `{"groups": [{"name": "ok", "weight": 5, "latency": "50ms"}, {"name": "empty", "weight": 1, "empty": true}]}`, amtsim.Options{})
	port := fmt.Sprint(sim.HTTPPort())
	e := newJobEnv(t)

	ptm, pts := openPTY(t)
	cmd := exec.Command(amtctlBinary(t), "job", "run", "power-status", "--targets", cidr, "--port", port, "--concurrency", "2")
	cmd.Env = append(cleanEnv(), "AMTKIT_STATE="+e.state)
	var stdout bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &stdout, pts
	require.NoError(t, cmd.Start())
	var term bytes.Buffer
	var mu sync.Mutex
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			mu.Lock()
			term.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	err := cmd.Wait()
	require.Error(t, err, "one machine is unreachable: exit 13")
	assert.Equal(t, exitIncomplete, cmd.ProcessState.ExitCode())
	time.Sleep(200 * time.Millisecond) // the last of the terminal's output
	mu.Lock()
	seen := term.String()
	mu.Unlock()
	assert.Regexp(t, `\d+/6`, seen, "done/total on the terminal")
	assert.Contains(t, seen, "machines/s", "the rate")
	assert.Contains(t, seen, "succeeded", "counts by outcome")
	assert.Contains(t, seen, "did not succeed", "the reason of the exit status")
	out := stdout.String()
	assert.Regexp(t, `127\.121\.7\.\d+:`+port+`: unreachable`, out, "the failed machine")
	assert.Contains(t, out, "5 succeeded, 1 unreachable")
	assert.NotContains(t, out, "\r", "no bar on stdout")

	// Not a terminal, or -q: no bar.
	for _, extra := range [][]string{nil, {"-q"}} {
		args := append([]string{"job", "run", "power-status", "--targets", cidr, "--port", port}, extra...)
		code, stdout, stderr := e.run("", args...)
		assert.Equal(t, exitIncomplete, code)
		assert.NotContains(t, stderr, "machines/s", "%v", extra)
		assert.NotContains(t, stderr, "\r", "%v", extra)
		assert.Contains(t, stdout, "5 succeeded, 1 unreachable")
	}
}

// TestJobRunDryRun: --dry-run says which machines and which requests, and
// stores and sends nothing.
func TestJobRunDryRun(t *testing.T) {
	t.Parallel()
	const cidr = "127.121.8.0/29"
	sim := simFleet(t, cidr, "", amtsim.Options{PowerState: 8})
	port := fmt.Sprint(sim.HTTPPort())
	e := newJobEnv(t)
	code, stdout, stderr := e.run("", "job", "run", "power-on", "--targets", cidr, "--port", port, "--batch-size", "4",
		"--batch-interval", "1m", "--canary", "1", "--dry-run", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	o := decodeContractLine(t, "job run --dry-run", stdout)
	assertShape(t, "job run --dry-run", jobPlanShape, o)
	assert.Equal(t, true, o["dry_run"])
	assert.Nil(t, o["job"])
	assert.Equal(t, 6.0, o["total"])
	assert.Equal(t, 2.0, o["batches"])
	reqs := o["would_send"].([]any)
	require.Len(t, reqs, 1)
	req := reqs[0].(map[string]any)
	assertShape(t, "would_send", requestShape, req)
	assert.Equal(t, "RequestPowerStateChange", req["method"])
	assert.Equal(t, 2.0, req["arguments"].(map[string]any)["PowerState"])

	code, stdout, stderr = e.run("", "job", "run", "boot", "pxe", "--targets", cidr, "--port", port, "--dry-run")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "would run boot on 6 machines")
	assert.Contains(t, stdout, "ChangeBootOrder")
	assert.Contains(t, stdout, "RequestPowerStateChange")

	code, stdout, _ = e.run("", "job", "list", "-o", "json")
	require.Equal(t, exitOK, code)
	assert.Equal(t, "[]\n", stdout, "nothing stored")
	for _, d := range sim.Devices() {
		assert.Zero(t, d.Stats().HTTPRequests, "%s: nothing sent", d.IP())
	}
}

// TestJobUsageErrors: what job run and the other job commands refuse, each
// with exit 2, a one-line reason and the usage, before anything is stored
// (in process; TestContract runs such cases on the binary).
func TestJobUsageErrors(t *testing.T) {
	t.Parallel()
	e := newJobEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"job", "run", "power-on"}, "--targets is required"},
		{[]string{"job", "run", "fly", "--targets", "127.121.9.1"}, "TASK must be"},
		{[]string{"job", "run", "boot", "--targets", "127.121.9.1"}, "boot needs"},
		{[]string{"job", "run", "boot", "usb", "--targets", "127.121.9.1"}, "boot usb"},
		{[]string{"job", "run", "power-on", "pxe", "--targets", "127.121.9.1"}, "takes no argument"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.0.0/8"}, "--max-targets"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.9.1:0"}, "port"},
		{[]string{"job", "run", "power-on", "--targets", "%nosuch"}, "nosuch"},
		{[]string{"job", "run", "power-on", "--targets", "@/nonexistent/file"}, "nonexistent"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.9.1", "--concurrency", "0"}, "--concurrency"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.9.1", "--retry-delay", "0s"}, "--retry-delay"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.9.1", "--expire", "1h", "--expire-at", "23:00"}, "cannot be used together"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.9.1", "--expire-at", "yesterday"}, "--expire-at"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.9.1", "--batch-size", "5"}, "--batch-interval"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.9.1", "--detach", "--dry-run"}, "cannot be used together"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.9.1", "--profile", "nosuch"}, "no such profile"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.9.1", "--image", "x.iso"}, "--image does not go with power-on"},
		{[]string{"job", "run", "ider-boot", "--targets", "127.121.9.1"}, "--image"},
		{[]string{"job", "run", "defense-quarantine", "--targets", "127.121.9.1", "--defense-timeout", "1h"}, "--server"},
		{[]string{"job", "run", "defense-ping-only", "--targets", "127.121.9.1", "--defense-timeout", "90s"}, "whole minutes"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.9.1", "--rescue-after", "1m", "--job-timeout", "2m"}, "--rescue-after"},
		{[]string{"job", "run", "power-on", "--targets", "127.121.9.1", "--wake", "sometime"}, "--wake"},
		{[]string{"job", "status", "x"}, "not a job ID"},
		{[]string{"job", "status", "999"}, "not found"},
		{[]string{"job", "report", "1", "--outcome", "fine"}, "--outcome"},
		{[]string{"job", "report", "1", "--output", "xml"}, "--output"},
		{[]string{"job", "continue", "999"}, "not found"},
		{[]string{"job", "purge"}, "--older-than"},
		{[]string{"job", "worker", "--concurrency", "0"}, "--concurrency"},
		{[]string{"collection", "create", "bad name"}, "NAME"},
		{[]string{"collection", "show", "nosuch"}, "not found"},
		{[]string{"collection", "add", "x"}, "arg"},
	} {
		name := strings.Join(tc.args, " ")
		args := tc.args
		asJSON := tc.args[1] != "worker" && !strings.Contains(name, "--output")
		if asJSON {
			args = append(args, "-o", "json")
		}
		// In process: the binary's path to these is TestContract's.
		var outBuf, errBuf bytes.Buffer
		code := runIO(t.Context(), append(args, "--state", e.state), strings.NewReader(""), &outBuf, &errBuf)
		stdout, stderr := outBuf.String(), errBuf.String()
		if !assert.Equal(t, exitUsage, code, "%s: %s", name, stderr) {
			continue
		}
		first := strings.SplitN(stderr, "\n", 2)[0]
		assert.Contains(t, first, tc.want, name)
		assert.Contains(t, stderr, "Usage:", name)
		if asJSON {
			assertShape(t, name, errorShape, decodeContractLine(t, name, stdout))
		}
	}
	code, stdout, _ := e.run("", "job", "list", "-o", "json")
	assert.Equal(t, exitOK, code)
	assert.Equal(t, "[]\n", stdout, "nothing stored by a refused job")
}

var jobPlanShape = shape{
	"job": "null", "action": "string", "dry_run": "bool", "targets": "array", "collections": "array", "total": "number",
	"canary": "number", "batch_size": "number", "batch_interval": "string", "batches": "number", "would_send": "array",
}

// TestDemoFleetJob: the demo's job powers on its floor in batches, reports
// the three failures with their outcomes (exit 13 said), and sends one
// power-on to each machine that was off and let it in.
func TestDemoFleetJob(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	cmd := newDemoCommand()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetContext(t.Context())
	require.NoError(t, demoJob(cmd, "table"))
	s := out.String()
	assert.Contains(t, s, "--batch-size 4 --batch-interval 1s")
	assert.Contains(t, s, "11 succeeded, 1 unreachable, 1 not_detected, 1 auth_failed")
	assert.Contains(t, s, "(exit 13")
	assert.Contains(t, s, "$ amtctl job report 1")
	sent := strings.Count(s, "on sent and accepted")
	assert.Equal(t, 10, sent)
	assert.Contains(t, s, fmt.Sprintf("received %d power-on requests", sent))
	assert.Equal(t, 1, strings.Count(s, "already on; nothing sent"))
}

// TestJobRunInterrupted: SIGINT to a job run in the foreground cancels the
// job: the machines not started are reported cancelled and sent nothing,
// the summary is printed and the exit status is 130.
func TestJobRunInterrupted(t *testing.T) {
	t.Parallel()
	const cidr = "127.121.11.0/29"
	sim := simFleet(t, cidr, "", amtsim.Options{PowerState: 8})
	e := newJobEnv(t)
	cmd := exec.Command(amtctlBinary(t), "job", "run", "power-on", "--targets", cidr, "--port", fmt.Sprint(sim.HTTPPort()),
		"--batch-size", "2", "--batch-interval", "1h", "-o", "json")
	cmd.Env = append(cleanEnv(), "AMTKIT_STATE="+e.state)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(time.Minute)
	for strings.Count(stdout.String(), "\n") < 2 {
		require.True(t, time.Now().Before(deadline), "the first batch never finished: %s", stderr)
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	require.Error(t, err)
	assert.Equal(t, 130, cmd.ProcessState.ExitCode(), stderr.String())
	lines := jsonLines(t, stdout.String())
	require.GreaterOrEqual(t, len(lines), 4, stdout.String())
	sum := lines[len(lines)-2]
	assertShape(t, "summary", jobSummaryShape, sum)
	assert.Equal(t, "cancelled", sum["state"])
	checkCounts(t, map[string]int{"succeeded": 2, "cancelled": 4}, sum["counts"].(map[string]any))
	assert.Equal(t, "interrupted", lines[len(lines)-1]["error"].(map[string]any)["class"])
	changed := 0
	for _, d := range sim.Devices() {
		changed += len(d.PowerRequests())
	}
	assert.Equal(t, 2, changed, "nothing sent to the cancelled machines")
}
