package credentials

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Store keeps profiles and the runtime profile. Implementations are safe for
// concurrent use. Methods that take a name or a host return an error matching
// ErrNotFound when there is nothing by that name.
//
// A store that also keeps the lockout guard's records implements GuardStore
// (NewMemoryStore's and Open's stores do; so must the state database's), and
// the conformance suite in package credtest checks both.
type Store interface {
	ProfileStore
	RuntimeStore
	// Close releases the store. Later calls return ErrClosed.
	Close() error
}

// ProfileStore keeps the user-defined credential profiles.
type ProfileStore interface {
	// Profiles returns every profile, sorted by name.
	Profiles(ctx context.Context) ([]Profile, error)
	// Profile returns the named profile.
	Profile(ctx context.Context, name string) (Profile, error)
	// PutProfile adds or replaces a profile. A profile with Default set
	// clears the flag on every other profile in the same transaction; a
	// profile without it that was the default stops being the default.
	PutProfile(ctx context.Context, p Profile) error
	// DeleteProfile removes a profile.
	DeleteProfile(ctx context.Context, name string) error
	// SetDefault makes the named profile the only default.
	SetDefault(ctx context.Context, name string) error
}

// RuntimeStore keeps the runtime profile: per device, the credential that
// last worked there. Entries are keyed by device (DeviceKey: the address
// without the port), so that what was learned on 16992 serves 16993 and the
// redirection ports; every method normalises the host it is given the same
// way, so "192.0.2.10:16993" and "192.0.2.10" name the same entry.
type RuntimeStore interface {
	// Runtime returns the runtime entry for host's device, if there is one.
	Runtime(ctx context.Context, host string) (RuntimeEntry, bool, error)
	// PutRuntime records the credential that worked on host's device,
	// replacing any earlier entry. The entry's Host is set to the device
	// key.
	PutRuntime(ctx context.Context, host string, e RuntimeEntry) error
	// MarkRuntimeStale marks the device's entry stale at the given time,
	// but only if the entry still holds credential c (for its technology):
	// a newer success recorded meanwhile is not touched. Nothing to mark is
	// not an error.
	MarkRuntimeStale(ctx context.Context, host string, c Credential, at time.Time) error
	// RuntimeEntries returns every runtime entry, sorted by device with
	// CompareDevices (IP addresses numerically).
	RuntimeEntries(ctx context.Context) ([]RuntimeEntry, error)
	// ForgetRuntime removes the device's runtime entry.
	ForgetRuntime(ctx context.Context, host string) error
}

// RuntimeEntry is the runtime profile's record for one host: the credential
// that last worked there, learned from a success.
type RuntimeEntry struct {
	// Host is the device the entry is for (DeviceKey), set by the store.
	Host string `json:"host"`
	// Technology is what the credential logged in to; empty means AMT.
	Technology Technology `json:"technology,omitempty"`
	Credential Credential `json:"credential"`
	// Profile and Origin say where the credential came from when it was
	// learned: the profile's name (empty for a task credential) and its
	// origin (Task, Named, Default or Other).
	Profile   string    `json:"profile,omitempty"`
	Origin    Origin    `json:"origin,omitempty"`
	LearnedAt time.Time `json:"learned_at"`
	// Changes is set when the credential has made a change on the device
	// (not only read it): an entry that has is not replaced by a credential
	// that has only read.
	Changes bool `json:"changes,omitempty"`
	// Stale is set when the credential was rejected after it was learned.
	Stale   bool      `json:"stale,omitempty"`
	StaleAt time.Time `json:"stale_at,omitzero"`
}

func (e RuntimeEntry) technology() Technology {
	if e.Technology == "" {
		return AMT
	}
	return e.Technology
}

// String describes e without secrets.
func (e RuntimeEntry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "credentials.RuntimeEntry{Host:%q, Technology:%s, Credential:%s", e.Host, e.technology(), e.Credential)
	if e.Profile != "" {
		fmt.Fprintf(&b, ", Profile:%q", e.Profile)
	}
	if e.Origin != 0 {
		fmt.Fprintf(&b, ", Origin:%s", e.Origin)
	}
	fmt.Fprintf(&b, ", LearnedAt:%s", e.LearnedAt.Format(time.RFC3339))
	if e.Changes {
		b.WriteString(", Changes:true")
	}
	if e.Stale {
		fmt.Fprintf(&b, ", Stale:true, StaleAt:%s", e.StaleAt.Format(time.RFC3339))
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, so that %#v does not print passwords.
func (e RuntimeEntry) GoString() string { return e.String() }

// Format prints String for every verb.
func (e RuntimeEntry) Format(f fmt.State, verb rune) { formatString(f, verb, e.String()) }

// LogValue records the entry without secrets.
func (e RuntimeEntry) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("host", e.Host),
		slog.String("technology", string(e.technology())),
		slog.Any("credential", e.Credential),
		slog.String("profile", e.Profile),
		slog.Time("learned_at", e.LearnedAt),
	}
	if e.Origin != 0 {
		attrs = append(attrs, slog.String("origin", e.Origin.String()))
	}
	if e.Stale {
		attrs = append(attrs, slog.Bool("stale", true), slog.Time("stale_at", e.StaleAt))
	}
	return slog.GroupValue(attrs...)
}

