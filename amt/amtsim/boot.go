package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"encoding/base64"
	"slices"
	"strconv"
	"time"
)

// Boot sources reported in BootRecord.Source.
const (
	BootSourceHDD        = "hdd"
	BootSourcePXE        = "pxe"
	BootSourceCD         = "cd"
	BootSourceIDERCD     = "ider-cd"
	BootSourceIDERFloppy = "ider-floppy"
	BootSourceBIOSSetup  = "bios-setup"
)

// BootRecord is one simulated boot of the host: why it happened, what it
// booted from and the one-time options BIOS applied.
type BootRecord struct {
	Seq    int
	Time   time.Time
	Cause  string // CausePowerOn, CauseReset, CausePowerCycle or CauseSoftReset
	Source string // BootSourceHDD, BootSourcePXE, ...
	// Requested is the source the armed one-time settings asked for: the
	// same as Source, except for a boot from IDE-R that has not (or not
	// yet) succeeded, where it is BootSourceIDERCD or BootSourceIDERFloppy
	// and Source BootSourceHDD.
	Requested string
	// OneTime reports whether the one-time settings were armed
	// (SetBootConfigRole IsNextSingleUse) and so applied. When false the
	// host booted its default order and every option below is false/0.
	OneTime bool

	UseIDER, UseSOL, UseSafeMode, ReflashBIOS, BIOSSetup, BIOSPause  bool
	LockPowerButton, LockResetButton, LockSleepButton, LockKeyboard  bool
	UserPasswordBypass, ForcedProgressEvents, ConfigurationDataReset bool
	EnforceSecureBoot, SecureErase, PlatformErase                    bool
	IDERBootDevice, FirmwareVerbosity, BootMediaIndex                int

	// IDERBoot is the Seq of the IDERBoot this boot attempted (UseIDER),
	// or 0. Source stays BootSourceHDD, the default order the BIOS falls
	// back to, unless and until that IDE-R boot succeeds; it then becomes
	// BootSourceIDERCD or BootSourceIDERFloppy.
	IDERBoot int
}

// bootUnit is the device's boot family: the one-time boot configuration
// (the options in AMT_BootSettingData, kept in the instance store, the
// source ChangeBootOrder selected and the role SetBootConfigRole set), the
// capabilities, and what BIOS boots from when the host starts. The
// family makes it of the device when it is called; called with the device
// lock held.
type bootUnit struct {
	*bootConfig
	major   int
	store   *instanceStore
	caps    map[string]bool // Options.BootCapabilities
	consent consentState
}

// bootConfig is the boot unit's own state, held by the device
// (Device.units).
type bootConfig struct {
	source string // InstanceID of the selected CIM_BootSourceSetting, "" none
	armed  bool   // role IsNextSingleUse (else IsNotNext)
}

// consentState is what the boot options need of user consent
// (redirsvc.Consent, optin.go):
// options that take over the host's screen need it.
type consentState interface {
	Missing(now time.Time) bool
}

var bootFamily = family[bootUnit]{unit: func(d *Device) bootUnit {
	return bootUnit{bootConfig: &d.units.boot, major: d.major, store: &d.store, caps: d.srv.opts.BootCapabilities, consent: d.consent}
}}

const (
	uriBootSettingData   = soap.PrefixAMT + "AMT_BootSettingData"
	uriBootCapabilities  = soap.PrefixAMT + "AMT_BootCapabilities"
	uriBootConfigSetting = soap.PrefixCIM + "CIM_BootConfigSetting"
	uriBootService       = soap.PrefixCIM + "CIM_BootService"
	uriBootSourceSetting = soap.PrefixCIM + "CIM_BootSourceSetting"

	bootConfigID = "Intel(r) AMT: Boot Configuration 0"
	sourceHDD    = "Intel(r) AMT: Force Hard-drive Boot"
	sourcePXE    = "Intel(r) AMT: Force PXE Boot"
	sourceCD     = "Intel(r) AMT: Force CD/DVD Boot"

	roleIsNextSingleUse = 1
	roleIsNotNext       = 32768

	ptInvalidParameter      = 36   // PT_STATUS INVALID_PARAMETER
	ptUnsupportedBootOption = 2050 // PT_STATUS UNSUPPORTED_BOOT_OPTION
)

