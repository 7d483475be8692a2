package main

// job list, status, report, cancel, continue, retry and purge: reading and
// steering the jobs of the state database (no device I/O).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/amt/fleet/durable"
)

// run opens the state database's job manager, runs fn with it and closes
// the database: the body of every job and collection command that reads or
// steers the jobs (as deviceFlags.run is of a device command). fn's
// refusals by the durable layer become usage errors (jobErr). The flags are
// validated before, by the caller.
func (c *jobCommon) run(cmd *cobra.Command, fn func(ctx context.Context, m *durable.Manager) error) error {
	m, db, err := c.manager(cmd)
	if err != nil {
		return err
	}
	defer db.Close()
	return jobErr(fn(cmd.Context(), m))
}

func newJobListCommand() *cobra.Command {
	var (
		c      jobCommon
		states []string
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the jobs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := firstError(c.validate(cmd), checkRange("--limit", limit, 0, 1_000_000)); err != nil {
				return err
			}
			var f durable.ListFilter
			for _, v := range states {
				for _, s := range targetFields(v) {
					if err := checkOneOf("--state-is", s, "scheduled", "running", "paused", "cancelled", "finished"); err != nil {
						return err
					}
					f.States = append(f.States, durable.State(s))
				}
			}
			f.Limit = limit
			return c.run(cmd, func(ctx context.Context, m *durable.Manager) error {
				jobs, err := m.List(ctx, f)
				if err != nil {
					return err
				}
				recs := make([]jobRecord, 0, len(jobs))
				for _, j := range jobs {
					recs = append(recs, newJobRecord(j))
				}
				w := cmd.OutOrStdout()
				if c.output == "json" {
					return writeJSON(w, recs)
				}
				if len(recs) == 0 {
					_, err := fmt.Fprintln(w, "no jobs")
					return err
				}
				tw := newTable(w)
				fmt.Fprintln(tw, "JOB\tTASK\tSTATE\tDONE\tCREATED\tACTOR\tOUTCOMES")
				for _, r := range recs {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", r.Job, r.Action, r.State, r.Done, r.Total,
						timeText(&r.CreatedAt), r.Actor, countsLine(r.Counts))
				}
				return tw.Flush()
			})
		},
	}
	c.register(cmd)
	cmd.Flags().StringArrayVar(&states, "state-is", nil, "only jobs in these states: scheduled, running, paused, cancelled, finished")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many jobs (0: all)")
	return cmd
}

// jobStatus is job status's JSON: the job's record, its machines by state,
// who holds which machine now and when finished jobs were last purged.
type jobStatus struct {
	jobRecord
	Machines map[string]int `json:"machines"`
	// Running lists each machine a worker is working now, with the
	// worker; Holders groups them by worker.
	Running     []jobRunning `json:"running"`
	Holders     []jobHolder  `json:"holders"`
	LastCleanup *time.Time   `json:"last_cleanup"`
}

// jobRunning and jobHolder are the durable layer's records, printed in
// UTC with every list present.
type (
	jobRunning = durable.Running
	jobHolder  = durable.Holder
)

