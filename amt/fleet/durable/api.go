package durable

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/credentials"
)

// ID identifies a durable job. IDs are positive and never reused within a
// database.
type ID int64

// Spec describes a job to Submit. Only Task and targets are required; the
// zero value of every other field is the default given in its comment.
type Spec struct {
	// Task is what to do on every machine. It is stored as it is, so it
	// never holds a secret.
	Task fleet.Task `json:"task"`
	// Targets are addresses with an optional port, as amt.New takes them
	// (ranges, CIDRs and files are expanded by the caller). Collections
	// names stored collections whose targets are added, read in Submit's
	// transaction. Duplicates are worked once.
	Targets     []string `json:"targets"`
	Collections []string `json:"collections,omitempty"`
	// Concurrency bounds the machines of this job worked at once in each
	// worker (default 100). Over several workers the job's chunks running
	// at once are bounded to twice what Concurrency holds, so a job shared
	// by workers has at most about 2×Concurrency machines in flight.
	Concurrency int `json:"concurrency"`
	// Retries is how often a machine is tried again after a transient
	// failure (unreachable, timeout, busy), RetryDelay the wait before each
	// (default 5s). Authentication failures, refusals and changes whose
	// outcome is unknown are never retried.
	Retries    int           `json:"retries"`
	RetryDelay time.Duration `json:"retry_delay"`
	// Timeout bounds one attempt on one machine (default: fleet's, 30s).
	Timeout time.Duration `json:"timeout"`
	// ExpireAt, or ExpireAfter counted from the start, is the time after
	// which untried machines (and machines waiting for a retry) are
	// reported fleet.Expired, whether a worker is running or not. Zero:
	// never.
	ExpireAt    time.Time     `json:"expire_at"`
	ExpireAfter time.Duration `json:"expire_after"`
	// StartAt delays the start (zero: now).
	StartAt time.Time `json:"start_at"`
	// BatchSize and BatchInterval stagger the roll-out: at most BatchSize
	// machines are started per BatchInterval, counted from the start (or
	// from Continue, after a canary). Zero: no batches.
	BatchSize     int           `json:"batch_size"`
	BatchInterval time.Duration `json:"batch_interval"`
	// Canary, when positive, runs that many machines first and then pauses
	// the job (StatePaused) until Continue.
	Canary int `json:"canary"`
	// Profile names the credential profile the workers resolve
	// credentials with ("" : the default profile). Never a secret.
	Profile string `json:"profile"`
	// Actor is who asked for the job (recorded in the job and in every
	// activity entry; default: the OS user).
	Actor string `json:"actor"`
	// Connection is how workers connect to the machines: plain WS-Man
	// (the zero value) or TLS and how it verifies. It is stored with the
	// job (its own column, not in the spec's JSON) and every worker
	// builds each machine's client from it, after its own
	// WorkerOptions.ClientOptions.
	Connection Connection `json:"connection"`
	// ChunkSize is how many machines one River job carries (default
	// DefaultChunkSize; batches and the canary cut chunks smaller).
	ChunkSize int `json:"chunk_size"`
}

// DefaultChunkSize is how many machines one River job carries by default.
const DefaultChunkSize = 100

// State is a job's state as a whole.
type State string

// The job states.
const (
	StateScheduled State = "scheduled" // waiting for its start time
	StateRunning   State = "running"   // machines are being worked (or waiting for a worker)
	StatePaused    State = "paused"    // the canary is done; waiting for Continue
	StateCancelled State = "cancelled" // cancelled; machines not started are fleet.Cancelled
	StateFinished  State = "finished"  // every machine has its outcome (expired ones included)
)

// MachineState is where one machine of a job stands.
type MachineState string

// The machine states.
const (
	MachinePending MachineState = "pending" // not started, or waiting for a retry
	MachineRunning MachineState = "running" // a worker is working it now (Status.Running)
	MachineDone    MachineState = "done"    // has its outcome
)

