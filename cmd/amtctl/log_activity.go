package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/statedb"
)

// addActivityLogCommands adds "activity" and "purge" to the log command.
func addActivityLogCommands(log *cobra.Command) {
	log.AddCommand(newLogActivityCommand(), newLogPurgeCommand())
}

// parseAge parses an age: a Go duration (36h, 90m) or a number of days
// (180d).
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid age %q (want a duration such as 36h or a number of days such as 180d)", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid age %q (want a duration such as 36h or a number of days such as 180d)", s)
	}
	return d, nil
}

// parseWhen parses a point in time: RFC 3339, a date (2006-01-02, local
// time), or an age (36h, 7d) meaning that long ago.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04", s, time.Local); err == nil {
		return t, nil
	}
	if d, err := parseAge(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q (want RFC 3339, a date such as 2026-01-31, or an age such as 24h or 7d)", s)
}

// activityJSON is one entry of `log activity --output json`. Every key is
// always present; unknown values are null.
type activityJSON struct {
	ID             int64             `json:"id"`
	Time           time.Time         `json:"time"`
	Actor          string            `json:"actor"`
	Host           *string           `json:"host"`
	Operation      string            `json:"operation"`
	Params         map[string]string `json:"params"`
	Technology     *string           `json:"technology"`
	Profile        *string           `json:"profile"`
	Outcome        string            `json:"outcome"`
	ReturnCode     *int              `json:"return_code"`
	ReturnCodeName *string           `json:"return_code_name"`
	AuthStep       *string           `json:"auth_step"`
	Job            *int64            `json:"job"`
	JobLabel       *string           `json:"job_label"`
	Seconds        float64           `json:"duration_seconds"`
	Message        *string           `json:"message"`
}

// jobOf splits an entry's job into the number of an amtctl job (the same
// number job run, status and report print) or, for a label an SDK program
// gave its own work, job_label.
func jobOf(job string) (*int64, *string) {
	if job == "" {
		return nil, nil
	}
	if n, err := strconv.ParseInt(job, 10, 64); err == nil && n > 0 && strconv.FormatInt(n, 10) == job {
		return &n, nil
	}
	return nil, &job
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func newLogActivityCommand() *cobra.Command {
	var (
		state, host, actor, operation, since, until, output, job string
		stats                                                    bool
		limit                                                    int
	)
	cmd := &cobra.Command{
		Use:   "activity",
		Short: "Show the activity log: who did what to which machine, and how it ended",
		Long: "Every amtctl command that acts records an entry: time, actor (the OS user, or --actor / $AMTKIT_ACTOR),\n" +
			"machine, operation, parameters (never a secret), technology, credential profile, outcome with the\n" +
			"device's return code, job and duration. Entries older than the retention (180 days, or\n" +
			"$AMTKIT_LOG_RETENTION) are purged automatically; --stats shows when that last ran.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("--output must be table or json, not %q", output)}
			}
			now := time.Now()
			f := statedb.ActivityFilter{Host: host, Actor: actor, Operation: operation, Job: job, Limit: limit}
			var err error
			if since != "" {
				if f.Since, err = parseWhen(since, now); err != nil {
					return usageError{fmt.Errorf("--since: %w", err)}
				}
			}
			if until != "" {
				if f.Until, err = parseWhen(until, now); err != nil {
					return usageError{fmt.Errorf("--until: %w", err)}
				}
			}
			db, err := openState(cmd, state)
			if err != nil {
				return err
			}
			defer db.Close()
			out := cmd.OutOrStdout()
			if stats {
				st, err := db.ActivityStats(cmd.Context())
				if err != nil {
					return err
				}
				return printActivityStats(out, output, st)
			}
			entries, err := db.QueryActivity(cmd.Context(), f)
			if err != nil {
				return err
			}
			return printActivity(out, output, entries)
		},
	}
	fl := cmd.Flags()
	registerStateFlag(fl, &state)
	fl.StringVar(&host, "host", "", "only entries for this machine (as it was named)")
	fl.StringVar(&actor, "actor", "", "only entries of this actor")
	fl.StringVar(&operation, "operation", "", `only this operation, or those it begins ("power" selects "power reset")`)
	fl.StringVar(&since, "since", "", "only entries at or after T (RFC 3339, a date, or an age such as 24h or 7d)")
	fl.StringVar(&until, "until", "", "only entries before T")
	fl.StringVar(&job, "job", "", "only entries of this job")
	fl.IntVar(&limit, "limit", 0, "at most N entries (the oldest first)")
	fl.StringVarP(&output, "output", "o", "table", "output format: table or json")
	fl.BoolVar(&stats, "stats", false, "show the count, the oldest and newest entries, and when the last purge ran")
	return cmd
}