func newJobStatusCommand() *cobra.Command {
	var c jobCommon
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show a job: its state, machines by state and outcome, and which worker holds which machine",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.validate(cmd); err != nil {
				return err
			}
			id, err := parseJobID(args[0])
			if err != nil {
				return err
			}
			return c.run(cmd, func(ctx context.Context, m *durable.Manager) error {
				st, err := m.Status(ctx, id)
				if err != nil {
					return err
				}
				out := jobStatus{jobRecord: newJobRecord(st.Job), Machines: map[string]int{}, Running: []jobRunning{},
					Holders: []jobHolder{}, LastCleanup: utcp(st.LastCleanup)}
				for _, r := range st.Running {
					out.Running = append(out.Running, jobRunning{Host: r.Host, Worker: r.Worker, Since: r.Since.UTC()})
				}
				for _, s := range []durable.MachineState{durable.MachinePending, durable.MachineRunning, durable.MachineDone} {
					out.Machines[string(s)] = st.Machines[s]
				}
				for _, h := range st.Holders {
					hosts := h.Hosts
					if hosts == nil {
						hosts = []string{}
					}
					out.Holders = append(out.Holders, jobHolder{Worker: h.Worker, Since: h.Since.UTC(), Hosts: hosts})
				}
				w := cmd.OutOrStdout()
				if c.output == "json" {
					return writeJSON(w, out)
				}
				tw := newTable(w)
				fmt.Fprintf(tw, "Job\t%d\n", out.Job)
				fmt.Fprintf(tw, "Task\t%s\n", out.Action)
				fmt.Fprintf(tw, "State\t%s\n", out.State)
				fmt.Fprintf(tw, "Created\t%s by %s\n", timeText(&out.CreatedAt), out.Actor)
				fmt.Fprintf(tw, "Starts\t%s\n", timeText(&out.StartAt))
				if out.ExpireAt != nil {
					fmt.Fprintf(tw, "Expires\t%s\n", timeText(out.ExpireAt))
				}
				if out.ContinuedAt != nil {
					fmt.Fprintf(tw, "Continued\t%s\n", timeText(out.ContinuedAt))
				}
				if out.FinishedAt != nil {
					fmt.Fprintf(tw, "Finished\t%s\n", timeText(out.FinishedAt))
				}
				fmt.Fprintf(tw, "Machines\t%d: %d pending, %d running, %d done\n", out.Total, out.Machines["pending"], out.Machines["running"], out.Machines["done"])
				fmt.Fprintf(tw, "Outcomes\t%s\n", countsLine(out.Counts))
				fmt.Fprintf(tw, "Connection\t%s\n", connectionText(out.Connection))
				for _, h := range out.Holders {
					fmt.Fprintf(tw, "Worker %s\tworking %d since %s\n", h.Worker, len(h.Hosts), timeText(&h.Since))
				}
				const shown = 50
				for i, r := range out.Running {
					if i == shown {
						fmt.Fprintf(tw, "\t... and %d more (--output json lists them all)\n", len(out.Running)-shown)
						break
					}
					fmt.Fprintf(tw, "Running %s\ton %s since %s\n", r.Host, r.Worker, timeText(&r.Since))
				}
				last := "never"
				if out.LastCleanup != nil {
					last = timeText(out.LastCleanup)
				}
				fmt.Fprintf(tw, "Last clean-up\t%s\n", last)
				return tw.Flush()
			})
		},
	}
	c.register(cmd)
	return cmd
}

func newJobReportCommand() *cobra.Command {
	var (
		c        jobCommon
		outcomes []string
	)
	cmd := &cobra.Command{
		Use:   "report ID [--outcome O ...] [--output table|json|csv]",
		Short: "One row per machine of a job: outcome, return code, attempts, retries left, last attempt, worker, message",
		Long: "job report prints the grid a help desk reads: one row per machine of the job, sorted by address, with\n" +
			"its state, outcome, the device's return code and its name, the attempts made and retries left, the last\n" +
			"attempt's time, the worker that ran it and a one-line message. --outcome keeps the machines that ended so\n" +
			"(repeat or separate by commas). --output json prints one JSON array of the objects job run prints, csv\n" +
			"the same columns (without data) with a header line.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.validate(cmd); err != nil {
				return err
			}
			id, err := parseJobID(args[0])
			if err != nil {
				return err
			}
			outs, err := parseOutcomes(outcomes)
			if err != nil {
				return err
			}
			return c.run(cmd, func(ctx context.Context, m *durable.Manager) error {
				return printJobReport(cmd, m, id, outs, c.output)
			})
		},
	}
	c.register(cmd, "table", "json", "csv")
	cmd.Flags().StringArrayVar(&outcomes, "outcome", nil, "only machines with this outcome (repeat or separate by commas)")
	return cmd
}

// printJobReport prints the report of job id (the machines with one of
// outs, every machine when none) as a table, JSON or CSV.
func printJobReport(cmd *cobra.Command, m *durable.Manager, id durable.ID, outs []fleet.Outcome, format string) error {
	j, err := m.Job(cmd.Context(), id)
	if err != nil {
		return jobErr(err)
	}
	rows, err := m.Report(cmd.Context(), id, outs...)
	if err != nil {
		return jobErr(err)
	}
	ms := make([]jobMachine, 0, len(rows))
	for _, r := range rows {
		ms = append(ms, newJobMachine(r, j.Task.Action))
	}
	sortMachines(ms)
	w := cmd.OutOrStdout()
	switch format {
	case "json":
		return writeJSON(w, ms)
	case "csv":
		return writeMachineCSV(w, ms)
	}
	if err := writeMachineTable(w, ms); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "job %d: %s of %d machines, %s: %s\n", j.ID, j.Task.Action, j.Total, j.State, countsLine(outcomeCounts(j.Counts)))
	return err
}

// jobChange is the JSON of cancel, continue, retry: the job and what the
// command changed.
type jobChange struct {
	Job      int64  `json:"job"`
	Action   string `json:"action"`
	State    string `json:"state"`
	Machines int    `json:"machines"`
	Message  string `json:"message"`
}

