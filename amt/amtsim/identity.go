package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// The identity and settings family: the device's identity (realm,
// platform GUID, MAC address, firmware version) and the classes that
// report it or hold settings: AMT_GeneralSettings, CIM_SoftwareIdentity,
// AMT_SetupAndConfigurationService, AMT_EthernetPortSettings and
// CIM_ComputerSystemPackage, built here, and the settings classes served
// from their captures (the ethernet and Wi-Fi ports, IPv6 and host IP,
// the alarm clock, environment detection, remote access, further
// services, profiles).

// identity is what makes a device itself, derived from its address and
// profile when it is created and never changed after. Device embeds it:
// the wire, authentication and redirection read it as well.
type identity struct {
	ip              string
	realm           string
	guid            string
	mac             string
	netmask         string
	gateway         string
	defaultHostname string

	major, minor, hotfix, build int
}

// identityUnit is the device's identity and settings family: the identity,
// the profile's provisioning values, and the instance store that holds
// the settings (a Put of AMT_GeneralSettings changes them there). It is a
// view the family makes of the device when it is called, so that it
// costs the device no memory. Called with the device lock held.
type identityUnit struct {
	id     *identity
	prof   *profile
	domain string // Options.DomainName
	store  *instanceStore
}

var settings = family[identityUnit]{unit: func(d *Device) identityUnit {
	return identityUnit{id: &d.identity, prof: d.prof, domain: d.srv.opts.DomainName, store: &d.store}
}}

var (
	classGeneralSettings = settings.class(&unitClass[identityUnit]{
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
	})
	classSoftwareIdentity = settings.class(&unitClass[identityUnit]{
		name:     "CIM_SoftwareIdentity",
		uri:      soap.PrefixCIM + "CIM_SoftwareIdentity",
		commonNS: true,
		keys:     []string{"InstanceID"},
		build:    buildSoftwareIdentity,
	})
	classSetupAndConfigurationService = settings.class(&unitClass[identityUnit]{
		name:      "AMT_SetupAndConfigurationService",
		uri:       soap.PrefixAMT + "AMT_SetupAndConfigurationService",
		commonNS:  true,
		singleton: true,
		keys:      []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
		methods: map[string]func(identityUnit, *instance, *soap.Node) ([]outParam, *soap.Fault){
			"CommitChanges": func(identityUnit, *instance, *soap.Node) ([]outParam, *soap.Fault) {
				return []outParam{{name: "ReturnValue", values: []string{"0"}}}, nil
			},
			"GetUuid": func(u identityUnit, _ *instance, _ *soap.Node) ([]outParam, *soap.Fault) {
				raw, _ := hex.DecodeString(u.id.guid)
				return []outParam{
					{name: "UUID", values: []string{base64.StdEncoding.EncodeToString(raw)}},
					{name: "ReturnValue", values: []string{"0"}},
				}, nil
			},
		},
		build: buildSetupAndConfiguration,
	})
	classEthernetPortSettings = settings.class(&unitClass[identityUnit]{
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
	})
	classComputerSystemPackage = settings.class(&unitClass[identityUnit]{
		name:      "CIM_ComputerSystemPackage",
		uri:       soap.PrefixCIM + "CIM_ComputerSystemPackage",
		singleton: true,
		keys:      []string{"Antecedent", "Dependent"},
		build:     buildComputerSystemPackage,
	})
)

// The captured classes that carry the device's MAC address.
var (
	ethernetPort = &unitClass[identityUnit]{subst: func(u identityUnit, in *instance) {
		in.set("NetworkAddresses", u.macHex())
	}}
	lanEndpoint = &unitClass[identityUnit]{subst: func(u identityUnit, in *instance) {
		in.set("MACAddress", u.macHex())
	}}
)

func (u identityUnit) macHex() string { return strings.ToLower(strings.ReplaceAll(u.id.mac, "-", "")) }

// generalSetting reads a property of AMT_GeneralSettings.
func (u identityUnit) generalSetting(name string) (string, bool) {
	if in := u.store.single("AMT_GeneralSettings"); in != nil {
		return in.get(name)
	}
	return "", false
}

// The property sets below follow the firmware captures. Properties that
// only some firmware generations report are gated on the major version, so
// that each version produces the set seen from a device of that era.

func buildGeneralSettings(u identityUnit) []*instance {
	host, domain := u.id.defaultHostname, u.domain
	if u.prof.provState == 0 && u.id.major >= 9 {
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
		set("DigestRealm", u.id.realm).
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
		set("RmcpPingResponseEnabled", boolString(!u.prof.noRMCP)).
		set("SharedFQDN", "true").
		set("WsmanOnlyMode", "false")
	if u.id.major >= 9 {
		in.set("AMTNetworkEnabled", "1")
	}
	if u.id.major >= 12 {
		in.set("ThunderboltDockEnabled", "0")
	}
	if u.id.major >= 16 {
		in.set("DHCPSyncRequiresHostname", "1")
	}
	return []*instance{in}
}

func buildSoftwareIdentity(u identityUnit) []*instance {
	short := strconv.Itoa(u.id.major) + "." + strconv.Itoa(u.id.minor) + "." + strconv.Itoa(u.id.hotfix)
	build := strconv.Itoa(u.id.build)
	entries := []struct{ id, version string }{
		{"Flash", short},
		{"Netstack", short},
		{"AMTApps", short},
		{"AMT", short},
		{"Sku", strconv.Itoa(u.prof.sku)},
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

func buildSetupAndConfiguration(u identityUnit) []*instance {
	in := newInstance().
		set("CreationClassName", "AMT_SetupAndConfigurationService").
		set("ElementName", "Intel(r) AMT Setup and Configuration Service").
		set("EnabledState", "5").
		set("Name", "Intel(r) AMT Setup and Configuration Service").
		set("PasswordModel", "1").
		set("ProvisioningMode", strconv.Itoa(u.prof.provMode)).
		set("ProvisioningServerOTP", base64.StdEncoding.EncodeToString(make([]byte, 32))).
		set("ProvisioningState", strconv.Itoa(u.prof.provState)).
		set("RequestedState", "12").
		set("SystemCreationClassName", "CIM_ComputerSystem").
		set("SystemName", "Intel(r) AMT").
		set("ZeroTouchConfigurationEnabled", "true")
	if u.id.major < 9 {
		in.set("ProvisioningPID", base64.StdEncoding.EncodeToString(make([]byte, 8)))
	}
	return []*instance{in}
}

func buildEthernetPortSettings(u identityUnit) []*instance {
	wired := newInstance().
		set("DHCPEnabled", "true").
		set("DefaultGateway", u.id.gateway).
		set("ElementName", "Intel(r) AMT Ethernet Port Settings").
		set("InstanceID", "Intel(r) AMT Ethernet Port Settings 0").
		set("IpSyncEnabled", "true").
		set("LinkIsUp", "true").
		set("LinkPolicy", "1", "14").
		set("MACAddress", u.id.mac).
		set("PhysicalConnectionType", "0").
		set("PrimaryDNS", u.id.gateway).
		set("SecondaryDNS", u.id.gateway).
		set("SharedDynamicIP", "true").
		set("SharedMAC", "true").
		set("SharedStaticIp", "false").
		set("SubnetMask", u.id.netmask)
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

func buildComputerSystemPackage(u identityUnit) []*instance {
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
		set("PlatformGUID", u.id.guid)
	return []*instance{in}
}
