package main

// amtctl job: one task over many machines as a durable job kept in the
// state database, worked by "amtctl job worker" processes (or by job run
// itself in the foreground), with a result per machine that says why.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/amt/fleet/durable"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/statedb"
)

const jobLong = `job runs one task over many machines as a durable job kept in the state database: each machine
gets exactly one outcome, with the device's return code, the attempts made and a one-line message.

Targets (--targets, repeated or separated by commas): addresses or host names with an optional port,
IPv4 ranges (10.0.0.10-50) and CIDRs (10.0.4.0/24), @FILE and @- (standard input), and %NAME for the
machines of a collection (amtctl collection). Each machine is worked once, however often it is named.

Outcomes: succeeded, unreachable, not_detected, auth_failed, locked_out, not_provisioned, tls,
device_error, refused, outcome_unknown (a change was sent and its answer lost: never resent on its
own), expired, cancelled.

Exit status of job run: 0 when every machine succeeded, 13 when the job
ended and some machine did not (the report says which and why), 14 when the canary succeeded and the
job waits for "amtctl job continue", 2 for a usage error, 1 when the state database failed, 130 when
interrupted (the job is then cancelled: machines not started are reported cancelled).`

func newJobCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Run a task over many machines as a durable job, and follow, report, cancel or retry it",
		Long:  jobLong,
	}
	cmd.AddCommand(newJobRunCommand(), newJobListCommand(), newJobStatusCommand(), newJobReportCommand(),
		newJobCancelCommand(), newJobContinueCommand(), newJobRetryCommand(), newJobPurgeCommand(),
		newJobWorkerCommand(), newJobUICommand())
	return cmd
}

// jobCommon are the flags every job command takes.
type jobCommon struct {
	output string
	state  string
}

func (c *jobCommon) register(cmd *cobra.Command, formats ...string) {
	if len(formats) == 0 {
		formats = []string{"table", "json"}
	}
	cmd.Flags().StringVarP(&c.output, "output", "o", "table", "output format: "+orList(formats))
	registerStateFlag(cmd.Flags(), &c.state)
	cmd.Annotations = map[string]string{"formats": strings.Join(formats, ",")}
}

func (c *jobCommon) validate(cmd *cobra.Command) error {
	return checkOneOf("--output", c.output, strings.Split(cmd.Annotations["formats"], ",")...)
}

// manager opens the state database and its job manager; close the
// database when done.
func (c *jobCommon) manager(cmd *cobra.Command) (*durable.Manager, *statedb.DB, error) {
	db, err := openState(cmd, c.state)
	if err != nil {
		return nil, nil, err
	}
	m, err := durable.NewManager(db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return m, db, nil
}

// jobErr turns the durable layer's refusals into usage errors: an unknown
// job or collection, a request the job's state does not allow.
func jobErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, durable.ErrNotFound), errors.Is(err, durable.ErrInvalid), errors.Is(err, durable.ErrState),
		errors.Is(err, durable.ErrExists):
		return usageError{errors.New(strings.TrimPrefix(err.Error(), "durable: "))}
	}
	return err
}

// parseJobID reads a job's ID argument.
func parseJobID(s string) (durable.ID, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || n <= 0 {
		return 0, usageError{fmt.Errorf("%q is not a job ID (see amtctl job list)", s)}
	}
	return durable.ID(n), nil
}

// parseOutcomes reads --outcome values (repeated or comma-separated).
func parseOutcomes(values []string) ([]fleet.Outcome, error) {
	var out []fleet.Outcome
	names := make([]string, len(fleet.Outcomes))
	for i, o := range fleet.Outcomes {
		names[i] = string(o)
	}
	for _, v := range values {
		for _, f := range targetFields(v) {
			if err := checkOneOf("--outcome", f, names...); err != nil {
				return nil, err
			}
			out = append(out, fleet.Outcome(f))
		}
	}
	return out, nil
}

// parseJobTime reads --start-at and --expire-at: RFC 3339
// (2026-03-01T06:00:00+01:00), a local date and time (2026-03-01 06:00),
// or a local time of day (06:00: the next one).
func parseJobTime(flag, v string, now time.Time) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05Z07:00"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			n := now.In(time.Local)
			at := time.Date(n.Year(), n.Month(), n.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.Local)
			if !at.After(n) {
				at = at.AddDate(0, 0, 1)
			}
			return at, nil
		}
	}
	return time.Time{}, usageError{fmt.Errorf("%s %q: give a time as 2026-03-01T06:00:00Z, 2026-03-01 06:00 or 06:00", flag, v)}
}

