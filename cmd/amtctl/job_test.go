package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/statedb/statedbtest"
)

// The job tests' simulated fleets live on 127.121.0.0/16 (each test its
// own /24 or smaller), inside the loopback ranges the tests may use.

// simFleet starts a simulated fleet on cidr with the groups of spec (a
// fleet spec in JSON) and no TLS, RMCP or redirection ports.
func simFleet(t *testing.T, cidr, spec string, opts amtsim.Options) *amtsim.Server {
	t.Helper()
	opts.DevicesCIDR = cidr
	if spec != "" {
		fs, err := amtsim.ParseFleetSpec(strings.NewReader(spec))
		require.NoError(t, err)
		opts.Fleet = fs
	}
	for _, p := range []*int{&opts.TLSPort, &opts.RMCPPort, &opts.RedirectPort, &opts.RedirectTLSPort} {
		if *p == 0 {
			*p = -1
		}
	}
	sim, err := amtsim.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// cidrHosts lists the host addresses of an IPv4 CIDR (network and
// broadcast left out).
func cidrHosts(t *testing.T, cidr string) []string {
	t.Helper()
	p := netip.MustParsePrefix(cidr)
	var out []string
	a := p.Addr().Next()
	for p.Contains(a) {
		if n := a.Next(); !p.Contains(n) {
			break // the broadcast address
		}
		out = append(out, a.String())
		a = a.Next()
	}
	return out
}

// jobEnv is a state directory with a default credential profile "lab"
// holding the simulator's administrator account.
type jobEnv struct {
	t     *testing.T
	state string
}

func newJobEnv(t *testing.T) *jobEnv {
	t.Helper()
	e := &jobEnv{t: t, state: filepath.Join(t.TempDir(), "state")}
	code, _, stderr := runCLI(t, nil, password+"\n", "creds", "profile", "add", "lab", "--user", user, "--password-stdin", "--default", "--state", e.state)
	require.Equal(t, exitOK, code, stderr)
	return e
}

// run runs amtctl with the environment's state.
func (e *jobEnv) run(stdin string, args ...string) (int, string, string) {
	e.t.Helper()
	return runCLI(e.t, []string{"AMTKIT_STATE=" + e.state}, stdin, args...)
}

// jsonLines decodes stdout as one JSON object per line.
func jsonLines(t *testing.T, stdout string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

var (
	jobMachineShape = shape{
		"job": "number", "host": "string", "action": "string", "state": "string", "outcome": "string|null",
		"return_code": "number|null", "return_code_name": "string|null", "attempts": "number",
		"retries_remaining": "number", "last_attempt": "string|null", "worker": "string|null", "message": "string",
		"data": "object|null",
	}
	jobSummaryShape = shape{"job": "number", "action": "string", "state": "string", "total": "number", "done": "number", "counts": "object"}
	jobRecordShape  = shape{
		"job": "number", "action": "string", "state": "string", "actor": "string", "profile": "string|null",
		"created_at": "string", "start_at": "string", "expire_at": "string|null", "continued_at": "string|null",
		"finished_at": "string|null", "total": "number", "done": "number", "counts": "object", "connection": "object",
	}
	jobStatusShape  = with(jobRecordShape, "machines", "object", "running", "array", "holders", "array", "last_cleanup", "string|null")
	connectionShape = shape{"tls": "bool", "ca_certificates": "array", "pinned_sha256": "array", "legacy_tls": "bool",
		"insecure_skip_verify": "bool", "redirect_port": "number|null"}
	jobChangeShape = shape{"job": "number", "action": "string", "state": "string", "machines": "number", "message": "string"}
	collShape      = shape{"name": "string", "count": "number", "created_at": "string", "updated_at": "string"}
	collShowShape  = with(collShape, "targets", "array")
	collChange     = shape{"name": "string", "action": "string", "machines": "number", "count": "number", "message": "string"}
	powerDataShape = shape{
		"power_state": "number", "power_state_name": "string", "os_power_saving": "string|null",
		"transitioning": "bool", "transitioning_to": "string|null", "available_actions": "array",
	}
)

// checkCounts checks a summary's counts: every outcome present, the
// ones in want with their numbers, the others 0.
func checkCounts(t *testing.T, want map[string]int, counts map[string]any) {
	t.Helper()
	got := map[string]int{}
	for k, v := range counts {
		got[k] = int(v.(float64))
	}
	all := map[string]int{}
	for _, o := range []string{"succeeded", "unreachable", "not_detected", "auth_failed", "locked_out", "not_provisioned", "tls",
		"device_error", "refused", "outcome_unknown", "expired", "cancelled"} {
		all[o] = want[o]
	}
	assert.Equal(t, all, got)
}

// mixedSpec is a floor with every kind of failure: the right password,
// another password, not provisioned (made so by mixedFleet), no AMT, and
// addresses with nothing.
const mixedSpec = `{"groups": [
	{"name": "ok", "weight": 8, "power_state": "off"},
	{"name": "wrongpw", "weight": 2, "accounts": [{"user": "admin", "password": "Other-P4ss"}]},
	{"name": "unprov", "weight": 2},
	{"name": "noamt", "weight": 1, "no_amt": true},
	{"name": "empty", "weight": 1, "empty": true}
]}`

// mixedFleet starts mixedSpec on cidr. The "unprov" group answers every
// request with the PT_STATUS of firmware that is not activated (32), as
// amtsim models it.
func mixedFleet(t *testing.T, cidr string) *amtsim.Server {
	t.Helper()
	sim := simFleet(t, cidr, mixedSpec, amtsim.Options{})
	for _, d := range sim.Devices() {
		if d.Group() == "unprov" {
			d.InjectFault(amtsim.Fault{Kind: amtsim.FaultInternalError, PTStatus: 32})
		}
	}
	return sim
}

// expectedOutcomes says what each address of a mixed fleet must end with.
func expectedOutcomes(t *testing.T, sim *amtsim.Server, cidr string) map[string]string {
	t.Helper()
	byGroup := map[string]string{"ok": "succeeded", "wrongpw": "auth_failed", "unprov": "not_provisioned", "noamt": "not_detected"}
	out := map[string]string{}
	for _, ip := range cidrHosts(t, cidr) {
		host := fmt.Sprintf("%s:%d", ip, sim.HTTPPort())
		d := sim.Device(ip)
		if d == nil {
			out[host] = "unreachable"
			continue
		}
		out[host] = byGroup[d.Group()]
	}
	return out
}

// TestJobRunMixedFleet: job run power-on over a floor with every failure
// the simulator offers prints one JSON object per machine with the right
// outcome, return code and keys, then the counts; exit 13 because some
// failed; every machine that was off and answered was powered on exactly
// once, and the report says the same in table, JSON and CSV.
func TestJobRunMixedFleet(t *testing.T) {
	t.Parallel()
	const cidr = "127.121.1.0/28"
	sim := mixedFleet(t, cidr)
	want := expectedOutcomes(t, sim, cidr)
	// One machine loses the answer to its power change: outcome unknown,
	// never resent; one answers the change with an internal error.
	var lossy, faulty *amtsim.Device
	for _, d := range sim.Devices() {
		if d.Group() != "ok" {
			continue
		}
		switch {
		case lossy == nil:
			lossy = d
			d.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetAfterRequest, Action: "RequestPowerStateChange", Times: 1})
			want[d.HTTPAddr()] = "outcome_unknown"
		case faulty == nil:
			faulty = d
			d.InjectFault(amtsim.Fault{Kind: amtsim.FaultInternalError, Action: "RequestPowerStateChange", PTStatus: 1, Times: 1})
			want[d.HTTPAddr()] = "device_error"
		}
	}
	require.NotNil(t, faulty)
	e := newJobEnv(t)
	code, stdout, stderr := e.run("", "job", "run", "power-on", "--targets", cidr, "--port", fmt.Sprint(sim.HTTPPort()),
		"--retries", "1", "--retry-delay", "100ms", "--timeout", "20s", "-o", "json")
	require.Equal(t, exitIncomplete, code, stderr)
	lines := jsonLines(t, stdout)
	require.Len(t, lines, len(want)+2, "one line per machine, the summary and the error: %s", stdout)
	got := map[string]string{}
	var job float64
	for _, l := range lines[:len(want)] {
		assertShape(t, "job run line", jobMachineShape, l)
		host := l["host"].(string)
		_, dup := got[host]
		require.False(t, dup, "%s reported twice", host)
		got[host] = l["outcome"].(string)
		job = l["job"].(float64)
		assert.Equal(t, "power-on", l["action"])
		assert.Equal(t, "done", l["state"])
		assert.NotEmpty(t, l["message"], host)
		switch l["outcome"] {
		case "device_error":
			assert.Equal(t, 1.0, l["return_code"], host)
			assert.NotNil(t, l["return_code_name"], host)
		case "unreachable":
			assert.Equal(t, 2.0, l["attempts"], "%s: retried once: %v", host, l)
			assert.Nil(t, l["return_code"])
		case "auth_failed", "not_provisioned", "not_detected", "outcome_unknown":
			assert.Equal(t, 1.0, l["attempts"], "%s: never retried: %v", host, l)
		}
	}
	assert.Equal(t, want, got)
	sum := lines[len(want)]
	assertShape(t, "job run summary", jobSummaryShape, sum)
	assert.Equal(t, job, sum["job"])
	assert.Equal(t, "finished", sum["state"])
	counts := map[string]int{}
	for _, o := range want {
		counts[o]++
	}
	checkCounts(t, counts, sum["counts"].(map[string]any))
	errObj := lines[len(lines)-1]
	assertShape(t, "job run error", errorShape, errObj)
	assert.Equal(t, 13.0, errObj["error"].(map[string]any)["exit"])
	assert.Equal(t, "incomplete", errObj["error"].(map[string]any)["class"])

	// Exactly one power change per machine that was off and answered (the
	// faulty machine refused it without acting).
	for _, d := range sim.Devices() {
		switch {
		case d.Group() != "ok" || d == faulty:
			assert.Empty(t, d.PowerRequests(), "%s (%s): nothing sent", d.IP(), d.Group())
		default:
			assert.Equal(t, []int{2}, d.PowerRequests(), "%s: one power-on, never resent", d.IP())
		}
	}

	// The report, as JSON, CSV and a table.
	id := fmt.Sprint(int64(job))
	code, stdout, stderr = e.run("", "job", "report", id, "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &rows))
	require.Len(t, rows, len(want))
	var hosts []string
	for _, r := range rows {
		assertShape(t, "report row", jobMachineShape, r)
		assert.Equal(t, want[r["host"].(string)], r["outcome"])
		hosts = append(hosts, r["host"].(string))
	}
	assert.True(t, sort.SliceIsSorted(hosts, func(i, j int) bool { return hostLess(hosts[i], hosts[j]) }), "sorted by address: %v", hosts)

	code, stdout, stderr = e.run("", "job", "report", id, "--outcome", "auth_failed,unreachable", "-o", "csv")
	require.Equal(t, exitOK, code, stderr)
	csvLines := strings.Split(strings.TrimSpace(stdout), "\n")
	assert.Equal(t, strings.Join(csvColumns, ","), csvLines[0])
	assert.Len(t, csvLines, 1+counts["auth_failed"]+counts["unreachable"])
	for _, l := range csvLines[1:] {
		assert.Regexp(t, `^`+id+`,127\.121\.1\.\d+:\d+,power-on,done,(auth_failed|unreachable),`, l)
	}

	code, stdout, stderr = e.run("", "job", "report", id)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "RETURN CODE")
	assert.Contains(t, stdout, faulty.HTTPAddr())
	assert.Contains(t, stdout, "finished")
}