var bootSourceNames = map[string]string{
	sourceHDD: BootSourceHDD,
	sourcePXE: BootSourcePXE,
	sourceCD:  BootSourceCD,
}

// bootSettingsWritable are the AMT_BootSettingData properties a Put may
// set (where the firmware version reports them).
var bootSettingsWritable = map[string]propType{
	"UseIDER":                 typeBool,
	"IDERBootDevice":          typeUint,
	"UseSOL":                  typeBool,
	"UseSafeMode":             typeBool,
	"ReflashBIOS":             typeBool,
	"BIOSSetup":               typeBool,
	"BIOSPause":               typeBool,
	"LockPowerButton":         typeBool,
	"LockResetButton":         typeBool,
	"LockSleepButton":         typeBool,
	"LockKeyboard":            typeBool,
	"UserPasswordBypass":      typeBool,
	"ForcedProgressEvents":    typeBool,
	"FirmwareVerbosity":       typeUint,
	"ConfigurationDataReset":  typeBool,
	"BootMediaIndex":          typeUint,
	"EnforceSecureBoot":       typeBool,
	"SecureErase":             typeBool,
	"RSEPassword":             typeString,
	"PlatformErase":           typeBool,
	"UefiBootParametersArray": typeString,
	"UefiBootNumberOfParams":  typeUint,
}

// bootSettingsReadOnly are the properties BIOS and firmware report; a Put
// carrying any of them is refused, even with the value unchanged.
var bootSettingsReadOnly = []string{
	"BIOSLastStatus", "BootguardStatus", "OptionsCleared", "RPEEnabled",
	"SecureBootControlEnabled", "UEFIHTTPSBootEnabled", "UEFILocalPBABootEnabled",
	"WinREBootEnabled",
}

// bootOptionCapability maps boolean options to the AMT_BootCapabilities
// flag that must be true to set them.
var bootOptionCapability = map[string]string{
	"UseIDER":                "IDER",
	"UseSOL":                 "SOL",
	"ReflashBIOS":            "BIOSReflash",
	"BIOSSetup":              "BIOSSetup",
	"BIOSPause":              "BIOSPause",
	"UseSafeMode":            "ForceHardDriveSafeModeBoot",
	"LockPowerButton":        "PowerButtonLock",
	"LockResetButton":        "ResetButtonLock",
	"LockSleepButton":        "SleepButtonLock",
	"LockKeyboard":           "KeyboardLock",
	"UserPasswordBypass":     "UserPasswordBypass",
	"ForcedProgressEvents":   "ForcedProgressEvents",
	"ConfigurationDataReset": "ConfigurationDataReset",
	"EnforceSecureBoot":      "BIOSSecureBoot",
	"SecureErase":            "SecureErase",
}

// verbosityCapability maps FirmwareVerbosity 1..3 to its capability flag.
var verbosityCapability = map[string]string{"1": "VerbosityQuiet", "2": "VerbosityVerbose", "3": "VerbosityScreenBlank"}

// bootSourceConflicts cannot be true while a boot source is selected.
var bootSourceConflicts = []string{"UseIDER", "UseSOL", "BIOSSetup", "BIOSPause", "ReflashBIOS"}

// bootCapabilityFlags are the boolean AMT_BootCapabilities properties.
var bootCapabilityFlags = []string{
	"BIOSPause", "BIOSReflash", "BIOSSecureBoot", "BIOSSetup", "ConfigurationDataReset",
	"ForceCDorDVDBoot", "ForceDiagnosticBoot", "ForceHardDriveBoot", "ForceHardDriveSafeModeBoot",
	"ForcePXEBoot", "ForcedProgressEvents", "IDER", "KeyboardLock", "PowerButtonLock",
	"ResetButtonLock", "SOL", "SecureErase", "SleepButtonLock", "UserPasswordBypass",
	"VerbosityQuiet", "VerbosityScreenBlank", "VerbosityVerbose",
}

func isBootCapabilityFlag(name string) bool { return slices.Contains(bootCapabilityFlags, name) }

// Firmware generations of the boot property sets, as the captures show.
const (
	bootRSEMajor = 11 // BIOSLastStatus, OptionsCleared, RSEPassword, SecureErase
	bootOCRMajor = 16 // One-Click Recovery, Remote Platform Erase, Boot Guard
)