// taskActions are the TASK names job run takes, in help order.
var taskActions = []fleet.Action{fleet.PowerStatus, fleet.PowerOn, fleet.PowerOff, fleet.PowerReset, fleet.PowerCycle,
	fleet.PowerSoftOff, fleet.PowerSoftReset, fleet.Wake, fleet.Boot, fleet.Inventory, fleet.Hardware, fleet.ClockSet,
	fleet.IDERBoot, fleet.DefenseQuarantine, fleet.DefensePingOnly, fleet.DefenseApply, fleet.DefenseRemove,
	fleet.DefenseStatus}

func taskNames() []string {
	out := make([]string, len(taskActions))
	for i, a := range taskActions {
		out[i] = string(a)
	}
	return out
}

// runFlags are job run's flags.
type runFlags struct {
	jobCommon
	targets        []string
	port           int
	maxTargets     int
	concurrency    int
	retries        int
	retryDelay     time.Duration
	timeout        time.Duration
	expire         time.Duration
	expireAt       string
	startAt        string
	batchSize      int
	batchInterval  time.Duration
	canary         int
	chunkSize      int
	profile        string
	detach         bool
	dryRun         bool
	image          string
	imageKind      string
	servers        []string
	policy         string
	defenseTimeout time.Duration
	wake           string
	wakeTimeout    time.Duration
	conn           jobTLSFlags
	worker         workerFlags
}

func newJobRunCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run TASK [pxe|disk|cd|bios] --targets TARGETS [flags]",
		Short: "Run a task over many machines: in the foreground with a progress bar, or --detach for workers",
		Long: "job run stores a job of TASK over the targets and, unless --detach, works it in this process (as a\n" +
			"worker: it may also take work of other waiting jobs until this one ends) with a progress bar on a\n" +
			"terminal, printing each machine that did not succeed and then the summary; --output json prints one\n" +
			"object per machine as it finishes and a last object with the counts by outcome. --detach prints the\n" +
			"job's ID and returns: \"amtctl job worker\" processes work it. --dry-run says what would be sent and\n" +
			"stores nothing. The machines' WS-Management port is the one in each target, else --port, else 16992\n" +
			"(16993 with TLS).\n\n" +
			"TLS: --tls, --ca, --pin, --legacy-tls and --insecure-skip-verify mean what they mean for the device\n" +
			"commands (each implies --tls; --insecure-skip-verify excludes --ca and --pin). The job stores them (the\n" +
			"CA certificates' content, not the file's path), so that every worker, on any machine, verifies the\n" +
			"same way; a certificate they refuse ends the machine tls, before any login. job status shows them.\n\n" +
			"TASK: " + strings.Join(taskNames()[:9], ", ") + ",\n" + strings.Join(taskNames()[9:], ", ") + ".\n" +
			"boot takes the device to boot from (pxe, disk, cd or bios) and resets or powers on into it; ider-boot\n" +
			"takes --image; defense-quarantine takes --server and --defense-timeout, defense-ping-only\n" +
			"--defense-timeout; defense-apply takes --policy and --defense-timeout.\n\n" +
			"Credentials: each machine logs in with --profile (else the default profile), then its runtime entry,\n" +
			"under the lockout guard; a job stores the profile's name, never a password.\n\n" + strings.SplitN(jobLong, "\n\n", 2)[1],
		Args:      cobra.RangeArgs(1, 2),
		ValidArgs: append(taskNames(), "pxe", "disk", "cd", "bios"),
		RunE: func(cmd *cobra.Command, args []string) error {
			tuneGCForFleets()
			return runJobRun(cmd, &f, args)
		},
	}
	fl := cmd.Flags()
	f.register(cmd)
	fl.StringArrayVar(&f.targets, "targets", nil, "machines: addresses, host:port, ranges, CIDRs, @FILE, @- and %COLLECTION (repeat or separate by commas)")
	fl.IntVar(&f.port, "port", 0, "WS-Management port of targets given without one (0: 16992)")
	fl.IntVar(&f.maxTargets, "max-targets", defaultMaxTargets, "refuse targets that name more machines than this")
	fl.IntVar(&f.concurrency, "concurrency", 100, "machines worked at once, over every worker")
	fl.IntVar(&f.retries, "retries", 0, "tries again after a transient failure (unreachable, timeout, busy); never after a login failure or a change whose answer was lost")
	fl.DurationVar(&f.retryDelay, "retry-delay", 5*time.Second, "wait before each retry")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "bound of one attempt on one machine")
	fl.DurationVar(&f.expire, "expire", 0, "machines not done this long after the start are reported expired")
	fl.StringVar(&f.expireAt, "expire-at", "", "machines not done by this time are reported expired (2026-03-01T07:00:00Z, 2026-03-01 07:00, 07:00)")
	fl.StringVar(&f.startAt, "start-at", "", "start at this time instead of now (as --expire-at)")
	fl.IntVar(&f.batchSize, "batch-size", 0, "stagger the roll-out: start at most this many machines per --batch-interval")
	fl.DurationVar(&f.batchInterval, "batch-interval", 0, "the interval between batches")
	fl.IntVar(&f.canary, "canary", 0, "run this many machines first, then pause the job until \"amtctl job continue\"")
	fl.IntVar(&f.chunkSize, "chunk-size", durable.DefaultChunkSize, "machines carried by one unit of work on a worker (one River job)")
	fl.StringVar(&f.profile, "profile", "", "credential profile the machines log in with (else the default profile)")
	fl.BoolVar(&f.detach, "detach", false, "store the job, print its ID and return; job worker processes work it")
	fl.BoolVar(&f.dryRun, "dry-run", false, "say what would be sent to each machine, and store nothing")
	fl.StringVar(&f.image, "image", "", "ider-boot: the image to boot (a path readable where the job is worked)")
	fl.StringVar(&f.imageKind, "image-kind", "", "ider-boot: cd or floppy (default: by the image's content)")
	fl.StringArrayVar(&f.servers, "server", nil, "defense-quarantine: an address kept reachable (repeat)")
	fl.StringVar(&f.policy, "policy", "", "defense-apply: the System Defense policy file (YAML)")
	fl.DurationVar(&f.defenseTimeout, "defense-timeout", 0, "defense tasks: how long the policy stays in force on the device (whole minutes)")
	fl.StringVar(&f.wake, "wake", "", "bring each machine up first: power-on (when off) or wake (from OS power saving)")
	fl.DurationVar(&f.wakeTimeout, "wake-timeout", 0, "bound of the wait for --wake (default: the SDK's)")
	f.conn.register(fl)
	f.worker.registerTuning(fl)
	return cmd
}

