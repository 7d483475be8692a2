package amt

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/amtkit/amtkit/wsman"
)

// Resource URIs of the hardware inventory classes (DSP1011 Physical Asset
// profile as AMT serves it from the host's SMBIOS tables).
var (
	uriChassis     = wsman.ResourceURI("CIM_Chassis")
	uriCard        = wsman.ResourceURI("CIM_Card")
	uriBIOSElement = wsman.ResourceURI("CIM_BIOSElement")
	uriProcessor   = wsman.ResourceURI("CIM_Processor")
	uriChip        = wsman.ResourceURI("CIM_Chip")
	uriMemory      = wsman.ResourceURI("CIM_PhysicalMemory")
	uriMediaAccess = wsman.ResourceURI("CIM_MediaAccessDevice")
	uriBattery     = wsman.ResourceURI("CIM_Battery")
)

// Hardware is the host's hardware as its AMT device reports it. A field
// is nil (or a list empty) when the device does not report it; firmware
// that lacks a class altogether leaves its part empty.
type Hardware struct {
	Host       string
	Chassis    *PhysicalPackage // CIM_Chassis
	Baseboard  *PhysicalPackage // CIM_Card
	BIOS       *BIOS
	Processors []Processor
	Memory     []MemoryModule
	Storage    []StorageMedia
	Batteries  []Battery
}

// PhysicalPackage is a chassis or a board (CIM_Chassis, CIM_Card).
type PhysicalPackage struct {
	Manufacturer string
	Model        string
	SerialNumber string
	Version      string
	// AssetTag is the SMBIOS asset tag, or "" when the BIOS sets none:
	// AMT reports the class name in Tag (its key) then.
	AssetTag string
}

// BIOS is the primary CIM_BIOSElement.
type BIOS struct {
	Vendor  string
	Version string
	// ReleaseDate is the zero time when the device does not report it.
	ReleaseDate time.Time
}

// Processor is one CIM_Processor, named by the CIM_Chip of the same tag.
type Processor struct {
	DeviceID     string // "CPU 0"
	Manufacturer string // from CIM_Chip, "" when absent
	Model        string // CIM_Chip Version, e.g. "Intel(R) Core(TM) i7-9850H CPU @ 2.60GHz"
	// Clock speeds in MHz; nil when not reported.
	CurrentClockMHz *int
	MaxClockMHz     *int
	Family          *int // DMTF/SMBIOS processor family code
	Stepping        string
	// Status is CPUStatus (DSP1022): 0 unknown, 1 enabled, 2 disabled by
	// user, 3 disabled by BIOS (POST error), 4 idle, 7 other.
	Status *int
}

// MemoryModule is one CIM_PhysicalMemory.
type MemoryModule struct {
	Slot         string // BankLabel, e.g. "CHANNEL A SLOT 0"
	SizeBytes    *uint64
	SpeedMHz     *int // configured clock speed (or MaxMemorySpeed), nil when unknown
	Manufacturer string
	PartNumber   string
	SerialNumber string
	MemoryType   *int // DMTF MemoryType, e.g. 24 DDR3, 26 DDR4
	FormFactor   *int // DMTF FormFactor, e.g. 13 SODIMM
}

// StorageMedia is one CIM_MediaAccessDevice.
type StorageMedia struct {
	DeviceID string // "MEDIA DEV 0"
	// MaxMediaSizeKB is CIM's MaxMediaSize, in kilobytes.
	MaxMediaSizeKB *uint64
	// Capabilities are DMTF capability codes, e.g. 4 random access,
	// 10 supports removable media.
	Capabilities []int
}

// Battery is one CIM_Battery.
type Battery struct {
	DeviceID string
	// ChargePercent is EstimatedChargeRemaining.
	ChargePercent *int
	// Capacities in mWh, voltage in mV; nil when not reported.
	DesignCapacityMWh     *int
	FullChargeCapacityMWh *int
	DesignVoltageMV       *int
	BatteryStatus         *int // DMTF BatteryStatus, e.g. 2 unknown (AC), 3 fully charged
	Chemistry             *int // DMTF Chemistry, e.g. 2 unknown, 6 lithium-ion
}

