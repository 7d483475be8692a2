// Package fleet runs one task over many Intel AMT machines: read the power
// state of a building, reset a lab to PXE, quarantine the machines an alert
// named. Run works in process and needs no database; the durable jobs of
// package fleet/durable run the same tasks through a Runner.
//
//	seq, err := fleet.Run(ctx, []string{"10.0.0.1", "10.0.0.2:16992"},
//		fleet.Task{Action: fleet.PowerReset},
//		fleet.Options{Credentials: resolver, Retries: 2, Concurrency: 200})
//	if err != nil {
//		return err // the task or the options cannot run; nothing was sent
//	}
//	for r := range seq {
//		fmt.Println(r.Host, r.Outcome, r.Message)
//	}
//
// # Tasks
//
// A Task names an Action (power status, on, off, reset, cycle, soft-off,
// soft-reset, wake, one-time boot, inventory, hardware, clock set, IDE-R
// boot from an image, System Defense quarantine, ping-only, apply, remove
// and status) and its arguments. It is plain data without secrets, so that
// a job can store it. Task.Wake asks for the machine to be powered on (or
// woken from OS power saving) first, and waits for it.
//
// # Outcomes
//
// Every machine gets exactly one Result, with one Outcome: Succeeded;
// Unreachable (nothing answered, after the retries); NotDetected (something
// answered, but not AMT); AuthFailed (every credential was rejected, or the
// account may not do the operation); LockedOut (the lockout guard refused
// to try: another failed login could lock the device's account); TLS;
// NotProvisioned; DeviceError (a fault or a non-zero return code, in
// ReturnCode and ReturnCodeName, the PT_STATUS or DMTF name); Refused (the
// device does not offer the action now: power on of a machine that only
// offers reset, a graceful shutdown without the OS agent; nothing was
// sent); OutcomeUnknown (a change was sent and its answer lost); Expired;
// Cancelled. A management engine that lost the host's power state
// (power.ErrStateUnknown) is DeviceError with ReturnCodeName
// StateUnknownName ("power state unknown"), so that reports count it apart.
// A failing Hooks.BeforeSend ends the machine Cancelled, its Err matching
// ErrHook, with nothing sent. The Result also carries the attempts made,
// the retries left, when the last attempt started, the worker, a one-line
// message and, for reads, the data (power status: the keys of `amtctl power
// status --output json`; os_power_saving is null, reading it would cost a
// second request per machine; hardware: HardwareRecord, the object of
// `amtctl hw --output json`; System Defense status: DefenseStatusRecord,
// that of `amtctl defense status --output json`).
//
// # Retries, expiry, cancellation
//
// A machine is tried again, Options.Retries times after Options.RetryDelay,
// only for a transient cause: unreachable, a timed-out attempt, a busy
// device (HTTP 503, DMTF Busy, a power transition in progress before
// anything was sent). Never after an authentication failure, a lockout
// refusal, a TLS or detection failure, and never once a request that
// changes the machine was handed to the connection: the hook, the send and
// any failure after it are final, and a change whose answer was lost is
// OutcomeUnknown (read the state before trying again). Machines not started
// when Options.Expire passes, and machines waiting for a retry then, are
// Expired; an attempt under way finishes. Cancelling the context reports
// the machines not started (and those waiting for a retry) Cancelled; an
// attempt under way is stopped, and ends OutcomeUnknown if it had sent a
// change. The same holds when the context's deadline passes (a durable
// worker's chunk bound, or a caller's timeout): an attempt it cuts short
// is Cancelled (OutcomeUnknown after a change was sent) with Err matching
// ErrRunEnded, never Unreachable, for the machine did not fail to answer;
// only an attempt's own Options.Timeout makes it a timed-out attempt.
//
// # Concurrency
//
// At most Options.Concurrency machines are worked on at once, IDE-R boots
// at most Options.IDERConcurrency (each streams an image), and with
// BatchSize at most BatchSize machines start per BatchInterval (retries do
// not count). Targets that name the same address (with another port, or as
// a URL) are one machine, and operations on one address never overlap,
// within a run or across the runs of a process. A Runner is safe for
// concurrent use.
//
// # Credentials
//
// Options.Credentials is asked per machine (give credentials.Static for one
// known login: amt.WithCredentials in ClientOptions works too, but logs in
// with a read of its own, one exchange more per machine). With a credentials.Resolver
// its lockout guard counts failed logins per device across the whole run
// (and every run sharing the resolver), so a fleet in which some devices
// have other passwords never locks an account: once a device's budget is
// spent, it is LockedOut and nothing more is tried there. For a read the
// task's own first request is the login: each candidate runs the read, so
// a device whose credential is known costs no extra request. A change runs
// under amt.Client.Authorize, where a read-only account gives way to the
// next candidate without a failed login; a power change or boot runs the
// same way with its state read as the login (see Round trips).
//
// # Round trips
//
// Power status costs 2 HTTP exchanges per machine: the digest challenge
// (a request without credentials answered 401 with the nonce) and one Get
// of CIM_AssociatedPowerManagementService without selectors, which carries
// PowerState and the actions offered. It cannot be fewer: digest needs the
// device's nonce before any authenticated request, AMT closes the
// connection after a 401 and issues no nonce otherwise, and the state is in
// one instance. (amtc reads it in 3: challenge, Enumerate, Pull.)
//
// A reset costs 3, the protocol's floor: the challenge, one Get of
// CIM_AssociatedPowerManagementService, and the RequestPowerStateChange.
// The state read cannot go: a reset must be refused before sending when
// the device does not offer it, a machine that is off is powered on
// instead, and a change to the state the machine is in sends nothing (a
// power-off of a machine that is off costs 2). With a credential source
// that read is also the login, as for reads: each candidate runs the
// change on a client of its own, so a wrong password fails on the read,
// under the lockout guard, before anything is sent, and a read-only
// account that the device denies the change gives way to the next
// candidate without a failed login (the resolution of a change,
// credentials.ForChange). The changes read the power state alone
// (amt.WithPowerChangesStateOnly): the OS power-saving state decides no
// change, so a change's "before" has os_power_saving null. The power
// changes and Boot run this way; the other changes (clock, System
// Defense, IDE-R, wake) log in through amt.Client.Authorize, one read
// more; so does any task that wakes the machine first, the wake and the
// action one operation under Authorize, so that a candidate denied either
// (a read-only account) gives way to the next.
//
// Machines over plain HTTP share one transport (HTTP/1.1 on the calling
// goroutine, without net/http's three goroutines per connection, keeping
// at most one idle connection per device and closing a machine's
// connections when its work ends) and one envelope cache. Client options
// that carry TLS settings (amt.WithTLS alone included), and https
// targets, give each machine a net/http transport of its own (TLS
// settings are per transport).
//
// Each machine's exchange leaves a few dozen KB of short-lived garbage
// against a live heap of a few MiB, so at Go's default GOGC of 100 the
// collector runs every few hundred machines. A program that runs large
// fleets may raise the target (debug.SetGCPercent(400), as amtctl does for
// its job and discover commands): measured on a 10,000-machine power-status
// read, about 20% less client CPU for a peak heap of about 95 MiB instead
// of 35.
//
// # Activity log and hooks
//
// With Options.ActivityLog every attempt writes one amt.Activity (operation
// "power reset", params attempt, worker and outcome, Actor and Job, the
// profile that logged in); the machines' clients record nothing of their
// own, so each attempt is one entry. Hooks.BeforeSend is called once per
// machine, just before its first request that changes it is written; an
// error sends nothing. Hooks.AfterAttempt sees each attempt's result.
package fleet