// spec checks job run's flags and builds the job's Spec (targets
// expanded) before anything is stored or sent.
func (f *runFlags) spec(cmd *cobra.Command, args []string) (durable.Spec, error) {
	if err := f.validate(cmd); err != nil {
		return durable.Spec{}, err
	}
	if err := checkOneOf("TASK", args[0], taskNames()...); err != nil {
		return durable.Spec{}, err
	}
	task := fleet.Task{Action: fleet.Action(args[0])}
	if task.Action == fleet.Boot {
		if len(args) < 2 {
			return durable.Spec{}, usageError{errors.New("boot needs the device to boot from: pxe, disk, cd or bios")}
		}
		if _, err := power.ParseBootTarget(args[1]); err != nil {
			return durable.Spec{}, usageError{fmt.Errorf("boot %s: %w", args[1], err)}
		}
		task.BootTarget = args[1]
	} else if len(args) > 1 {
		return durable.Spec{}, usageError{fmt.Errorf("%s takes no argument (%q)", task.Action, args[1])}
	}
	if len(f.targets) == 0 {
		return durable.Spec{}, usageError{errors.New("--targets is required")}
	}
	if err := firstError(
		checkPort("--port", f.port, true),
		checkRange("--max-targets", f.maxTargets, 1, 10_000_000),
		checkRange("--concurrency", f.concurrency, 1, 100_000),
		checkRange("--retries", f.retries, 0, 100),
		checkPositive("--retry-delay", f.retryDelay),
		checkPositive("--timeout", f.timeout),
		checkNotNegative("--expire", f.expire),
		checkRange("--batch-size", f.batchSize, 0, 10_000_000),
		checkNotNegative("--batch-interval", f.batchInterval),
		checkRange("--canary", f.canary, 0, 10_000_000),
		checkRange("--chunk-size", f.chunkSize, 1, 100_000),
		checkConflict(cmd, "expire", "expire-at"),
		checkConflict(cmd, "detach", "dry-run"),
		checkNotNegative("--wake-timeout", f.wakeTimeout),
		checkNotNegative("--defense-timeout", f.defenseTimeout),
	); err != nil {
		return durable.Spec{}, err
	}
	if (f.batchSize > 0) != (f.batchInterval > 0) {
		return durable.Spec{}, usageError{errors.New("--batch-size and --batch-interval go together")}
	}
	if f.wake != "" {
		if err := checkOneOf("--wake", f.wake, string(fleet.WakePowerOn), string(fleet.WakeFromOS)); err != nil {
			return durable.Spec{}, err
		}
		task.Wake, task.WakeTimeout = fleet.WakeMode(f.wake), fleet.Duration(f.wakeTimeout)
	} else if f.wakeTimeout != 0 {
		return durable.Spec{}, usageError{errors.New("--wake-timeout goes with --wake")}
	}
	if err := f.taskArgs(cmd, &task); err != nil {
		return durable.Spec{}, err
	}
	conn, err := f.conn.connection(cmd)
	if err != nil {
		return durable.Spec{}, err
	}
	now := time.Now()
	s := durable.Spec{Task: task, Concurrency: f.concurrency, Retries: f.retries, RetryDelay: f.retryDelay,
		Timeout: f.timeout, ExpireAfter: f.expire, BatchSize: f.batchSize, BatchInterval: f.batchInterval,
		Canary: f.canary, ChunkSize: f.chunkSize, Profile: f.profile, Actor: actorName(cmd), Connection: conn}
	if f.startAt != "" {
		t, err := parseJobTime("--start-at", f.startAt, now)
		if err != nil {
			return durable.Spec{}, err
		}
		s.StartAt = t
	}
	if f.expireAt != "" {
		t, err := parseJobTime("--expire-at", f.expireAt, now)
		if err != nil {
			return durable.Spec{}, err
		}
		if !t.After(now) || (!s.StartAt.IsZero() && !t.After(s.StartAt)) {
			return durable.Spec{}, usageError{fmt.Errorf("--expire-at %s is not after the start", t.Format(time.RFC3339))}
		}
		s.ExpireAt = t
	}
	targets, err := parseJobTargets(f.targets, cmd.InOrStdin(), f.port, f.maxTargets)
	if err != nil {
		return durable.Spec{}, err
	}
	s.Targets, s.Collections = targets.Hosts, targets.Collections
	return s, nil
}