// Hardware reads the chassis, baseboard, BIOS, processors, memory modules,
// storage media and batteries. Each class is enumerated; a class the
// firmware does not serve leaves its part empty.
func (c *Client) Hardware(ctx context.Context) (_ *Hardware, err error) {
	ctx, done := c.wsmanTracker(ctx, "hardware", nil)
	defer func() { done(err) }()
	ws, err := c.conn(ctx)
	if err != nil {
		return nil, c.wrap("Hardware", err)
	}
	hw := &Hardware{Host: c.host}
	read := func(uri string) ([]*wsman.Instance, error) {
		ins, err := ws.EnumerateAll(ctx, uri)
		if err != nil {
			if optionalClassMissing(err) {
				return nil, nil
			}
			return nil, c.wrap("Hardware", err)
		}
		return ins, nil
	}
	type step struct {
		uri string
		use func([]*wsman.Instance)
	}
	var chips []*wsman.Instance
	steps := []step{
		{uriChassis, func(ins []*wsman.Instance) { hw.Chassis = decodePackage(first(ins, "CIM_Chassis")) }},
		{uriCard, func(ins []*wsman.Instance) { hw.Baseboard = decodePackage(first(ins, "CIM_Card")) }},
		{uriBIOSElement, func(ins []*wsman.Instance) { hw.BIOS = decodeBIOS(ins) }},
		{uriChip, func(ins []*wsman.Instance) { chips = ins }},
		{uriProcessor, func(ins []*wsman.Instance) { hw.Processors = decodeProcessors(ins, chips) }},
		{uriMemory, func(ins []*wsman.Instance) { hw.Memory = decodeMemory(ins) }},
		{uriMediaAccess, func(ins []*wsman.Instance) { hw.Storage = decodeStorage(ins) }},
		{uriBattery, func(ins []*wsman.Instance) { hw.Batteries = decodeBatteries(ins) }},
	}
	for _, s := range steps {
		ins, err := read(s.uri)
		if err != nil {
			return nil, err
		}
		s.use(ins)
	}
	return hw, nil
}

// first returns the first instance of the named class. Enumerations of a
// CIM class also return instances of its subclasses (an enumeration of
// CIM_Chip returns CIM_PhysicalMemory instances), so the class is checked.
func first(ins []*wsman.Instance, class string) *wsman.Instance {
	for _, in := range ins {
		if in.Class == class {
			return in
		}
	}
	return nil
}

func decodePackage(in *wsman.Instance) *PhysicalPackage {
	if in == nil {
		return nil
	}
	p := &PhysicalPackage{
		Manufacturer: in.String("Manufacturer"),
		Model:        in.String("Model"),
		SerialNumber: in.String("SerialNumber"),
		Version:      in.String("Version"),
	}
	if tag := in.String("Tag"); tag != in.Class {
		p.AssetTag = tag
	}
	return p
}

// decodeBIOS picks the primary BIOS element (the first one when none says
// it is primary).
func decodeBIOS(ins []*wsman.Instance) *BIOS {
	var pick *wsman.Instance
	for _, in := range ins {
		if in.Class != "CIM_BIOSElement" {
			continue
		}
		if pick == nil {
			pick = in
		}
		if p, err := in.Bool("PrimaryBIOS"); err == nil && p {
			pick = in
			break
		}
	}
	if pick == nil {
		return nil
	}
	b := &BIOS{Vendor: pick.String("Manufacturer"), Version: pick.String("Version")}
	if b.Version == "" {
		b.Version = pick.String("SoftwareElementID")
	}
	if d, ok := pick.Get("ReleaseDate"); ok {
		b.ReleaseDate, _ = parseCIMDatetime(d)
	}
	return b
}

