package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
)

func newTimeCommand() *cobra.Command {
	var f deviceFlags
	var set, dry bool
	cmd := &cobra.Command{
		Use:   "time",
		Short: "Show the device's clock against this computer's, or set it (--set)",
		Long: "time reads the clock AMT keeps and compares it with this computer's. With --set it sets the\n" +
			"device's clock from this computer's. A device whose clock is far off refuses valid TLS\n" +
			"certificates and stamps its logs with misleading times.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dry && !set {
				return usageError{fmt.Errorf("--dry-run needs --set: reading the clock changes nothing")}
			}
			return f.run(cmd, func(ctx context.Context, c *amt.Client) error {
				r, err := c.Clock.Read(ctx)
				if err != nil {
					return err
				}
				rec := timeRecord{
					Host:          c.Host(),
					DeviceTime:    r.Device.Format(time.RFC3339),
					ConsoleTime:   r.Console.Format(time.RFC3339),
					OffsetSeconds: r.Offset.Seconds(),
				}
				if !set {
					return printTime(cmd.OutOrStdout(), f.output, &rec)
				}
				if dry {
					now := time.Now().Unix()
					extra := map[string]any{"device_time": rec.DeviceTime, "console_time": rec.ConsoleTime,
						"offset_seconds": rec.OffsetSeconds, "offset_after_seconds": nil}
					return dryRunWith(cmd, f.output, extra, c.Host(), "set clock",
						fmt.Sprintf("would set the device's clock from this computer's (%s off now)", formatOffset(r.Offset)),
						invoke("AMT_TimeSynchronizationService", "GetLowAccuracyTimeSynch"),
						invoke("AMT_TimeSynchronizationService", "SetHighAccuracyTimeSynch", "Ta0", r.Device.Unix(), "Tm1", now, "Tm2", now))
				}
				before, err := c.Clock.Set(ctx)
				if err != nil {
					return err
				}
				after, err := c.Clock.Read(ctx)
				if err != nil {
					return err
				}
				return printAction(cmd, f.output, actionResult{
					Host: c.Host(), Action: "set clock", Accepted: true,
					Changed: boolp(before.Offset.Abs() >= time.Second),
					Message: fmt.Sprintf("clock set from this computer's (was %s off, now %s)", formatOffset(before.Offset), formatOffset(after.Offset)),
					Extra: map[string]any{
						"device_time":          before.Device.Format(time.RFC3339),
						"console_time":         before.Console.Format(time.RFC3339),
						"offset_seconds":       before.Offset.Seconds(),
						"offset_after_seconds": after.Offset.Seconds(),
					},
				})
			})
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&set, "set", false, "set the device's clock from this computer's")
	registerDryRun(cmd, &dry)
	return cmd
}

// timeRecord is the JSON form of time without --set: the device's and this
// computer's clocks read together, and the device's offset (positive when
// ahead).
type timeRecord struct {
	Host          string  `json:"host"`
	DeviceTime    string  `json:"device_time"`
	ConsoleTime   string  `json:"console_time"`
	OffsetSeconds float64 `json:"offset_seconds"`
}

func formatOffset(d time.Duration) string {
	if d < 0 {
		return formatDuration(-d) + " behind"
	}
	return formatDuration(d) + " ahead"
}

func printTime(w io.Writer, format string, r *timeRecord) error {
	if format == "json" {
		return writeJSON(w, r)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "Host\t%s\n", r.Host)
	fmt.Fprintf(tw, "Device clock\t%s\n", r.DeviceTime)
	fmt.Fprintf(tw, "Console clock\t%s\n", r.ConsoleTime)
	fmt.Fprintf(tw, "Offset\t%s\n", formatOffset(time.Duration(r.OffsetSeconds*float64(time.Second))))
	return tw.Flush()
}