// jobSteer builds job cancel, continue and retry.
func jobSteer(use, short, long string, extra func(*cobra.Command), do func(cmd *cobra.Command, m *durable.Manager, id durable.ID) (int, string, error)) *cobra.Command {
	var c jobCommon
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.validate(cmd); err != nil {
				return err
			}
			id, err := parseJobID(args[0])
			if err != nil {
				return err
			}
			return c.run(cmd, func(ctx context.Context, m *durable.Manager) error {
				n, msg, err := do(cmd, m, id)
				if err != nil {
					return err
				}
				j, err := m.Job(ctx, id)
				if err != nil {
					return err
				}
				out := jobChange{Job: int64(id), Action: strings.Fields(use)[0], State: string(j.State), Machines: n, Message: msg}
				if c.output == "json" {
					return writeJSON(cmd.OutOrStdout(), out)
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "job %d: %s (now %s)\n", id, msg, j.State)
				return err
			})
		},
	}
	c.register(cmd)
	if extra != nil {
		extra(cmd)
	}
	return cmd
}

func newJobCancelCommand() *cobra.Command {
	return jobSteer("cancel ID", "Cancel a job: machines not started are reported cancelled",
		"job cancel stops a job: machines not started are reported cancelled (one whose change was sent and not\n"+
			"answered, outcome_unknown); machines in the middle of an attempt finish it, and workers start nothing more.",
		nil, func(cmd *cobra.Command, m *durable.Manager, id durable.ID) (int, string, error) {
			n, err := m.Cancel(cmd.Context(), id)
			return n, fmt.Sprintf("cancelled, %d machines not started", n), err
		})
}

func newJobContinueCommand() *cobra.Command {
	return jobSteer("continue ID", "Release a job paused after its canary",
		"job continue releases a job that paused after its canary (--canary N): the rest of its machines start, in\n"+
			"their batches counted from now, on the workers.",
		nil, func(cmd *cobra.Command, m *durable.Manager, id durable.ID) (int, string, error) {
			j, err := m.Job(cmd.Context(), id)
			if err != nil {
				return 0, "", err
			}
			if err := m.Continue(cmd.Context(), id); err != nil {
				return 0, "", err
			}
			n := j.Total - j.Done
			return n, fmt.Sprintf("continued, %d machines to go", n), nil
		})
}

func newJobRetryCommand() *cobra.Command {
	var outcomes []string
	return jobSteer("retry ID [--outcome O ...]", "Try again the machines of an ended job that did not succeed",
		"job retry tries again, with the job's retries afresh and no expiry, the machines that ended with one of\n"+
			"the --outcome values (default: every failure but outcome_unknown, which is retried only when named: its\n"+
			"change may have been done). The job must have ended or been cancelled; workers work the machines.",
		func(cmd *cobra.Command) {
			cmd.Flags().StringArrayVar(&outcomes, "outcome", nil, "retry the machines with this outcome (repeat or separate by commas)")
		},
		func(cmd *cobra.Command, m *durable.Manager, id durable.ID) (int, string, error) {
			outs, err := parseOutcomes(outcomes)
			if err != nil {
				return 0, "", err
			}
			for _, o := range outs {
				if o == fleet.Succeeded {
					return 0, "", usageError{errors.New("--outcome succeeded: a machine that succeeded is not retried")}
				}
			}
			n, err := m.Retry(cmd.Context(), id, outs...)
			return n, fmt.Sprintf("%d machines to try again", n), err
		})
}

func newJobPurgeCommand() *cobra.Command {
	var (
		c         jobCommon
		olderThan string
	)
	cmd := &cobra.Command{
		Use:   "purge --older-than D",
		Short: "Delete finished and cancelled jobs that ended more than D ago",
		Long: "job purge deletes finished and cancelled jobs (with their machines) that ended more than --older-than\n" +
			"ago (e.g. 720h or 30d); workers do the same on their own after --retention. job status shows when it last ran.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(cmd); err != nil {
				return err
			}
			if olderThan == "" {
				return usageError{errors.New("--older-than is required (e.g. 30d; 0s purges every ended job)")}
			}
			d, err := parseAge(olderThan)
			if err != nil || d < 0 {
				return usageError{fmt.Errorf("--older-than %q: give a duration such as 720h or 30d", olderThan)}
			}
			return c.run(cmd, func(ctx context.Context, m *durable.Manager) error {
				res, err := m.Purge(ctx, d)
				if err != nil {
					return err
				}
				if c.output == "json" {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"jobs": res.Jobs, "machines": res.Machines, "older_than_s": d.Seconds()})
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "purged %d jobs (%d machines) that ended more than %s ago\n", res.Jobs, res.Machines, formatDuration(d))
				return err
			})
		},
	}
	c.register(cmd)
	cmd.Flags().StringVar(&olderThan, "older-than", "", "age of the jobs to delete: 720h, 30d")
	return cmd
}
