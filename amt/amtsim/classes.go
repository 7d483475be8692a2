package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"encoding/base64"
	"encoding/hex"
	"strconv"
)

// propType says how a writable property's value is validated on Put.
type propType int

const (
	typeString propType = iota
	typeBool
	typeUint
)

func (t propType) valid(v string) bool {
	switch t {
	case typeBool:
		return v == "true" || v == "false"
	case typeUint:
		_, err := strconv.ParseUint(v, 10, 32)
		return err == nil
	}
	return true
}

// outParam is one output parameter of an extrinsic method, in the order the
// firmware writes it (not sorted: ReturnValue usually comes last).
type outParam struct {
	name   string
	values []string
}

// methodFunc implements an extrinsic method. It runs with the device lock
// held; inst is the addressed instance and input the <Method>_INPUT element
// (nil when the body was empty).
type methodFunc func(d *Device, inst *instance, input *soap.Node) ([]outParam, *soap.Fault)

// putFunc replaces the generic Put rule for classes with their own
// constraints. It runs with the device lock held and must change nothing
// when it returns a fault.
type putFunc func(d *Device, inst *instance, body *soap.Node) *soap.Fault

// classDef describes one served class. To serve a new class, add a
// definition to classTable: its instances are built per device by build.
type classDef struct {
	name      string
	uri       string // resource URI; also the XML namespace of instances
	commonNS  bool   // the firmware declares the wscim "common" namespace
	singleton bool   // Get/Put accepted without selectors
	keys      []string
	writable  map[string]propType
	put       putFunc
	methods   map[string]methodFunc
	build     func(d *Device) []*instance
	// minMajor is the first firmware major version serving the class;
	// older firmware answers wsa:DestinationUnreachable.
	minMajor int
	// inst names the class of the returned instances when it differs from
	// the addressed one, as for an association queried through its parent
	// class (CIM_ServiceAvailableToElement returns
	// CIM_AssociatedPowerManagementService instances).
	inst *classDef
	// live, when set, brings the class's instances up to date with the
	// device state before a request reads them (device lock held).
	live func(d *Device)
	// contextAtEnd, when it answers true, keeps the enumeration context on
	// the page that ends the enumeration.
	contextAtEnd func(major int) bool
	// ops serve the class from its family's own unit; nil: from the
	// device's instance store (storeOps).
	ops *classOps
}

// classOps are the operations of a class, each run with the device lock
// held once the dispatcher has checked what every class checks. A nil
// put, create, delete or invoke answers wsa:ActionNotSupported.
type classOps struct {
	get       func(d *Device, c *classDef, sels []soap.Selector) (entry, *soap.Fault)
	put       func(d *Device, c *classDef, sels []soap.Selector, body *soap.Node) (entry, *soap.Fault)
	create    func(d *Device, c *classDef, body *soap.Node) (*soap.EPR, *soap.Fault)
	delete    func(d *Device, c *classDef, sels []soap.Selector) *soap.Fault
	enumerate func(d *Device, c *classDef, body *soap.Node) ([]entry, *soap.Fault)
	hasMethod func(c *classDef, method string) bool
	invoke    func(d *Device, c *classDef, method string, sels []soap.Selector, input *soap.Node) ([]outParam, *soap.Fault)
}

// entry is one instance as the dispatcher writes it, whichever unit holds
// it.
type entry struct {
	// class and uri name the instance's own class when it is one of a
	// subclass of the addressed class; empty otherwise.
	class, uri string
	// write writes the instance element; pfx holds the prefixes of the
	// class namespace and, when declared, the common namespace.
	write func(w *soap.Writer, className string, pfx []string)
	// ref is the instance's endpoint reference (EPR enumeration modes).
	ref func() *soap.EPR
}

func (c *classDef) operations() *classOps {
	switch {
	case c.ops != nil:
		return c.ops
	case c.supportsPut():
		return storeOps
	}
	return storeOpsNoPut
}

// instanceNS are the namespaces an instance of the class is written in:
// its class namespace and, if the firmware declares it, the common one.
func (c *classDef) instanceNS() []string {
	ns := []string{c.instanceClass().uri}
	if c.commonNS {
		ns = append(ns, soap.NSCommon)
	}
	return ns
}

func (c *classDef) supportsPut() bool { return len(c.writable) > 0 || c.put != nil }

// instanceClass is the class whose name and namespace the instances carry.
func (c *classDef) instanceClass() *classDef {
	if c.inst != nil {
		return c.inst
	}
	return c
}

// served reports whether firmware of the given major version has the class.
func (c *classDef) served(major int) bool { return major >= c.minMajor }

