package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
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

// hwRecord is the JSON form of hw: one object per host. Every key is
// present; unknown values are null, absent parts empty lists or null.
type hwRecord struct {
	Host       string          `json:"host"`
	Chassis    *packageRecord  `json:"chassis"`
	Baseboard  *packageRecord  `json:"baseboard"`
	BIOS       *biosRecord     `json:"bios"`
	Processors []cpuRecord     `json:"processors"`
	Memory     []memoryRecord  `json:"memory"`
	Storage    []storageRecord `json:"storage"`
	Batteries  []batteryRecord `json:"batteries"`
}

type packageRecord struct {
	Manufacturer *string `json:"manufacturer"`
	Model        *string `json:"model"`
	SerialNumber *string `json:"serial_number"`
	Version      *string `json:"version"`
	AssetTag     *string `json:"asset_tag"`
}

type biosRecord struct {
	Vendor      *string `json:"vendor"`
	Version     *string `json:"version"`
	ReleaseDate *string `json:"release_date"` // YYYY-MM-DD
}

type cpuRecord struct {
	DeviceID        string  `json:"device_id"`
	Manufacturer    *string `json:"manufacturer"`
	Model           *string `json:"model"`
	CurrentClockMHz *int    `json:"current_clock_mhz"`
	MaxClockMHz     *int    `json:"max_clock_mhz"`
	Family          *int    `json:"family"`
	Stepping        *string `json:"stepping"`
	Status          *int    `json:"status"`
}

type memoryRecord struct {
	Slot         *string `json:"slot"`
	SizeBytes    *uint64 `json:"size_bytes"`
	SpeedMHz     *int    `json:"speed_mhz"`
	Manufacturer *string `json:"manufacturer"`
	PartNumber   *string `json:"part_number"`
	SerialNumber *string `json:"serial_number"`
	MemoryType   *int    `json:"memory_type"`
	FormFactor   *int    `json:"form_factor"`
}

type storageRecord struct {
	DeviceID       string  `json:"device_id"`
	MaxMediaSizeKB *uint64 `json:"max_media_size_kb"`
	Capabilities   []int   `json:"capabilities"`
}

type batteryRecord struct {
	DeviceID              string `json:"device_id"`
	ChargePercent         *int   `json:"charge_percent"`
	DesignCapacityMWh     *int   `json:"design_capacity_mwh"`
	FullChargeCapacityMWh *int   `json:"full_charge_capacity_mwh"`
	DesignVoltageMV       *int   `json:"design_voltage_mv"`
	BatteryStatus         *int   `json:"battery_status"`
	Chemistry             *int   `json:"chemistry"`
}

func newPackageRecord(p *amt.PhysicalPackage) *packageRecord {
	if p == nil {
		return nil
	}
	return &packageRecord{str(p.Manufacturer), str(p.Model), str(p.SerialNumber), str(p.Version), str(p.AssetTag)}
}

func newHWRecord(hw *amt.Hardware) *hwRecord {
	r := &hwRecord{
		Host:       hw.Host,
		Chassis:    newPackageRecord(hw.Chassis),
		Baseboard:  newPackageRecord(hw.Baseboard),
		Processors: []cpuRecord{},
		Memory:     []memoryRecord{},
		Storage:    []storageRecord{},
		Batteries:  []batteryRecord{},
	}
	if b := hw.BIOS; b != nil {
		r.BIOS = &biosRecord{Vendor: str(b.Vendor), Version: str(b.Version)}
		if !b.ReleaseDate.IsZero() {
			r.BIOS.ReleaseDate = str(b.ReleaseDate.Format(time.DateOnly))
		}
	}
	for _, p := range hw.Processors {
		r.Processors = append(r.Processors, cpuRecord{p.DeviceID, str(p.Manufacturer), str(p.Model), p.CurrentClockMHz, p.MaxClockMHz, p.Family, str(p.Stepping), p.Status})
	}
	for _, m := range hw.Memory {
		r.Memory = append(r.Memory, memoryRecord{str(m.Slot), m.SizeBytes, m.SpeedMHz, str(m.Manufacturer), str(m.PartNumber), str(m.SerialNumber), m.MemoryType, m.FormFactor})
	}
	for _, s := range hw.Storage {
		caps := s.Capabilities
		if caps == nil {
			caps = []int{}
		}
		r.Storage = append(r.Storage, storageRecord{s.DeviceID, s.MaxMediaSizeKB, caps})
	}
	for _, b := range hw.Batteries {
		r.Batteries = append(r.Batteries, batteryRecord{b.DeviceID, b.ChargePercent, b.DesignCapacityMWh, b.FullChargeCapacityMWh, b.DesignVoltageMV, b.BatteryStatus, b.Chemistry})
	}
	return r
}

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
	pkg := func(name string, p *packageRecord) {
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
