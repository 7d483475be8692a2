package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/defense"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
	"github.com/amtkit/amtkit/wsman"
)

// Defaults of Options and Task.
const (
	DefaultConcurrency     = 100
	DefaultIDERConcurrency = 4
	DefaultRetryDelay      = 5 * time.Second
	DefaultTimeout         = 30 * time.Second
	DefaultWakeTimeout     = 5 * time.Minute
	DefaultIDERTimeout     = 15 * time.Minute
	DefaultServeIdle       = 30 * time.Second
)

// ErrExpired is matched by the Err of a machine reported Expired.
var ErrExpired = errors.New("fleet: the run expired")

// ErrHook is matched by the Err of a machine whose Hooks.BeforeSend
// failed: nothing was sent to it.
var ErrHook = errors.New("fleet: before-send hook failed")

// ErrRunEnded is matched by the Err of a machine whose attempt was cut
// short because the run's context ended (its deadline passed or it was
// cancelled) rather than by the attempt's own timeout: the machine is
// reported Cancelled (OutcomeUnknown once a change was sent), never
// Unreachable, for it did not fail to answer. It matches
// context.Canceled.
var ErrRunEnded = fmt.Errorf("fleet: the run ended before the attempt did: %w", context.Canceled)

// Runner runs one task on machines, sharing what a run shares: the HTTP
// transport, the credential source (and with it the lockout guard), the
// IDE-R limit. Run uses one; a durable job layer may call Machine for one
// machine at a time from its own workers. It is safe for concurrent use.
type Runner struct {
	task   Task
	opts   Options
	prep   prepared
	conns  *http1     // nil when machines do not share a transport
	shared amt.Option // the option that gives a client conns
	base   []amt.Option
	ider   chan struct{}
}

// prepared is what a task needs, parsed once.
type prepared struct {
	power      power.Action
	bootTarget power.BootTarget
	policy     *defense.Policy
	media      string // "cd" or "floppy"
}

// NewRunner checks task and opts and fills in the defaults. Nothing is
// sent.
func NewRunner(task Task, opts Options) (*Runner, error) {
	if err := defaults(&opts); err != nil {
		return nil, err
	}
	prep, err := prepare(task)
	if err != nil {
		return nil, err
	}
	r := &Runner{task: task, opts: opts, prep: prep, ider: make(chan struct{}, opts.IDERConcurrency)}
	// Reads are retried by the run (Retries, RetryDelay), not inside an
	// attempt; a caller's WithWSManOptions in ClientOptions comes later and
	// has the last word.
	r.base = []amt.Option{amt.WithWSManOptions(wsman.WithRetry(0, 0, 0)), amt.WithPowerChangesStateOnly()}
	// Options.ActivityLog gets one entry per attempt from the run itself
	// (Runner.record); the clients record nothing of their own, or every
	// service call inside an attempt would be a second entry.
	// One transport for every machine, unless the client options need one
	// of their own (TLS settings are per transport).
	conns := newHTTP1()
	shared := amt.WithHTTPClient(&http.Client{Transport: conns})
	probe := append(append([]amt.Option{shared}, r.base...), opts.ClientOptions...)
	// WithTLS alone (the system roots) selects TLS without a setting
	// that the shared plain-HTTP transport refuses: its clients get a
	// transport of their own too.
	c, err := amt.New("127.0.0.1", probe...)
	switch {
	case err == nil && !strings.HasPrefix(c.WSMan().Endpoint(), "https:"):
		r.conns, r.shared = conns, shared
	case err == nil:
	default:
		if _, err := amt.New("127.0.0.1", append(r.base, opts.ClientOptions...)...); err != nil {
			return nil, fmt.Errorf("fleet: client options: %w", err)
		}
	}
	return r, nil
}