// classTable lists every class the simulator serves.
var classTable = []*classDef{
	{
		name:      "AMT_GeneralSettings",
		uri:       soap.PrefixAMT + "AMT_GeneralSettings",
		singleton: true,
		keys:      []string{"InstanceID"},
		writable: map[string]propType{
			"HostName":                      typeString,
			"DomainName":                    typeString,
			"HostOSFQDN":                    typeString,
			"SharedFQDN":                    typeBool,
			"PingResponseEnabled":           typeBool,
			"RmcpPingResponseEnabled":       typeBool,
			"WsmanOnlyMode":                 typeBool,
			"DDNSUpdateEnabled":             typeBool,
			"DDNSUpdateByDHCPServerEnabled": typeBool,
			"DDNSTTL":                       typeUint,
			"DDNSPeriodicUpdateInterval":    typeUint,
			"IdleWakeTimeout":               typeUint,
			"PresenceNotificationInterval":  typeUint,
			"PreferredAddressFamily":        typeUint,
			"DHCPv6ConfigurationTimeout":    typeUint,
			"AMTNetworkEnabled":             typeUint,
			"ThunderboltDockEnabled":        typeUint,
			"DHCPSyncRequiresHostname":      typeUint,
		},
		build: buildGeneralSettings,
	},
	{
		name:     "CIM_SoftwareIdentity",
		uri:      soap.PrefixCIM + "CIM_SoftwareIdentity",
		commonNS: true,
		keys:     []string{"InstanceID"},
		build:    buildSoftwareIdentity,
	},
	{
		name:      "AMT_SetupAndConfigurationService",
		uri:       soap.PrefixAMT + "AMT_SetupAndConfigurationService",
		commonNS:  true,
		singleton: true,
		keys:      []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
		methods: map[string]methodFunc{
			"CommitChanges": func(*Device, *instance, *soap.Node) ([]outParam, *soap.Fault) {
				return []outParam{{"ReturnValue", []string{"0"}}}, nil
			},
			"GetUuid": func(d *Device, _ *instance, _ *soap.Node) ([]outParam, *soap.Fault) {
				raw, _ := hex.DecodeString(d.guid)
				return []outParam{
					{"UUID", []string{base64.StdEncoding.EncodeToString(raw)}},
					{"ReturnValue", []string{"0"}},
				}, nil
			},
		},
		build: buildSetupAndConfiguration,
	},
	{
		name: "AMT_EthernetPortSettings",
		uri:  soap.PrefixAMT + "AMT_EthernetPortSettings",
		keys: []string{"InstanceID"},
		writable: map[string]propType{
			"DHCPEnabled":                  typeBool,
			"IpSyncEnabled":                typeBool,
			"SharedStaticIp":               typeBool,
			"IPAddress":                    typeString,
			"SubnetMask":                   typeString,
			"DefaultGateway":               typeString,
			"PrimaryDNS":                   typeString,
			"SecondaryDNS":                 typeString,
			"LinkPolicy":                   typeUint,
			"ConsoleTcpMaxRetransmissions": typeUint,
			"WLANLinkProtectionLevel":      typeUint,
		},
		build: buildEthernetPortSettings,
	},
	{
		name:      "CIM_ComputerSystemPackage",
		uri:       soap.PrefixCIM + "CIM_ComputerSystemPackage",
		singleton: true,
		keys:      []string{"Antecedent", "Dependent"},
		build:     buildComputerSystemPackage,
	},
	classAssociatedPowerManagementService,
	classServiceAvailableToElement,
	classPowerManagementService,
	classPowerManagementCapabilities,
	classIPSPowerManagementService,
	classBootSettingData,
	classBootCapabilities,
	classBootConfigSetting,
	classBootService,
	classBootSourceSetting,
	classRedirectionService,
	classOptInService,
}

// The rest of the table is registered in this order: the classes served
// from their captures, those served from protocol.md alone, System
// Defense's, then the wildcard association of the boot order (ordered.go).
func init() {
	registerCaptured()
	registerDefense()
	registerClass(classCIMWildcard)
}

// classByURI indexes classTable by resource URI.
var classByURI = func() map[string]*classDef {
	m := make(map[string]*classDef, len(classTable))
	for _, c := range classTable {
		m[c.uri] = c
	}
	return m
}()

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// The property sets below follow the firmware captures. Properties that
// only some firmware generations report are gated on the major version, so
// that each version produces the set seen from a device of that era.

func buildGeneralSettings(d *Device) []*instance {
	host, domain := d.defaultHostname, d.srv.opts.DomainName
	if d.prof.provState == 0 && d.major >= 9 {
		// The unprovisioned AMT 11.8 device (GetResponse__rps__2) has
		// an empty HostName; the older unprovisioned one
		// (GetResponse__mps__1, without AMTNetworkEnabled, so before
		// AMT 9) has a host name. Both have the empty DomainName that
		// is Options.DomainName's default.
		host = ""
	}
	in := newInstance().
		set("DDNSPeriodicUpdateInterval", "1440").
		set("DDNSTTL", "900").
		set("DDNSUpdateByDHCPServerEnabled", "true").
		set("DDNSUpdateEnabled", "false").
		set("DHCPv6ConfigurationTimeout", "0").
		set("DigestRealm", d.realm).
		set("DomainName", domain).
		set("ElementName", "Intel(r) AMT: General Settings").
		set("HostName", host).
		set("HostOSFQDN", "").
		set("IdleWakeTimeout", "65535").
		set("InstanceID", "Intel(r) AMT: General Settings").
		set("NetworkInterfaceEnabled", "true").
		set("PingResponseEnabled", "true").
		set("PowerSource", "0").
		set("PreferredAddressFamily", "0").
		set("PresenceNotificationInterval", "0").
		set("PrivacyLevel", "0").
		set("RmcpPingResponseEnabled", boolString(!d.prof.noRMCP)).
		set("SharedFQDN", "true").
		set("WsmanOnlyMode", "false")
	if d.major >= 9 {
		in.set("AMTNetworkEnabled", "1")
	}
	if d.major >= 12 {
		in.set("ThunderboltDockEnabled", "0")
	}
	if d.major >= 16 {
		in.set("DHCPSyncRequiresHostname", "1")
	}
	return []*instance{in}
}