// taskArgs checks and sets the flags that belong to one task.
func (f *runFlags) taskArgs(cmd *cobra.Command, task *fleet.Task) error {
	owners := map[string][]fleet.Action{
		"image":           {fleet.IDERBoot},
		"image-kind":      {fleet.IDERBoot},
		"server":          {fleet.DefenseQuarantine},
		"policy":          {fleet.DefenseApply},
		"defense-timeout": {fleet.DefenseQuarantine, fleet.DefensePingOnly, fleet.DefenseApply},
	}
	for name, actions := range owners {
		if cmd.Flags().Changed(name) && !containsAction(actions, task.Action) {
			return usageError{fmt.Errorf("--%s does not go with %s", name, task.Action)}
		}
	}
	switch task.Action {
	case fleet.IDERBoot:
		if f.image == "" {
			return usageError{errors.New("ider-boot needs --image")}
		}
		if f.imageKind != "" {
			if err := checkOneOf("--image-kind", f.imageKind, "cd", "floppy"); err != nil {
				return err
			}
		}
		if _, err := os.Stat(f.image); err != nil {
			return usageError{fmt.Errorf("--image: %w", err)}
		}
		task.Image, task.ImageKind = f.image, f.imageKind
	case fleet.DefenseQuarantine:
		for _, s := range f.servers {
			for _, a := range targetFields(s) {
				if err := checkHost("--server", a); err != nil {
					return err
				}
				task.Servers = append(task.Servers, a)
			}
		}
		if len(task.Servers) == 0 {
			return usageError{errors.New("defense-quarantine needs --server: the addresses that stay reachable")}
		}
	case fleet.DefenseApply:
		if f.policy == "" {
			return usageError{errors.New("defense-apply needs --policy")}
		}
		b, err := os.ReadFile(f.policy)
		if err != nil {
			return usageError{fmt.Errorf("--policy: %w", err)}
		}
		task.Policy = string(b)
	}
	switch task.Action {
	case fleet.DefenseQuarantine, fleet.DefensePingOnly, fleet.DefenseApply:
		if f.defenseTimeout <= 0 || f.defenseTimeout%time.Minute != 0 {
			return usageError{fmt.Errorf("%s needs --defense-timeout in whole minutes (e.g. 60m): the policy ends on its own", task.Action)}
		}
		task.DefenseTimeout = fleet.Duration(f.defenseTimeout)
	}
	return nil
}

