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
// Every device also answers RMCP presence pings on a free UDP port
// (Server.RMCPPort); tests that do not want the socket set Options.RMCPPort
// to -1.
//
// With Options.DevicesCIDR a fleet of devices is created, one per host
// address of the range, all on the same ports (on Linux every 127.0.0.0/8
// address is local, so ranges such as 127.77.0.0/24 need no setup). Each
// device has its own digest realm, platform GUID, host name, MAC address and
// state, all derived from its address so that runs are reproducible.
//
// # Fleets
//
// Options.DeviceCount places only that many devices in the range, and
// Options.EmptyFraction leaves that fraction of the addresses empty; the
// addresses are chosen from Options.Seed (the same seed gives the same
// addresses). Nothing is bound on an empty address: TCP connections are
// refused and pings go unanswered. Each device binds its own sockets on its
// own address (no wildcard address): one for plain HTTP, one for TLS and
// one for RMCP, so a fleet needs about three file descriptors per device.
// All devices share one TLS certificate and key; its subject alternative
// names list the device addresses when there are at most 1024 devices,
// otherwise only the loopback addresses.
//
// Options.Fleet (a FleetSpec, usually read with ReadFleetSpecFile) mixes
// kinds of device. The JSON format is one object with a list of groups:
//
//	{
//	  "groups": [
//	    {"name": "ent-acm", "weight": 6, "version": "16.1.25.2124", "provisioning_mode": 1},
//	    {"name": "branch-ccm", "weight": 2, "version": "11.8.50.3425", "sku": 16400,
//	     "provisioning_mode": 4, "tls_only": true,
//	     "accounts": [{"user": "admin", "password": "Br4nch!pass"}]},
//	    {"name": "new", "weight": 1, "version": "12.0.67.1579", "provisioning_state": 0},
//	    {"name": "quiet", "weight": 1, "no_rmcp": true, "power_state": "off"}
//	  ]
//	}
//
// Group fields: name (required, unique); weight (required, positive: the
// group's share of the devices, normalised over the groups); version
// ("maj.min.hotfix.build"); sku; provisioning_state (0 pre-provisioning, 1
// in-provisioning, 2 post-provisioning); provisioning_mode (1 ACM, 4 CCM);
// tls_only (no plain HTTP listener); no_rmcp (RmcpPingResponseEnabled
// false: presence pings go unanswered); accounts (a list of {"user",
// "password", "read_only"}, replacing Options.User, Password and Accounts
// for the group); power_state ("on", "sleep", "hibernate" or "off");
// no_os_agent; no_os_power_saving. Omitted fields inherit the Options.
// Unknown fields, trailing data and invalid values are errors.
//
// Devices are assigned to groups by the largest remainder method, so the
// counts follow the weights as closely as whole devices allow; while there
// are at least as many devices as groups every group gets at least one
// device. Which device joins which group is decided by a hash of Seed and
// its address: the same seed and addresses give the same mix.
// Device.Group, Version, SKU, ProvisioningState, ProvisioningMode, TLSOnly
// and RMCPEnabled report what a device became.
//
// The firmware version drives every place that shows it: the Server
// header, Identify's ProductVersion, CIM_SoftwareIdentity, the served
// property sets and the presence pong. The same holds for the SKU and the
// provisioning state and mode (AMT_SetupAndConfigurationService).
//
// A device in pre-provisioning (state 0) answers with the fixed realm
// Digest:A4070000000000000000000000000000, also its
// AMT_GeneralSettings.DigestRealm, and advertises port 0 in its presence
// pong. It still answers the HTTP ports with the 401 challenge and the
// Server header, answers Identify, and accepts its configured accounts
// like any other device, so that tests can inspect it.
//
// # RMCP presence ping
//
// Unless Options.RMCPPort is -1, every device answers ASF RMCP presence
// pings (DSP0136) on UDP. A well-formed ping is exactly 12 bytes: 06 00
// seq 06, IANA 00 00 11 BE, type 0x80, tag, a reserved byte and data length
// 0. Anything else (another length, RMCP version, message class, IANA,
// type or a non-zero data length) is silently ignored. A ping whose
// sequence number is not 0xFF first gets the 4-byte RMCP ACK (06 00 seq
// 86), as the firmware sends. The 28-byte pong is:
//
//	0..3   06 00 seq 06      RMCP header of the ping
//	4..7   00 00 11 BE       ASF IANA 4542
//	8      40                presence pong
//	9      tag               from the ping
//	10     00
//	11     10                data length 16
//	12..15 00 00 01 57       OEM IANA 343 (Intel)
//	16..17 port              16992, or 16993 when TLS-only; 0 in pre-provisioning
//	18     version           major<<4 | minor below AMT 16; 0 from AMT 16 (or a minor above 15)
//	19     state             provisioning state in bits 0-1
//	20     01                supported entities: ASF 1.0
//	21     20                supported interactions: DASH (AMT 5.1 and later; else 00)
//	22..23 major, minor      when byte 18 is 0; else 00 00
//	24..27 00 00 00 00
//
// Bytes 16 to 19 are zero for firmware before AMT 6, and firmware before
// AMT 4 does not answer. The pong always advertises the standard ports
// 16992 and 16993 even when the simulator listens elsewhere: a scanner
// probes its own configured ports and reads the pong's port only to tell
// TLS from plain HTTP. A device answers only while
// AMT_GeneralSettings.RmcpPingResponseEnabled is true, which a Put may
// change. Stats.RMCPPings counts the pongs sent.
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
// get wsman:AccessDenied for Put, Create, Delete and methods. Each device
// holds its own accounts: those of Options, of its fleet group, or set by
// Device.SetAccounts, so that different machines accept different
// passwords. The lockout counter is per device and shared by all its
// accounts.
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