type bootMethods = map[string]func(bootUnit, *instance, *soap.Node) ([]outParam, *soap.Fault)

var (
	classBootSettingData = bootFamily.class(&unitClass[bootUnit]{
		name:      "AMT_BootSettingData",
		uri:       uriBootSettingData,
		singleton: true,
		keys:      []string{"InstanceID"},
		put:       bootUnit.putBootSettingData,
		build:     buildBootSettingData,
	})
	classBootCapabilities = bootFamily.class(&unitClass[bootUnit]{
		name:      "AMT_BootCapabilities",
		uri:       uriBootCapabilities,
		singleton: true,
		keys:      []string{"InstanceID"},
		build:     buildBootCapabilities,
	})
	classBootConfigSetting = bootFamily.class(&unitClass[bootUnit]{
		name:      "CIM_BootConfigSetting",
		uri:       uriBootConfigSetting,
		singleton: true,
		keys:      []string{"InstanceID"},
		methods:   bootMethods{"ChangeBootOrder": bootUnit.changeBootOrder},
		build:     buildBootConfigSetting,
	})
	classBootService = bootFamily.class(&unitClass[bootUnit]{
		name:      "CIM_BootService",
		uri:       uriBootService,
		commonNS:  true,
		singleton: true,
		keys:      []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"},
		methods:   bootMethods{"SetBootConfigRole": bootUnit.setBootConfigRole},
		build:     buildBootService,
	})
	classBootSourceSetting = bootFamily.class(&unitClass[bootUnit]{
		name:  "CIM_BootSourceSetting",
		uri:   uriBootSourceSetting,
		keys:  []string{"InstanceID"},
		build: buildBootSourceSettings,
	})
	// CIM_ElementSettingData (protocol.md §3.3) ties the host to its boot
	// configuration: IsNext 3 (IsNextForSingleUse) while a one-time boot
	// is armed with SetBootConfigRole, else 2 (IsNotNext); IsDefault 2.
	// No capture holds it: its property set is protocol.md's.
	classElementSettingData = bootFamily.class(&unitClass[bootUnit]{
		name:      "CIM_ElementSettingData",
		uri:       soap.PrefixCIM + "CIM_ElementSettingData",
		singleton: true,
		keys:      []string{"ManagedElement", "SettingData"},
		build:     buildElementSettingData,
		live:      bootUnit.syncElementSettingData,
	})
)

func buildElementSettingData(bootUnit) []*instance {
	return []*instance{newInstance().
		set("IsDefault", "2").
		set("IsNext", "2").
		setEPR("ManagedElement", eprValue{address: soap.URIAnon, resourceURI: soap.PrefixCIM + "CIM_ComputerSystem",
			selectors: []attr{{"CreationClassName", "CIM_ComputerSystem"}, {"Name", "ManagedSystem"}}}).
		setEPR("SettingData", eprValue{address: soap.URIAnon, resourceURI: soap.PrefixCIM + "CIM_BootConfigSetting",
			selectors: []attr{{"InstanceID", bootConfigID}}})}
}

func (u bootUnit) syncElementSettingData() {
	next := "2"
	if u.armed {
		next = "3"
	}
	for _, in := range u.store.of("CIM_ElementSettingData") {
		in.set("IsNext", next)
	}
}

func buildBootSettingData(u bootUnit) []*instance {
	in := newInstance().
		set("BIOSPause", "false").
		set("BIOSSetup", "false").
		set("BootMediaIndex", "0").
		set("ConfigurationDataReset", "false").
		set("ElementName", "Intel(r) AMT Boot Configuration Settings").
		set("EnforceSecureBoot", "false").
		set("FirmwareVerbosity", "0").
		set("ForcedProgressEvents", "false").
		set("IDERBootDevice", "0").
		set("InstanceID", "Intel(r) AMT:BootSettingData 0").
		set("LockKeyboard", "false").
		set("LockPowerButton", "false").
		set("LockResetButton", "false").
		set("LockSleepButton", "false").
		set("OwningEntity", "Intel(r) AMT").
		set("ReflashBIOS", "false").
		set("UseIDER", "false").
		set("UseSOL", "false").
		set("UseSafeMode", "false").
		set("UserPasswordBypass", "false")
	if u.major >= bootRSEMajor {
		in.set("BIOSLastStatus", "2", "0").
			set("OptionsCleared", "true").
			set("RSEPassword", "").
			set("SecureErase", "false")
	}
	if u.major >= bootOCRMajor {
		in.set("BootguardStatus", "127").
			set("PlatformErase", "false").
			set("RPEEnabled", "true").
			set("SecureBootControlEnabled", "true").
			set("UEFIHTTPSBootEnabled", "true").
			set("UEFILocalPBABootEnabled", "true").
			set("UefiBootNumberOfParams", "0").
			set("WinREBootEnabled", "true")
	}
	return []*instance{in}
}

