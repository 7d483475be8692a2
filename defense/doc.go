// Package defense configures Intel AMT System Defense: network filters the
// firmware applies to the host's own traffic, grouped into policies that
// are enabled on the wired or wireless port (protocol.md §4).
//
// Its purpose is to quarantine a machine so that it reaches only the
// servers that can remediate it, or answers ping only, without ever
// cutting it off: Quarantine and PingOnly build policies together with the
// flows they must let through; Check evaluates a policy against flows
// offline, with the firmware's packet rules, and names the filter or
// default that drops each flow; Service.Apply refuses, before sending
// anything, a policy that fails Check, that does not fit the device's
// capabilities, that has no timeout the caller asked for, or a device in
// Client Control Mode. The policy file format (ParsePolicyFile) describes
// custom policies in YAML.
//
// # Errors
//
// A refusal is a *RefusedError listing every problem; it matches ErrUnsafe,
// ErrUnsupported and ErrTooLarge with errors.Is, one per kind of problem it
// holds. Validation errors are *FieldError naming the field; policy file
// errors are *FileError giving the line. The device's own limit failures are
// *DeviceError matching ErrLimit.
//
// # What amtkit owns
//
// Apply marks what it creates (ElementName starts with "amtkit"), so that
// Remove deletes only that unless told otherwise.
//
// # Concurrency
//
// A Service is safe for concurrent use. Operations that change a device's
// System Defense bindings (Apply, Remove) are serialised per device within
// the process; a second one waits its turn.
package defense