func (e RuntimeEntry) clone() RuntimeEntry {
	e.Credential = e.Credential.clone()
	return e
}

// prepareRuntime validates and normalises an entry for host.
func prepareRuntime(host string, e RuntimeEntry) (string, RuntimeEntry, error) {
	key := hostKey(host)
	if key == "" {
		return "", e, fmt.Errorf("credentials: a runtime entry needs a host")
	}
	if e.Technology != "" && !e.Technology.Valid() {
		return "", e, fmt.Errorf("credentials: runtime entry for %s: unknown technology %q", key, string(e.Technology))
	}
	e = e.clone()
	e.Host = key
	return key, e, nil
}

func notFound(kind, name string) error {
	return fmt.Errorf("credentials: %s %q: %w", kind, name, ErrNotFound)
}

// memoryStore is a Store and GuardStore held in memory.
type memoryStore struct {
	*memoryGuard

	mu       sync.RWMutex
	closed   bool
	profiles map[string]Profile
	runtime  map[string]RuntimeEntry
}

// NewMemoryStore returns a Store held in memory, for tests and for programs
// that keep no state between runs. It also implements GuardStore. It is safe
// for concurrent use.
func NewMemoryStore() Store {
	return &memoryStore{memoryGuard: newMemoryGuard(), profiles: make(map[string]Profile), runtime: make(map[string]RuntimeEntry)}
}

var (
	_ Store      = (*memoryStore)(nil)
	_ GuardStore = (*memoryStore)(nil)
)

func (m *memoryStore) begin(ctx context.Context, write bool) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if write {
		m.mu.Lock()
	} else {
		m.mu.RLock()
	}
	unlock := m.mu.RUnlock
	if write {
		unlock = m.mu.Unlock
	}
	if m.closed {
		unlock()
		return nil, ErrClosed
	}
	return unlock, nil
}

func (m *memoryStore) Profiles(ctx context.Context) ([]Profile, error) {
	unlock, err := m.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := make([]Profile, 0, len(m.profiles))
	for _, p := range m.profiles {
		out = append(out, p.clone())
	}
	slices.SortFunc(out, func(a, b Profile) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memoryStore) Profile(ctx context.Context, name string) (Profile, error) {
	unlock, err := m.begin(ctx, false)
	if err != nil {
		return Profile{}, err
	}
	defer unlock()
	p, ok := m.profiles[name]
	if !ok {
		return Profile{}, notFound("profile", name)
	}
	return p.clone(), nil
}

func (m *memoryStore) PutProfile(ctx context.Context, p Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	unlock, err := m.begin(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	if p.Default {
		for name, q := range m.profiles {
			q.Default = false
			m.profiles[name] = q
		}
	}
	m.profiles[p.Name] = p.clone()
	return nil
}

func (m *memoryStore) DeleteProfile(ctx context.Context, name string) error {
	unlock, err := m.begin(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	if _, ok := m.profiles[name]; !ok {
		return notFound("profile", name)
	}
	delete(m.profiles, name)
	return nil
}

func (m *memoryStore) SetDefault(ctx context.Context, name string) error {
	unlock, err := m.begin(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	if _, ok := m.profiles[name]; !ok {
		return notFound("profile", name)
	}
	for n, q := range m.profiles {
		q.Default = n == name
		m.profiles[n] = q
	}
	return nil
}

func (m *memoryStore) Runtime(ctx context.Context, host string) (RuntimeEntry, bool, error) {
	unlock, err := m.begin(ctx, false)
	if err != nil {
		return RuntimeEntry{}, false, err
	}
	defer unlock()
	e, ok := m.runtime[hostKey(host)]
	return e.clone(), ok, nil
}

func (m *memoryStore) PutRuntime(ctx context.Context, host string, e RuntimeEntry) error {
	key, e, err := prepareRuntime(host, e)
	if err != nil {
		return err
	}
	unlock, err := m.begin(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	m.runtime[key] = e
	return nil
}

func (m *memoryStore) MarkRuntimeStale(ctx context.Context, host string, c Credential, at time.Time) error {
	unlock, err := m.begin(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	key := hostKey(host)
	e, ok := m.runtime[key]
	if !ok || fingerprintOf(e.technology(), e.Credential) != fingerprintOf(e.technology(), c) {
		return nil
	}
	e.Stale, e.StaleAt = true, at
	m.runtime[key] = e
	return nil
}

func (m *memoryStore) RuntimeEntries(ctx context.Context) ([]RuntimeEntry, error) {
	unlock, err := m.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := make([]RuntimeEntry, 0, len(m.runtime))
	for _, e := range m.runtime {
		out = append(out, e.clone())
	}
	slices.SortFunc(out, func(a, b RuntimeEntry) int { return CompareDevices(a.Host, b.Host) })
	return out, nil
}

func (m *memoryStore) ForgetRuntime(ctx context.Context, host string) error {
	unlock, err := m.begin(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	key := hostKey(host)
	if _, ok := m.runtime[key]; !ok {
		return notFound("runtime entry for host", key)
	}
	delete(m.runtime, key)
	return nil
}

func (m *memoryStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