func buildBootCapabilities(u bootUnit) []*instance {
	in := newInstance().
		set("BIOSReflash", "true").
		set("BIOSSetup", "true").
		set("ConfigurationDataReset", "false").
		set("ElementName", "Intel(r) AMT: Boot Capabilities").
		set("ForceCDorDVDBoot", "true").
		set("ForceDiagnosticBoot", "false").
		set("ForceHardDriveBoot", "true").
		set("ForceHardDriveSafeModeBoot", "false").
		set("ForcePXEBoot", "true").
		set("ForcedProgressEvents", "true").
		set("IDER", "true").
		set("InstanceID", "Intel(r) AMT:BootCapabilities 0").
		set("KeyboardLock", "true").
		set("PowerButtonLock", "false").
		set("ResetButtonLock", "false").
		set("SOL", "true").
		set("SleepButtonLock", "false").
		set("UserPasswordBypass", "true")
	// The two generations the captures show differ in these defaults.
	older := boolString(u.major < bootRSEMajor)
	in.set("BIOSPause", older).
		set("BIOSSecureBoot", boolString(u.major >= bootRSEMajor)).
		set("VerbosityQuiet", older).
		set("VerbosityScreenBlank", older).
		set("VerbosityVerbose", older)
	if u.major >= bootRSEMajor {
		in.set("SecureErase", "false")
	}
	for name, v := range u.caps {
		if _, ok := in.props[name]; ok {
			in.set(name, boolString(v))
		}
	}
	return []*instance{in}
}

func buildBootConfigSetting(bootUnit) []*instance {
	return []*instance{newInstance().
		set("ElementName", "Intel(r) AMT: Boot Configuration").
		set("InstanceID", bootConfigID)}
}

func buildBootService(bootUnit) []*instance {
	return []*instance{newInstance().
		set("CreationClassName", "CIM_BootService").
		set("ElementName", "Intel(r) AMT Boot Service").
		set("EnabledState", "2").
		set("Name", "Intel(r) AMT Boot Service").
		set("OperationalStatus", "0").
		set("RequestedState", "12").
		set("SystemCreationClassName", "CIM_ComputerSystem").
		set("SystemName", "Intel(r) AMT")}
}

func buildBootSourceSettings(bootUnit) []*instance {
	out := make([]*instance, 0, 3)
	for _, s := range []struct{ id, boot string }{
		{sourceHDD, "CIM:Hard-Disk:1"},
		{sourcePXE, "CIM:Network:1"},
		{sourceCD, "CIM:CD/DVD:1"},
	} {
		out = append(out, newInstance().
			set("ElementName", "Intel(r) AMT: Boot Source").
			set("FailThroughSupported", "2").
			set("InstanceID", s.id).
			set("StructuredBootString", s.boot))
	}
	return out
}

func (in *instance) flag(name string) bool {
	v, _ := in.get(name)
	return v == "true"
}

func (in *instance) number(name string) int {
	v, _ := in.get(name)
	n, _ := strconv.Atoi(v)
	return n
}