// workerProc is an amtctl job worker process.
type workerProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

// startWorker starts amtctl job worker over the environment's state (or
// env's database) with quick polling and rescue after 6s (a chunk may run
// 5s: the killed-worker tests cut jobs into chunks of 2 machines, done in
// well under that even on a loaded machine under -race); it is stopped
// with SIGTERM when the test ends, and must then exit 0.
func (e *jobEnv) startWorker(name string, env []string, extra ...string) *workerProc {
	e.t.Helper()
	args := append([]string{"job", "worker", "--name", name, "--poll", "50ms", "--job-timeout", "5s", "--rescue-after", "6s"}, extra...)
	cmd := exec.Command(amtctlBinary(e.t), args...)
	cmd.Env = append(append(cleanEnv(), "AMTKIT_STATE="+e.state), env...)
	p := &workerProc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	require.NoError(e.t, cmd.Start())
	go func() { p.done <- cmd.Wait() }()
	e.t.Cleanup(func() { p.stop(e.t) })
	return p
}

// stop ends the worker with SIGTERM; it must exit 0 (unless killed).
func (p *workerProc) stop(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if p.cmd.ProcessState != nil && p.cmd.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
			return // killed by the test
		}
		assert.NoError(t, err, "job worker exits 0 on SIGTERM; stderr: %s", p.stderr)
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("job worker did not stop on SIGTERM")
	}
}

