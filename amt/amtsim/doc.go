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
// to -1. Likewise every device serves the redirection protocol (IDE-R and
// SOL) on free ports, without and with TLS (Device.RedirectAddr and
// RedirectTLSAddr; Options.RedirectPort and RedirectTLSPort -1 turn them
// off).
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
// own address (no wildcard address): one for plain HTTP, one for TLS, one
// for RMCP and two for redirection, so a fleet needs five file
// descriptors per device with every port on, and one with plain HTTP
// alone. New refuses a fleet whose sockets would leave fewer than 256
// descriptors of the open file limit, before binding any. Go raises the
// soft limit to the hard limit at start-up; where that is 20,000, 10,000
// devices fit with plain HTTP only (HTTPPort alone; amtsim --tls-port -1
// --rmcp-port -1 --redirect-port -1 --redirect-tls-port -1), and about
// 3,900 with every port. More need ports turned off or a higher hard
// limit (as root: ulimit -Hn, prlimit, or LimitNOFILE in a systemd unit).
// Each listening socket has one goroutine accepting on it. A device
// builds the instances of a class when it is first asked about it, so an
// idle device holds about 4 KB of heap and one that has answered a Get
// about 10 KB (BenchmarkFleet10k).
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
// no_os_agent; no_os_power_saving; power_state_lost (see Power);
// redirection_state (32768 to 32771);
// listener_disabled; opt_in_required (0, 1 or 4294967295, ignored by
// client control mode groups). Omitted fields inherit the Options.
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
// # Failure mixes
//
// A fleet spec can give every failure a fleet meets its own group, so
// that one simulator serves a floor where some machines work and others
// fail in each of the ways a console must tell apart:
//
//	{"groups": [
//	  {"name": "ok", "weight": 90},
//	  {"name": "wrong-password", "weight": 2, "accounts": [{"user": "admin", "password": "0ther!pass"}]},
//	  {"name": "unprovisioned", "weight": 2, "provisioning_state": 0},
//	  {"name": "no-amt", "weight": 2, "no_amt": true},
//	  {"name": "empty", "weight": 2, "empty": true},
//	  {"name": "slow", "weight": 1, "latency": "2s", "latency_jitter": "500ms"},
//	  {"name": "flaky", "weight": 1, "reset_after_requests": 1}
//	]}
//
// Each is modelled as follows, with why:
//
//   - Wrong passwords: a group with its own accounts; a console using the
//     fleet's password gets the digest challenge again (401) and the
//     device counts the failed login towards its lockout, as firmware
//     does with a wrong password.
//   - Unprovisioned: provisioning_state 0, described above.
//   - No AMT (no_amt) [modelled]: a machine without AMT (or with AMT
//     disabled) whose own web server listens on the WS-Man port, as an
//     address scan of a real network finds: every request is answered
//     404 Not Found, Content-Type text/html, a fixed 85-byte page, no
//     Server header and no digest challenge, so that the answer is an
//     ordinary web server's and carries nothing that says AMT. The TLS,
//     RMCP and redirection ports are closed. An address where nothing at
//     all answers is an empty address.
//   - Empty addresses (empty, or Options.EmptyFraction): nothing is bound,
//     connections are refused and pings go unanswered, as at an address
//     with no machine or a machine that is off the network. An empty group
//     takes no other setting, and its devices do not exist (Server.Devices
//     leaves them out).
//   - Slow devices (latency, latency_jitter; Options.Latency and
//     LatencyJitter; amtsim --latency and --latency-jitter) [modelled]:
//     every HTTP request on the WS-Man ports waits latency plus a
//     uniformly random extra of up to latency_jitter once it is read and
//     before it is handled, so each exchange (401 challenges included) takes that
//     much longer, as across a WAN or with a busy management engine. The
//     jitter is not seeded (runs differ by it). TCP connects, TLS
//     handshakes, RMCP pongs and the redirection port are not delayed. A
//     client that gives up during the wait leaves the request unexecuted;
//     the device checks every 50 ms during a wait whether the client has
//     closed the connection and then lets it go (injected delays do the
//     same).
//   - Devices that reset connections (reset_after_requests) [modelled]:
//     0 resets every TCP connection (plain and TLS) with RST as soon as it
//     is accepted, before any TLS handshake or request, as a firmware
//     whose web server has crashed does; n answers n requests on each
//     connection and resets it when the next request arrives, without
//     executing that request, so that a console must reconnect (a digest
//     login spans two connections, the challenge closing its own, so 1
//     lets each authenticated request through on a fresh connection and
//     refuses a second one on it). Device.InjectFault resets single
//     requests instead.
//
// The firmware version drives every place that shows it: the Server
// header, Identify's ProductVersion, CIM_SoftwareIdentity, the served
// property sets and the presence pong. The same holds for the SKU and the
// provisioning state and mode (AMT_SetupAndConfigurationService).
//
// A device in pre-provisioning (state 0) answers with a realm of four hex
// digits and 28 zeros, also its AMT_GeneralSettings.DigestRealm, as the
// two captured unprovisioned devices do (Digest:A407…, Digest:D29C…); the
// four digits are derived from the address, so devices differ [modelled:
// what the firmware derives them from is unknown]. From AMT 9 its
// HostName is empty, as the unprovisioned AMT 11.8 capture shows; before
// AMT 9 it keeps the host name, as the older unprovisioned capture (no
// AMTNetworkEnabled) shows. It advertises port 0 in its presence pong. It
// still answers the HTTP ports with the 401 challenge and the Server
// header, answers Identify, accepts its configured accounts and answers
// Gets and Enumerates (a Get of an unprovisioned device is captured), but
// refuses work: a Put, Create or Delete gets wsman:InternalError with
// AMT-STATUS 32 (INVALID_PROVISIONING_STATE) and a method ReturnValue 32,
// 32800 on CIM classes (the vendor offset), except on
// AMT_SetupAndConfigurationService and IPS_HostBasedSetupService, through
// which provisioning happens [modelled: protocol.md names the status; no
// capture shows which operations the firmware refuses;
// Device.SetRefuseWhenUnprovisioned(false) lets the device take them].
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
//	16..17 port              16992, or 16993 when the device serves TLS; 0 in pre-provisioning
//	18     version           major<<4 | minor below AMT 16; 0 from AMT 16 (or a minor above 15)
//	19     state             provisioning state in bits 0-1
//	20     01                supported entities: ASF 1.0; 21 (the DASH bit 5 here) on AMT 4.x-5.0
//	21     20                supported interactions: DASH (AMT 5.1 and later; else 00)
//	22..23 major, minor      when byte 18 is 0; else 00 00
//	24..27 00 00 00 00
//
// Bytes 16 to 19 are zero for firmware before AMT 6, and firmware before
// AMT 4 does not answer. The pong always advertises the standard ports
// 16992 and 16993 even when the simulator listens elsewhere: a scanner
// probes its own configured ports and reads the pong's port only to tell
// TLS from plain HTTP (protocol.md §5.1: 16993 means TLS, which a device
// with a TLS listener serves even when its plain port is open too). A
// device answers only while
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
// PXE, CD/DVD); for redirection AMT_RedirectionService (RequestStateChange,
// TerminateSession) and, from AMT 6, IPS_OptInService (StartOptIn,
// SendOptInCode, CancelOptIn). All answer Get, Enumerate, Pull and Release, and Put where
// the class has writable properties. Identify is answered without
// credentials. Property sets follow the firmware generation of
// Options.Version as the captures show it. Classes are listed in one table
// (classes.go), each bound to its family's unit; see Layout for adding
// one.
//
// AMT_EthernetPortSettings of a DHCP port (the wired one) reports no
// IPAddress, as its Get and Pull captures show; a Put of IPAddress reads
// back, as the PutResponse captures show.
//
// Enumerate honours wsman:EnumerationMode as the captures show:
// EnumerateObjectAndEPR pulls w:Item elements holding the instance and its
// a:EndpointReference (CIM_BootConfigSetting and CIM_OrderedComponent
// captures), EnumerateEPR pulls a:EndpointReference items alone (no
// instance namespace declared) [modelled: no capture of that mode; the
// items are those of the other mode without the instance]. An EPR holds
// the class's resource URI and a selector per key property in key order,
// a reference-valued key as a nested EndpointReference. An unknown mode is
// refused with wsman:UnsupportedFeature [modelled]. OptimizeEnumeration
// and MaxElements in Enumerate are ignored, as the captured
// EnumerateResponse holds only the context. The System Defense classes
// answer instances in every mode.
//
// The boot order is served through the wildcard association enumeration
// the go-amt dashcli session records: an Enumerate of
// http://schemas.dmtf.org/wbem/wscim/1/* with an association filter on
// CIM_BootConfigSetting "Intel(r) AMT: Boot Configuration 0" (Role
// GroupComponent, ResultClassName CIM_OrderedComponent) pulls a
// CIM_OrderedComponent per source, AssignedSequence from 1: the hard drive
// then PXE, as captured; the source ChangeBootOrder selected comes first,
// then the captured order without it [modelled: no capture of the order
// after a change]. That resource URI answers only filtered Enumerates,
// their Pulls and Releases: Get and the other operations get
// wsa:ActionNotSupported, an Enumerate without the filter
// wsman:UnsupportedFeature [modelled].
//
// # Layout and the path of a request
//
// Layers that need nothing of a device are packages under internal/, each
// depending only on the standard library and the packages listed before
// it:
//
//   - internal/soap: the SOAP layer. It decodes a request (header,
//     selectors, EPR-valued selectors, body), writes responses with the
//     firmware's namespace declarations and prefixes, faults in their own
//     declaration order, Identify, endpoint references, and reads the
//     enumeration mode and Pull parameters;
//   - internal/digest: the wire side of digest authentication (parsing the
//     Authorization header, responses, the nonce table with its nonce
//     counts), used by WS-Man and the redirection port;
//   - internal/wire: the HTTP layer of the WS-Man ports (see The wire);
//   - internal/rmcp: the presence ping, its ACK and the pong;
//   - internal/host: the simulated host's power state machine (PowerState,
//     the changes RequestPowerStateChange asks for and their transition
//     time, the OS agent, OS power saving, the ME's lost state), guarded by
//     the device's lock and calling back for boots and instance refreshes;
//   - internal/sysdefense: the System Defense class family, a unit with its
//     own state (filters, policies, counters) and packet evaluator, behind
//     Enumerate, Get, Create, Delete and Invoke.
//   - internal/logs: the log family's state, the event log (newest first,
//     390 records kept) and the audit log, with the paging of GetRecords
//     and ReadRecords;
//   - internal/clock: the time family's state, the device clock (the
//     host's plus an offset);
//   - internal/acl: the ACL family, the administrator and user entries
//     the device's accounts make, with their handles and realms.
//   - internal/redir: the redirection protocol without the device: the
//     session manager's messages (StartRedirectionSession,
//     AuthenticateSession with its digest fields and their check, using
//     internal/digest), the IDE-R message codec, the simulated BIOS that
//     boots from an IDE-R medium, and the SOL and KVM sessions. It reaches
//     the redirection port (internal/redirport) through two small
//     interfaces: redir.Medium (the BIOS's IDE-R session: send, wait for
//     the console with keep-alives, an injected reset, and recording the
//     boot's commands, reads and boot image) and redir.Conn (a
//     connection's reads, a locked send that honours an injected silence,
//     the silent flag, releasing the session slot); the SOL banner and the
//     KVM access point's state are callbacks;
//   - internal/redirsvc: the redirection service and consent family, typed
//     state and its rules with no SOAP: redirsvc.Service holds
//     AMT_RedirectionService (EnabledState, ListenerEnabled) and the KVM
//     access point (CIM_KVMRedirectionSAP's EnabledState and
//     RequestedState), redirsvc.Consent holds IPS_OptInService (the policy,
//     the code on the host's screen, consent given and in use, its
//     timeouts);
//   - internal/redirport: the redirection port: redirport.Server accepts on
//     the redirection listeners (16 connections per device) and hands each
//     connection to its device's redirport.Port (made when the device
//     first needs it: a connection, an IDE-R boot, a wait for one; an idle
//     device holds none), which holds the session
//     slots (IDE-R, SOL, KVM), the open sessions, StartRedirectionSession
//     and AuthenticateSession, the IDE-R session loop with its keep-alives
//     and the IDE-R boots (the Medium of redir.Boot), and runs
//     redir.ServeSOL and redir.ServeKVM. It asks the Service and the
//     Consent whether a session may start and tells them when sessions
//     start and end, and reaches the rest of the device only through
//     redirport.Device: the digest accounts check and challenge, injected
//     faults, the SOL banner and the boot records of the host.
//
// In this package: the public surface (New, Options, fleet specs, Server
// and the Device handles tests use), the device's side of the wire
// (http.go: what each request gets, latency, resets and injected faults),
// authentication and anti-hammering (auth.go, server.go), the class table
// and its dispatcher (classes.go, wsman.go), the instance store (store.go,
// lazy.go), the captured instances (captured_data.go, generated, and
// captured.go, which builds a class from them), the class families, one
// unit and one file each (identity.go: identity and settings; power.go;
// boot.go and ordered.go; inventory.go: hardware inventory; logs.go;
// timesync.go: time; acl.go; certificates.go: certificates, TLS and
// 802.1X; sysdefense.go; redirsvc.go, optin.go and kvm.go: the
// redirection service, consent and the KVM access point), the device's
// side of the simulated host (power.go binds internal/host; boot.go's
// boots) and the device's side of the redirection port (redirect.go:
// binding the listeners to redirport.Server, building each device's Port,
// Service and Consent, and portDevice, the device as redirport.Device sees
// it: digest accounts, nonces, lockout and the anti-hammering counter,
// injected faults, the SOL banner, a boot's IDE-R source; ider.go: the
// IDE-R boot records and the waits on boots).
//
// The class table (classTable, classes.go) is the one place that maps a
// resource URI to a class, one line per class, and each line binds the
// class to its family's unit: classGeneralSettings (declared in identity.go
// as settings.class(...)), or eventLogs.captured("AMT_AuditLog", auditLog)
// for a class served as its capture shows it with the log unit's behaviour.
// A family is a family[U]: U is its unit, which the family makes of the
// device when it is called (a small value: the family's own state, kept in
// Device.units — the logs, the clock, the boot configuration — and what it
// reads of the device, such as the instance store, the host or the
// identity), and the family's classes are unitClass[U]s whose builders, Put
// rule, methods and live refresh take U, never the device; family.class and
// family.captured turn them into the classDefs the dispatcher serves. A
// classDef names its class, keys and firmware generations and is served
// either from the instance store (the store's Get, Put, Enumerate and
// methods, with the class's writable properties and Put rule) or by
// classOps of its unit (System Defense's classes use defenseOps, which call
// the unit). The dispatcher checks what every class checks (the action is
// served, the account may write, the body has the element the operation
// needs, the device is provisioned) and hands Get, Put, Create, Delete,
// Enumerate and methods to the class's operations; enumeration contexts,
// paging, the EPR modes and the envelopes are the dispatcher's for every
// class.
//
// The families and their units:
//
//   - identity and settings (identity.go, identityUnit): the device's
//     identity (realm, GUID, MAC, firmware version; the identity struct
//     Device embeds, fixed at creation), the provisioning values, and the
//     settings classes in the instance store; AMT_GeneralSettings and the
//     other built classes, and the captured settings classes (ports, IPv6,
//     alarm clock, environment detection, remote access, profiles).
//   - power (power.go, powerUnit): the power classes over the simulated
//     host (internal/host); it rebuilds their instances when the host
//     changes.
//   - boot (boot.go, bootUnit): the one-time boot configuration (options
//     in the store, the source ChangeBootOrder chose, the role
//     SetBootConfigRole set), the capabilities, CIM_ElementSettingData, the
//     boot order (ordered.go), and what BIOS boots when the host starts;
//     the device records the boot (Device.Boots) and starts any IDE-R boot.
//     It reads user consent through a narrow interface (consentState).
//   - hardware inventory (inventory.go): captured instances only; its unit
//     is the identity, for the platform GUID.
//   - logs (logs.go over internal/logs), time (timesync.go over
//     internal/clock) and ACLs (acl.go over internal/acl, reading the
//     device's accounts).
//   - certificates, TLS and 802.1X (certificates.go): captured instances
//     only, no unit state (none).
//   - System Defense (sysdefense.go over internal/sysdefense).
//   - the redirection service, consent and the KVM access point
//     (redirsvc.go, optin.go, kvm.go; redirUnit over internal/redirsvc):
//     AMT_RedirectionService's switches and the KVM access point's state
//     (redirsvc.Service), user consent (redirsvc.Consent), and the
//     redirection port (internal/redirport) for TerminateSession and a
//     cancelled consent. Their instances are views of the unit refreshed
//     before each request; Puts and methods change the unit. The port
//     reads and sets the same state.
//
// The lock rule: the units in internal packages (sysdefense, logs, clock)
// guard their state with their own lock and never call back into the
// device, so they may be called with or without the device lock (which,
// when held, is always taken first). Every other unit (identity, power,
// boot, inventory, ACLs, the redirection family and the instance store
// they share) is called with the device lock held: the dispatcher holds it
// for the whole request, the host's callbacks run under it, and the Device
// methods that reach a unit take it first. The redirection units in
// internal packages (redirsvc, redirport) have no lock of their own and
// follow that rule too, checked: each entry point panics when the device
// lock is free (redirsvc.MustHold); the port's own goroutines take the
// device lock around every use of its state, and redirport.Device's
// methods (portDevice) run under it and take no lock (see Concurrency).
//
// A WS-Man request goes: the listener of the device's address (server.go)
// → wire.Server reads the request (internal/wire) → Server.serveWire
// (http.go) finds the device of the connection, applies its latency and
// resets, and decodes the envelope (internal/soap, through soap.go) when it
// may be Identify (the body holds that name) → Device.authenticate
// (auth.go, internal/digest) or the 401 (wire.Firmware.Challenge) → the
// envelope of any other request decoded → an injected fault, if one
// matches →
// Device.execute (wsman.go) takes the device lock, settles the power state
// machine and consent timers → dispatch checks wsa:Action and
// wsa:MessageID, finds the class by resource URI in the class table
// (classByURI) → the class's operation (the instance store with the
// behaviour of its family's unit, or the unit's own classOps) → the response or fault envelope (internal/soap) →
// wire.Firmware.SOAP frames it and wire.Server writes it. A redirection
// connection goes: the redirection listener of the device's address
// (bound in redirect.go) → redirport.Server finds the device's Port →
// StartRedirectionSession (decoded with internal/redir) → the session slot
// (IDE-R, SOL or KVM, in redirport: the listener and feature switches and
// the KVM access point asked of redirsvc.Service, consent of
// redirsvc.Consent) → AuthenticateSession (fields and digest check in
// internal/redir; nonce, accounts and lockout through redirport.Device,
// redirect.go's portDevice) → the IDE-R session (redirport; a boot the
// host starts under the device lock, boot.go → Port.StartIDERBoot, runs
// redir.Boot, the simulated BIOS, in the session's device goroutine),
// redir.ServeSOL or redir.ServeKVM over the connection as a redir.Conn.
// The Device methods of the redirection family (IDERBoots, WaitIDERBoot,
// OptInCode, RedirectionState, KVMSessionOpen, SOLSessions ...) take the
// device lock and ask the units.
//
// # The wire
//
// internal/wire serves HTTP/1.1 and frames answers; it knows nothing of
// devices, SOAP or digest state. Its interface to the rest is small: a
// wire.Server calls one handler, func(*wire.Request) wire.Response, per
// request (method, target, Authorization, body or a body error, and the
// connection with the device its listener attached and its request
// count), and writes the Response in one piece: status, fields in the
// given order, the body with a Content-Length or chunked from a buffer
// (Response.Chunk), then keeps or closes the connection, or resets it
// (Response.Reset, optionally after part of the body). wire.Firmware
// builds the responses of one firmware version: SOAP answers, HTML
// pages and the 401 challenge.
//
// To add a class from a capture: put the capture in the recordings (a
// Get or Pull response under the class's folder, marked firmware-capture
// in provenance.json), name the class in its family's list in
// gen_captured.py, run go generate (captured_data.go gets the class with a
// shape per firmware generation), and add one line to the class table
// binding it to its family. IPS_ScreenSettingData was added so: the
// recordings hold IPS_ScreenSettingData/PullResponse__gwm__1.resp.xml,
// gen_captured.py lists it under KVM, and the table line is
//
//	redirection.captured("IPS_ScreenSettingData", nil),
//
// (nil: served as captured). A class with behaviour gives the line its
// unitClass, written in the family's file against the family's unit:
//
//	eventLogs.captured("AMT_AuditLog", auditLog),
//
// where auditLog (logs.go) answers ReadRecords from the log unit and keeps
// CurrentNumberOfRecords live; a family with new state gets a field in its
// unit (or, self-contained, an internal package as internal/logs). A class
// with no capture is declared in its family's file as
// family.class(&unitClass[U]{name, uri, keys, ..., build}) with a
// builder that sets the properties protocol.md gives, and listed in the
// table (and in protocolClasses); CIM_ElementSettingData (boot.go) is one.
// Properties that only some firmware generations show are gated on the
// major version. Then name the class in this documentation, and test it
// against its capture (conformance_test.go compares shapes with the
// recordings; TestCapturedClassesInTable checks that every captured class
// has its line).
//
// # Classes served from their captures
//
// Beyond the classes above, every class for which the recordings hold a
// genuine Get or Pull response is served as that response shows it
// (captured_data.go, written by gen_captured.py from the recordings; the
// simulator never reads the recordings): hardware inventory (CIM_Chassis,
// CIM_Card, CIM_BIOSElement, CIM_BIOSFeature, CIM_Processor, CIM_Chip,
// CIM_PhysicalMemory, CIM_MediaAccessDevice, CIM_PhysicalPackage,
// CIM_SystemPackaging, CIM_Battery, CIM_Fan, CIM_Sensor,
// AMT_AssetTableService), logs (AMT_MessageLog, AMT_AuditLog,
// AMT_AuditPolicyRule, AMT_EventLogEntry, IPS_ProvisioningRecordLog), time
// (AMT_TimeSynchronizationService), ACLs (AMT_AuthorizationService),
// certificates and TLS, 802.1X, KVM (CIM_KVMRedirectionSAP,
// IPS_KVMRedirectionSettingData, IPS_ScreenSettingData,
// CIM_RedirectionService), IPv6 and host IP settings, the alarm clock,
// environment detection, the ethernet and Wi-Fi ports, remote access,
// further services, and CIM_ElementConformsToProfile. Where the
// recordings hold a capture of the AMT 8.1 device (the mps parser tests),
// firmware before AMT 12 serves its shape and later firmware the other
// capture's [modelled: the generation boundary is the nearest captured
// version]; otherwise every version serves the one capture [modelled].
// Instances of a subclass keep their own element and namespace (an
// enumeration of CIM_PhysicalPackage returns CIM_Card, of
// CIM_SystemPackaging CIM_ComputerSystemPackage); a Pull page holds
// instances of one class, and the AMT 12 enumeration of CIM_Chip, captured
// as a first page holding the processor chip, continues with the
// CIM_PhysicalMemory instances [modelled: the AMT 8 device returned
// memory for that enumeration]. An empty page declares no instance
// namespace, and CIM_PhysicalPackage keeps its enumeration context on the
// last page, as captured. CIM_SystemPackaging, CIM_EthernetPort and
// IPS_LANEndpoint carry the device's platform GUID and MAC address;
// everything else is the captured value [modelled: where only one of the
// two captured machines has a class, a device of either generation shows
// that machine's values, so an AMT 8 device reports the NUC chassis of the
// AMT 12 captures beside its own board]. CIM_WiFiEndpoint is not served:
// its only captures lack the namespace declarations of every other
// firmware envelope.
//
// State, where the classes have any:
//
//   - AMT_TimeSynchronizationService: the device clock is the host's plus
//     an offset (Device.SetClockOffset, ClockOffset; 0 for a new device).
//     GetLowAccuracyTimeSynch answers Ta0, the device time in seconds;
//     SetHighAccuracyTimeSynch sets the device time to Tm2 [modelled: the
//     firmware's use of Ta0 and Tm1 is not captured] and answers 36
//     (INVALID_PARAMETER) without Ta0, Tm1 and Tm2 [modelled].
//   - AMT_MessageLog: the event log starts with the three captured records,
//     newest first, and keeps the 390 newest (MaxNumberOfRecords);
//     Device.AppendEventLog and ClearLogs change it. PositionToFirstRecord
//     answers IterationIdentifier 1; GetRecords reads MaxReadRecords records
//     from the 1-based IterationIdentifier and answers the index of the
//     next record, or of the last one when NoMoreRecords is true (3 after
//     three records, as captured) [modelled]; a position beyond the log
//     answers 35 (INVALID_INDEX) [modelled]. CurrentNumberOfRecords and
//     PercentageNearFull follow the log.
//   - AMT_AuditLog: the audit log starts with the two captured records,
//     oldest first (Device.AppendAuditLog). ReadRecords answers at most 10
//     records from the 1-based StartIndex [modelled: the captured answer
//     held the whole two-record log] with TotalRecordCount and
//     RecordsReturned; CurrentNumberOfRecords follows the log.
//   - AMT_AuthorizationService: the first account is the administrator
//     (GetAdminAclEntry); the others are user entries with handles 1, 2, ...
//     (EnumerateUserAclEntries, GetUserAclEntryEx with AccessPermission 2
//     and Realms 3 for a full account, 13 for a read-only one [modelled];
//     an unknown handle answers 2053 INVALID_HANDLE [modelled]).
//     GetAclEnabledState, GetAdminAclEntryStatus and
//     GetAdminNetAclEntryStatus answer as captured. The methods that change
//     ACLs are not served (wsa:ActionNotSupported).
//   - CIM_KVMRedirectionSAP: RequestStateChange 2 enables (EnabledState 6,
//     as captured), 3 disables (EnabledState 3); other values answer 5
//     [modelled]. The state is the redirection service unit's
//     (internal/redirsvc), which the redirection port reads and sets. IPS_KVMRedirectionSettingData takes Puts of
//     Is5900PortEnabled, OptInPolicy, OptInPolicyTimeout, SessionTimeout,
//     RFBPassword and DefaultScreen [modelled].
//   - CIM_ElementSettingData (no capture; protocol.md §3.3): the host's
//     link to CIM_BootConfigSetting, IsNext 3 (IsNextForSingleUse) while a
//     one-time boot is armed with SetBootConfigRole, else 2; IsDefault 2.
//   - AMT_UserInitiatedConnectionService (remoteaccess.go):
//     RequestStateChange sets EnabledState within 32768 (no interface) to
//     32771 (BIOS and OS) and returns 0, as captured; other or no
//     RequestedState returns 5, as AMT_RedirectionService does for the
//     same range [modelled: no capture of a refusal].
//   - AMT_RemoteAccessPolicyRule (remoteaccess.go): Delete addressed by
//     PolicyRuleName (the recorded Delete's selector; the rule's other
//     keys, as the captured PolicySet reference lists them, may be given
//     and must match) removes the rule, with the empty DeleteResponse the
//     captures show, and the AMT_RemoteAccessPolicyAppliesToMPS links
//     naming it [modelled: no capture enumerates them after a Delete]; a
//     rule the device does not hold is w:InvalidSelectors.
//   - AMT_RemoteAccessPolicyAppliesToMPS (remoteaccess.go): a Put without
//     selectors, as recorded, echoes the link's ManagedElement and
//     PolicySet references and sets MpsType and OrderOfAccess, answered
//     with the link; a reference naming another server or rule is
//     wxf:InvalidRepresentation, an MpsType outside 0..2 (outside, inside,
//     both) wsman:SchemaValidationError [modelled].
//   - AMT_PublicKeyManagementService.AddTrustedRootCertificate
//     (certificates.go): the DER certificate becomes an
//     AMT_PublicKeyCertificate with the next free handle,
//     TrustedRootCertficate true (the firmware's spelling), Issuer and
//     Subject written last RDN first ("C=…,O=…,CN=…", as captured), and
//     the output is its reference (CreatedCertificate) and 0; without a
//     blob the method returns 36, with one that is no certificate 2063
//     (INVALID_CERT), with one the device holds 2058 (DUPLICATE)
//     [modelled: protocol.md's PT_STATUS names; no capture shows a
//     refusal].
//
// Other captured methods (the other certificate and key methods, alarms,
// Wi-Fi, the other remote access changes) are not served: their effects
// have no capture to follow.
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
//   - 4097 (Invalid State Transition) for a value not in
//     AvailableRequestedPowerStates [assumption], and for power cycle (5)
//     and power off (8) while a redirection session is open
//     (Device.SetRedirectionSession), which firmware refuses;
//   - 0 for power on (2) while the host is on, a no-op (protocol.md
//     §2.2): recorded in PowerRequests and RequestedPowerState, no event,
//     no boot;
//   - 0 otherwise. 10 resets (a boot), 5 power-cycles (a boot), 8 and 12
//     turn the host off, 11 (NMI) is recorded and changes nothing, 14 resets
//     gracefully (a boot), 4 sleeps, 7 hibernates, 2 powers on from off or
//     hibernate (a boot) or resumes from sleep (no boot).
//
// A change is accepted with 0 and applied after Options.TransitionTime:
// until then PowerState shows the state before it, and no property tells
// of a change in progress (no capture shows TransitioningToPowerState).
// A further change while one is pending first applies the pending one at
// once and is then answered for the state it left [modelled: no capture
// shows firmware Busy, and protocol.md asks consoles not to overlap
// changes]. The change is applied on its own once its time has passed (a
// timer, stopped by Close), so that the boot it causes starts without
// anyone asking the device: a console serving IDE-R need not poll for the
// reset to happen. Requests and inspections also apply a change whose
// time has come; its boot is recorded once.
//
// The power properties come in the combinations the captures show: from
// AMT 9, PowerState and AvailableRequestedPowerStates without
// RequestedPowerState; before AMT 9, PowerState and RequestedPowerState
// (the last request in its shifted value map, 2 before any [modelled])
// without AvailableRequestedPowerStates.
// The power state the ME lost (Options.PowerStateLost, fleet spec
// power_state_lost, Device.SetPowerStateLost) [modelled on the failure
// help desks know as "FromState detected as unknown"; no capture]: the
// association reports PowerState 0 (Unknown) and RequestPowerStateChange
// answers 2 (Unknown/Unspecified Error) without acting, until the
// operating system reboots the machine once (Device.RebootFromOS, a boot
// with cause "os-reboot"). Device.PowerState keeps the host's real state.
//
// RequestOSPowerSavingStateChange answers 1 where OS power saving is
// unsupported, 5 for values other than 2 and 3, and 4097 when the host is not on, is
// already in the requested state or, to enter power saving, lacks the OS
// agent [assumptions].
//
// # Boot
//
// AMT_BootSettingData holds the one-time boot options. Its read-only
// properties (OptionsCleared, BIOSLastStatus, BootguardStatus, RPEEnabled,
// SecureBootControlEnabled, UEFIHTTPSBootEnabled, UEFILocalPBABootEnabled,
// WinREBootEnabled) may be echoed as read back, as in the full-struct Put
// go-wsman records and firmware accepts; a changed value is refused with
// wxf:InvalidRepresentation [modelled: protocol.md reports a refusal of
// the full struct, the capture an acceptance; a changed read-only value
// is what the simulator refuses]. Other non-writable properties may be
// echoed unchanged. Setting an option whose AMT_BootCapabilities flag is false, or
// UseIDER, UseSOL, BIOSSetup, BIOSPause or ReflashBIOS while a boot source
// is selected, is refused with wsman:InternalError, detail
// "AMT-STATUS 2050" (UNSUPPORTED_BOOT_OPTION) [assumption: the exact
// fault]; out-of-range values give "AMT-STATUS 36". A successful Put
// returns the updated instance; before AMT 16 it sets OptionsCleared false
// (the older PutResponse capture), from AMT 16 OptionsCleared stays as it
// was (the AMT 16-shaped PutResponse shows true). RSEPassword and
// UefiBootParametersArray are write-only: no Get, Pull or Put capture
// reads them back. Capabilities default to the capture of the firmware
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
// Every boot is kept (Device.Boots) and logged as "amtsim boot". A boot
// whose armed settings have UseIDER is a boot from IDE-R (see below): its
// BootRecord reads BootSourceHDD, the default order BIOS falls back to,
// until the IDE-R boot succeeds, and BootSourceIDERCD or
// BootSourceIDERFloppy once it has.
//
// # Authentication
//
// HTTP digest (MD5, qop=auth). Nonces expire after Options.NonceLifetime.
// Every WS-Man request but Identify needs a wsa:MessageID (and a
// wsa:Action): without one it gets wsa:MessageInformationHeaderRequired and
// is not executed (DSP0226 §6, protocol.md §1.5; the fault is in §1.7). The device
// answers:
//
//   - a nonce it never issued, or one that expired (NonceLifetime,
//     Device.ExpireNonces), with 401 stale="true", whatever the digest, not
//     counted as a failed login (Stats.StaleNonces);
//   - a wrong digest over a live nonce (wrong user, password, realm, uri
//     or qop) with 401 stale="false", counted by anti-hammering;
//   - a correct digest whose nc is not above the highest nc it accepted
//     for that nonce (a repeated or lower count) with 401 stale="false",
//     not counted (Stats.RejectedNonceCounts) [modelled: RFC 2617 replay
//     protection; protocol.md only says the count is not capped];
//   - a correct digest over a nonce it forgot with 401 stale="false", not
//     counted (Stats.ForgottenNonces). Firmware may drop its nonces at any
//     time (protocol.md §1.2); the simulator forgets them on demand
//     (Device.ForgetNonces, Server.ForgetNonces; amtsim SIGUSR1), after
//     every n-th successful login (Options.FaultForgetNoncesEvery,
//     Device.SetForgetNoncesEvery; amtsim --fault-forget-nonces N), and
//     drops the least recently used of more than 128 live nonces
//     [modelled: firmware keeps a bounded table; the size is a guess].
//
// After Options.LockoutAfter consecutive failed logins the device
// refuses every login for Options.LockoutDuration. Accounts marked ReadOnly
// get wsman:AccessDenied for Put, Create, Delete and methods. Each device
// holds its own accounts: those of Options, of its fleet group, or set by
// Device.SetAccounts, so that different machines accept different
// passwords. The lockout counter is per device and shared by all its
// accounts.
//
// # Redirection protocol
//
// Each device listens on Options.RedirectPort (16994 on firmware) and,
// with the WS-Man certificate and TLS settings, on Options.RedirectTLSPort
// (16995); TLS-only devices only on the latter. A device accepts at most
// 16 redirection connections at a time. All integers are little-endian.
//
// Session manager. StartRedirectionSession (10 b1 00 00 + tag, b1 0 or 1)
// with "IDER" or "SOL " is answered with the 13-byte
// StartRedirectionSessionReply: 11, status 00, 00 00, then bytes 4..11 are
// the simulator's choice of version information: protocol 1.0 (01 00),
// firmware major and minor (one byte each), hotfix and build (u16 each),
// and an OEM length of 0. "KVMR" (b1 01, as MeshCommander sends it) is
// answered as protocol.md §3.7 says: status 00, the same authentication,
// then 41 to the console's 40 00 00 00 00 00 00 00, after which the stream
// is RFB; the simulator sends the RFB 003.008 greeting and then reads and
// drops what the console sends until it closes [modelled: no capture
// shows 0x41's layout, taken as eight bytes like the request, nor the
// firmware's RFB]. CIM_KVMRedirectionSAP shows EnabledState 2 (enabled,
// with a session) while it lasts and 6 after. A KVM session is refused
// with 01 while the listener or the access point (EnabledState 3) is
// disabled, with 03 while OptInRequired is not 0 (KVM needs consent then)
// and consent is not given, and with 02 while another KVM session is
// open; it counts as an open redirection session. IDE-R and
// SOL get status 01 while AMT_RedirectionService has the listener closed
// (ListenerEnabled false) or the feature disabled in EnabledState, and 03
// while user consent is required and not given (see below); the status
// codes are the simulator's choice. A second IDE-R or SOL session on a
// device while one is open gets status 02 (busy), after waiting up to
// 250ms for a session being torn down (its console gone before the device
// noticed) to free the slot. After a refusal the connection is closed. Any
// other tag or malformed message closes the connection. Whenever the
// device itself ends a session (a failed login, a wrong sequence number,
// unanswered keep-alives, an injected reset, TerminateSession) it frees the
// session's slot (and records a failed IDE-R boot) before the console can
// see the end, so that the console may start a new session at once. Until authenticated, the console has 30
// seconds and may send only AuthenticateSession (or EndRedirectionSession);
// anything else closes the connection.
//
// Authentication. Type 0 (query) answers 14 00 00 00 00, length 2, 03 04:
// digest without qop (3) and with qop=auth (4). For types 3 and 4 the data
// is user, realm, nonce, uri, cnonce, nc, response and qop (type 3: qop
// may be left out), each a length byte and its bytes, filling the data
// exactly. A request without nonce or response gets the challenge: status
// 01 with realm (the device's digest realm), a fresh nonce and qop "auth".
// The answer must use uri "/RedirectionService"; type 4 is checked as
// MD5(MD5(user:realm:password):nonce:nc:cnonce:auth:MD5("POST:/RedirectionService"))
// with nc 8 hex digits and a cnonce, type 3 as MD5(HA1:nonce:HA2). Success
// answers status 00 with no data. A wrong user, password, realm or uri is a
// failed login counted by the same anti-hammering counter as WS-Man (the
// counter and the lockout are per device and shared by both ports); during
// a lockout every login is refused on both ports. A refusal (also for a
// nonce the device did not issue, that expired or that it forgot, for a
// type 4 nc not above the last one accepted for the nonce, for read-only
// accounts,
// and for types 1 and 2) answers status 01 with no data and closes the
// connection. Data longer than 4096 bytes, a user or realm longer than 64
// bytes, too many fields or a field overrunning the data close the
// connection without allocating. While an authenticated session lasts,
// Device.RedirectionSessionOpen is true, so that power cycle and power off
// are refused.
//
// IDE-R. Every message has the 8-byte header (id, 00 00, attributes,
// sequence number); each direction counts from 0, starting with
// OPEN_SESSION and OPEN_SESSION_REPLY. The console's numbers are checked
// strictly: a wrong one gets ERROR_OCCURRED (4A, code 01) and the
// connection is closed. OPEN_SESSION_REPLY is 30 bytes: protocol 1.0 at
// [8..9], firmware major and minor at [10..11], zeros at [12..15], maximum
// read and write buffers 8192 at [16..19], 0 at [20..24] (so [21] is 0),
// IANA 343 (Intel) at [25..28] and no OEM data. DISABLE_ENABLE_FEATURES
// answers 49 with the type at [8] and a u32 value: GET_SUPPORTED 1,
// GET_REGISTER_STATE 2 when the device is enabled (else 0),
// SET_REGISTER_STATE 1 (accepted; bits other than 0x01|0x18 answer 0 and
// change nothing). KEEPALIVE_PING is answered with KEEPALIVE_PONG,
// CLOSE_SESSION with CLOSE_SESSION_REPLY and the end of the session;
// HEARTBEAT needs no answer. The device sends, alternately, HEARTBEAT and
// KEEPALIVE_PING every Options.RedirectKeepAlive and closes a session
// whose pings stay unanswered (see the option). A DATA_TO_HOST longer than
// 8192 bytes, an unknown message or DISABLE_ENABLE_FEATURES type closes
// the connection.
//
// The simulated BIOS. When the host boots (power-on, reset, power cycle,
// graceful reset) with armed one-time settings asking for UseIDER, BIOS
// tries the IDE-R device: a CD (drive select B0) with IDERBootDevice 1,
// else a floppy (A0). It needs an open IDE-R session whose device was
// enabled by SET_REGISTER_STATE before the boot (any start mode: now,
// graceful or next reboot); without one the boot fails at once ("no IDE-R
// session open", "IDE-R device not enabled") and the host boots its
// default order. Otherwise, after the power request has been answered, the
// device sends RESET_OCCURRED (mask 01) and waits for its response
// (dropping answers to abandoned commands), then sends one ATAPI command at
// a time as COMMAND_WRITTEN (cable select 0, PIO, the allocation length
// capped at 0xFFFE as byte count limit, ATA command A0, the 12-byte CDB)
// and checks each answer: COMMAND_END_RESPONSE with the completed
// attribute, the drive and a status whose ERR bit agrees with the sense;
// DATA_TO_HOST chunks in PIO mode with matching byte count and drive,
// reassembled up to the chunk marked completed (whose status must be
// good), never more than asked for, and for READs exactly the blocks asked
// for. The sequence:
//
//   - TEST UNIT READY: 06/28/00 is accepted once, then it must be GOOD;
//   - READ CAPACITY(10): 2048-byte blocks for a CD, 512 for a floppy;
//   - CD: READ TOC (format 0), MODE SENSE(10) page 2A (the page must be
//     there), GET CONFIGURATION (current profile 0008); READ(10) of sector
//     17, the El Torito boot record volume descriptor (00 "CD001" 01 "EL
//     TORITO SPECIFICATION", the catalog's sector at 0x47); READ(10) of
//     the boot catalog (validation entry 01 ... 55 AA; initial entry at 32
//     with boot indicator 88, sector count at +6 and load RBA at +8); READ
//     of the boot image (sector count × 512 bytes, at least one block);
//     WRITE(10) of one block, which must be refused with 07/27/00;
//   - floppy: READ FORMAT CAPACITIES (a formatted 512-byte descriptor);
//     READ(10) of LBA 0, the boot sector, which must end in 55 AA;
//   - opcode FF, which must be refused with 05/20/00;
//   - reads from LBA 0 of Options.IDERReadLimit bytes of the medium (1 MiB
//     by default, -1 for all of it) in chunks of up to 64 KiB, alternately
//     READ(10) and READ(12).
//
// Every READ is recorded with the SHA-256 of its data (IDERBoot.Reads),
// with the boot image's SHA-256 and the bytes read; a boot that completes
// the sequence is OK and its BootRecord's Source becomes ider-cd or
// ider-floppy. Any failed check, a silent console (30 seconds per answer),
// the end of the session or another boot meanwhile fails it, with the
// reason in IDERBoot.Err. Each IDE-R boot is logged as "amtsim ider boot"
// (device, seq, boot_seq, medium, ok, bytes, commands, boot_image_sha256,
// err). Device.IDERBoots returns the finished ones; Device.WaitIDERBoot
// waits for one.
//
// SOL. StartSOLRedirection (20, 24 bytes) is answered with a 23-byte reply
// (21, status 00, sequence number, then the console's six u16 settings
// echoed, the transmit buffer capped at 8192, and three zero bytes). The
// device then sends "amtsim serial console <host name>\r\n" as data from
// host (2A, a u16 length and the data) and, when the last boot had UseSOL,
// a few lines of BIOS output; it echoes the data of every data-to-host
// message (28) back as 2A, answers keep-alive pings (24) with 25, ignores
// heartbeats (2B), settings (27) and controls (29), and answers End SOL (22)
// with 23 and closes. Data longer than 8192 bytes closes the connection.
// Device.SOLSessions counts the sessions started.
//
// # Redirection service and user consent
//
// AMT_RedirectionService.EnabledState is 32768 plus 1 when IDE-R is enabled
// and 2 when SOL is (default 32771, Options.RedirectionState);
// ListenerEnabled opens the redirection port (default true,
// Options.ListenerDisabled). RequestStateChange accepts RequestedState
// 32768 to 32771 (0); anything else, or none, returns 5 (Invalid
// Parameter, the DMTF code). Disabling a feature does not end a session
// already open. Put changes ListenerEnabled and EnabledState (32768 to
// 32771, as the amtc captures Put 32770; another value gets
// wsman:InternalError "AMT-STATUS 36" [modelled]); other properties may be
// echoed unchanged and a changed one is refused with
// wxf:InvalidRepresentation. TerminateSession(SessionType 0 IDE-R, 1 SOL)
// resets the open session of that type and returns 0 (also when none is
// open); another SessionType returns PT_STATUS 36. No AccessLog is
// reported, as in every Get and Pull capture.
//
// IPS_OptInService (AMT 6 and later; earlier firmware answers
// wsa:DestinationUnreachable and needs no consent) holds OptInRequired (0
// none, 1 KVM only, 4294967295 all), OptInState (0 not started, 2 code
// displayed, 3 consent received, 4 consent in use by a session; 1 is not
// used), CanModifyOptInPolicy, OptInCodeTimeout (120 s) and
// OptInDisplayTimeout (300 s). Devices in client control mode
// (ProvisioningMode 4) always require consent for everything and cannot
// modify the policy (CanModifyOptInPolicy 0: a Put changing OptInRequired
// is refused with wsman:InternalError, "AMT-STATUS 16"); admin control mode
// devices start with Options.OptInRequired (default 0), and a Put may
// change it (0, 1 or 4294967295, else "AMT-STATUS 36") and
// OptInDisplayTimeout.
//
// StartOptIn shows a six-digit code on the host's screen: OptInState 2,
// the code logged at info level ("amtsim user consent code") and returned
// by Device.OptInCode. Codes are derived from Options.Seed and the device
// address, so runs are reproducible. StartOptIn returns 0; while a code is
// displayed it shows the same code again, and with consent received or in
// use it changes nothing. SendOptInCode with the right code returns 0 and
// gives consent (state 3); a wrong code returns PT_STATUS 2066
// (UNSUPPORTED) [assumption: the firmware's code for a wrong consent
// code], and after 3 wrong codes the code is dropped (state 0). A code
// sent while none is displayed returns PT_STATUS 2 (NOT_READY), as the
// capture shows; a missing or non-numeric OptInCode PT_STATUS 36.
// CancelOptIn returns 2 with nothing started (as captured); otherwise it
// drops the code or the consent (state 0), resets the IDE-R and SOL
// sessions the consent was in use by, and returns 0. A displayed code
// expires after OptInDisplayTimeout, a consent not used by a session
// within OptInCodeTimeout; consent in use lapses when the last IDE-R or SOL
// session ends.
//
// With OptInRequired 4294967295 and no consent (state other than 3 and 4)
// the redirection port refuses IDE-R and SOL sessions (status 03), and a
// Put of AMT_BootSettingData that leaves UseIDER, UseSOL, BIOSSetup,
// BIOSPause or ReflashBIOS true is refused with wsman:InternalError, detail
// "AMT-STATUS 2081" (USER_CONSENT_REQUIRED, in the shape protocol.md gives
// intrinsic operations); clearing them needs no consent. An authenticated
// IDE-R or SOL session puts received consent in use (state 4).
//
// # System Defense
//
// System Defense (protocol.md §4) is served by its own unit
// (internal/sysdefense), written from protocol.md alone: there is no capture
// of these classes but a hand-edited AMT_Hdr8021Filter, so shapes follow
// protocol.md and what it leaves open is modelled as listed below, each
// with its option in Options.SystemDefense (SystemDefenseOptions).
//
// Classes: AMT_SystemDefenseService; AMT_Hdr8021Filter and
// AMT_IPHeadersFilter (Create, Delete, Get, Enumerate); AMT_NetworkFilter,
// a view of every filter with OwnerID; AMT_SystemDefensePolicy (Create,
// Delete, GetTimeout, SetTimeout, UpdateStatistics);
// AMT_FilterInSystemDefensePolicy and AMT_SystemDefensePolicyInService;
// AMT_NetworkPortSystemDefensePolicy (enables a policy on a port) and
// AMT_NetworkPortDefaultSystemDefensePolicy (a port's default policy), both
// created and deleted with the bodies and EPR-valued selectors of
// protocol.md §4.4; AMT_ActiveFilterStatistics;
// AMT_GeneralSystemDefenseCapabilities; AMT_NetworkPortSystemDefenseCapabilities;
// CIM_EthernetPort. No class accepts Put. Enumerations honour the
// enumeration modes as the class table's do.
//
// What follows protocol.md: the device assigns creation handles (numeric
// InstanceIDs, one sequence for filters and policies, never reused) and
// overwrites the placeholder keys (CreationClassName the class,
// SystemCreationClassName CIM_ComputerSystem, SystemName Intel(r) AMT, as
// the filter capture shows); ResourceCreated carries every key selector,
// for associations as nested EndpointReferences like the captured
// AMT_TLSCredentialContext answer. Names and PolicyName have at most 16
// characters; FilterDirection 0 Tx, 1 Rx; FilterProfile 0..4; a rate limit
// needs FilterProfileData > 0; HdrIPVersion 4 or 6 and without it no
// address field; addresses hex-encoded, 4 bytes for IPv4 and 16 or 20 for
// IPv6, a mask or an end of range (not both) only with an address; port
// fields only with HdrProtocolID; not a range of source ports and a range
// of destination ports at once; FilterCreationHandles at most 62, each an
// existing filter; AntiSpoofingSupport 0..4; SetTimeout 0..65535 minutes.
// A filter a policy references cannot be deleted, nor a policy enabled on
// or default for a port. Exactly one policy is active per port: the
// highest PolicyPrecedence among the enabled ones, else the port's default,
// else none (traffic unfiltered). Limits are GlobalMaxSupportedPolicies and
// GlobalMaxSupportedFilters (defaults 8 and 80, protocol.md §4.7) and the
// per-port Tx/Rx filter and counter limits, an IPv6 filter or counter
// taking IPv6_to_IPv4_Ratio IPv4 slots, each default count flag a counter.
//
// Packets (Device.HostPacket, one simulated host packet through the active
// policy of its port): anti-spoofing first, for transmitted packets whose
// source MAC or IP is not the host's (the device's MAC and address); then
// every filter of the policy in the packet's direction: any matching drop
// filter (profiles 1 and 4), or a matching rate limit over its rate, drops
// the packet; else any matching filter passes it; else the direction's
// default (Tx/RxDefaultDrop). Filters are stateless: they see one packet's
// headers. Statistics profiles (0, 1) count matching packets, as do the
// default counters for packets no filter matched.
//
// Simulated host traffic: Device.HostPacket sends one packet; Options.HostTraffic
// (a fleet group's host_traffic) sends a steady trickle from every device to
// named peers, each entry a request and its reply every interval, so that
// the statistics of a running simulator move. In a fleet group:
//
//	"system_defense": {"max_policies": 8, "max_filters": 80, "max_enabled_per_port": 1,
//	  "timeout_minute": "1s", "limit_status": 23, "wired": {"ipv4_max_tx_filters": 16, ...}},
//	"host_traffic": [{"peer": "10.0.0.5", "protocol": "tcp", "port": 443, "interval": "1s",
//	  "interface": "wired"}]
//
// protocol is tcp, udp (both with port) or icmp; interval a Go duration
// (default 1s, at least 1ms); interface wired (default) or wireless. The
// trickle is not a model of the host: it exists to exercise statistics.
// A port limits object (wired, wireless) replaces the defaults as a whole:
// ipv4_max_tx_filters, ipv4_max_tx_counters, ipv4_max_rx_filters,
// ipv4_max_rx_counters, ipv4_anti_spoofing, the same for ipv6 and
// ipv6_to_ipv4_ratio.
//
// Modelled, with why and the option:
//
//   - Status codes. Intrinsic operations fail with wsman:InternalError and
//     "AMT-STATUS n" (protocol.md §1.8), methods with ReturnValue n. A limit
//     gives 23 MAX_LIMIT_REACHED (protocol.md says 23 or 11, exact code
//     unknown; LimitStatus); a value breaking a constraint 36
//     INVALID_PARAMETER (InvalidStatus); deleting what is in use 16
//     NOT_PERMITTED (InUseStatus); any Create, Delete or method in client
//     control mode 3 INVALID_PT_MODE (protocol.md: System Defense needs
//     ACM; CCMStatus), while Get and Enumerate still answer so that a
//     console can read the capabilities; anti-spoofing on a port not
//     capable of it 2066 UNSUPPORTED (UnsupportedStatus). A type error, a
//     missing required property or a property the class does not have is
//     wsman:SchemaValidationError; enabling the same policy twice on a port
//     wsman:AlreadyExists (the fault of the captures).
//   - One enabled policy per port (protocol.md: System Defense enables one
//     per interface; a second gives the limit status). The other sources of
//     enabled policies (Agent Presence, Environment Detection) are not
//     modelled; MaxEnabledPerPort > 1 lets System Defense enable several so
//     that precedence and hand-over show. Equal precedence: the earlier
//     enabled wins. One default policy per port; a second gives the limit
//     status. PolicyPrecedence and timeouts do not apply to defaults.
//   - Timeouts. A policy's timeout runs from when it becomes active on a
//     port (per port) and restarts when SetTimeout is invoked while it is
//     active; when it runs out the policy stays enabled (Enabled true,
//     Active false) and the next candidate takes over from that instant.
//     SetTimeout re-arms an expired policy. GetTimeout returns the minutes
//     left, rounded up, while the policy is active with a timeout, and the
//     configured value otherwise (GetTimeoutConfigured always returns the
//     configured value). The device clock is the host clock moved by
//     Device.AdvanceDefenseClock; TimeoutMinute shortens a minute so that a
//     running simulator shows timeouts expire.
//   - Per-port limits. No capture reports them: the defaults are 16 Tx and
//     16 Rx filters, 8 Tx and 8 Rx counters for IPv4, 8/8/4/4 for IPv6, a
//     ratio of 2 and anti-spoofing on both (Wired, Wireless). They are
//     checked when a policy is enabled on or made default for a port, each
//     policy on its own; IPv6 filters also count against the IPv6 limits.
//     Anti-spoofing takes 2 Tx filters (AntiSpoofingTxFilters) and needs
//     IPv4_AntiSpoofingCapable; its labels 1..4 are unknown, so any non-zero
//     value turns it on. A rate limit filter keeps a counter and reports
//     statistics (RateLimitNoCounter turns that off); pass and drop filters
//     without statistics keep none.
//   - Rate limits count matching packets in one-second windows from the
//     first match: packets beyond FilterProfileData in a window are
//     dropped ("approximate" in protocol.md).
//   - Statistics. UpdateStatistics (on the policy active on the port given
//     as NetworkInterface, else ReturnValue 36) copies the live counters to
//     AMT_ActiveFilterStatistics (ReadCount, FilterMatched), and with
//     ResetOnRead zeroes them and sets LastResetTime; enumerating without it
//     shows the last copy. Counters and ActivationTime restart when a policy
//     becomes active on a port. Entries exist for the counting filters of
//     each port's active policy; Antecedent is the port, Dependent the
//     AMT_FilterInSystemDefensePolicy reference (Antecedent the policy,
//     Dependent the filter with its key selectors, Name among them).
//     Default counters have no filter: they are reported as entries whose
//     filter reference is an AMT_NetworkFilter with InstanceID and Name
//     "TxDefault" or "RxDefault" (NoDefaultStatistics leaves them out).
//     Times are CIM datetimes in the wscim common namespace, as the
//     captures of other classes write them.
//   - Association directions not in protocol.md:
//     AMT_FilterInSystemDefensePolicy has the policy as Antecedent and the
//     filter as Dependent; AMT_SystemDefensePolicyInService the service and
//     the policy. Port references carry CreationClassName and DeviceID, as
//     the Delete of protocol.md §4.4 sends them; a reference given by a
//     console matches when its identifying selector (DeviceID, InstanceID)
//     is there and every selector it gives is right.
//   - Matching details protocol.md leaves open: an IP headers filter
//     matches IP packets only (not ARP); a 20-byte IPv6 octet string is
//     matched on its first 16 bytes; HdrFlowLabel is hex like the addresses
//     and needs IPv6; TCPFlagsOn/TCPFlagsOff elements are OR-ed bit masks of
//     the TCP flags (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32) and need
//     HdrProtocolID 6; HdrDSCP lists values compared with the packet's DSCP
//     field; IsNegated negates the whole match. Port fields come in
//     start/end pairs. Filter names need not be unique. ActionEventOnMatch
//     and the default match events raise no events (no event log is
//     modelled).
//   - Ports: the wired port follows the CIM_EthernetPort capture with the
//     device's MAC; the wireless port (DeviceID ... Port 1, Description
//     Wireless1, EnabledState 3, no link properties) is modelled on it, as
//     AMT_EthernetPortSettings serves both (NoWireless removes it). Where
//     the class table serves CIM_EthernetPort from its capture, that
//     answer wins and the unit's ports stay addressable in references.
//     AMT_NetworkPortSystemDefenseCapabilities instances are named by
//     InstanceID "Intel(r) AMT Network Port System Defense Capabilities N",
//     N the port, and the service and general capabilities by their
//     ElementName; these names are modelled.
//
// # HTTP framing
//
// The WS-Man ports answer as the captures in the recordings' _http
// directory show (AMT 11.8 and 15.0), per firmware version:
//
//   - SOAP answers carry Date, Server, X-Frame-Options, Content-Type and
//     Transfer-Encoding: chunked, in that order, and keep the connection.
//     The content type is application/octet-stream up to AMT 11 (the
//     11.8 capture) and application/soap+xml; charset=UTF-8 from AMT 12
//     (the 15.0 capture) [modelled: the boundary between the two captured
//     versions].
//   - The body is chunked as the firmware writes it, from one buffer that
//     holds the header and the start of the body: the first chunk fills
//     the buffer after the header, every later chunk is a whole buffer,
//     the last the rest, so chunks are cut wherever the buffer ends, in
//     the middle of a name or a value. Sizes are four upper-case hex
//     digits; the last chunk is "0". The buffer is 0x2FA bytes from AMT 12
//     (15.0 capture: 218 header bytes, chunks 0220, 02FA, 02FA, 003C) and
//     0x5E2 bytes up to AMT 11 (11.8 capture: 207 header bytes, chunks
//     0513, 030B) [modelled: the 11.8 body ends in its second chunk, so
//     that later chunks are whole buffers is assumed, as 15.0 shows].
//   - The 401 carries WWW-Authenticate, Content-Type text/html, Server,
//     Content-Length and Connection: close, in that order and without
//     Date, and the firmware's logon page of 434 bytes, as captured from
//     AMT 15.0; every version answers so [modelled: no 401 capture of
//     other versions].
//   - Other HTML pages (400, 404, 405, an injected status) have the 400
//     capture's layout: Content-Type, Server, Content-Length, and
//     Connection: close where the connection ends; the texts other than
//     the logon page are modelled (the 400 capture's text was edited by
//     its project). A request line or header that cannot be read gets the
//     400 page [modelled].
//   - SOAP faults (HTTP 400 and 500) are framed as SOAP answers
//     [modelled: no capture of a fault's HTTP layer].
//   - Requests on a connection are served one at a time; idle connections
//     close after 2 minutes, a request header must arrive within 30 s, a
//     body may be at most 256 KiB, and Expect: 100-continue is answered;
//     accepted connections have no TCP keep-alive (no probes on an idle
//     connection); after the 400 to a body refused unread (too large,
//     malformed) the connection's write side is shut and up to 4 MiB or
//     500 ms of what the client still sends is read and dropped before it
//     closes, so that the client reads the 400 rather than a reset
//     [modelled: none of these is captured].
//
// # Fault injection
//
// Device.InjectFault queues delays, HTTP error statuses, connection resets
// and malformed bodies for authenticated requests, to exercise clients'
// retry and error handling. FaultDelayAnswer executes the request and then
// delays its answer, so that a test can show a change the device made
// while the client's deadline expired; Options.FaultAnswerDelay with
// Options.FaultMethod (amtsim --fault-answer-delay D --fault-method NAME)
// queues it on every device at start. Device.ExpireNonces and Device.Stats help tests
// observe and steer the device. The kinds FaultRedirBadSequence,
// FaultRedirReset and FaultRedirSilent disturb the redirection port instead
// (a wrong IDE-R sequence number, a reset in the middle of a READ's data,
// a session that stops sending and answering); Fault.Action does not apply
// to them, and WS-Man requests never take them. FaultInternalError refuses
// a request without executing it, with wsman:InternalError and
// "AMT-STATUS Fault.PTStatus". Fault.ResourceURI narrows a fault to one
// class and Fault.Skip lets that many matching requests through first, so
// that a test can fail, say, the third Create of a System Defense apply:
// Fault{Kind: FaultInternalError, Action: "Create", Skip: 2, Times: 1,
// PTStatus: 23}.
//
// # Concurrency
//
// A Server and its Devices are safe for concurrent use. Each device
// executes one operation at a time, like the firmware; devices of a fleet
// work in parallel. Each redirection connection has one goroutine, and an
// open IDE-R session a second one for the device side (keep-alives and the
// simulated BIOS). Close stops listeners, ends redirection sessions,
// aborts injected delays and waits for every goroutine it started.
//
// Locks. The device lock (Device.mu) guards the device's state and that of
// the units that have no lock of their own (see the lock rule in Layout),
// among them the simulated host (internal/host), the redirection port's
// sessions and boots (internal/redirport) and the redirection service and
// consent (internal/redirsvc). The redirection units are always used with
// the device lock held: amtsim calls their methods under it, their own
// goroutines (a redirection connection, an IDE-R session's device side)
// take it around every use of their state, and the hooks they call back
// (redirport.Device, implemented by portDevice) run under it and take no
// lock. Each of their entry points checks the lock is held and panics
// otherwise (redirsvc.MustHold), so a caller that forgets it fails in
// tests. A redirection connection's write lock is taken before the device
// lock, never under it. System Defense, the logs and the clock have their
// own locks and call nothing of the device.
package amtsim