// Job is a job's record with its progress.
type Job struct {
	ID        ID         `json:"id"`
	Task      fleet.Task `json:"task"`
	Spec      Spec       `json:"spec"` // as submitted, Targets and Collections left out
	State     State      `json:"state"`
	Actor     string     `json:"actor"`
	Profile   string     `json:"profile"`
	CreatedAt time.Time  `json:"created_at"`
	StartAt   time.Time  `json:"start_at"`
	// ExpireAt is nil when the job never expires; ContinuedAt is when the
	// canary was continued (nil: not yet, or no canary); FinishedAt when
	// the last machine got its outcome or the job was cancelled.
	ExpireAt    *time.Time `json:"expire_at"`
	ContinuedAt *time.Time `json:"continued_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	// Total is the number of machines; Done those with an outcome.
	Total int `json:"total"`
	Done  int `json:"done"`
	// Counts are the machines by outcome; every outcome is present.
	Counts map[fleet.Outcome]int `json:"counts"`
}

// Status is a job's record, its machines by state, and who holds which.
type Status struct {
	Job
	// Machines counts the machines by MachineState; every state is
	// present.
	Machines map[MachineState]int `json:"machines"`
	// Running lists the machines a worker is working now (an attempt
	// under way or a retry awaited), each with the worker and since when,
	// sorted by worker and then in the order the targets were given.
	// Machines of a chunk a worker holds that it has not started yet are
	// pending.
	Running []Running `json:"running"`
	// Holders groups Running by worker: the machines each works now and
	// since when (its earliest), sorted by worker.
	Holders []Holder `json:"holders"`
	// LastCleanup is when finished jobs were last purged (nil: never).
	LastCleanup *time.Time `json:"last_cleanup"`
}

// Running is a machine of a job a worker is working now.
type Running struct {
	Host   string    `json:"host"`
	Worker string    `json:"worker"`
	Since  time.Time `json:"since"`
}

// Holder is a worker and the machines of a job it holds now.
type Holder struct {
	Worker string    `json:"worker"`
	Since  time.Time `json:"since"`
	Hosts  []string  `json:"hosts"`
}

// Machine is one machine's row of a job: the report a help desk reads.
type Machine struct {
	Job   ID           `json:"job"`
	Host  string       `json:"host"`
	State MachineState `json:"state"`
	// Outcome is nil until the machine is done.
	Outcome          *fleet.Outcome `json:"outcome"`
	ReturnCode       *int           `json:"return_code"`
	ReturnCodeName   *string        `json:"return_code_name"`
	Attempts         int            `json:"attempts"`
	RetriesRemaining int            `json:"retries_remaining"`
	LastAttempt      *time.Time     `json:"last_attempt"`
	// Worker is the process that ran the last attempt ("" : none yet).
	Worker  string `json:"worker"`
	Message string `json:"message"`
	// Data is the action's reading (power state, inventory, ...), null
	// when it reads nothing or failed.
	Data json.RawMessage `json:"data"`
	// FinishedAt is when the outcome was recorded (nil: not done).
	FinishedAt *time.Time `json:"finished_at"`
}

// ListFilter selects jobs for List. Zero fields select everything.
type ListFilter struct {
	States []State
	Limit  int // 0: no limit
}

// PurgeResult says what Purge deleted.
type PurgeResult struct {
	Jobs     int `json:"jobs"`
	Machines int `json:"machines"`
}

// Collection is a named list of targets kept in the state database.
type Collection struct {
	Name      string    `json:"name"`
	Targets   []string  `json:"targets"` // in the order added
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CollectionInfo summarises a collection for a listing.
type CollectionInfo struct {
	Name      string    `json:"name"`
	Count     int       `json:"count"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Errors. Each is matched with errors.Is.
var (
	// ErrNotFound: no such job or collection.
	ErrNotFound = errors.New("durable: not found")
	// ErrExists: a collection of that name exists.
	ErrExists = errors.New("durable: already exists")
	// ErrInvalid: a Spec, collection name or target that cannot be used.
	ErrInvalid = errors.New("durable: invalid")
	// ErrState: the job is not in a state that allows the request
	// (continuing a job that is not paused, retrying a cancelled one).
	ErrState = errors.New("durable: not allowed in the job's state")
)

// WorkerOptions configure a Worker. The zero value is usable except for
// Credentials.
type WorkerOptions struct {
	// Name names this worker in results and in Status (default: host name
	// and pid).
	Name string
	// Concurrency bounds the machines this worker works at once, over
	// every job (default 1000). It holds up to twice
	// Concurrency/DefaultChunkSize River jobs (chunks) at once, so that
	// the next chunk's machines start as soon as slots free.
	Concurrency int
	// Credentials returns the source that resolves each machine's
	// credentials for a job naming profile ("" : the default profile),
	// typically a credentials.Resolver over the state database's store
	// with the shared lockout guard. Required.
	Credentials func(ctx context.Context, profile string) (credentials.Source, error)
	// ClientOptions are passed to amt.New for every machine (TLS, ports).
	ClientOptions []amt.Option
	// JobTimeout bounds one River job (one chunk of machines) on this
	// worker (default 10 minutes); RescueAfter is how long a River job
	// may stay running before any worker's rescuer hands it to another
	// (default 15 minutes, and more than JobTimeout). A killed worker's
	// machines move on after RescueAfter.
	JobTimeout  time.Duration
	RescueAfter time.Duration
	// PollInterval is how often the worker looks for new work and
	// scheduled work comes due (default 200ms).
	PollInterval time.Duration
	// Retention is how long finished and cancelled jobs are kept (default
	// 30 days), purged every CleanupEvery (default 1 hour) by the worker.
	Retention    time.Duration
	CleanupEvery time.Duration
	// Logger receives the worker's and River's diagnostics (default:
	// discarded).
	Logger *slog.Logger
}

// Defaults of WorkerOptions.
const (
	DefaultWorkerConcurrency = 1000
	DefaultJobTimeout        = 10 * time.Minute
	DefaultRescueAfter       = 15 * time.Minute
	DefaultPollInterval      = 200 * time.Millisecond
	DefaultRetention         = 30 * 24 * time.Hour
	DefaultCleanupEvery      = time.Hour
)
