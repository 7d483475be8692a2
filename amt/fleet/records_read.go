package fleet

import (
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/defense"
)

// The records of the reads that amtctl also prints for one device: a
// fleet's Result.Data of hardware and System Defense status is the object
// `amtctl hw --output json` and `amtctl defense status --output json`
// print, key for key and type for type (amtctl prints these very types).
// Every key is present; unknown values are null, absent parts empty lists
// or null.

// HardwareRecord is Result.Data of Hardware: the JSON of `amtctl hw`.
type HardwareRecord struct {
	Host       string                 `json:"host"`
	Chassis    *HardwarePackageRecord `json:"chassis"`
	Baseboard  *HardwarePackageRecord `json:"baseboard"`
	BIOS       *BIOSRecord            `json:"bios"`
	Processors []ProcessorRecord      `json:"processors"`
	Memory     []MemoryRecord         `json:"memory"`
	Storage    []StorageRecord        `json:"storage"`
	Batteries  []BatteryRecord        `json:"batteries"`
}

// HardwarePackageRecord is a chassis or a board.
type HardwarePackageRecord struct {
	Manufacturer *string `json:"manufacturer"`
	Model        *string `json:"model"`
	SerialNumber *string `json:"serial_number"`
	Version      *string `json:"version"`
	AssetTag     *string `json:"asset_tag"`
}

// BIOSRecord is the BIOS; ReleaseDate is YYYY-MM-DD.
type BIOSRecord struct {
	Vendor      *string `json:"vendor"`
	Version     *string `json:"version"`
	ReleaseDate *string `json:"release_date"`
}

// ProcessorRecord is one processor.
type ProcessorRecord struct {
	DeviceID        string  `json:"device_id"`
	Manufacturer    *string `json:"manufacturer"`
	Model           *string `json:"model"`
	CurrentClockMHz *int    `json:"current_clock_mhz"`
	MaxClockMHz     *int    `json:"max_clock_mhz"`
	Family          *int    `json:"family"`
	Stepping        *string `json:"stepping"`
	Status          *int    `json:"status"`
}

// MemoryRecord is one memory module.
type MemoryRecord struct {
	Slot         *string `json:"slot"`
	SizeBytes    *uint64 `json:"size_bytes"`
	SpeedMHz     *int    `json:"speed_mhz"`
	Manufacturer *string `json:"manufacturer"`
	PartNumber   *string `json:"part_number"`
	SerialNumber *string `json:"serial_number"`
	MemoryType   *int    `json:"memory_type"`
	FormFactor   *int    `json:"form_factor"`
}

// StorageRecord is one storage medium.
type StorageRecord struct {
	DeviceID       string  `json:"device_id"`
	MaxMediaSizeKB *uint64 `json:"max_media_size_kb"`
	Capabilities   []int   `json:"capabilities"`
}

// BatteryRecord is one battery.
type BatteryRecord struct {
	DeviceID              string `json:"device_id"`
	ChargePercent         *int   `json:"charge_percent"`
	DesignCapacityMWh     *int   `json:"design_capacity_mwh"`
	FullChargeCapacityMWh *int   `json:"full_charge_capacity_mwh"`
	DesignVoltageMV       *int   `json:"design_voltage_mv"`
	BatteryStatus         *int   `json:"battery_status"`
	Chemistry             *int   `json:"chemistry"`
}

func newPackageRecord(p *amt.PhysicalPackage) *HardwarePackageRecord {
	if p == nil {
		return nil
	}
	return &HardwarePackageRecord{str(p.Manufacturer), str(p.Model), str(p.SerialNumber), str(p.Version), str(p.AssetTag)}
}

// NewHardwareRecord is the record of a hardware inventory.
func NewHardwareRecord(hw *amt.Hardware) *HardwareRecord {
	r := &HardwareRecord{
		Host:       hw.Host,
		Chassis:    newPackageRecord(hw.Chassis),
		Baseboard:  newPackageRecord(hw.Baseboard),
		Processors: []ProcessorRecord{},
		Memory:     []MemoryRecord{},
		Storage:    []StorageRecord{},
		Batteries:  []BatteryRecord{},
	}
	if b := hw.BIOS; b != nil {
		r.BIOS = &BIOSRecord{Vendor: str(b.Vendor), Version: str(b.Version)}
		if !b.ReleaseDate.IsZero() {
			r.BIOS.ReleaseDate = str(b.ReleaseDate.Format(time.DateOnly))
		}
	}
	for _, p := range hw.Processors {
		r.Processors = append(r.Processors, ProcessorRecord{p.DeviceID, str(p.Manufacturer), str(p.Model), p.CurrentClockMHz, p.MaxClockMHz, p.Family, str(p.Stepping), p.Status})
	}
	for _, m := range hw.Memory {
		r.Memory = append(r.Memory, MemoryRecord{str(m.Slot), m.SizeBytes, m.SpeedMHz, str(m.Manufacturer), str(m.PartNumber), str(m.SerialNumber), m.MemoryType, m.FormFactor})
	}
	for _, s := range hw.Storage {
		caps := s.Capabilities
		if caps == nil {
			caps = []int{}
		}
		r.Storage = append(r.Storage, StorageRecord{s.DeviceID, s.MaxMediaSizeKB, caps})
	}
	for _, b := range hw.Batteries {
		r.Batteries = append(r.Batteries, BatteryRecord{b.DeviceID, b.ChargePercent, b.DesignCapacityMWh, b.FullChargeCapacityMWh, b.DesignVoltageMV, b.BatteryStatus, b.Chemistry})
	}
	return r
}