func containsAction(as []fleet.Action, a fleet.Action) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

func runJobRun(cmd *cobra.Command, f *runFlags, args []string) error {
	s, err := f.spec(cmd, args)
	if err != nil {
		return err
	}
	if f.dryRun {
		return jobDryRun(cmd, f, s)
	}
	if err := f.worker.validate(); err != nil {
		return err
	}
	m, db, err := f.manager(cmd)
	if err != nil {
		return err
	}
	defer db.Close()
	if f.profile != "" {
		if _, err := db.Credentials().Profile(cmd.Context(), f.profile); errors.Is(err, credentials.ErrNotFound) {
			return usageError{fmt.Errorf("--profile %s: no such profile (see amtctl creds profile list)", f.profile)}
		}
	}
	id, err := m.Submit(cmd.Context(), s)
	if err != nil {
		return jobErr(err)
	}
	if f.detach {
		j, err := m.Job(cmd.Context(), id)
		if err != nil {
			return err
		}
		if f.output == "json" {
			return writeJSON(cmd.OutOrStdout(), newJobRecord(j))
		}
		_, err = fmt.Fprintln(cmd.OutOrStdout(), int64(id))
		return err
	}
	return followJob(cmd, m, db, id, f.output, &f.worker, true)
}

// followJob prints each machine of the job as it finishes, then the
// summary; with work, this process works it meanwhile (as a worker, so it
// may also take chunks of other jobs waiting in the database until this
// one ends). An interrupt cancels the job.
func followJob(cmd *cobra.Command, m *durable.Manager, db *statedb.DB, id durable.ID, format string, wf *workerFlags, work bool) error {
	ctx := cmd.Context()
	j, err := m.Job(ctx, id)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	stopWorker := func() error { return nil }
	if work {
		w, err := wf.newWorker(cmd, db)
		if err != nil {
			return err
		}
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		errc := make(chan error, 1)
		go func() { errc <- w.Run(wctx) }()
		stopWorker = func() error {
			cancel()
			return <-errc
		}
	}
	bar := newJobProgress(cmd, string(j.Task.Action), j.Total-j.Done)
	if format != "json" && bar == nil && !quiet(cmd) {
		fmt.Fprintf(cmd.ErrOrStderr(), "job %d: %s of %d machines\n", id, j.Task.Action, j.Total)
	}
	var ferr error
	for mc, err := range m.Follow(ctx, id, durable.FollowOptions{UntilPaused: true}) {
		if err != nil {
			ferr = err
			break
		}
		jm := newJobMachine(mc, j.Task.Action)
		bar.Interrupt(func() {
			switch {
			case format == "json":
				_ = writeJSON(out, jm)
			case mc.Outcome != nil && *mc.Outcome != fleet.Succeeded:
				fmt.Fprintln(out, machineLine(jm))
			}
		})
		if mc.Outcome != nil {
			bar.Add(*mc.Outcome)
		}
	}
	bar.Finish()
	interrupted := ctx.Err() != nil
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if interrupted {
		if _, err := m.Cancel(endCtx, id); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "amtctl: cancelling job %d: %v\n", id, err)
		}
	}
	if err := stopWorker(); err != nil && ferr == nil && !interrupted {
		ferr = err
	}
	if ferr != nil && !interrupted {
		return ferr
	}
	j, err = m.Job(endCtx, id)
	if err != nil {
		return err
	}
	sum := newJobSummary(j)
	if format == "json" {
		if err := writeJSON(out, sum); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "job %d: %s of %d machines, %s: %s\n", id, j.Task.Action, j.Total, j.State, countsLine(sum.Counts))
	}
	if interrupted {
		return &signalError{sig: 2, cause: fmt.Errorf("job %d cancelled: machines not started are reported cancelled", id)}
	}
	return jobEnd(j, sum)
}