// kill ends the worker with SIGKILL.
func (p *workerProc) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

// status reads job status -o json.
func (e *jobEnv) status(id string, env ...string) map[string]any {
	e.t.Helper()
	code, stdout, stderr := runCLI(e.t, append([]string{"AMTKIT_STATE=" + e.state}, env...), "", "job", "status", id, "-o", "json")
	require.Equal(e.t, exitOK, code, stderr)
	o := decodeContractLine(e.t, "job status", stdout)
	assertShape(e.t, "job status", jobStatusShape, o)
	return o
}

// waitStatus polls job status until ok says so (at most a minute).
func (e *jobEnv) waitStatus(id string, ok func(map[string]any) bool, env ...string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st := e.status(id, env...)
		if ok(st) {
			return st
		}
		require.True(e.t, time.Now().Before(deadline), "job %s never got there: %v", id, st)
		time.Sleep(100 * time.Millisecond)
	}
}

func finished(st map[string]any) bool { return st["state"] == "finished" || st["state"] == "cancelled" }

// report reads job report -o json, by host.
func (e *jobEnv) report(id string, env ...string) map[string]map[string]any {
	e.t.Helper()
	code, stdout, stderr := runCLI(e.t, append([]string{"AMTKIT_STATE=" + e.state}, env...), "", "job", "report", id, "-o", "json")
	require.Equal(e.t, exitOK, code, stderr)
	var rows []map[string]any
	require.NoError(e.t, json.Unmarshal([]byte(stdout), &rows), stdout)
	out := map[string]map[string]any{}
	for _, r := range rows {
		assertShape(e.t, "report row", jobMachineShape, r)
		out[r["host"].(string)] = r
	}
	return out
}