func buildSoftwareIdentity(d *Device) []*instance {
	short := strconv.Itoa(d.major) + "." + strconv.Itoa(d.minor) + "." + strconv.Itoa(d.hotfix)
	build := strconv.Itoa(d.build)
	entries := []struct{ id, version string }{
		{"Flash", short},
		{"Netstack", short},
		{"AMTApps", short},
		{"AMT", short},
		{"Sku", strconv.Itoa(d.prof.sku)},
		{"VendorID", "8086"},
		{"Build Number", build},
		{"Recovery Version", short},
		{"Recovery Build Num", build},
		{"Legacy Mode", "False"},
		{"AMT FW Core Version", short},
	}
	out := make([]*instance, 0, len(entries))
	for _, e := range entries {
		out = append(out, newInstance().
			set("InstanceID", e.id).
			set("IsEntity", "true").
			set("VersionString", e.version))
	}
	return out
}

func buildSetupAndConfiguration(d *Device) []*instance {
	in := newInstance().
		set("CreationClassName", "AMT_SetupAndConfigurationService").
		set("ElementName", "Intel(r) AMT Setup and Configuration Service").
		set("EnabledState", "5").
		set("Name", "Intel(r) AMT Setup and Configuration Service").
		set("PasswordModel", "1").
		set("ProvisioningMode", strconv.Itoa(d.prof.provMode)).
		set("ProvisioningServerOTP", base64.StdEncoding.EncodeToString(make([]byte, 32))).
		set("ProvisioningState", strconv.Itoa(d.prof.provState)).
		set("RequestedState", "12").
		set("SystemCreationClassName", "CIM_ComputerSystem").
		set("SystemName", "Intel(r) AMT").
		set("ZeroTouchConfigurationEnabled", "true")
	if d.major < 9 {
		in.set("ProvisioningPID", base64.StdEncoding.EncodeToString(make([]byte, 8)))
	}
	return []*instance{in}
}

func buildEthernetPortSettings(d *Device) []*instance {
	wired := newInstance().
		set("DHCPEnabled", "true").
		set("DefaultGateway", d.gateway).
		set("ElementName", "Intel(r) AMT Ethernet Port Settings").
		set("InstanceID", "Intel(r) AMT Ethernet Port Settings 0").
		set("IpSyncEnabled", "true").
		set("LinkIsUp", "true").
		set("LinkPolicy", "1", "14").
		set("MACAddress", d.mac).
		set("PhysicalConnectionType", "0").
		set("PrimaryDNS", d.gateway).
		set("SecondaryDNS", d.gateway).
		set("SharedDynamicIP", "true").
		set("SharedMAC", "true").
		set("SharedStaticIp", "false").
		set("SubnetMask", d.netmask)
	wireless := newInstance().
		set("ConsoleTcpMaxRetransmissions", "5").
		set("DHCPEnabled", "true").
		set("ElementName", "Intel(r) AMT Ethernet Port Settings").
		set("InstanceID", "Intel(r) AMT Ethernet Port Settings 1").
		set("LinkControl", "2").
		set("LinkIsUp", "false").
		set("LinkPreference", "2").
		set("MACAddress", "00-00-00-00-00-00").
		set("PhysicalConnectionType", "3").
		set("SharedMAC", "true").
		set("WLANLinkProtectionLevel", "1")
	return []*instance{wired, wireless}
}

func buildComputerSystemPackage(d *Device) []*instance {
	in := newInstance().
		setEPR("Antecedent", eprValue{
			address:     soap.URIAnon,
			resourceURI: soap.PrefixCIM + "CIM_Chassis",
			selectors:   []attr{{"CreationClassName", "CIM_Chassis"}, {"Tag", "CIM_Chassis"}},
		}).
		setEPR("Dependent", eprValue{
			address:     soap.URIAnon,
			resourceURI: soap.PrefixCIM + "CIM_ComputerSystem",
			selectors:   []attr{{"CreationClassName", "CIM_ComputerSystem"}, {"Name", "ManagedSystem"}},
		}).
		set("PlatformGUID", d.guid)
	return []*instance{in}
}