func printActivity(w io.Writer, output string, entries []statedb.ActivityEntry) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		for _, e := range entries {
			params := e.Params
			if params == nil {
				params = map[string]string{}
			}
			rec := activityJSON{
				ID: e.ID, Time: e.Time, Actor: e.Actor, Host: orNull(e.Host), Operation: e.Operation, Params: params,
				Technology: orNull(e.Technology), Profile: orNull(e.Profile), Outcome: e.Outcome, ReturnCode: e.ReturnCode,
				ReturnCodeName: orNull(e.ReturnCodeName), AuthStep: orNull(e.AuthStep),
				Seconds: e.Duration.Seconds(), Message: orNull(e.Message),
			}
			rec.Job, rec.JobLabel = jobOf(e.Job)
			if err := enc.Encode(rec); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tHOST\tOPERATION\tOUTCOME\tCODE\tPROFILE\tDURATION\tDETAIL")
	for _, e := range entries {
		code := "-"
		if e.ReturnCode != nil {
			code = strconv.Itoa(*e.ReturnCode)
			if e.ReturnCodeName != "" {
				code += " " + e.ReturnCodeName
			}
		}
		detail := e.AuthStep
		if e.Message != "" {
			if detail != "" {
				detail += ": "
			}
			detail += e.Message
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), dash(e.Actor), dash(e.Host),
			e.Operation+paramText(e.Params), e.Outcome, code, dash(e.Profile), formatDuration(e.Duration), detail)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func paramText(p map[string]string) string {
	if len(p) == 0 {
		return ""
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if k == "args" {
			fmt.Fprintf(&b, " %s", p[k])
			continue
		}
		fmt.Fprintf(&b, " --%s=%s", k, p[k])
	}
	return b.String()
}

func printActivityStats(w io.Writer, output string, st statedb.ActivityStats) error {
	days := st.Retention.Hours() / 24
	if output == "json" {
		return json.NewEncoder(w).Encode(struct {
			Count     int64      `json:"count"`
			Oldest    *time.Time `json:"oldest"`
			Newest    *time.Time `json:"newest"`
			LastPurge *time.Time `json:"last_purge"`
			Retention float64    `json:"retention_days"`
		}{st.Count, st.Oldest, st.Newest, st.LastPurge, days})
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.Local().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "entries:     %d\n", st.Count)
	if st.Count > 0 {
		fmt.Fprintf(w, "oldest:      %s\n", when(st.Oldest))
		fmt.Fprintf(w, "newest:      %s\n", when(st.Newest))
	}
	fmt.Fprintf(w, "last purge:  %s\n", when(st.LastPurge))
	fmt.Fprintf(w, "retention:   %g days (entries older are purged automatically, at most once a day)\n", days)
	return nil
}

func newLogPurgeCommand() *cobra.Command {
	var state, olderThan, output string
	cmd := &cobra.Command{
		Use:   "purge --older-than AGE",
		Short: "Delete activity entries older than AGE (180d, 36h, ...)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if olderThan == "" {
				return usageError{errors.New("--older-than is required (for example --older-than 90d)")}
			}
			age, err := parseAge(olderThan)
			if err != nil {
				return usageError{fmt.Errorf("--older-than: %w", err)}
			}
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("--output must be table or json, not %q", output)}
			}
			db, err := openState(cmd, state)
			if err != nil {
				return err
			}
			defer db.Close()
			before := time.Now().Add(-age)
			n, err := db.PurgeActivity(cmd.Context(), before)
			if err != nil {
				return err
			}
			if output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(struct {
					Deleted int64     `json:"deleted"`
					Before  time.Time `json:"before"`
				}{n, before.UTC()})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %d activity entries older than %s\n", n, before.Local().Format(time.RFC3339))
			return nil
		},
	}
	registerStateFlag(cmd.Flags(), &state)
	cmd.Flags().StringVar(&olderThan, "older-than", "", "delete entries older than this age: a number of days (180d) or a duration (36h)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