// jobEnd is the error (exit status) a followed job ends with.
func jobEnd(j durable.Job, sum jobSummary) error {
	failed := failedCount(sum.Counts)
	switch {
	case failed > 0:
		return &jobEndError{code: exitIncomplete, msg: fmt.Sprintf("job %d: %d of %d machines did not succeed (%s); see amtctl job report %d",
			j.ID, failed, j.Total, countsLine(sum.Counts), j.ID)}
	case j.State == durable.StatePaused:
		return &jobEndError{code: exitPaused, msg: fmt.Sprintf("job %d: the canary of %d machines succeeded; the job waits: amtctl job continue %d", j.ID, j.Done, j.ID)}
	case j.Done < j.Total:
		return &jobEndError{code: exitIncomplete, msg: fmt.Sprintf("job %d: %d of %d machines are not done", j.ID, j.Total-j.Done, j.Total)}
	}
	return nil
}

// newJobMachine is the CLI's form of a machine's row.
func newJobMachine(mc durable.Machine, action fleet.Action) jobMachine {
	jm := jobMachine{Job: int64(mc.Job), Host: mc.Host, Action: string(action), State: string(mc.State),
		ReturnCode: mc.ReturnCode, ReturnCodeName: mc.ReturnCodeName, Attempts: mc.Attempts,
		RetriesRemaining: mc.RetriesRemaining, LastAttempt: utcp(mc.LastAttempt), Message: mc.Message, Data: mc.Data}
	if mc.Outcome != nil {
		o := string(*mc.Outcome)
		jm.Outcome = &o
	}
	if mc.Worker != "" {
		w := mc.Worker
		jm.Worker = &w
	}
	if len(jm.Data) == 0 || string(jm.Data) == "null" {
		jm.Data = nil
	}
	return jm
}

func utcp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func newJobSummary(j durable.Job) jobSummary {
	return jobSummary{Job: int64(j.ID), Action: string(j.Task.Action), State: string(j.State), Total: j.Total,
		Done: j.Done, Counts: outcomeCounts(j.Counts)}
}

// jobRecord is a job in job list, job status and job run --detach.
type jobRecord struct {
	Job         int64          `json:"job"`
	Action      string         `json:"action"`
	State       string         `json:"state"`
	Actor       string         `json:"actor"`
	Profile     *string        `json:"profile"`
	CreatedAt   time.Time      `json:"created_at"`
	StartAt     time.Time      `json:"start_at"`
	ExpireAt    *time.Time     `json:"expire_at"`
	ContinuedAt *time.Time     `json:"continued_at"`
	FinishedAt  *time.Time     `json:"finished_at"`
	Total       int            `json:"total"`
	Done        int            `json:"done"`
	Counts      map[string]int `json:"counts"`
	// Connection is how the workers connect to the machines.
	Connection connectionRecord `json:"connection"`
}

func newJobRecord(j durable.Job) jobRecord {
	r := jobRecord{Job: int64(j.ID), Action: string(j.Task.Action), State: string(j.State), Actor: j.Actor,
		CreatedAt: j.CreatedAt.UTC(), StartAt: j.StartAt.UTC(), ExpireAt: utcp(j.ExpireAt), ContinuedAt: utcp(j.ContinuedAt),
		FinishedAt: utcp(j.FinishedAt), Total: j.Total, Done: j.Done, Counts: outcomeCounts(j.Counts),
		Connection: newConnectionRecord(j.Spec.Connection)}
	if j.Profile != "" {
		p := j.Profile
		r.Profile = &p
	}
	return r
}

