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
// CIM_ComputerSystemPackage: Get, Enumerate, Pull, Release, and Put where the
// class has writable properties. Identify is answered without credentials.
// Classes are described by a table (classes.go); adding one means adding a
// definition with its key properties, writable properties, methods and an
// instance builder.
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
