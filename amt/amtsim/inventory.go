package amtsim

// The hardware inventory family: CIM_Chassis, CIM_Card, CIM_BIOSElement,
// CIM_Processor, CIM_PhysicalMemory, ... are only captured instances served
// from the instance store. The family's unit is the device's identity,
// read-only, for the one value that is the device's own: the platform
// GUID CIM_SystemPackaging carries.
var inventory = family[*identity]{unit: func(d *Device) *identity { return &d.identity }}

var systemPackaging = &unitClass[*identity]{subst: func(id *identity, in *instance) {
	if _, ok := in.props["PlatformGUID"]; ok {
		in.set("PlatformGUID", id.guid)
	}
}}
