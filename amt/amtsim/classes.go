package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/clock"
	"github.com/amtkit/amtkit/amt/amtsim/internal/logs"
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

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
	epr    *soap.EPR // a reference-typed parameter (values unused)
}

// methodFunc implements an extrinsic method as the dispatcher calls it. It
// runs with the device lock held; inst is the addressed instance and input
// the <Method>_INPUT element (nil when the body was empty). A family's
// methods take its unit (unitClass.methods); family.class wraps them in
// methodFuncs.
type methodFunc func(d *Device, inst *instance, input *soap.Node) ([]outParam, *soap.Fault)

// putFunc replaces the generic Put rule for classes with their own
// constraints. It runs with the device lock held and must change nothing
// when it returns a fault.
type putFunc func(d *Device, inst *instance, body *soap.Node) *soap.Fault

// classDef describes one served class as the dispatcher serves it. A
// family declares its classes as unitClasses (or captured lines) bound to
// its unit, and family.class or family.captured makes the classDef; see
// doc.go for adding a class.
type classDef struct {
	name      string
	uri       string // resource URI; also the XML namespace of instances
	commonNS  bool   // the firmware declares the wscim "common" namespace
	singleton bool   // Get/Put accepted without selectors
	keys      []string
	writable  map[string]propType
	put       putFunc
	methods   map[string]methodFunc
	// del serves Delete for a class of the store (nil: not offered,
	// wsa:ActionNotSupported). It runs with the device lock held.
	del   func(d *Device, c *classDef, sels []soap.Selector) *soap.Fault
	build func(d *Device) []*instance
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

// family binds the classes of one class family to the family's unit:
// unit returns the device's unit, where the family's state lives. The
// class table's lines are family.class and family.captured bindings, so
// that each class's behaviour takes its unit, never the device.
type family[U any] struct {
	unit func(d *Device) U
}

// unitClass is a class served from the instance store, with its
// behaviour written against the family's unit U. Every function runs
// with the device lock held; put must change nothing when it returns a
// fault.
type unitClass[U any] struct {
	name      string
	uri       string // resource URI; also the XML namespace of instances
	commonNS  bool   // the firmware declares the wscim "common" namespace
	singleton bool   // Get/Put accepted without selectors
	keys      []string
	minMajor  int       // first firmware major version serving the class
	inst      *classDef // see classDef.inst
	writable  map[string]propType
	put       func(u U, inst *instance, body *soap.Node) *soap.Fault
	methods   map[string]func(u U, inst *instance, input *soap.Node) ([]outParam, *soap.Fault)
	// delete serves Delete (nil: not offered); it must change nothing
	// when it returns a fault.
	delete func(u U, sels []soap.Selector) *soap.Fault
	// build builds the class's instances for a device of the unit;
	// captured classes are built from their capture instead.
	build func(u U) []*instance
	// subst gives a captured instance the device's own values.
	subst func(u U, in *instance)
	// live brings the instances up to date with the unit before a request
	// reads them.
	live func(u U)
}

// class binds a class built by its family to the family's unit.
func (f family[U]) class(uc *unitClass[U]) *classDef {
	c := f.bind(uc)
	if build := uc.build; build != nil {
		c.build = func(d *Device) []*instance { return build(f.unit(d)) }
	}
	return c
}

// captured binds the class the captures hold under name (captured_data.go)
// to the family's unit, with the unit's behaviour for it (nil: served as
// captured).
func (f family[U]) captured(name string, b *unitClass[U]) *classDef {
	cc := capturedByName[name]
	if cc == nil {
		panic("amtsim: no capture of " + name)
	}
	uc := unitClass[U]{}
	if b != nil {
		uc = *b
	}
	uc.name, uc.uri = cc.name, capturedURI(cc.name)
	uc.commonNS, uc.singleton, uc.keys = cc.commonNS, cc.singleton, cc.keys
	c := f.bind(&uc)
	subst := uc.subst
	c.build = func(d *Device) []*instance {
		var sub func(*instance)
		if subst != nil {
			u := f.unit(d)
			sub = func(in *instance) { subst(u, in) }
		}
		return buildCaptured(cc, d, sub)
	}
	c.contextAtEnd = func(major int) bool {
		s := cc.shape(major)
		return s != nil && s.contextAtEnd
	}
	return c
}

// bind makes the class definition of uc, its behaviour called with the
// device's unit.
func (f family[U]) bind(uc *unitClass[U]) *classDef {
	c := &classDef{
		name:      uc.name,
		uri:       uc.uri,
		commonNS:  uc.commonNS,
		singleton: uc.singleton,
		keys:      uc.keys,
		minMajor:  uc.minMajor,
		inst:      uc.inst,
		writable:  uc.writable,
	}
	if put := uc.put; put != nil {
		c.put = func(d *Device, inst *instance, body *soap.Node) *soap.Fault { return put(f.unit(d), inst, body) }
	}
	if del := uc.delete; del != nil {
		c.del = func(d *Device, _ *classDef, sels []soap.Selector) *soap.Fault { return del(f.unit(d), sels) }
	}
	if len(uc.methods) > 0 {
		c.methods = make(map[string]methodFunc, len(uc.methods))
		for name, m := range uc.methods {
			c.methods[name] = func(d *Device, inst *instance, input *soap.Node) ([]outParam, *soap.Fault) {
				return m(f.unit(d), inst, input)
			}
		}
	}
	if live := uc.live; live != nil {
		c.live = func(d *Device) { live(f.unit(d)) }
	}
	return c
}

// familyUnits is the state of a device's class family units that is
// their own: the logs and the clock (internal packages with their own
// locks) and the boot configuration (guarded by the device lock). A
// family's unit is a view the family makes of the device when it is
// called (family.unit): this state, the instance store, the host, the
// identity. See doc.go, Layout, for the lock rule.
type familyUnits struct {
	boot  bootConfig
	logs  logs.Unit
	clock clock.Unit
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
	case c.supportsPut() && c.del != nil:
		return storeOpsDelete
	case c.supportsPut():
		return storeOps
	case c.del != nil:
		return storeOpsNoPutDelete
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

// classTable lists every class the simulator serves, one line each: the
// class bound to its family's unit. The classes built by their family are
// declared in the family's file (identity.go, power.go, boot.go,
// redirsvc.go, optin.go); a line family.captured(name, behaviour) serves a
// class as its capture shows it (captured_data.go) with its family's
// behaviour, nil for none. System Defense's classes and the wildcard
// association of the boot order are registered by init below.
var classTable = []*classDef{
	classGeneralSettings,
	classSoftwareIdentity,
	classSetupAndConfigurationService,
	classEthernetPortSettings,
	classComputerSystemPackage,
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

	// hardware inventory (inventory.go)
	inventory.captured("CIM_Chassis", nil),
	inventory.captured("CIM_Card", nil),
	inventory.captured("CIM_BIOSElement", nil),
	inventory.captured("CIM_BIOSFeature", nil),
	inventory.captured("CIM_Processor", nil),
	inventory.captured("CIM_Chip", nil),
	inventory.captured("CIM_PhysicalMemory", nil),
	inventory.captured("CIM_MediaAccessDevice", nil),
	inventory.captured("CIM_PhysicalPackage", nil),
	inventory.captured("CIM_SystemPackaging", systemPackaging),
	inventory.captured("CIM_Battery", nil),
	inventory.captured("CIM_Fan", nil),
	inventory.captured("CIM_Sensor", nil),
	inventory.captured("AMT_AssetTableService", nil),
	// logs (logs.go, internal/logs)
	eventLogs.captured("AMT_MessageLog", messageLog),
	eventLogs.captured("AMT_AuditLog", auditLog),
	eventLogs.captured("AMT_AuditPolicyRule", nil),
	eventLogs.captured("AMT_EventLogEntry", nil),
	eventLogs.captured("IPS_ProvisioningRecordLog", nil),
	// time (timesync.go, internal/clock)
	deviceClock.captured("AMT_TimeSynchronizationService", timeSynchronization),
	// ACLs (acl.go, internal/acl)
	acls.captured("AMT_AuthorizationService", authorizationService),
	// certificates, TLS and 802.1X (certificates.go)
	certificates.captured("AMT_PublicKeyCertificate", nil),
	certificates.captured("AMT_PublicKeyManagementService", publicKeyManagement),
	certificates.captured("AMT_PublicPrivateKeyPair", nil),
	certificates.captured("AMT_TLSSettingData", nil),
	certificates.captured("AMT_TLSCredentialContext", nil),
	certificates.captured("AMT_TLSProtocolEndpointCollection", nil),
	certificates.captured("AMT_CryptographicCapabilities", nil),
	certificates.captured("CIM_CredentialContext", nil),
	certificates.captured("CIM_ConcreteDependency", nil),
	certificates.captured("AMT_8021XProfile", nil),
	certificates.captured("AMT_8021xCredentialContext", nil),
	certificates.captured("IPS_IEEE8021xSettings", nil),
	certificates.captured("CIM_IEEE8021xSettings", nil),
	// KVM (kvm.go; the redirection family, internal/redirsvc)
	redirection.captured("CIM_KVMRedirectionSAP", kvmRedirectionSAP),
	redirection.captured("IPS_KVMRedirectionSettingData", kvmRedirectionSettingData),
	redirection.captured("IPS_ScreenSettingData", nil),
	redirection.captured("CIM_RedirectionService", nil),
	// identity and settings (identity.go)
	settings.captured("IPS_IPv6PortSettings", nil),
	settings.captured("IPS_HostIPSettings", nil),
	settings.captured("AMT_AlarmClockService", nil),
	settings.captured("IPS_AlarmClockOccurrence", nil),
	settings.captured("AMT_EnvironmentDetectionSettingData", nil),
	settings.captured("CIM_EthernetPort", ethernetPort),
	settings.captured("IPS_LANEndpoint", lanEndpoint),
	settings.captured("CIM_WiFiPort", nil),
	settings.captured("CIM_WiFiEndpointSettings", nil),
	settings.captured("AMT_WiFiPortConfigurationService", nil),
	settings.captured("AMT_RemoteAccessService", nil),
	settings.captured("AMT_RemoteAccessPolicyRule", remoteAccessPolicyRule),
	settings.captured("AMT_RemoteAccessPolicyAppliesToMPS", remoteAccessPolicyAppliesToMPS),
	settings.captured("AMT_RemoteAccessCapabilities", nil),
	settings.captured("AMT_ManagementPresenceRemoteSAP", nil),
	settings.captured("AMT_MPSUsernamePassword", nil),
	settings.captured("AMT_UserInitiatedConnectionService", userInitiatedConnection),
	settings.captured("AMT_KerberosSettingData", nil),
	settings.captured("AMT_SystemPowerScheme", nil),
	settings.captured("IPS_HostBootReason", nil),
	settings.captured("IPS_SecIOService", nil),
	settings.captured("IPS_HostBasedSetupService", nil),
	settings.captured("CIM_ElementConformsToProfile", nil),

	// served from protocol.md alone (no capture)
	classElementSettingData,
}

// protocolClasses are the classes served from protocol.md alone.
var protocolClasses = []*classDef{classElementSettingData}

// After the table: System Defense's classes, then the wildcard
// association of the boot order (ordered.go).
func init() {
	registerDefense()
	registerClass(classCIMWildcard)
}

func registerClass(c *classDef) {
	classTable = append(classTable, c)
	classByURI[c.uri] = c
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