// putBootSettingData applies the AMT_BootSettingData Put rules: read-only
// properties may be echoed as read back but not changed, options need
// their capability flag, and
// the options that conflict with a selected boot source are refused while
// one is selected.
func (u bootUnit) putBootSettingData(inst *instance, body *soap.Node) *soap.Fault {
	if !body.Is(uriBootSettingData, "AMT_BootSettingData") {
		return soap.FaultSchemaValidation()
	}
	var order []string
	values := map[string][]string{}
	for _, ch := range body.Children {
		if ch.Space != uriBootSettingData {
			return soap.FaultSchemaValidation()
		}
		if _, seen := values[ch.Local]; !seen {
			order = append(order, ch.Local)
		}
		values[ch.Local] = append(values[ch.Local], ch.Value())
	}
	next := inst.clone()
	for _, name := range order {
		vals := values[name]
		if slices.Contains(bootSettingsReadOnly, name) {
			// Echoed as read back (the full-struct Put go-wsman records
			// and firmware accepts); a changed value is refused.
			cur, ok := inst.props[name]
			if !ok || !slices.Equal(cur.values, vals) {
				return soap.FaultInvalidRepresentation()
			}
			continue
		}
		if t, ok := bootSettingsWritable[name]; ok && bootSettingServed(inst, name) {
			if len(vals) != 1 || !t.valid(vals[0]) {
				return soap.FaultSchemaValidation()
			}
			switch name {
			case "RSEPassword": // write-only: never reads back
				if len(vals[0]) > 32 {
					return soap.FaultInternalError(ptInvalidParameter)
				}
				continue
			case "UefiBootParametersArray":
				raw, err := base64.StdEncoding.DecodeString(vals[0])
				if err != nil || len(raw) > 1024 {
					return soap.FaultInternalError(ptInvalidParameter)
				}
				continue // accepted for BIOS, never read back: no capture shows it
			}
			next.set(name, vals...)
			continue
		}
		cur, ok := inst.props[name]
		if !ok || cur.epr != nil || !slices.Equal(cur.values, vals) {
			return soap.FaultInvalidRepresentation()
		}
	}
	if n := next.number("IDERBootDevice"); n > 1 {
		return soap.FaultInternalError(ptInvalidParameter)
	}
	verbosity, _ := next.get("FirmwareVerbosity")
	if next.number("FirmwareVerbosity") > 3 {
		return soap.FaultInternalError(ptInvalidParameter)
	}
	caps := u.store.single("AMT_BootCapabilities")
	for opt, capName := range bootOptionCapability {
		if next.flag(opt) && !caps.flag(capName) {
			return soap.FaultInternalError(ptUnsupportedBootOption)
		}
	}
	if capName, ok := verbosityCapability[verbosity]; ok && !caps.flag(capName) {
		return soap.FaultInternalError(ptUnsupportedBootOption)
	}
	if u.consent.Missing(time.Now()) {
		for _, opt := range consentOptions {
			if next.flag(opt) {
				return soap.FaultInternalError(ptUserConsentMissing)
			}
		}
	}
	if u.source != "" {
		for _, opt := range bootSourceConflicts {
			if next.flag(opt) {
				return soap.FaultInternalError(ptUnsupportedBootOption)
			}
		}
	}
	if _, ok := next.props["OptionsCleared"]; ok && u.major < bootOCRMajor {
		// Pending for BIOS again, as the older PutResponse shows; the
		// AMT 16-shaped PutResponse keeps OptionsCleared true.
		next.set("OptionsCleared", "false")
	}
	inst.props = next.props
	return nil
}

// bootSettingServed reports whether the firmware version has a writable
// property: those it reports, and the OCR parameter array (omitted from
// Get while empty) where it reports the parameter count.
func bootSettingServed(inst *instance, name string) bool {
	if _, ok := inst.props[name]; ok {
		return true
	}
	if name == "UefiBootParametersArray" {
		_, ok := inst.props["UefiBootNumberOfParams"]
		return ok
	}
	return false
}

func (u bootUnit) changeBootOrder(_ *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	var first *soap.Node
	if input != nil {
		for _, ch := range input.Children {
			if ch.Is(uriBootConfigSetting, "Source") {
				first = ch
				break
			}
		}
	}
	if first == nil {
		u.source = ""
		return returnValue(rvOK), nil
	}
	uri, sels, ok := eprRef(first)
	if !ok || uri != uriBootSourceSetting || len(sels) != 1 {
		return returnValue(rvInvalidReference), nil
	}
	id := sels["InstanceID"]
	for _, src := range u.store.of("CIM_BootSourceSetting") {
		if v, _ := src.get("InstanceID"); v == id {
			u.source = id
			return returnValue(rvOK), nil
		}
	}
	return returnValue(rvInvalidReference), nil
}