// jobDryRun says what job run would do: the machines, the schedule and
// the requests each machine would be sent; nothing is stored or sent.
func jobDryRun(cmd *cobra.Command, f *runFlags, s durable.Spec) error {
	reqs := taskRequests(s.Task)
	hosts := s.Targets
	if hosts == nil {
		hosts = []string{}
	}
	colls := s.Collections
	if colls == nil {
		colls = []string{}
	}
	batches := 1
	if s.BatchSize > 0 {
		batches = (len(hosts) + s.BatchSize - 1) / s.BatchSize
	}
	plan := jobPlan{Job: nil, Action: string(s.Task.Action), DryRun: true, Targets: hosts, Collections: colls,
		Total: len(hosts), Canary: s.Canary, BatchSize: s.BatchSize, BatchInterval: s.BatchInterval.String(), Batches: batches,
		WouldSend: reqs}
	if f.output == "json" {
		return writeJSON(cmd.OutOrStdout(), plan)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "would run %s on %d machines", s.Task.Action, len(hosts))
	if len(colls) > 0 {
		fmt.Fprintf(w, " and the machines of %s", strings.Join(colls, ", "))
	}
	fmt.Fprintln(w)
	if s.Canary > 0 {
		fmt.Fprintf(w, "  canary: %d machines first, then a pause until amtctl job continue\n", s.Canary)
	}
	if s.BatchSize > 0 {
		fmt.Fprintf(w, "  batches: %d machines every %s (%d batches)\n", s.BatchSize, formatDuration(s.BatchInterval), batches)
	}
	if len(reqs) == 0 {
		fmt.Fprintln(w, "  would send nothing that changes a machine (it reads)")
	}
	for _, r := range reqs {
		fmt.Fprintf(w, "  would send to each machine: %s\n", r)
	}
	return nil
}

// jobPlan is job run --dry-run's JSON.
type jobPlan struct {
	Job           *int64           `json:"job"`
	Action        string           `json:"action"`
	DryRun        bool             `json:"dry_run"`
	Targets       []string         `json:"targets"`
	Collections   []string         `json:"collections"`
	Total         int              `json:"total"`
	Canary        int              `json:"canary"`
	BatchSize     int              `json:"batch_size"`
	BatchInterval string           `json:"batch_interval"`
	Batches       int              `json:"batches"`
	WouldSend     []plannedRequest `json:"would_send"`
}

// taskRequests are the requests that change a machine which a task sends
// to each machine (those it needs: power-on sends nothing to a machine
// that is on).
func taskRequests(t fleet.Task) []plannedRequest {
	out := []plannedRequest{}
	switch t.Wake {
	case fleet.WakePowerOn:
		out = append(out, planPower(power.On))
	case fleet.WakeFromOS:
		out = append(out, planWake())
	}
	switch t.Action {
	case fleet.PowerOn:
		out = append(out, planPower(power.On))
	case fleet.PowerOff:
		out = append(out, planPower(power.Off))
	case fleet.PowerReset:
		out = append(out, planPower(power.Reset))
	case fleet.PowerCycle:
		out = append(out, planPower(power.PowerCycle))
	case fleet.PowerSoftOff:
		out = append(out, planPower(power.SoftOff))
	case fleet.PowerSoftReset:
		out = append(out, planPower(power.SoftReset))
	case fleet.Wake:
		out = append(out, planWake())
	case fleet.Boot:
		bt, _ := power.ParseBootTarget(t.BootTarget)
		out = append(out, planNextBoot(bt, power.BootOptions{})...)
		out = append(out, planPower(power.Reset))
	case fleet.ClockSet:
		out = append(out, invoke("AMT_TimeSynchronizationService", "SetHighAccuracyTimeSynch",
			"Ta0", "(the device's time, read first)", "Tm1", "(this machine's time when sent)", "Tm2", "(this machine's time when sent)"))
	case fleet.IDERBoot:
		out = append(out, plannedRequest{Operation: "Redirect", Resource: "IDE-R session", Method: "open and enable the drives",
			Arguments: args("image", t.Image, "requests", "(per machine: amtctl ider boot --dry-run --host H lists them)")})
		out = append(out, planPower(power.Reset))
	case fleet.DefenseQuarantine, fleet.DefensePingOnly, fleet.DefenseApply, fleet.DefenseRemove:
		cmd := strings.TrimPrefix(string(t.Action), "defense-")
		out = append(out, plannedRequest{Operation: "Create", Resource: "System Defense filters and policy", Method: "",
			Arguments: args("requests", "(per machine, as its capabilities allow: amtctl defense "+cmd+" --dry-run --host H lists them)")})
		if t.Action == fleet.DefenseRemove {
			out[len(out)-1].Operation, out[len(out)-1].Resource = "Delete", "amtkit's System Defense filters and policies"
		}
	}
	return out
}

// workerFlags tune a worker (job worker, and job run in the foreground).
type workerFlags struct {
	name        string
	concurrency int
	jobTimeout  time.Duration
	rescueAfter time.Duration
	poll        time.Duration
	retention   time.Duration
	verbose     bool
}

