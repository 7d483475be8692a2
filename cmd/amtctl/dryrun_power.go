package main

import (
	"github.com/amtkit/amtkit/power"
)

// The requests the power and boot commands send to change a machine, for
// --dry-run, in the order the power package sends them.

const (
	managedSystem = "CIM_ComputerSystem ManagedSystem"
	bootConfig    = "CIM_BootConfigSetting Intel(r) AMT: Boot Configuration 0"
)

// planPower is what a power action sends.
func planPower(a power.Action) plannedRequest {
	return invoke("CIM_PowerManagementService", "RequestPowerStateChange",
		"PowerState", int(a), "ManagedElement", managedSystem)
}

// planWake is what power wake sends (when the OS is in power saving).
func planWake() plannedRequest {
	return invoke("IPS_PowerManagementService", "RequestOSPowerSavingStateChange",
		"OSPowerSavingState", int(power.OSFullPower), "ManagedElement", managedSystem)
}

// bootSourceOf is the CIM_BootSourceSetting a target is selected by, "" for
// targets chosen by AMT_BootSettingData.
func bootSourceOf(t power.BootTarget) string {
	switch t {
	case power.BootPXE:
		return "Intel(r) AMT: Force PXE Boot"
	case power.BootHardDisk:
		return "Intel(r) AMT: Force Hard-drive Boot"
	case power.BootCD:
		return "Intel(r) AMT: Force CD/DVD Boot"
	}
	return ""
}

// planBootSettings is the Put of AMT_BootSettingData for a target: the
// instance read, with these properties changed.
func planBootSettings(t power.BootTarget, o power.BootOptions) plannedRequest {
	ider := 0
	if t == power.BootIDERCD {
		ider = 1
	}
	return put("AMT_BootSettingData",
		"UseSOL", o.SOL, "BIOSPause", o.BIOSPause, "LockKeyboard", o.LockKeyboard,
		"LockPowerButton", o.LockPowerButton, "LockResetButton", o.LockResetButton,
		"UserPasswordBypass", o.UserPasswordBypass, "BIOSSetup", t == power.BootBIOSSetup,
		"UseIDER", t == power.BootIDERCD || t == power.BootIDERFloppy,
		"IDERBootDevice", ider, "BootMediaIndex", o.MediaIndex, "FirmwareVerbosity", int(o.Verbosity))
}

func planBootOrder(source string) plannedRequest {
	if source == "" {
		return invoke("CIM_BootConfigSetting", "ChangeBootOrder", "InstanceID", "Intel(r) AMT: Boot Configuration 0")
	}
	return invoke("CIM_BootConfigSetting", "ChangeBootOrder", "InstanceID", "Intel(r) AMT: Boot Configuration 0",
		"Source", "CIM_BootSourceSetting "+source)
}

func planBootRole(role int) plannedRequest {
	return invoke("CIM_BootService", "SetBootConfigRole", "BootConfigSetting", bootConfig, "Role", role)
}

// planNextBoot is what boot next sends: clear the boot order, put the
// settings, select the source, and make the configuration the next boot's.
func planNextBoot(t power.BootTarget, o power.BootOptions) []plannedRequest {
	reqs := []plannedRequest{planBootOrder(""), planBootSettings(t, o)}
	if src := bootSourceOf(t); src != "" {
		reqs = append(reqs, planBootOrder(src))
	}
	return append(reqs, planBootRole(1))
}

// planClearBoot is what boot clear sends.
func planClearBoot() []plannedRequest {
	return []plannedRequest{planBootOrder(""), planBootSettings(0, power.BootOptions{}), planBootRole(32768)}
}

// startAction is the action boot next --reset sends for a machine in
// state st: reset when on, on otherwise (sleep: on, then reset).
func startActions(st power.State) []power.Action {
	switch st {
	case power.StateOn:
		return []power.Action{power.Reset}
	case power.StateSleep:
		return []power.Action{power.On, power.Reset}
	}
	return []power.Action{power.On}
}