func (u bootUnit) setBootConfigRole(_ *instance, input *soap.Node) ([]outParam, *soap.Fault) {
	uri, sels, ok := eprRef(input.Child(uriBootService, "BootConfigSetting"))
	if !ok || uri != uriBootConfigSetting || len(sels) != 1 || sels["InstanceID"] != bootConfigID {
		return returnValue(rvInvalidReference), nil
	}
	role, ok := uintParam(input, uriBootService, "Role")
	switch {
	case ok && role == roleIsNextSingleUse:
		u.armed = true
	case ok && role == roleIsNotNext:
		u.armed = false
	default:
		return returnValue(rvInvalidParameter), nil
	}
	return returnValue(rvOK), nil
}

// next is the boot BIOS makes now: it picks the boot source from the
// armed one-time settings (or the default order) and consumes the
// one-time settings. The record's Seq, and any IDE-R boot, are the
// device's.
func (u bootUnit) next(at time.Time, cause string) BootRecord {
	rec := BootRecord{Time: at, Cause: cause, Source: BootSourceHDD}
	if bsd := u.store.single("AMT_BootSettingData"); bsd != nil && u.armed {
		rec.OneTime = true
		rec.UseIDER = bsd.flag("UseIDER")
		rec.UseSOL = bsd.flag("UseSOL")
		rec.UseSafeMode = bsd.flag("UseSafeMode")
		rec.ReflashBIOS = bsd.flag("ReflashBIOS")
		rec.BIOSSetup = bsd.flag("BIOSSetup")
		rec.BIOSPause = bsd.flag("BIOSPause")
		rec.LockPowerButton = bsd.flag("LockPowerButton")
		rec.LockResetButton = bsd.flag("LockResetButton")
		rec.LockSleepButton = bsd.flag("LockSleepButton")
		rec.LockKeyboard = bsd.flag("LockKeyboard")
		rec.UserPasswordBypass = bsd.flag("UserPasswordBypass")
		rec.ForcedProgressEvents = bsd.flag("ForcedProgressEvents")
		rec.ConfigurationDataReset = bsd.flag("ConfigurationDataReset")
		rec.EnforceSecureBoot = bsd.flag("EnforceSecureBoot")
		rec.SecureErase = bsd.flag("SecureErase")
		rec.PlatformErase = bsd.flag("PlatformErase")
		rec.IDERBootDevice = bsd.number("IDERBootDevice")
		rec.FirmwareVerbosity = bsd.number("FirmwareVerbosity")
		rec.BootMediaIndex = bsd.number("BootMediaIndex")
		switch {
		case rec.UseIDER:
			// Decided by the IDE-R boot below; hard drive until it succeeds.
			rec.Requested = BootSourceIDERFloppy
			if rec.IDERBootDevice == 1 {
				rec.Requested = BootSourceIDERCD
			}
		case u.source != "":
			rec.Source = bootSourceNames[u.source]
		case rec.BIOSSetup:
			rec.Source = BootSourceBIOSSetup
		}
		// BIOS consumes the one-time settings.
		for name, t := range bootSettingsWritable {
			if _, ok := bsd.props[name]; !ok {
				continue
			}
			switch {
			case t == typeBool:
				bsd.set(name, "false")
			case t == typeUint:
				bsd.set(name, "0")
			}
		}
		delete(bsd.props, "UefiBootParametersArray")
		if _, ok := bsd.props["OptionsCleared"]; ok {
			bsd.set("OptionsCleared", "true")
		}
		u.source, u.armed = "", false
	}
	if rec.Requested == "" {
		rec.Requested = rec.Source
	}
	return rec
}

// boot simulates BIOS starting the host: the host's Booted callback. It
// records the boot the boot family makes and starts the IDE-R boot it
// asks for. Call with d.mu held.
func (d *Device) boot(at time.Time, cause string) {
	rec := bootFamily.unit(d).next(at, cause)
	rec.Seq = len(d.boots) + 1
	d.boots = append(d.boots, rec)
	if d.bootCh != nil {
		close(d.bootCh)
	}
	d.bootCh = make(chan struct{})
	d.srv.log.Info("amtsim boot", "device", d.ip, "seq", rec.Seq, "cause", cause, "source", rec.Source, "one_time", rec.OneTime)
	if rec.UseIDER {
		d.boots[len(d.boots)-1].IDERBoot = portOf(d).StartIDERBoot(rec.Seq, rec.IDERBootDevice == 1)
	}
}