func defaults(o *Options) error {
	switch {
	case o.Concurrency < 0, o.IDERConcurrency < 0, o.Retries < 0, o.RetryDelay < 0, o.Timeout < 0, o.BatchSize < 0,
		o.BatchInterval < 0, o.IDERTimeout < 0:
		return errors.New("fleet: negative option")
	case o.BatchSize > 0 && o.BatchInterval == 0:
		return errors.New("fleet: a batch size needs a batch interval")
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.IDERConcurrency == 0 {
		o.IDERConcurrency = DefaultIDERConcurrency
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.IDERTimeout == 0 {
		o.IDERTimeout = DefaultIDERTimeout
	}
	if o.Worker == "" {
		h, _ := os.Hostname()
		o.Worker = h + ":" + strconv.Itoa(os.Getpid())
	}
	return nil
}

// powerActions maps the power tasks to what is sent.
var powerActions = map[Action]power.Action{
	PowerOn: power.On, PowerOff: power.Off, PowerReset: power.Reset, PowerCycle: power.PowerCycle,
	PowerSoftOff: power.SoftOff, PowerSoftReset: power.SoftReset,
}

func prepare(t Task) (prepared, error) {
	var p prepared
	bad := func(format string, args ...any) (prepared, error) {
		return p, fmt.Errorf("fleet: %s: %w", fmt.Sprintf(format, args...), amt.ErrInvalidArgument)
	}
	switch t.Wake {
	case NoWake, WakePowerOn, WakeFromOS:
	default:
		return bad("unknown wake mode %q", t.Wake)
	}
	if t.WakeTimeout < 0 || t.DefenseTimeout < 0 || t.ServeIdle < 0 {
		return bad("negative duration in the task")
	}
	switch t.Action {
	case PowerStatus, Inventory, Hardware, ClockSet, Wake, DefenseRemove, DefenseStatus:
	case PowerOn, PowerOff, PowerReset, PowerCycle, PowerSoftOff, PowerSoftReset:
		p.power = powerActions[t.Action]
	case Boot:
		bt, err := power.ParseBootTarget(t.BootTarget)
		if err != nil || t.BootTarget == "" {
			return bad("boot target %q: want pxe, disk, cd or bios", t.BootTarget)
		}
		p.bootTarget = bt
	case IDERBoot:
		if t.Image == "" {
			return bad("ider-boot needs an image")
		}
		media, err := checkImage(t.Image, t.ImageKind)
		if err != nil {
			return p, err
		}
		p.media = media
	case DefenseQuarantine:
		if len(t.Servers) == 0 {
			return bad("defense-quarantine needs the servers the machines must still reach")
		}
		var allow []defense.Endpoint
		for _, s := range t.Servers {
			e, err := defense.ParseEndpoint(s)
			if err != nil {
				return p, fmt.Errorf("fleet: server %q: %w", s, err)
			}
			allow = append(allow, e)
		}
		pol, err := defense.Quarantine(defense.QuarantineOptions{Allow: allow})
		if err != nil {
			return p, fmt.Errorf("fleet: %w", err)
		}
		p.policy = pol
	case DefensePingOnly:
		if len(t.Servers) > 0 {
			return bad("defense-ping-only keeps ARP and ICMP only; use defense-quarantine to keep servers reachable")
		}
		pol, err := defense.PingOnly(defense.PingOnlyOptions{})
		if err != nil {
			return p, fmt.Errorf("fleet: %w", err)
		}
		p.policy = pol
	case DefenseApply:
		if t.Policy == "" {
			return bad("defense-apply needs a policy")
		}
		pol, err := defense.ParsePolicyFile([]byte(t.Policy))
		if err != nil {
			return p, fmt.Errorf("fleet: policy: %w", err)
		}
		p.policy = pol
	default:
		return bad("unknown action %q", t.Action)
	}
	if p.policy != nil && t.DefenseTimeout <= 0 {
		return bad("%s needs a defense timeout (the policy's safety net on the device)", t.Action)
	}
	return p, nil
}

// checkImage opens the image and checks it is what kind says (or, with
// no kind, what it is: an ISO 9660 image is a CD, a boot sector a
// floppy), before anything changes on a machine.
func checkImage(path, kind string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("fleet: image: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("fleet: image: %w", err)
	}
	m := &redirect.Medium{Reader: f, Size: st.Size()}
	cdErr, floppyErr := redirect.CheckCD(m), redirect.CheckFloppy(m)
	switch {
	case kind == "cd" && cdErr == nil, kind == "" && cdErr == nil:
		return "cd", nil
	case kind == "floppy" && floppyErr == nil, kind == "" && floppyErr == nil:
		return "floppy", nil
	case kind == "cd":
		return "", fmt.Errorf("fleet: image %s: %w", path, cdErr)
	case kind == "floppy":
		return "", fmt.Errorf("fleet: image %s: %w", path, floppyErr)
	case kind != "":
		return "", fmt.Errorf("fleet: image kind %q: want cd or floppy: %w", kind, amt.ErrInvalidArgument)
	}
	return "", fmt.Errorf("fleet: image %s is neither a bootable CD (%v) nor a floppy (%v): %w", path, cdErr, floppyErr, amt.ErrInvalidArgument)
}

// Close releases what the runner holds (idle connections).
func (r *Runner) Close() {
	if r.conns != nil {
		r.conns.closeAll()
	}
}

// Machine runs the task on one machine, with the runner's retries and
// expiry, and returns its result. Operations on one address never
// overlap, in this run or another of the process.
func (r *Runner) Machine(ctx context.Context, target string) Result {
	if _, err := machineKey(target); err != nil {
		res := r.untried(target, err)
		res.Outcome, res.Message = Refused, "not an address"
		return res
	}
	l := &limits{slots: make(chan struct{}, 1), expire: r.opts.Expire}
	if err := l.acquire(ctx); err != nil {
		return r.untried(target, err)
	}
	return r.machine(ctx, target, l)
}

// machineRun is the state of one machine's work across its attempts.
type machineRun struct {
	r      *Runner
	target string
	key    string

	mu      sync.Mutex
	sent    bool // a change request was handed to the transport
	clients []*amt.Client

	// message is the success message of the attempt's read, when the
	// read wrote one (as a power-status read does), so that it need not
	// be read back from the data.
	message string
}

// beforeSend is called by the WS-Man client before each change request.
func (m *machineRun) beforeSend(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sent {
		return nil
	}
	if h := m.r.opts.Hooks.BeforeSend; h != nil {
		if err := h(ctx, m.target); err != nil {
			return fmt.Errorf("%w: %w", ErrHook, err)
		}
	}
	m.sent = true
	return nil
}

func (m *machineRun) wasSent() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sent
}

// client builds a device client for the machine.
func (m *machineRun) client(extra ...amt.Option) (*amt.Client, error) {
	opts := make([]amt.Option, 0, len(m.r.base)+len(m.r.opts.ClientOptions)+len(extra)+2)
	if m.r.shared != nil && !strings.HasPrefix(strings.ToLower(m.target), "https:") {
		opts = append(opts, m.r.shared)
	}
	opts = append(opts, m.r.base...)
	opts = append(opts, m.r.opts.ClientOptions...)
	opts = append(opts, extra...)
	opts = append(opts, amt.WithWSManOptions(wsman.WithBeforeChange(m.beforeSend)))
	c, err := amt.New(m.target, opts...)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.clients = append(m.clients, c)
	m.mu.Unlock()
	return c, nil
}

// done closes the machine's connections.
func (m *machineRun) done() {
	if m.r.conns != nil {
		m.r.conns.closeHost(m.key)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.clients {
		c.CloseIdleConnections()
	}
}

// machine works one machine whose slot in l is held, until it succeeds,
// fails for good, runs out of retries, expires or is cancelled.
func (r *Runner) machine(ctx context.Context, target string, l *limits) Result {
	key, _ := machineKey(target)
	held := true
	defer func() {
		if held {
			l.release()
		}
	}()
	res := Result{Host: target, Action: r.task.Action, RetriesRemaining: r.opts.Retries, Worker: r.opts.Worker}
	unlock, err := lockHost(ctx, key)
	if err != nil {
		return r.untried(target, err)
	}
	defer unlock()
	m := &machineRun{r: r, target: target, key: key}
	defer m.done()
	for {
		start := time.Now().UTC()
		res.Attempts++
		res.LastAttempt = &start
		m.message = ""
		data, profile, err := r.attempt(ctx, m)
		r.fill(&res, data, m.message, err, m.wasSent())
		r.record(m, res, profile, start, err)
		if h := r.opts.Hooks.AfterAttempt; h != nil {
			h(ctx, res)
		}
		if err == nil || !retryable(err) || m.wasSent() || res.RetriesRemaining == 0 || ctx.Err() != nil {
			return res
		}
		held = false
		l.release()
		if werr := l.wait(ctx, r.opts.RetryDelay); werr != nil {
			return stopped(res, werr)
		}
		if werr := l.acquire(ctx); werr != nil {
			return stopped(res, werr)
		}
		held = true
		res.RetriesRemaining--
	}
}

// stopped ends a machine that waited for a retry when the run expired or
// was cancelled.
func stopped(res Result, why error) Result {
	last := res.Message
	if errors.Is(why, errExpired) {
		res.Outcome = Expired
		res.Message = fmt.Sprintf("expired before retry %d; last attempt: %s", res.Attempts, last)
		res.Err = errors.Join(ErrExpired, res.Err)
	} else {
		res.Outcome = Cancelled
		res.Message = fmt.Sprintf("cancelled before retry %d; last attempt: %s", res.Attempts, last)
		res.Err = errors.Join(why, res.Err)
	}
	return res
}

// timeout is how long one attempt may take.
func (r *Runner) timeout() time.Duration {
	d := r.opts.Timeout
	if r.task.Action == IDERBoot {
		d = r.opts.IDERTimeout
	}
	if r.task.Wake != NoWake {
		w := time.Duration(r.task.WakeTimeout)
		if w == 0 {
			w = DefaultWakeTimeout
		}
		d += w
	}
	return d
}

// attempt makes one attempt on the machine: the action's data, the
// credential profile used, and the error.
func (r *Runner) attempt(ctx context.Context, m *machineRun) (json.RawMessage, string, error) {
	actx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	var (
		data    json.RawMessage
		profile string
		err     error
	)
	if !r.task.Action.Changes() && r.task.Wake == NoWake {
		data, profile, err = r.read(actx, m)
	} else {
		data, profile, err = r.change(actx, m)
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, context.Canceled) &&
		(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, amt.ErrUnreachable)) {
		// The run's deadline (a durable chunk's bound, or the caller's)
		// ended the exchange: the machine did not fail to answer.
		err = errors.Join(ErrRunEnded, err)
	}
	return data, profile, err
}

// read runs a task that changes nothing. With a credential source, the
// task's own first request is the login: each candidate runs the read, and
// an authentication failure moves on to the next one, so a machine whose
// credential is known costs no extra request.
func (r *Runner) read(ctx context.Context, m *machineRun) (json.RawMessage, string, error) {
	if r.opts.Credentials == nil {
		c, err := m.client()
		if err != nil {
			return nil, "", err
		}
		data, err := r.readOn(ctx, m, c)
		return data, "", err
	}
	var data json.RawMessage
	cand, _, err := r.opts.Credentials.Resolve(ctx, m.target, func(ctx context.Context, cred credentials.Credential) error {
		opts, err := credentialOptions(cred)
		if err != nil {
			return err
		}
		c, err := m.client(opts...)
		if err != nil {
			return err
		}
		d, err := r.readOn(ctx, m, c)
		if err == nil {
			data = d
		}
		return err
	})
	return data, cand.Profile, err
}

func credentialOptions(cred credentials.Credential) ([]amt.Option, error) {
	opts := []amt.Option{amt.WithCredentialOnTrial(cred.User, cred.Password)}
	cert, err := cred.ClientCertificate()
	if err != nil {
		return nil, err
	}
	if cert != nil {
		opts = append(opts, amt.WithClientCertificate(*cert))
	}
	return opts, nil
}

var uriAssociatedPower = wsman.ResourceURI("CIM_AssociatedPowerManagementService")

func (r *Runner) readOn(ctx context.Context, m *machineRun, c *amt.Client) (json.RawMessage, error) {
	switch r.task.Action {
	case PowerStatus:
		// One Get of the association: the state and the actions offered.
		// The OS power-saving state would cost a second Get.
		in, err := c.Get(ctx, uriAssociatedPower)
		if err != nil {
			return nil, err
		}
		st, err := power.DecodeStatus(in)
		if err != nil {
			return nil, err
		}
		rec := newPowerRecord(st, false)
		m.message = powerMessage(rec)
		return marshal(rec)
	case Inventory:
		inv, err := c.Inventory(ctx)
		if err != nil {
			return nil, err
		}
		return marshal(newInventoryRecord(inv))
	case Hardware:
		hw, err := c.Hardware(ctx)
		if err != nil {
			return nil, err
		}
		return marshal(NewHardwareRecord(hw))
	case DefenseStatus:
		st, err := c.Defense.Status(ctx)
		if err != nil {
			return nil, err
		}
		return marshal(NewDefenseStatusRecord(c.Host(), st))
	}
	return nil, fmt.Errorf("fleet: %s is not a read", r.task.Action)
}

// change runs a task that changes the machine (or wakes it first).
func (r *Runner) change(ctx context.Context, m *machineRun) (json.RawMessage, string, error) {
	var extra []amt.Option
	if r.opts.Credentials != nil {
		extra = append(extra, amt.WithCredentialSource(r.opts.Credentials))
	}
	c, err := m.client(extra...)
	if err != nil {
		return nil, "", err
	}
	profile := func() string {
		if res := c.Resolution(); res != nil {
			return res.Profile
		}
		return ""
	}
	var (
		data  json.RawMessage
		opErr error
	)
	// The wake, then the action: one operation, so that under Authorize a
	// candidate the device denies either (a read-only account) gives way
	// to the next without a failed login, as for every change. Authorize
	// runs it under the attempt's context (its per-login timeout bounds
	// the login only), so a wait for the machine or an IDE-R boot that
	// serves for minutes is not cut short.
	op := func(ctx context.Context) error {
		if r.task.Wake != NoWake {
			if err := r.wake(ctx, c); err != nil {
				data, opErr = nil, err
				return err
			}
		}
		var (
			d   json.RawMessage
			err error
		)
		if r.task.Action.Changes() {
			d, err = r.changeOn(ctx, c)
		} else {
			d, err = r.readOn(ctx, m, c)
		}
		data, opErr = d, err
		return err
	}
	if r.opts.Credentials != nil && r.task.Wake == NoWake && r.task.Action.readsStateFirst() {
		// The change's own first request, the read of the power state
		// it decides on, is the login: each candidate runs the change
		// on a client of its own, an authentication failure moves on to
		// the next one (counted by the lockout guard) before anything
		// was sent, and AccessDenied to the change (a read-only
		// account) moves on without a failed login, as Authorize does,
		// but without Authorize's login read.
		return r.changeOnTrial(ctx, m)
	}
	err = c.Authorize(ctx, op)
	if err != nil && opErr != nil && !errors.Is(err, amt.ErrLockedOut) {
		// The operation's own error: a resolution that ended with the
		// attempt's deadline reports the deadline and not, say, the
		// lost answer of a change that was sent. A resolution the
		// lockout guard ended (the next candidate was not tried) stays
		// LockedOut.
		err = opErr
	}
	return data, profile(), err
}

// changeOnTrial runs a change whose first request reads the power state
// with each candidate credential in turn, under the resolution of a change
// (credentials.ForChange). The change runs under the attempt's context,
// not the resolution's per-login timeout, as under Authorize.
func (r *Runner) changeOnTrial(ctx context.Context, m *machineRun) (json.RawMessage, string, error) {
	var (
		data  json.RawMessage
		opErr error
	)
	cand, _, err := r.opts.Credentials.Resolve(credentials.ForChange(ctx), m.target, func(_ context.Context, cred credentials.Credential) error {
		opts, err := credentialOptions(cred)
		if err != nil {
			return err
		}
		c, err := m.client(opts...)
		if err != nil {
			return err
		}
		d, err := r.changeOn(ctx, c)
		if err != nil {
			c.CloseIdleConnections()
			opErr = err
			return err
		}
		data = d
		return nil
	})
	if err != nil && opErr != nil && errors.Is(err, opErr) {
		err = opErr
	}
	return data, cand.Profile, err
}

// wake brings the machine up as the task asks and waits for it.
func (r *Runner) wake(ctx context.Context, c *amt.Client) error {
	d := time.Duration(r.task.WakeTimeout)
	if d == 0 {
		d = DefaultWakeTimeout
	}
	switch r.task.Wake {
	case WakePowerOn:
		ch, err := c.Power.Apply(ctx, power.On)
		if err != nil {
			return err
		}
		if !ch.Sent {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		_, err = c.Power.WaitFor(wctx, power.StateOn)
		return err
	case WakeFromOS:
		if err := c.Power.Wake(ctx); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		for {
			st, err := c.Power.Status(wctx)
			if err == nil && st.State == power.StateOn && st.OSPowerSaving != power.OSPowerSavingOn {
				return nil
			}
			t := time.NewTimer(time.Second)
			select {
			case <-wctx.Done():
				t.Stop()
				if err != nil {
					return err
				}
				return fmt.Errorf("fleet: the operating system did not leave power saving within %s: %w", d, power.ErrNotReached)
			case <-t.C:
			}
		}
	}
	return nil
}

func (r *Runner) changeOn(ctx context.Context, c *amt.Client) (json.RawMessage, error) {
	switch r.task.Action {
	case PowerOn, PowerOff, PowerCycle, PowerSoftOff, PowerSoftReset:
		ch, err := c.Power.Apply(ctx, r.prep.power)
		if err != nil {
			return nil, err
		}
		return marshal(changeRecord{Sent: ch.Sent, PowerAction: actionName(ch.Sent, r.prep.power), Before: recordOf(ch.Before)})
	case PowerReset:
		// A machine that is off is powered on, one that sleeps woken and
		// reset: the one place that does it is StartBoot.
		a, err := c.Power.StartBoot(ctx)
		if err != nil {
			return nil, err
		}
		return marshal(changeRecord{Sent: true, PowerAction: actionName(true, a)})
	case Wake:
		if err := c.Power.Wake(ctx); err != nil {
			return nil, err
		}
		return marshal(struct {
			Woken bool `json:"woken"`
		}{true})
	case Boot:
		a, err := c.Power.ResetTo(ctx, r.prep.bootTarget, power.BootOptions{})
		if err != nil {
			return nil, err
		}
		return marshal(changeRecord{Sent: true, PowerAction: actionName(true, a), BootTarget: &r.task.BootTarget})
	case ClockSet:
		rd, err := c.Clock.Set(ctx)
		if err != nil {
			return nil, err
		}
		return marshal(clockRecord{DeviceTime: rd.Device.UTC().Format(time.RFC3339), ConsoleTime: rd.Console.UTC().Format(time.RFC3339), OffsetSeconds: rd.Offset.Seconds()})
	case IDERBoot:
		return r.iderBoot(ctx, c)
	case DefenseQuarantine, DefensePingOnly, DefenseApply:
		res, err := c.Defense.Apply(ctx, r.prep.policy, defense.ApplyOptions{Timeout: time.Duration(r.task.DefenseTimeout)})
		if err != nil {
			return nil, err
		}
		return marshal(defenseRecord{Policy: res.Policy, PolicyID: res.PolicyID, Filters: len(res.FilterIDs), Writes: res.Writes, RoundTrips: res.RoundTrips})
	case DefenseRemove:
		res, err := c.Defense.Remove(ctx, defense.RemoveOptions{})
		if err != nil {
			return nil, err
		}
		return marshal(removeRecord{Policies: len(res.Policies), Filters: len(res.Filters), Bindings: res.Bindings, RoundTrips: res.RoundTrips})
	}
	return nil, fmt.Errorf("fleet: %s is not a change", r.task.Action)
}

func actionName(sent bool, a power.Action) *string {
	if !sent {
		return nil
	}
	s := a.String()
	return &s
}

func marshal(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	return b, nil
}

// record writes the attempt's activity-log entry.
func (r *Runner) record(m *machineRun, res Result, profile string, start time.Time, err error) {
	if r.opts.ActivityLog == nil {
		return
	}
	tech := amt.TechWSMan
	if r.task.Action == IDERBoot {
		tech = amt.TechRedirection
	}
	params := map[string]string{"attempt": strconv.Itoa(res.Attempts), "worker": r.opts.Worker, "outcome": string(res.Outcome)}
	if r.task.BootTarget != "" {
		params["boot_target"] = r.task.BootTarget
	}
	if r.task.Wake != NoWake {
		params["wake"] = string(r.task.Wake)
	}
	a := amt.NewActivity(m.target, strings.ReplaceAll(string(r.task.Action), "-", " "), tech, params, start, err)
	a.Actor, a.Job, a.Profile = r.opts.Actor, r.opts.Job, profile
	r.opts.ActivityLog.Record(a)
}
