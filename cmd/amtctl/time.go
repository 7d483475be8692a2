package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
)

func newTimeCommand() *cobra.Command {
	var f deviceFlags
	var set bool
	cmd := &cobra.Command{
		Use:   "time",
		Short: "Show the device's clock against this computer's, or set it (--set)",
		Long: "time reads the clock AMT keeps and compares it with this computer's. With --set it sets the\n" +
			"device's clock from this computer's. A device whose clock is far off refuses valid TLS\n" +
			"certificates and stamps its logs with misleading times.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client(cmd)
			defer f.close()
			if err != nil {
				return err
			}
			defer c.CloseIdleConnections()
			ctx := cmd.Context()
			rec := timeRecord{Host: c.Host()}
			var r *amt.ClockReading
			if set {
				if r, err = c.Clock.Set(ctx); err != nil {
					return err
				}
				rec.Set = true
				after, err := c.Clock.Read(ctx)
				if err != nil {
					return err
				}
				off := after.Offset.Seconds()
				rec.OffsetAfterSeconds = &off
			} else if r, err = c.Clock.Read(ctx); err != nil {
				return err
			}
			rec.DeviceTime = r.Device.Format(time.RFC3339)
			rec.ConsoleTime = r.Console.Format(time.RFC3339)
			rec.OffsetSeconds = r.Offset.Seconds()
			return printTime(cmd.OutOrStdout(), f.output, &rec)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&set, "set", false, "set the device's clock from this computer's")
	return cmd
}

// timeRecord is the JSON form of time. The device and console times are
// read together before any change; offset_after_seconds is the offset read
// after --set, else null.
type timeRecord struct {
	Host               string   `json:"host"`
	DeviceTime         string   `json:"device_time"`
	ConsoleTime        string   `json:"console_time"`
	OffsetSeconds      float64  `json:"offset_seconds"`
	Set                bool     `json:"set"`
	OffsetAfterSeconds *float64 `json:"offset_after_seconds"`
}

func printTime(w io.Writer, format string, r *timeRecord) error {
	if format == "json" {
		return json.NewEncoder(w).Encode(r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Host\t%s\n", r.Host)
	fmt.Fprintf(tw, "Device clock\t%s\n", r.DeviceTime)
	fmt.Fprintf(tw, "Console clock\t%s\n", r.ConsoleTime)
	fmt.Fprintf(tw, "Offset\t%s\n", time.Duration(r.OffsetSeconds*float64(time.Second)))
	if r.OffsetAfterSeconds != nil {
		fmt.Fprintf(tw, "Set; offset now\t%s\n", time.Duration(*r.OffsetAfterSeconds*float64(time.Second)))
	}
	return tw.Flush()
}
