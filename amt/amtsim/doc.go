// Package amtsim simulates Intel AMT (vPro) devices on the network side of
// WS-Management, answering the way the firmware does: the same HTTP
// headers, digest challenge, anti-hammering lockout, SOAP envelope layout
// (namespace prefixes, header order, ASCII-ordered properties), fault
// envelopes and enumeration contexts. Its output is checked against real
// firmware captures.
//
// It is the other side of the wire from the amtkit client packages and
// deliberately shares no code with them, so that an encoding bug cannot hide
// in both.
//
// # Use in tests
//
// New starts serving before it returns, like net/http/httptest.NewServer:
//
//	sim, err := amtsim.New(amtsim.Options{})
//	if err != nil { ... }
//	defer sim.Close()
//	// talk WS-Man to sim.URL() + "/wsman" as "admin" / "P@ssw0rd1"
//
// With Options.DevicesCIDR a fleet of devices is created, one per host
// address of the range, all on the same ports (on Linux every 127.0.0.0/8
// address is local, so ranges such as 127.77.0.0/24 need no setup). Each
// device has its own digest realm, platform GUID, host name, MAC address and
// state, all derived from its address so that runs are reproducible.
//
// # Served classes
//
// AMT_GeneralSettings, CIM_SoftwareIdentity, AMT_SetupAndConfigurationService
// (with CommitChanges and GetUuid), AMT_EthernetPortSettings and
// CIM_ComputerSystemPackage; for power CIM_AssociatedPowerManagementService
// (also through its parent class CIM_ServiceAvailableToElement),
// CIM_PowerManagementService (RequestPowerStateChange),
// CIM_PowerManagementCapabilities and, from AMT 10, IPS_PowerManagementService
// (RequestOSPowerSavingStateChange); for boot AMT_BootSettingData,
// AMT_BootCapabilities, CIM_BootConfigSetting (ChangeBootOrder),
// CIM_BootService (SetBootConfigRole) and CIM_BootSourceSetting (hard drive,
// PXE, CD/DVD). All answer Get, Enumerate, Pull and Release, and Put where
// the class has writable properties. Identify is answered without
// credentials. Property sets follow the firmware generation of
// Options.Version as the captures show it. Classes are described by a table
// (classes.go); adding one means adding a definition with its key
// properties, writable properties, methods and an instance builder.
//
// # Power
//
// Each device simulates a host with a power state machine: on (PowerState
// 2), sleep (4, S3), hibernate (7, S4) and off (8, S5), plus the OS power
// saving state while on (OSPowerSavingState 2 full power, 3 saving, 1 on
// platforms without it, see Options.NoOSPowerSaving). AvailableRequestedPowerStates
// is computed from the state: 10, 8, 5, 11 when on, followed by 4, 7, 14, 12
// when the OS agent is present (Options.NoOSAgent, Device.SetOSAgent) and
// the firmware is AMT 9 or later; 2 in every other state.
// RequestPowerStateChange answers, in this order of checks:
//
//   - 5 (Invalid Parameter) without a PowerState or without a ManagedElement
//     reference to CIM_ComputerSystem Name=ManagedSystem;
//   - 2 (Unknown/Unspecified Error, as DSP1027 requires) for a value
//     outside PowerStatesSupported; sleep (4) and hibernate (7) count as
//     supported from AMT 9, because firmware offers them in
//     AvailableRequestedPowerStates although its capability lists omit them;
//   - 4099 (Busy) while a previous change is in progress [assumption];
//   - 4097 (Invalid State Transition) for a value not in
//     AvailableRequestedPowerStates [assumption], and for power cycle (5)
//     and power off (8) while a redirection session is open
//     (Device.SetRedirectionSession), which firmware refuses;
//   - 0 otherwise. 10 resets (a boot), 5 power-cycles (a boot), 8 and 12
//     turn the host off, 11 (NMI) is recorded and changes nothing, 14 resets
//     gracefully (a boot), 4 sleeps, 7 hibernates, 2 powers on from off or
//     hibernate (a boot) or resumes from sleep (no boot).
//
// A change takes Options.TransitionTime. Meanwhile the device reports the old
// PowerState, TransitioningToPowerState with the requested value (the
// property is omitted when idle, as the captures do) and refuses further
// changes; the transition completes lazily, on the next request or
// inspection, using the wall clock, and its boot is recorded once.
// RequestedPowerState (in its shifted value map) is reported once a change
// has been requested, as real firmware does. RequestOSPowerSavingStateChange
// answers 1 where OS power saving is unsupported, 5 for values other than 2
// and 3, 4099 during a power change, and 4097 when the host is not on, is
// already in the requested state or, to enter power saving, lacks the OS
// agent [assumptions].
//
// # Boot
//
// AMT_BootSettingData holds the one-time boot options. A Put carrying any
// read-only property (OptionsCleared, BIOSLastStatus, BootguardStatus,
// RPEEnabled, SecureBootControlEnabled, UEFIHTTPSBootEnabled,
// UEFILocalPBABootEnabled, WinREBootEnabled) is refused with
// wxf:InvalidRepresentation, even unchanged: firmware rejects a Put of the
// whole instance as read back. Other non-writable properties may be echoed
// unchanged. Setting an option whose AMT_BootCapabilities flag is false, or
// UseIDER, UseSOL, BIOSSetup, BIOSPause or ReflashBIOS while a boot source
// is selected, is refused with wsman:InternalError, detail
// "AMT-STATUS 2050" (UNSUPPORTED_BOOT_OPTION) [assumption: the exact
// fault]; out-of-range values give "AMT-STATUS 36". A successful Put clears
// OptionsCleared and returns the updated instance. RSEPassword is
// write-only. Capabilities default to the capture of the firmware
// generation; Options.BootCapabilities overrides flags.
//
// CIM_BootConfigSetting.ChangeBootOrder selects the first Source (none
// clears the selection; an unknown reference returns 4).
// CIM_BootService.SetBootConfigRole arms (Role 1, IsNextSingleUse) or
// disarms (32768, IsNotNext) the one-time settings; other roles return 5, a
// wrong BootConfigSetting reference 4. At every boot (power-on, reset, power
// cycle, graceful reset) an armed configuration decides the source: UseIDER
// (CD or floppy by IDERBootDevice), else the selected boot source, else
// BIOSSetup, else the hard drive; BIOS then consumes it: options false or
// 0, no source, role IsNotNext, OptionsCleared true. Unarmed settings are
// ignored, and kept, and the host boots its default order (hard drive).
// Every boot is kept (Device.Boots) and logged as "amtsim boot".
//
// # Authentication
//
// HTTP digest (MD5, qop=auth) with stateless nonces that expire after
// Options.NonceLifetime (stale="true" on a correct digest over an expired
// nonce). After Options.LockoutAfter consecutive failed logins the device
// refuses every login for Options.LockoutDuration. Accounts marked ReadOnly
// get wsman:AccessDenied for Put, Create, Delete and methods.
//
// # Fault injection
//
// Device.InjectFault queues delays, HTTP error statuses, connection resets
// and malformed bodies for authenticated requests, to exercise clients'
// retry and error handling. Device.ExpireNonces and Device.Stats help tests
// observe and steer the device.
//
// # Concurrency
//
// A Server and its Devices are safe for concurrent use. Each device
// executes one operation at a time, like the firmware; devices of a fleet
// work in parallel. Close stops listeners, aborts injected delays and waits
// for every goroutine it started.
package amtsim