func (w *workerFlags) registerTuning(fl *pflag.FlagSet) {
	fl.DurationVar(&w.jobTimeout, "job-timeout", durable.DefaultJobTimeout, "bound of one chunk of machines on a worker")
	fl.DurationVar(&w.rescueAfter, "rescue-after", durable.DefaultRescueAfter, "a chunk held this long by a worker that stopped answering (killed) moves to another, within about 45 s more (River's rescuer runs every 30 s); more than --job-timeout")
}

func (w *workerFlags) validate() error {
	if err := firstError(
		checkPositive("--job-timeout", w.jobTimeout),
		checkPositive("--rescue-after", w.rescueAfter),
		checkNotNegative("--poll", w.poll),
		checkNotNegative("--retention", w.retention),
	); err != nil {
		return err
	}
	if w.rescueAfter <= w.jobTimeout {
		return usageError{fmt.Errorf("--rescue-after (%s) must be longer than --job-timeout (%s)", formatDuration(w.rescueAfter), formatDuration(w.jobTimeout))}
	}
	return nil
}

// newWorker builds a worker over db: credentials per machine from the
// job's profile (else the default profile) and the runtime profile, under
// the lockout guard kept in the same database.
func (w *workerFlags) newWorker(cmd *cobra.Command, db *statedb.DB) (*durable.Worker, error) {
	store := db.Credentials()
	logger := slog.New(slog.DiscardHandler)
	if w.verbose {
		logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return durable.NewWorker(db, durable.WorkerOptions{
		Name:        w.name,
		Concurrency: w.concurrency,
		Credentials: func(ctx context.Context, profile string) (credentials.Source, error) {
			return resolverSource(ctx, store, credentialChoice{profile: profile}, nil)
		},
		JobTimeout:   w.jobTimeout,
		RescueAfter:  w.rescueAfter,
		PollInterval: w.poll,
		Retention:    w.retention,
		Logger:       logger,
	})
}

func newJobWorkerCommand() *cobra.Command {
	var (
		w     workerFlags
		state string
	)
	cmd := &cobra.Command{
		Use:   "worker [--database URL] [--concurrency N]",
		Short: "Work the durable jobs of the state database until interrupted",
		Long: "job worker takes chunks of machines from the jobs in the state database and works them, until\n" +
			"interrupted (SIGINT or SIGTERM: it finishes the chunks in hand and exits 0). Any number of workers share\n" +
			"the jobs: several processes on one SQLite file, or several machines on one Postgres database\n" +
			"(--database postgres://... or $AMTKIT_DATABASE). A worker that is killed leaves its chunk to the others\n" +
			"after --rescue-after plus up to about 45 s: River's rescuer, which hands such chunks on, runs every 30 s\n" +
			"on the workers' elected leader (River v0.51 does not let that interval be set), and a leader that was the\n" +
			"killed worker is replaced within about 15 s. A machine it had sent a change to and not recorded is\n" +
			"reported outcome_unknown and never sent again on its own. Workers also expire jobs past their expiry and\n" +
			"purge finished jobs older than --retention.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tuneGCForFleets()
			if err := firstError(checkRange("--concurrency", w.concurrency, 1, 1_000_000), w.validate()); err != nil {
				return err
			}
			if w.name != "" {
				if err := checkName("--name", w.name); err != nil {
					return err
				}
			}
			db, err := openState(cmd, state)
			if err != nil {
				return err
			}
			defer db.Close()
			wk, err := w.newWorker(cmd, db)
			if err != nil {
				return jobErr(err)
			}
			if !quiet(cmd) {
				fmt.Fprintf(cmd.ErrOrStderr(), "job worker %s: working the jobs of %s\n", wk.Name(), db)
			}
			return wk.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&w.name, "name", "", "this worker's name in reports (default host name and process ID)")
	fl.IntVar(&w.concurrency, "concurrency", durable.DefaultWorkerConcurrency, "machines this worker works at once")
	fl.DurationVar(&w.poll, "poll", durable.DefaultPollInterval, "how often to look for work")
	fl.DurationVar(&w.retention, "retention", durable.DefaultRetention, "finished jobs older than this are purged")
	fl.BoolVarP(&w.verbose, "verbose", "v", false, "log the worker's diagnostics to stderr")
	w.registerTuning(fl)
	registerStateFlag(fl, &state)
	return cmd
}
