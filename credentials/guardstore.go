package credentials

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// DeviceKey returns the key under which the lockout guard and the runtime
// profile keep a device: its address without the port, lower-cased, with an
// IP address in its canonical form. "192.0.2.10:16993", "192.0.2.10" and
// "[::1]:16992" become "192.0.2.10", "192.0.2.10" and "::1", so that what
// happens on one port (WS-Man over HTTP or TLS, redirection) counts for all.
func DeviceKey(host string) string {
	h := strings.TrimSpace(host)
	// A bare address first: it is the common case, and SplitHostPort
	// would allocate an error for it (no address splits as host:port).
	if a, err := netip.ParseAddr(h); err == nil {
		return addrKey(a, h)
	}
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return addrKey(a, h)
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// addrKey is the key of address a, written s: s itself when already in
// canonical form, as a fleet's targets are.
func addrKey(a netip.Addr, s string) string {
	a = a.Unmap()
	var buf [64]byte
	if canon := a.AppendTo(buf[:0]); string(canon) == s {
		return s
	}
	return a.String()
}

// KeyedHash is the hash a GuardStore keeps for a candidate: HMAC-SHA256 of the
// fingerprint under a key derived from the store's key. Implementations call
// it with their key; two stores with different keys hash the same candidate
// differently.
func KeyedHash(storeKey []byte, fp Fingerprint) []byte {
	return NewCandidateHasher(storeKey).Hash(fp)
}

// CandidateHasher computes KeyedHash under one store key, deriving the
// key's hashing key once rather than for every candidate. Its zero value
// is not usable; it is safe for concurrent use.
type CandidateHasher struct {
	sub []byte
}

// NewCandidateHasher returns the hasher of storeKey.
func NewCandidateHasher(storeKey []byte) CandidateHasher {
	sub := hmac.New(sha256.New, storeKey)
	sub.Write([]byte("amtkit lockout guard candidate hash v1"))
	return CandidateHasher{sub: sub.Sum(nil)}
}

// Hash returns KeyedHash(storeKey, fp) for the hasher's store key.
func (h CandidateHasher) Hash(fp Fingerprint) []byte {
	m := hmac.New(sha256.New, h.sub)
	m.Write(fp[:])
	return m.Sum(nil)
}

// GuardDecision is a GuardStore's answer to a reservation.
type GuardDecision int

// Decisions.
const (
	// GuardAllow: the login may be sent; a pending record was written.
	GuardAllow GuardDecision = iota + 1
	// GuardSkip: this candidate already failed on the device within the
	// window; it must not be sent again until RetryAt. Nothing was written.
	GuardSkip
	// GuardSpent: the device's budget is spent; nothing may be sent until
	// RetryAt. Nothing was written.
	GuardSpent
)

func (d GuardDecision) String() string {
	switch d {
	case GuardAllow:
		return "allow"
	case GuardSkip:
		return "skip"
	case GuardSpent:
		return "spent"
	}
	return fmt.Sprintf("decision(%d)", int(d))
}

// GuardRequest asks a GuardStore whether one login may be sent.
type GuardRequest struct {
	// Device is the device's key (DeviceKey).
	Device string
	// Candidate identifies the credential; the store keeps only its
	// KeyedHash.
	Candidate Fingerprint
	// At is now, by the guard's clock.
	At time.Time
	// MaxFailures and Window are the guard's budget: at most MaxFailures
	// records (failed or pending) whose window has not ended at At.
	MaxFailures int
	Window      time.Duration
	// Port, if known, is the port the login goes to (16992, 16993, 16994,
	// 16995), kept for reports only.
	Port int
}

// GuardReservation is a GuardStore's answer.
type GuardReservation struct {
	Decision GuardDecision
	// ID names the pending record written for GuardAllow, to settle it.
	ID string
	// RetryAt, for GuardSpent, is when the oldest counted record leaves
	// its window and one login is allowed again; for GuardSkip, when the
	// candidate's failure leaves its window.
	RetryAt time.Time
}

// GuardRecord summarises a device's records for reports: nothing in it is
// secret.
type GuardRecord struct {
	Device string `json:"device"`
	// Failures counts failed logins whose window has not ended; Pending
	// counts logins sent and not settled (in flight, or whose process ended
	// before it knew the answer: they count as failures).
	Failures int `json:"failures"`
	Pending  int `json:"pending"`
	// First and Last are the times of the oldest and newest record.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// FreesAt is when the oldest record leaves its window; ClearAt when
	// the last one does.
	FreesAt time.Time `json:"frees_at"`
	ClearAt time.Time `json:"clear_at"`
}

// Counted is Failures + Pending: what the budget is measured against.
func (r GuardRecord) Counted() int { return r.Failures + r.Pending }

// GuardStore keeps the lockout guard's records of logins per device, so that
// every process (and every worker on every machine) sharing the store shares
// one count. A record holds the device key, the keyed hash of the candidate
// (never the password), the time, the end of its window, and whether it is
// still pending. Implementations are safe for concurrent use.
type GuardStore interface {
	// ReserveLogin decides in one transaction, atomic with respect to every
	// other ReserveLogin, SettleLogin and ResetGuard for the same device in
	// any process, whether a login with req.Candidate may be sent now:
	//   - records whose window has ended at req.At do not count (the store
	//     may delete them);
	//   - a failed record (not a pending one) with the candidate's hash
	//     gives GuardSkip, with RetryAt the end of that record's window
	//     (the latest, if there are several);
	//   - otherwise, MaxFailures or more counted records give GuardSpent,
	//     with RetryAt the earliest time at which fewer than MaxFailures
	//     would still count;
	//   - otherwise a pending record is written (counted like a failure
	//     until settled, and for good if it never is) and GuardAllow is
	//     returned with its ID.
	ReserveLogin(ctx context.Context, req GuardRequest) (GuardReservation, error)
	// SettleLogin ends a pending record: failed keeps it as a failed login
	// (its time and window unchanged); otherwise the record is removed
	// (the login worked, or never reached the device's authentication). An
	// ID that no longer exists (reset, expired) is not an error.
	SettleLogin(ctx context.Context, device, id string, failed bool) error
	// GuardRecord returns device's summary at now; ok is false when no
	// record counts.
	GuardRecord(ctx context.Context, device string, now time.Time) (GuardRecord, bool, error)
	// GuardRecords returns the summary of every device with a counted
	// record at now, sorted by device (numerically for IP addresses, see
	// CompareDevices).
	GuardRecords(ctx context.Context, now time.Time) ([]GuardRecord, error)
	// ResetGuard removes every record of device and returns how many there
	// were, counted or not.
	ResetGuard(ctx context.Context, device string) (int, error)
}

// CompareDevices orders device keys: IP addresses numerically (IPv4 before
// IPv6), then names alphabetically.
func CompareDevices(a, b string) int {
	pa, ea := netip.ParseAddr(a)
	pb, eb := netip.ParseAddr(b)
	switch {
	case ea == nil && eb == nil:
		return pa.Compare(pb)
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// guardEntry is one record of the in-memory GuardStore.
type guardEntry struct {
	id      string
	hash    []byte
	at      time.Time
	until   time.Time
	pending bool
}

// memoryGuard is a GuardStore held in memory.
type memoryGuard struct {
	key CandidateHasher
	mu  sync.Mutex
	dev map[string][]guardEntry
}

// NewMemoryGuardStore returns a GuardStore held in memory: a guard with it
// counts for one process only. NewGuard uses one unless GuardStorage says
// otherwise.
func NewMemoryGuardStore() GuardStore { return newMemoryGuard() }

func newMemoryGuard() *memoryGuard {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &memoryGuard{key: NewCandidateHasher(key), dev: make(map[string][]guardEntry)}
}

// NewGuardID returns a random record ID, for GuardStore implementations.
func NewGuardID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pruneEntries drops entries whose window has ended at now.
func pruneEntries(es []guardEntry, now time.Time) []guardEntry {
	return slices.DeleteFunc(es, func(e guardEntry) bool { return !now.Before(e.until) })
}

// decide applies ReserveLogin's rules to the live entries of one device.
// GuardStore implementations may use EvaluateGuard for the same rules.
func decide(es []guardEntry, hash []byte, req GuardRequest) GuardReservation {
	untils := make([]time.Time, 0, len(es))
	var skip GuardReservation
	for _, e := range es {
		if !e.pending && hmac.Equal(e.hash, hash) && (skip.Decision == 0 || e.until.After(skip.RetryAt)) {
			skip = GuardReservation{Decision: GuardSkip, RetryAt: e.until}
		}
		untils = append(untils, e.until)
	}
	if skip.Decision != 0 {
		return skip
	}
	return evaluate(untils, req.MaxFailures)
}

func evaluate(untils []time.Time, maxFailures int) GuardReservation {
	if maxFailures < 1 {
		maxFailures = 1
	}
	if len(untils) < maxFailures {
		return GuardReservation{Decision: GuardAllow}
	}
	slices.SortFunc(untils, func(a, b time.Time) int { return a.Compare(b) })
	// Fewer than maxFailures count once len-maxFailures+1 have expired.
	return GuardReservation{Decision: GuardSpent, RetryAt: untils[len(untils)-maxFailures]}
}

// EvaluateGuard applies the budget rule of ReserveLogin, for GuardStore
// implementations: given the window ends of the device's counted records
// (failed and pending, none ended), it returns GuardAllow (with no ID) or
// GuardSpent with its RetryAt. The caller checks for GuardSkip first.
func EvaluateGuard(untils []time.Time, maxFailures int) GuardReservation {
	return evaluate(slices.Clone(untils), maxFailures)
}

// SummarizeGuard builds a GuardRecord, for GuardStore implementations, from
// the live records of one device: their times, window ends and pending
// flags (the three slices are parallel).
func SummarizeGuard(device string, at, until []time.Time, pending []bool) GuardRecord {
	r := GuardRecord{Device: device}
	for i := range at {
		if pending[i] {
			r.Pending++
		} else {
			r.Failures++
		}
		if r.First.IsZero() || at[i].Before(r.First) {
			r.First = at[i]
		}
		if at[i].After(r.Last) {
			r.Last = at[i]
		}
		if r.FreesAt.IsZero() || until[i].Before(r.FreesAt) {
			r.FreesAt = until[i]
		}
		if until[i].After(r.ClearAt) {
			r.ClearAt = until[i]
		}
	}
	return r
}

func summarize(device string, es []guardEntry) GuardRecord {
	at := make([]time.Time, len(es))
	until := make([]time.Time, len(es))
	pending := make([]bool, len(es))
	for i, e := range es {
		at[i], until[i], pending[i] = e.at, e.until, e.pending
	}
	return SummarizeGuard(device, at, until, pending)
}

func validGuardRequest(req GuardRequest) error {
	if req.Device == "" {
		return fmt.Errorf("credentials: a guard record needs a device")
	}
	if req.Window <= 0 || req.MaxFailures < 1 {
		return fmt.Errorf("credentials: guard request for %s: budget %d per %v", req.Device, req.MaxFailures, req.Window)
	}
	return nil
}

func (m *memoryGuard) ReserveLogin(ctx context.Context, req GuardRequest) (GuardReservation, error) {
	if err := ctx.Err(); err != nil {
		return GuardReservation{}, err
	}
	if err := validGuardRequest(req); err != nil {
		return GuardReservation{}, err
	}
	hash := m.key.Hash(req.Candidate)
	m.mu.Lock()
	defer m.mu.Unlock()
	es := pruneEntries(m.dev[req.Device], req.At)
	m.dev[req.Device] = es
	res := decide(es, hash, req)
	if res.Decision != GuardAllow {
		if len(es) == 0 {
			delete(m.dev, req.Device)
		}
		return res, nil
	}
	res.ID = NewGuardID()
	m.dev[req.Device] = append(es, guardEntry{id: res.ID, hash: hash, at: req.At, until: req.At.Add(req.Window), pending: true})
	return res, nil
}

func (m *memoryGuard) SettleLogin(ctx context.Context, device, id string, failed bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	es := m.dev[device]
	i := slices.IndexFunc(es, func(e guardEntry) bool { return e.id == id })
	if i < 0 {
		return nil
	}
	if failed {
		es[i].pending = false
		return nil
	}
	es = slices.Delete(es, i, i+1)
	if len(es) == 0 {
		delete(m.dev, device)
	} else {
		m.dev[device] = es
	}
	return nil
}

func (m *memoryGuard) GuardRecord(ctx context.Context, device string, now time.Time) (GuardRecord, bool, error) {
	if err := ctx.Err(); err != nil {
		return GuardRecord{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var live []guardEntry
	for _, e := range m.dev[device] {
		if now.Before(e.until) {
			live = append(live, e)
		}
	}
	if len(live) == 0 {
		return GuardRecord{}, false, nil
	}
	return summarize(device, live), true, nil
}

func (m *memoryGuard) GuardRecords(ctx context.Context, now time.Time) ([]GuardRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []GuardRecord
	for dev, es := range m.dev {
		var live []guardEntry
		for _, e := range es {
			if now.Before(e.until) {
				live = append(live, e)
			}
		}
		if len(live) > 0 {
			out = append(out, summarize(dev, live))
		}
	}
	slices.SortFunc(out, func(a, b GuardRecord) int { return CompareDevices(a.Device, b.Device) })
	return out, nil
}

func (m *memoryGuard) ResetGuard(ctx context.Context, device string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.dev[device])
	delete(m.dev, device)
	return n, nil
}
