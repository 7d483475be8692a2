// Package durable runs fleet jobs durably: one task (fleet.Task) over
// thousands of machines, enqueued in the state database (package statedb,
// SQLite or Postgres) and worked by any number of Worker processes through
// River, so that a job survives the crash of the process that runs it and
// several machines can share the work.
//
// A Manager submits jobs and reads and steers them (List, Status, Report,
// Follow, Cancel, Continue, Retry, Purge); it also keeps named collections
// of targets. A Worker does the device I/O, through fleet.Run.
//
// # Data model
//
// Four tables of the state database (migration 00005; 00006 adds a job's
// connection settings, 00007 indexes a chunk's machines in order), beside
// River's:
//
//	amtkit_job          one row per job: the task and the spec (JSON, no
//	                    secret: a credential profile by name), the actor,
//	                    state (running, paused, cancelled, finished), start,
//	                    expiry, when the canary was continued, total and done,
//	                    and its Connection (JSON: TLS, the CA certificates'
//	                    PEM, pins, legacy TLS, insecure-skip-verify, the
//	                    redirection port; no secret)
//	amtkit_job_machine  one row per machine: its chunk, outcome (NULL until
//	                    done), return code and name, attempts, retries left,
//	                    last attempt, worker, message, reading (JSON), and
//	                    its marker (marked_at), and when the worker named in
//	                    it started on it (claimed_at)
//	amtkit_job_chunk    one row per chunk: its batch (-1 for the canary), the
//	                    River job that carries it, which worker runs it since
//	                    when, when it finished, and the slot a retry gave it
//	                    (not_before)
//	amtkit_collection, amtkit_collection_target   named lists of targets
//
// # Connections
//
// Spec.Connection says how workers reach the machines: plain WS-Man, or
// TLS verified against the CA certificates it carries (their content, so
// that a worker on another machine verifies the same way), SHA-256 pins,
// the system roots, or, only when set explicitly, not at all
// (InsecureSkipVerify). Each worker builds each machine's client from
// it; a certificate it refuses ends the machine fleet.TLS before any
// login, so the lockout guard counts nothing.
//
// # Who holds which machine
//
// When a worker starts on a machine it queues a claim (claimed_at and its
// name) that rides its next group commit, and is dropped if the machine's
// result comes first, so a fast read costs nothing more. Status.Running
// lists the machines claimed by the worker that runs their chunk since it
// took the chunk: a machine in progress, one by one, with its worker.
// Machines of a chunk a worker holds that it has not started are pending.
//
// # River's role
//
// A job's machines are cut into chunks of at most Spec.ChunkSize (100 by
// default; the canary and each batch are chunks of their own), and each
// chunk is one River job (kind amtkit_fleet_chunk, queue amtkit_fleet),
// inserted in the same transaction as the job's rows. River hands chunks
// to workers, retries a chunk whose worker failed (the database
// unavailable, the chunk's JobTimeout), and its rescuer hands the chunks of
// a killed worker to the others after WorkerOptions.RescueAfter (minutes,
// not River's hour) plus up to about 45 seconds: River v0.51.2 runs its
// rescuer every 30 seconds on the elected leader and offers no setting for
// that interval; a killed leader is replaced within about 15 seconds.
// Waiting for the start time, a batch slot, the
// canary's Continue or a concurrency slot of the job is a River snooze,
// which spends no attempt. The per-machine outcome is the contract: River's
// job states are an implementation detail behind it.
//
// So that River UI (amtctl job ui) shows which machines a job touched, a
// chunk's River job names its machines in its arguments (hosts: the
// chunk's, or for a chunk queued again by Retry the machines put back),
// and records, as it ends, its machines by outcome and those still
// pending as its output (River's metadata key "output"). Workers read
// neither: the job's tables are the record.
//
// Chunks, not one River job per machine: River drains about 1,900 trivial
// jobs a second on SQLite here, and about 770 with a marker committed per
// job, so one River job per machine would spend 5 to 13 seconds of queue
// overhead alone on a 10,000-machine job whose floor is one second. A
// chunk costs River one fetch and one completion whatever the number of
// machines in it, and the markers, results and attempt counts of all
// chunks in a worker share group commits, so the database sees a few
// transactions per round of the fleet, not one per machine. Within a
// commit SQLite runs one prepared statement per machine (parsed once per
// connection), and Postgres one statement per job over arrays of the
// machines' values (prepared once); the activity log's batches are written
// the same ways.
//
// A worker works each chunk's machines through fleet's Runner (the same
// code as fleet.Run: one operation per address, retries with delay for
// transient causes only, expiry, classification), starting each machine
// when one of the worker's slots (WorkerOptions.Concurrency) and one of the
// job's (Spec.Concurrency) is free. It holds twice the chunks its slots
// fill, and a job may have twice the chunks its concurrency fills running,
// so that the next chunk's machines start as the last chunk's finish
// rather than after its slowest machine. Permanent failures
// (authentication, refusal, not provisioned) end a machine at once;
// transient ones are retried after Spec.RetryDelay, and the attempt count
// is recorded so that a worker taking over after a crash grants only the
// retries left.
//
// # The marker protocol
//
// Before the first request that changes a machine is written (fleet's
// Hooks.BeforeSend), the worker commits the machine's marker: marked_at is
// set only where it is NULL and the machine has no outcome, so two workers
// can never both send. Markers are group-committed: BeforeSend calls that
// arrive while one transaction is being written share the next one, so a
// thousand machines at once cost a few commits, not a thousand. Results,
// attempt counts and markers share those transactions; a chunk is reported
// done to River only once its results are committed.
//
// # After a crash
//
// A killed worker's chunks stay running in River until the rescuer hands
// them on (RescueAfter). The next worker to run a chunk skips machines that
// have an outcome, reports fleet.OutcomeUnknown for machines with a marker
// and no outcome (the change may or may not have reached the machine; it
// is never sent again on its own: Retry with that outcome named does), and
// works the rest, with the retries they had left. So no machine is lost,
// and none is changed twice. Reads (power status, inventory) carry no
// marker and are simply read again.
//
// # Retry
//
// Retry queues the chunks of the machines it names again. Their batch
// slots count from the retry: the first retried batch starts at once, the
// next one BatchInterval later, and so on in the original order, so that a
// retried machine neither waits for its original slot nor starts with the
// batches after it (amtkit_job_chunk.not_before).
//
// # Cancel, expiry, retention
//
// Cancel marks machines not started cancelled at once; workers notice
// within a poll and start nothing more. Machines of a job past its expiry
// that no worker holds are marked expired by the next Manager read or
// worker sweep (every second), so a job expires on time even when no
// worker runs. Finished and cancelled jobs are purged after the retention
// (WorkerOptions.Retention, 30 days) by the workers, or by Purge; Status
// says when it last ran.
//
// Every attempt writes an activity-log entry (statedb's batched writer)
// with the job's ID.
package durable