// TestCollectionsAndDetachedJob: collections are made, changed, listed,
// shown and deleted; a job over %NAME run with --detach is worked by a
// job worker process; status, list and the report follow it; purge
// removes it.
func TestCollectionsAndDetachedJob(t *testing.T) {
	t.Parallel()
	const cidr = "127.121.2.0/29"
	sim := simFleet(t, cidr, "", amtsim.Options{})
	port := fmt.Sprint(sim.HTTPPort())
	e := newJobEnv(t)
	one := func(name string, want shape, stdin string, args ...string) map[string]any {
		t.Helper()
		code, stdout, stderr := e.run(stdin, args...)
		require.Equal(t, exitOK, code, "%s: %s", name, stderr)
		o := decodeContractLine(t, name, stdout)
		assertShape(t, name, want, o)
		return o
	}

	code, stdout, stderr := e.run("", "collection", "list", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "[]\n", stdout)
	o := one("collection create", collChange, "", "collection", "create", "floor", "127.121.2.1-3", "--port", port, "-o", "json")
	assert.Equal(t, 3.0, o["count"])
	o = one("collection add", collChange, "127.121.2.5\n127.121.2.6\n", "collection", "add", "floor", "127.121.2.4,127.121.2.1", "@-", "--port", port, "-o", "json")
	assert.Equal(t, 3.0, o["machines"], "the one already in is not added again")
	assert.Equal(t, 6.0, o["count"])
	o = one("collection remove", collChange, "", "collection", "remove", "floor", "127.121.2.6", "--port", port, "-o", "json")
	assert.Equal(t, 1.0, o["machines"])
	assert.Equal(t, 5.0, o["count"])
	one("collection create", collChange, "", "collection", "create", "spare", "-o", "json")
	code, stdout, stderr = e.run("", "collection", "create", "floor", "-o", "json")
	assert.Equal(t, exitUsage, code, "a second collection of that name: %s", stderr)
	assert.Contains(t, stderr, "exists")
	assertShape(t, "error", errorShape, decodeContractLine(t, "create twice", stdout))

	code, stdout, stderr = e.run("", "collection", "list", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &list))
	require.Len(t, list, 2)
	for _, c := range list {
		assertShape(t, "collection list", collShape, c)
	}
	o = one("collection show", collShowShape, "", "collection", "show", "floor", "-o", "json")
	var members []string
	for _, m := range o["targets"].([]any) {
		members = append(members, m.(string))
	}
	var want []string
	for _, i := range []int{1, 2, 3, 4, 5} {
		want = append(want, fmt.Sprintf("127.121.2.%d:%s", i, port))
	}
	assert.Equal(t, want, members)

	// A detached job over the collection and one more machine.
	o = one("job run --detach", jobRecordShape, "", "job", "run", "power-status", "--targets", "%floor",
		"--targets", "127.121.2.6:"+port, "--detach", "-o", "json")
	id := fmt.Sprint(o["job"])
	assert.Equal(t, 6.0, o["total"])
	assert.Equal(t, 0.0, o["done"])
	assert.Nil(t, o["profile"], "the default profile")
	code, stdout, stderr = e.run("", "job", "run", "power-status", "--targets", "%floor", "--detach")
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `^\d+\n$`, stdout, "--detach prints the job's ID")
	second := strings.TrimSpace(stdout)
	assert.NotEqual(t, id, second)

	st := e.status(id)
	assert.Equal(t, 6.0, st["machines"].(map[string]any)["pending"])
	assert.Equal(t, []any{}, st["holders"])
	w := e.startWorker("w1", nil)
	st = e.waitStatus(id, finished)
	assert.Equal(t, "finished", st["state"])
	checkCounts(t, map[string]int{"succeeded": 6}, st["counts"].(map[string]any))
	assert.Equal(t, 6.0, st["machines"].(map[string]any)["done"])
	e.waitStatus(second, finished)
	w.stop(t)

	rows := e.report(id)
	require.Len(t, rows, 6)
	for host, r := range rows {
		assert.Equal(t, "succeeded", r["outcome"], host)
		assert.Equal(t, "w1", r["worker"], host)
		assert.NotNil(t, r["last_attempt"], host)
		data, ok := r["data"].(map[string]any)
		require.True(t, ok, "%s: power status data: %v", host, r)
		assertShape(t, "power-status data", powerDataShape, data)
		assert.Equal(t, 2.0, data["power_state"], "the same number as power status")
		assert.Equal(t, "on", data["power_state_name"])
	}
	// The activity log names the job with the same number job run gave.
	code, stdout, stderr = e.run("", "log", "activity", "--job", id, "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	entries := jsonLines(t, stdout)
	require.Len(t, entries, 6, "one attempt per machine: %s", stdout)
	for _, a := range entries {
		assert.Equal(t, o["job"], a["job"], "job is the job's number: %v", a)
		assert.Nil(t, a["job_label"])
	}
	code, stdout, stderr = e.run("", "job", "report", id, "-o", "csv")
	require.Equal(t, exitOK, code, stderr)
	assert.Len(t, strings.Split(strings.TrimSpace(stdout), "\n"), 7, "a header and a line per machine")
	code, stdout, stderr = e.run("", "job", "status", id)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "6 succeeded")
	assert.Contains(t, stdout, "Last clean-up")

	code, stdout, stderr = e.run("", "job", "list", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var jobs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &jobs))
	require.Len(t, jobs, 2)
	for _, j := range jobs {
		assertShape(t, "job list", jobRecordShape, j)
	}
	assert.Equal(t, second, fmt.Sprint(jobs[0]["job"]), "newest first")

	one("collection delete", collChange, "", "collection", "delete", "floor", "-o", "json")
	code, _, _ = e.run("", "collection", "show", "floor")
	assert.Equal(t, exitUsage, code, "deleted")
	assert.Len(t, e.report(id), 6, "a job keeps its machines when its collection goes")

	code, stdout, stderr = e.run("", "job", "purge", "--older-than", "0s", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	p := decodeContractLine(t, "job purge", stdout)
	assertShape(t, "job purge", shape{"jobs": "number", "machines": "number", "older_than_s": "number"}, p)
	assert.Equal(t, 2.0, p["jobs"])
	code, _, stderr = e.run("", "job", "status", id)
	assert.Equal(t, exitUsage, code, "purged: %s", stderr)
	code, stdout, _ = e.run("", "job", "list", "-o", "json")
	assert.Equal(t, exitOK, code)
	assert.Equal(t, "[]\n", stdout)
}

