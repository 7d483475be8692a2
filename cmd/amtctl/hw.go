package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/fleet"
)

func newHWCommand() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "hw",
		Short: "Show the host's hardware: chassis, board, BIOS, processors, memory, storage, batteries",
		Long: "hw reads the hardware inventory AMT keeps from the host's SMBIOS tables: chassis and baseboard\n" +
			"(manufacturer, model, serial number, asset tag), BIOS (vendor, version, date), processors, memory\n" +
			"modules (size, speed, slot), storage media and batteries. It works with the host off.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd, &f, func(ctx context.Context, c *amt.Client) (*amt.Hardware, error) { return c.Hardware(ctx) },
				func(w io.Writer, format, _ string, hw *amt.Hardware) error {
					return printHardware(w, format, newHWRecord(hw))
				})
		},
	}
	f.register(cmd)
	return cmd
}

// hwRecord is the JSON form of hw: one object per host, the same record a
// fleet job's hardware task keeps per machine. Every key is present;
// unknown values are null, absent parts empty lists or null.
type hwRecord = fleet.HardwareRecord

func newHWRecord(hw *amt.Hardware) *hwRecord { return fleet.NewHardwareRecord(hw) }

func num[T int | uint64](p *T, unit string) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p) + unit
}

func printHardware(w io.Writer, format string, r *hwRecord) error {
	if format == "json" {
		return writeJSON(w, r)
	}
	tw := newTable(w)
	row := func(k string, vs ...string) {
		var parts []string
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" {
				parts = append(parts, v)
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(tw, "%s\t%s\n", k, strings.Join(parts, "  "))
		}
	}
	row("Host", r.Host)
	pkg := func(name string, p *fleet.HardwarePackageRecord) {
		if p == nil {
			return
		}
		tag := ""
		if p.AssetTag != nil {
			tag = "asset tag " + *p.AssetTag
		}
		serial := ""
		if p.SerialNumber != nil {
			serial = "serial " + *p.SerialNumber
		}
		row(name, val(p.Manufacturer), val(p.Model), val(p.Version), serial, tag)
	}
	pkg("Chassis", r.Chassis)
	pkg("Baseboard", r.Baseboard)
	if b := r.BIOS; b != nil {
		row("BIOS", val(b.Vendor), val(b.Version), val(b.ReleaseDate))
	}
	for _, p := range r.Processors {
		row("Processor "+p.DeviceID, val(p.Model), num(p.MaxClockMHz, " MHz max"))
	}
	for _, m := range r.Memory {
		size := ""
		if m.SizeBytes != nil {
			size = strconv.FormatUint(*m.SizeBytes>>20, 10) + " MiB"
		}
		row("Memory "+val(m.Slot), size, num(m.SpeedMHz, " MHz"), val(m.Manufacturer), val(m.PartNumber))
	}
	for _, s := range r.Storage {
		size := ""
		if s.MaxMediaSizeKB != nil {
			size = strconv.FormatUint(*s.MaxMediaSizeKB/1000/1000, 10) + " GB"
		}
		row("Storage "+s.DeviceID, size)
	}
	for _, b := range r.Batteries {
		row("Battery "+b.DeviceID, num(b.ChargePercent, "%"), num(b.DesignCapacityMWh, " mWh design"))
	}
	return tw.Flush()
}
