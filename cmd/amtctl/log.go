package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
)

// newLogCommand is the parent of the log readers: the device's event and
// audit logs here, the console's own activity log beside them.
func newLogCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Read a device's event and audit logs, and amtctl's activity log",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("log needs a subcommand: events, audit, activity or purge")}
		},
	}
	cmd.AddCommand(newLogEventsCommand(), newLogAuditCommand())
	addActivityLogCommands(cmd)
	return cmd
}

// sinceFlag parses --since: an RFC 3339 time, a date (UTC), or a duration
// back from now ("24h").
type sinceFlag struct {
	raw string
	now func() time.Time
}

func (s *sinceFlag) options() ([]amt.LogOption, error) {
	if s.raw == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339, s.raw); err == nil {
		return []amt.LogOption{amt.Since(t)}, nil
	}
	if t, err := time.Parse(time.DateOnly, s.raw); err == nil {
		return []amt.LogOption{amt.Since(t)}, nil
	}
	if d, err := time.ParseDuration(s.raw); err == nil && d >= 0 {
		return []amt.LogOption{amt.Since(s.now().Add(-d))}, nil
	}
	return nil, usageError{fmt.Errorf("--since %q: want an RFC 3339 time (2026-03-01T08:00:00Z), a date (2026-03-01) or a duration back from now (24h)", s.raw)}
}

func (s *sinceFlag) register(cmd *cobra.Command) {
	s.now = time.Now
	cmd.Flags().StringVar(&s.raw, "since", "", "only records at or after this time: RFC 3339, a date, or a duration back from now (24h)")
}

func newLogEventsCommand() *cobra.Command {
	return newLogReadCommand("events", "Show the platform event log (newest first)",
		"events reads the device's platform event log (AMT_MessageLog): BIOS progress, security and\n"+
			"hardware events, each with its time on the device's clock, entity, event type, severity and a\n"+
			"description.",
		func(ctx context.Context, c *amt.Client, opts ...amt.LogOption) ([]amt.Event, error) {
			return c.Logs.Events(ctx, opts...)
		}, printEvents)
}

func newLogAuditCommand() *cobra.Command {
	return newLogReadCommand("audit", "Show the security audit log (oldest first)",
		"audit reads the device's security audit log (AMT_AuditLog): who did what (the digest user or\n"+
			"local initiator and its network address), when on the device's clock, and the event group and\n"+
			"event. Reading it needs an account with the audit log realm.",
		func(ctx context.Context, c *amt.Client, opts ...amt.LogOption) ([]amt.AuditRecord, error) {
			return c.Logs.Audit(ctx, opts...)
		}, printAudit)
}

// newLogReadCommand is a command that reads one of the device's logs
// (--since selects the newer records) and prints it.
func newLogReadCommand[T any](use, short, long string, read func(context.Context, *amt.Client, ...amt.LogOption) (T, error),
	print func(w io.Writer, format, host string, v T) error) *cobra.Command {
	var f deviceFlags
	var since sinceFlag
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := since.options()
			if err != nil {
				return err
			}
			return show(cmd, &f, func(ctx context.Context, c *amt.Client) (T, error) { return read(ctx, c, opts...) }, print)
		},
	}
	f.register(cmd)
	since.register(cmd)
	return cmd
}

// eventRecord is one event in the JSON form of "log events".
type eventRecord struct {
	Time           string  `json:"time"` // RFC 3339, device clock
	SensorType     int     `json:"sensor_type"`
	SensorTypeName *string `json:"sensor_type_name"`
	EventType      int     `json:"event_type"`
	EventOffset    int     `json:"event_offset"`
	SourceType     int     `json:"source_type"`
	Severity       int     `json:"severity"`
	SeverityName   *string `json:"severity_name"`
	SensorNumber   int     `json:"sensor_number"`
	Entity         int     `json:"entity"`
	EntityName     *string `json:"entity_name"`
	EntityInstance int     `json:"entity_instance"`
	EventData      string  `json:"event_data"` // hex
	Description    string  `json:"description"`
}

type eventsRecord struct {
	Host   string        `json:"host"`
	Events []eventRecord `json:"events"`
}

// auditRecord is one record in the JSON form of "log audit".
type auditRecord struct {
	Time          string  `json:"time"`
	Group         int     `json:"group"`
	GroupName     *string `json:"group_name"`
	Event         int     `json:"event"`
	EventName     *string `json:"event_name"`
	InitiatorType int     `json:"initiator_type"`
	Initiator     string  `json:"initiator"`
	AddressType   int     `json:"address_type"`
	Address       *string `json:"address"`
	ExtendedData  string  `json:"extended_data"` // hex
	Description   *string `json:"description"`
}

type auditRecords struct {
	Host    string        `json:"host"`
	Records []auditRecord `json:"records"`
}

func printEvents(w io.Writer, format, host string, evs []amt.Event) error {
	rec := eventsRecord{Host: host, Events: []eventRecord{}}
	for _, e := range evs {
		rec.Events = append(rec.Events, eventRecord{
			Time: e.Time.Format(time.RFC3339), SensorType: e.SensorType, SensorTypeName: str(e.SensorTypeName),
			EventType: e.EventType, EventOffset: e.EventOffset, SourceType: e.SourceType,
			Severity: e.Severity, SeverityName: str(e.SeverityName), SensorNumber: e.SensorNumber,
			Entity: e.Entity, EntityName: str(e.EntityName), EntityInstance: e.EntityInstance,
			EventData: hex.EncodeToString(e.EventData), Description: e.Description,
		})
	}
	if format == "json" {
		return writeJSON(w, rec)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "TIME\tSEVERITY\tENTITY\tDESCRIPTION")
	for _, e := range rec.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Time, or(e.SeverityName, fmt.Sprint(e.Severity)), or(e.EntityName, fmt.Sprint(e.Entity)), e.Description)
	}
	return tw.Flush()
}

func printAudit(w io.Writer, format, host string, recs []amt.AuditRecord) error {
	rec := auditRecords{Host: host, Records: []auditRecord{}}
	for _, r := range recs {
		rec.Records = append(rec.Records, auditRecord{
			Time: r.Time.Format(time.RFC3339), Group: r.Group, GroupName: str(r.GroupName),
			Event: r.Event, EventName: str(r.EventName), InitiatorType: r.InitiatorType,
			Initiator: r.Initiator, AddressType: r.AddressType, Address: str(r.Address),
			ExtendedData: hex.EncodeToString(r.ExtendedData), Description: str(r.Description),
		})
	}
	if format == "json" {
		return writeJSON(w, rec)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "TIME\tINITIATOR\tADDRESS\tGROUP\tEVENT\tDETAIL")
	for _, r := range rec.Records {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Time, r.Initiator, or(r.Address, "-"),
			or(r.GroupName, fmt.Sprint(r.Group)), or(r.EventName, fmt.Sprint(r.Event)), strings.TrimSpace(val(r.Description)))
	}
	return tw.Flush()
}

func or(p *string, alt string) string {
	if p == nil {
		return alt
	}
	return *p
}