// TestJobCanaryAndContinue: job run --canary 2 in the foreground works the
// canary, says the job waits and exits 14; nothing else is touched until
// job continue, after which a worker powers on the rest, each machine
// once.
func TestJobCanaryAndContinue(t *testing.T) {
	t.Parallel()
	const cidr = "127.121.3.0/29"
	sim := simFleet(t, cidr, "", amtsim.Options{PowerState: 8})
	e := newJobEnv(t)
	code, stdout, stderr := e.run("", "job", "run", "power-on", "--targets", cidr, "--port", fmt.Sprint(sim.HTTPPort()), "--canary", "2", "-o", "json")
	require.Equal(t, exitPaused, code, stderr)
	assert.Contains(t, stderr, "amtctl job continue")
	lines := jsonLines(t, stdout)
	require.Len(t, lines, 4, "the canary's two machines, the summary and the error: %s", stdout)
	sum := lines[2]
	assertShape(t, "summary", jobSummaryShape, sum)
	assert.Equal(t, "paused", sum["state"])
	assert.Equal(t, 2.0, sum["done"])
	assert.Equal(t, "paused", lines[3]["error"].(map[string]any)["class"])
	id := fmt.Sprint(sum["job"])
	changed := func() int {
		n := 0
		for _, d := range sim.Devices() {
			require.LessOrEqual(t, len(d.PowerRequests()), 1, "%s changed twice", d.IP())
			n += len(d.PowerRequests())
		}
		return n
	}
	assert.Equal(t, 2, changed(), "only the canary")

	// A worker started now leaves the paused job alone.
	e.startWorker("w1", nil)
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, "paused", e.status(id)["state"])
	assert.Equal(t, 2, changed(), "nothing before job continue")
	code, stdout, stderr = e.run("", "job", "continue", id, "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	o := decodeContractLine(t, "job continue", stdout)
	assertShape(t, "job continue", jobChangeShape, o)
	assert.Equal(t, 4.0, o["machines"])
	e.waitStatus(id, finished)
	assert.Equal(t, 6, changed(), "every machine once")
	for host, r := range e.report(id) {
		assert.Equal(t, "succeeded", r["outcome"], host)
	}
	code, _, stderr = e.run("", "job", "continue", id)
	assert.Equal(t, exitUsage, code, "a finished job does not continue: %s", stderr)
}