// DefenseStatusRecord is Result.Data of DefenseStatus: the JSON of
// `amtctl defense status`.
type DefenseStatusRecord struct {
	Host       string                   `json:"host"`
	Mode       string                   `json:"mode"`
	Interfaces []DefenseInterfaceRecord `json:"interfaces"`
}

// DefenseInterfaceRecord is System Defense on one port. TimeoutRemainingS
// is the time left, in seconds, before the firmware deactivates the
// active policy (null: none, or no policy active).
type DefenseInterfaceRecord struct {
	Interface         string                `json:"interface"`
	ActivePolicy      *DefensePolicyRecord  `json:"active_policy"`
	EnabledPolicies   []DefensePolicyRecord `json:"enabled_policies"`
	TimeoutRemainingS *int64                `json:"timeout_remaining_s"`
	AntiSpoofing      *bool                 `json:"anti_spoofing"`
	Filters           []DefenseFilterRecord `json:"filters"`
}

// DefensePolicyRecord names a policy on the device; Amtkit says whether
// amtkit created it.
type DefensePolicyRecord struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Precedence uint32 `json:"precedence"`
	Amtkit     bool   `json:"amtkit"`
}

// DefenseFilterRecord is a filter with its match fields (null when unset).
type DefenseFilterRecord struct {
	ID             *string `json:"id"`
	Name           string  `json:"name"`
	Type           string  `json:"type"`
	Direction      string  `json:"direction"`
	Action         string  `json:"action"`
	RatePPS        *uint32 `json:"rate_pps"`
	Statistics     bool    `json:"statistics"`
	IPVersion      *int    `json:"ip_version"`
	Src            *string `json:"src"`
	Dst            *string `json:"dst"`
	Protocol       *string `json:"protocol"`
	SrcPorts       *string `json:"src_ports"`
	DstPorts       *string `json:"dst_ports"`
	DSCP           []uint8 `json:"dscp"`
	FlowLabel      *uint32 `json:"flow_label"`
	EtherType      *uint16 `json:"ether_type"`
	SrcMAC         *string `json:"src_mac"`
	DstMAC         *string `json:"dst_mac"`
	Priority       *uint8  `json:"priority"`
	VLAN           *uint16 `json:"vlan"`
	MatchedPackets *uint64 `json:"matched_packets"`
}

// NewDefenseFilterRecord is the record of a filter; id is the device's
// (empty for a filter not on a device) and matched its counter.
func NewDefenseFilterRecord(id string, f defense.Filter, matched *uint64) DefenseFilterRecord {
	j := DefenseFilterRecord{ID: str(id), Name: f.Name, Type: f.Kind.String(), Direction: f.Direction.String(), Action: f.Action.String(),
		Statistics: f.Statistics, DSCP: f.DSCP, FlowLabel: f.FlowLabel, Priority: f.Priority, VLAN: f.VLAN, MatchedPackets: matched}
	if f.Action == defense.RateLimit {
		r := f.RatePPS
		j.RatePPS = &r
	}
	if f.Kind == defense.Ethernet {
		et := f.EtherType
		j.EtherType = &et
		if !f.SrcMAC.IsZero() {
			j.SrcMAC = str(f.SrcMAC.String())
		}
		if !f.DstMAC.IsZero() {
			j.DstMAC = str(f.DstMAC.String())
		}
	} else {
		if f.IPVersion != 0 {
			v := f.IPVersion
			j.IPVersion = &v
		}
		if !f.Src.IsZero() {
			j.Src = str(f.Src.String())
		}
		if !f.Dst.IsZero() {
			j.Dst = str(f.Dst.String())
		}
		if f.Protocol != defense.ProtoAny {
			j.Protocol = str(f.Protocol.String())
		}
		if f.SrcPorts != nil {
			j.SrcPorts = str(f.SrcPorts.String())
		}
		if f.DstPorts != nil {
			j.DstPorts = str(f.DstPorts.String())
		}
	}
	if j.DSCP == nil {
		j.DSCP = []uint8{}
	}
	return j
}

func newDefensePolicyRecord(p defense.PolicyInfo) DefensePolicyRecord {
	return DefensePolicyRecord{ID: p.ID, Name: p.Name, Precedence: p.Precedence, Amtkit: p.Amtkit}
}

// NewDefenseStatusRecord is the record of a device's System Defense
// status.
func NewDefenseStatusRecord(host string, st *defense.Status) *DefenseStatusRecord {
	r := &DefenseStatusRecord{Host: host, Mode: st.Mode.String(), Interfaces: make([]DefenseInterfaceRecord, 0, len(st.Interfaces))}
	for _, is := range st.Interfaces {
		ir := DefenseInterfaceRecord{Interface: is.Interface.String(), EnabledPolicies: make([]DefensePolicyRecord, 0, len(is.Enabled)),
			AntiSpoofing: is.AntiSpoofing, Filters: make([]DefenseFilterRecord, 0, len(is.Filters))}
		if is.Active != nil {
			p := newDefensePolicyRecord(*is.Active)
			ir.ActivePolicy = &p
		}
		for _, p := range is.Enabled {
			ir.EnabledPolicies = append(ir.EnabledPolicies, newDefensePolicyRecord(p))
		}
		if is.TimeoutRemaining != nil {
			s := int64(is.TimeoutRemaining.Seconds())
			ir.TimeoutRemainingS = &s
		}
		for _, f := range is.Filters {
			ir.Filters = append(ir.Filters, NewDefenseFilterRecord(f.ID, f.Filter, f.MatchedPackets))
		}
		r.Interfaces = append(r.Interfaces, ir)
	}
	return r
}