func decodeProcessors(ins, chips []*wsman.Instance) []Processor {
	out := []Processor{}
	for _, in := range ins {
		if in.Class != "CIM_Processor" {
			continue
		}
		p := Processor{
			DeviceID:        in.String("DeviceID"),
			CurrentClockMHz: optInt(in, "CurrentClockSpeed"),
			MaxClockMHz:     optInt(in, "MaxClockSpeed"),
			Family:          optInt(in, "Family"),
			Stepping:        in.String("Stepping"),
			Status:          optInt(in, "CPUStatus"),
		}
		for _, ch := range chips {
			if ch.Class == "CIM_Chip" && ch.String("Tag") == p.DeviceID {
				p.Manufacturer = ch.String("Manufacturer")
				p.Model = strings.TrimSpace(ch.String("Version"))
				break
			}
		}
		out = append(out, p)
	}
	return out
}

func decodeMemory(ins []*wsman.Instance) []MemoryModule {
	out := []MemoryModule{}
	for _, in := range ins {
		if in.Class != "CIM_PhysicalMemory" {
			continue
		}
		m := MemoryModule{
			Slot:         in.String("BankLabel"),
			SizeBytes:    optUint(in, "Capacity"),
			Manufacturer: in.String("Manufacturer"),
			PartNumber:   strings.TrimSpace(in.String("PartNumber")),
			SerialNumber: in.String("SerialNumber"),
			MemoryType:   optInt(in, "MemoryType"),
			FormFactor:   optInt(in, "FormFactor"),
		}
		// Newer firmware reports the clock in ConfiguredMemoryClockSpeed
		// and MaxMemorySpeed and leaves Speed (nanoseconds in CIM) 0.
		for _, name := range []string{"ConfiguredMemoryClockSpeed", "MaxMemorySpeed"} {
			if v := optInt(in, name); v != nil && *v > 0 {
				m.SpeedMHz = v
				break
			}
		}
		out = append(out, m)
	}
	return out
}

func decodeStorage(ins []*wsman.Instance) []StorageMedia {
	out := []StorageMedia{}
	for _, in := range ins {
		if in.Class != "CIM_MediaAccessDevice" {
			continue
		}
		s := StorageMedia{DeviceID: in.String("DeviceID"), MaxMediaSizeKB: optUint(in, "MaxMediaSize"), Capabilities: []int{}}
		for _, v := range in.Values("Capabilities") {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				s.Capabilities = append(s.Capabilities, n)
			}
		}
		out = append(out, s)
	}
	return out
}

func decodeBatteries(ins []*wsman.Instance) []Battery {
	out := []Battery{}
	for _, in := range ins {
		if in.Class != "CIM_Battery" {
			continue
		}
		out = append(out, Battery{
			DeviceID:              in.String("DeviceID"),
			ChargePercent:         optInt(in, "EstimatedChargeRemaining"),
			DesignCapacityMWh:     optInt(in, "DesignCapacity"),
			FullChargeCapacityMWh: optInt(in, "FullChargeCapacity"),
			DesignVoltageMV:       optInt(in, "DesignVoltage"),
			BatteryStatus:         optInt(in, "BatteryStatus"),
			Chemistry:             optInt(in, "Chemistry"),
		})
	}
	return out
}

// optInt returns the property as an int, or nil when it is absent or not
// a number.
func optInt(in *wsman.Instance, name string) *int {
	v, err := in.Int(name)
	if err != nil || v != int64(int(v)) {
		return nil
	}
	n := int(v)
	return &n
}

func optUint(in *wsman.Instance, name string) *uint64 {
	v, err := in.Uint(name)
	if err != nil {
		return nil
	}
	return &v
}

// parseCIMDatetime reads a CIM datetime as AMT writes it inside
// <Datetime> (xs:dateTime, e.g. 2020-08-10T00:00:00Z).
func parseCIMDatetime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