// TestJobBatchesAndCancel: with --batch-size 2 --batch-interval 1s the
// batches start at least an interval apart; a job cancelled between
// batches of an hour reports the machines not started cancelled and
// sends them nothing; retry puts them back in their batches, and a second
// cancel ends them again.
func TestJobBatchesAndCancel(t *testing.T) {
	t.Parallel()
	const cidr = "127.121.4.0/29"
	sim := simFleet(t, cidr, "", amtsim.Options{PowerState: 8})
	port := fmt.Sprint(sim.HTTPPort())
	e := newJobEnv(t)
	code, stdout, stderr := e.run("", "job", "run", "power-status", "--targets", cidr, "--port", port,
		"--batch-size", "2", "--batch-interval", "1s", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	lines := jsonLines(t, stdout)
	require.Len(t, lines, 7)
	var starts []time.Time
	for _, l := range lines[:6] {
		at, err := time.Parse(time.RFC3339Nano, l["last_attempt"].(string))
		require.NoError(t, err)
		starts = append(starts, at)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	// Batch k starts no sooner than k intervals after the job's start.
	start, err := time.Parse(time.RFC3339Nano, e.status(fmt.Sprint(lines[6]["job"]))["start_at"].(string))
	require.NoError(t, err)
	for i, at := range starts {
		assert.False(t, at.Before(start.Add(time.Duration(i/2)*time.Second)), "machine %d of batch %d started %s after the start: %v",
			i, i/2, at.Sub(start), starts)
	}
	assert.True(t, starts[5].Sub(start) >= 2*time.Second, "three batches of two")

	// Batches an hour apart: cancel after the first.
	code, stdout, stderr = e.run("", "job", "run", "power-on", "--targets", cidr, "--port", port,
		"--batch-size", "2", "--batch-interval", "1h", "--detach")
	require.Equal(t, exitOK, code, stderr)
	id := strings.TrimSpace(stdout)
	w := e.startWorker("w1", nil)
	e.waitStatus(id, func(st map[string]any) bool { return st["done"] == 2.0 })
	code, stdout, stderr = e.run("", "job", "cancel", id, "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	o := decodeContractLine(t, "job cancel", stdout)
	assertShape(t, "job cancel", jobChangeShape, o)
	assert.Equal(t, 4.0, o["machines"])
	assert.Equal(t, "cancelled", o["state"])
	st := e.waitStatus(id, func(st map[string]any) bool { return st["done"] == 6.0 })
	checkCounts(t, map[string]int{"succeeded": 2, "cancelled": 4}, st["counts"].(map[string]any))
	changed := 0
	for _, d := range sim.Devices() {
		changed += len(d.PowerRequests())
	}
	assert.Equal(t, 2, changed, "the cancelled machines were sent nothing")

	code, stdout, stderr = e.run("", "job", "retry", id, "--outcome", "cancelled", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	o = decodeContractLine(t, "job retry", stdout)
	assertShape(t, "job retry", jobChangeShape, o)
	assert.Equal(t, 4.0, o["machines"])
	assert.Equal(t, "running", o["state"])
	// The retried batches' slots count from the retry: the second batch
	// runs at once (not an hour after the start), the third an hour later.
	e.waitStatus(id, func(st map[string]any) bool { return st["done"] == 4.0 })
	code, _, stderr = e.run("", "job", "cancel", id)
	require.Equal(t, exitOK, code, stderr)
	st = e.waitStatus(id, func(st map[string]any) bool { return st["done"] == 6.0 })
	checkCounts(t, map[string]int{"succeeded": 4, "cancelled": 2}, st["counts"].(map[string]any))
	w.stop(t)
	changed = 0
	for _, d := range sim.Devices() {
		changed += len(d.PowerRequests())
	}
	assert.Equal(t, 4, changed, "nothing sent to the cancelled machines, the retried batch powered on once each")
	code, _, stderr = e.run("", "job", "retry", id, "--outcome", "succeeded")
	assert.Equal(t, exitUsage, code, stderr)
}

// killedWorkerJob runs a power-on job over a slow fleet, kills its first
// worker with SIGKILL once it has finished some machines and holds
// others, and lets second finish it: every machine ends with an outcome
// (none lost), none is changed twice, each that succeeded was changed
// once, and machines whose change may have been in flight are reported
// outcome_unknown.
// With beside, second is started while the first works (as a second
// worker on another machine would run); else after the kill (a restart).
func killedWorkerJob(t *testing.T, e *jobEnv, cidr string, env []string, beside bool, second func() *workerProc) {
	sim := simFleet(t, cidr, `{"groups": [{"name": "slow", "weight": 1, "latency": "200ms", "power_state": "off"}]}`, amtsim.Options{})
	code, stdout, stderr := runCLI(t, append([]string{"AMTKIT_STATE=" + e.state}, env...), "", "job", "run", "power-on",
		"--targets", cidr, "--port", fmt.Sprint(sim.HTTPPort()), "--concurrency", "4", "--chunk-size", "2", "--detach")
	require.Equal(t, exitOK, code, stderr)
	id := strings.TrimSpace(stdout)
	victim := e.startWorker("w1", env)
	// w1 alone until it has finished some machines and holds others, so
	// that it is sure to die mid-job (a second worker started earlier can
	// take every chunk from it); w1 also leads River's maintenance (the
	// rescuer), and w2 takes the lead when w1 dies.
	e.waitStatus(id, func(st map[string]any) bool {
		holds := false
		for _, h := range st["holders"].([]any) {
			holds = holds || h.(map[string]any)["worker"] == "w1"
		}
		return holds && st["done"].(float64) >= 3
	}, env...)
	if beside {
		second() // beside w1 while it works, as a worker on another machine would be
	}
	victim.kill(t)
	require.Less(t, e.status(id, env...)["done"].(float64), float64(len(sim.Devices())), "killed mid-job")
	if !beside {
		second()
	}
	e.waitStatus(id, finished, env...)
	rows := e.report(id, env...)
	byWorker := map[string]int{}
	for _, d := range sim.Devices() {
		r := rows[d.HTTPAddr()]
		require.NotNil(t, r, "%s lost", d.HTTPAddr())
		reqs := d.PowerRequests()
		assert.LessOrEqual(t, len(reqs), 1, "%s: changed twice", d.HTTPAddr())
		switch r["outcome"] {
		case "succeeded":
			assert.Equal(t, []int{2}, reqs, d.HTTPAddr())
			byWorker[r["worker"].(string)]++
		case "outcome_unknown":
		default:
			t.Errorf("%s: %v: %v", d.HTTPAddr(), r["outcome"], r["message"])
		}
	}
	t.Logf("succeeded by worker: %v", byWorker)
	assert.Positive(t, byWorker["w1"], "the killed worker did part of the job")
	assert.Positive(t, byWorker["w2"], "the other worker finished it")
}

// TestJobWorkerKilledSQLite: on SQLite a worker restarted after the first
// was killed finishes the job.
func TestJobWorkerKilledSQLite(t *testing.T) {
	t.Parallel()
	e := newJobEnv(t)
	killedWorkerJob(t, e, "127.121.5.0/27", nil, false, func() *workerProc {
		// Restarted once the killed worker's chunks are due for rescue
		// (--rescue-after 6s): River's rescuer looks when the new worker
		// takes the lead, and then every 30 s.
		time.Sleep(6500 * time.Millisecond)
		return e.startWorker("w2", nil)
	})
}

// TestJobWorkerKilledPostgres: on Postgres a second worker that ran beside
// the killed one finishes the job (AMTKIT_TEST_POSTGRES).
func TestJobWorkerKilledPostgres(t *testing.T) {
	t.Parallel()
	db := statedbtest.Postgres(t)
	e := &jobEnv{t: t, state: filepath.Join(t.TempDir(), "state")}
	keyDir := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.Mkdir(keyDir, 0o700))
	env := []string{"AMTKIT_DATABASE=" + db, "AMTKIT_KEY_FILE=" + filepath.Join(keyDir, "key")}
	code, _, stderr := runCLI(t, env, password+"\n", "creds", "profile", "add", "lab", "--user", user, "--password-stdin", "--default")
	require.Equal(t, exitOK, code, stderr)
	killedWorkerJob(t, e, "127.121.6.0/27", env, true, func() *workerProc { return e.startWorker("w2", env) })
}
