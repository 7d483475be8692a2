package statedb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/amtkit/amtkit/credentials"
)

// Credentials is the credential store on the state database: profiles and
// the runtime profile, their secrets sealed with AES-256-GCM. It implements
// credentials.Store. Host names, profile names and times are kept in clear
// columns; users, passwords, Kerberos flags and client certificates only in
// sealed values.
type Credentials struct {
	db     *DB
	closed atomic.Bool
}

var _ credentials.Store = (*Credentials)(nil)

// Credentials returns the credential store of the database. Closing it does
// not close the database.
func (d *DB) Credentials() *Credentials { return &Credentials{db: d} }

type credRecord struct {
	User     string `json:"u"`
	Password string `json:"p,omitempty"`
	Kerberos bool   `json:"k,omitempty"`
	CertPEM  []byte `json:"c,omitempty"`
	KeyPEM   []byte `json:"ck,omitempty"`
}

func toRecord(c credentials.Credential) credRecord {
	return credRecord{User: c.User, Password: c.Password, Kerberos: c.Kerberos, CertPEM: c.ClientCertPEM, KeyPEM: c.ClientKeyPEM}
}

func (r credRecord) credential() credentials.Credential {
	return credentials.Credential{User: r.User, Password: r.Password, Kerberos: r.Kerberos, ClientCertPEM: r.CertPEM, ClientKeyPEM: r.KeyPEM}
}

func sameLogin(a, b credentials.Credential) bool {
	return a.User == b.User && a.Password == b.Password && a.Kerberos == b.Kerberos &&
		bytes.Equal(a.ClientCertPEM, b.ClientCertPEM) && bytes.Equal(a.ClientKeyPEM, b.ClientKeyPEM)
}

// hostKey is the device a host names (credentials.DeviceKey: the address
// without the port).
func hostKey(host string) string { return credentials.DeviceKey(host) }

func (s *Credentials) check(ctx context.Context) error {
	if s.closed.Load() || s.db.isClosed() {
		return ErrClosed
	}
	return ctx.Err()
}

func (s *Credentials) sealJSON(table, key string, v any) ([]byte, error) {
	pt, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return s.db.seal(table, key, pt)
}

func (s *Credentials) openJSON(table, key string, sealed []byte, v any) error {
	pt, err := s.db.open(table, key, sealed)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(pt, v); err != nil {
		return fmt.Errorf("%w: %s %q: %v", ErrCorrupt, table, key, err)
	}
	return nil
}

func notFound(kind, name string) error {
	return fmt.Errorf("statedb: %s %q: %w", kind, name, ErrNotFound)
}

func (s *Credentials) readProfile(name string, isDefault int64, sealed []byte) (credentials.Profile, error) {
	var entries map[credentials.Technology]credRecord
	if err := s.openJSON("amtkit_profile", name, sealed, &entries); err != nil {
		return credentials.Profile{}, err
	}
	p := credentials.Profile{Name: name, Default: isDefault == 1}
	if len(entries) > 0 {
		p.Entries = make(map[credentials.Technology]credentials.Credential, len(entries))
		for t, c := range entries {
			p.Entries[t] = c.credential()
		}
	}
	return p, nil
}

// Profiles returns every profile, sorted by name.
func (s *Credentials) Profiles(ctx context.Context) ([]credentials.Profile, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rs, err := s.db.q.query(ctx, "SELECT name, is_default, sealed FROM amtkit_profile")
	if err != nil {
		return nil, s.db.fail("reading profiles", err)
	}
	defer rs.Close()
	var out []credentials.Profile
	for rs.Next() {
		var (
			name   string
			def    int64
			sealed []byte
		)
		if err := rs.Scan(&name, &def, &sealed); err != nil {
			return nil, s.db.fail("reading profiles", err)
		}
		p, err := s.readProfile(name, def, sealed)
		if err != nil {
			return nil, s.db.fail("reading profiles", err)
		}
		out = append(out, p)
	}
	if err := rs.Err(); err != nil {
		return nil, s.db.fail("reading profiles", err)
	}
	slices.SortFunc(out, func(a, b credentials.Profile) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Profile returns the named profile.
func (s *Credentials) Profile(ctx context.Context, name string) (credentials.Profile, error) {
	if err := s.check(ctx); err != nil {
		return credentials.Profile{}, err
	}
	var (
		def    int64
		sealed []byte
	)
	err := s.db.q.queryRow(ctx, "SELECT is_default, sealed FROM amtkit_profile WHERE name = $1", name).Scan(&def, &sealed)
	if errors.Is(err, errNoRows) {
		return credentials.Profile{}, notFound("profile", name)
	}
	if err != nil {
		return credentials.Profile{}, s.db.fail("reading profile "+name, err)
	}
	p, err := s.readProfile(name, def, sealed)
	if err != nil {
		return credentials.Profile{}, s.db.fail("reading profile "+name, err)
	}
	return p, nil
}

// PutProfile adds or replaces a profile; a default profile takes the flag
// from every other one in the same transaction.
func (s *Credentials) PutProfile(ctx context.Context, p credentials.Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	entries := make(map[credentials.Technology]credRecord, len(p.Entries))
	for t, c := range p.Entries {
		entries[t] = toRecord(c)
	}
	sealed, err := s.sealJSON("amtkit_profile", p.Name, entries)
	if err != nil {
		return err
	}
	def := int64(0)
	if p.Default {
		def = 1
	}
	err = s.db.InTx(ctx, func(tx *Tx) error {
		if p.Default {
			if _, err := tx.q.exec(ctx, "UPDATE amtkit_profile SET is_default = 0 WHERE is_default = 1 AND name <> $1", p.Name); err != nil {
				return err
			}
		}
		_, err := tx.q.exec(ctx, `INSERT INTO amtkit_profile (name, is_default, sealed, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name) DO UPDATE SET is_default = excluded.is_default, sealed = excluded.sealed, updated_at = excluded.updated_at`,
			p.Name, def, sealed, micros(s.db.now()))
		return err
	})
	if err != nil {
		return s.db.fail("storing profile "+p.Name, err)
	}
	return nil
}

// DeleteProfile removes a profile.
func (s *Credentials) DeleteProfile(ctx context.Context, name string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	n, err := s.db.q.exec(ctx, "DELETE FROM amtkit_profile WHERE name = $1", name)
	if err != nil {
		return s.db.fail("deleting profile "+name, err)
	}
	if n == 0 {
		return notFound("profile", name)
	}
	return nil
}

// SetDefault makes the named profile the only default.
func (s *Credentials) SetDefault(ctx context.Context, name string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	errMissing := errors.New("missing")
	err := s.db.InTx(ctx, func(tx *Tx) error {
		var one int64
		if err := tx.q.queryRow(ctx, "SELECT 1 FROM amtkit_profile WHERE name = $1", name).Scan(&one); err != nil {
			if errors.Is(err, errNoRows) {
				return errMissing
			}
			return err
		}
		if _, err := tx.q.exec(ctx, "UPDATE amtkit_profile SET is_default = 0 WHERE is_default = 1 AND name <> $1", name); err != nil {
			return err
		}
		_, err := tx.q.exec(ctx, "UPDATE amtkit_profile SET is_default = 1 WHERE name = $1", name)
		return err
	})
	if errors.Is(err, errMissing) {
		return notFound("profile", name)
	}
	if err != nil {
		return s.db.fail("setting the default profile", err)
	}
	return nil
}

const runtimeColumns = "device, technology, profile, origin, learned_at, stale_at, sealed, changes"

func (s *Credentials) scanRuntime(r row) (credentials.RuntimeEntry, error) {
	var (
		e       credentials.RuntimeEntry
		tech    string
		origin  int64
		learned int64
		staleAt sql.NullInt64
		sealed  []byte
		changes int64
	)
	if err := r.Scan(&e.Host, &tech, &e.Profile, &origin, &learned, &staleAt, &sealed, &changes); err != nil {
		return e, err
	}
	var rec credRecord
	if err := s.openJSON("amtkit_runtime", e.Host, sealed, &rec); err != nil {
		return e, err
	}
	e.Technology = credentials.Technology(tech)
	e.Origin = credentials.Origin(origin)
	e.LearnedAt = fromMicros(learned)
	e.Credential = rec.credential()
	e.Changes = changes == 1
	if staleAt.Valid {
		e.Stale, e.StaleAt = true, fromMicros(staleAt.Int64)
	}
	return e, nil
}

// Runtime returns the runtime entry for host, if there is one.
func (s *Credentials) Runtime(ctx context.Context, host string) (credentials.RuntimeEntry, bool, error) {
	if err := s.check(ctx); err != nil {
		return credentials.RuntimeEntry{}, false, err
	}
	key := hostKey(host)
	e, err := s.scanRuntime(s.db.q.queryRow(ctx, "SELECT "+runtimeColumns+" FROM amtkit_runtime WHERE device = $1", key))
	if errors.Is(err, errNoRows) {
		return credentials.RuntimeEntry{}, false, nil
	}
	if err != nil {
		return credentials.RuntimeEntry{}, false, s.db.fail("reading the runtime entry for "+key, err)
	}
	return e, true, nil
}

// PutRuntime records the credential that worked on host.
func (s *Credentials) PutRuntime(ctx context.Context, host string, e credentials.RuntimeEntry) error {
	key := hostKey(host)
	if key == "" {
		return errors.New("statedb: a runtime entry needs a host")
	}
	if e.Technology != "" && !e.Technology.Valid() {
		return fmt.Errorf("statedb: runtime entry for %s: unknown technology %q", key, string(e.Technology))
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	sealed, err := s.sealJSON("amtkit_runtime", key, toRecord(e.Credential))
	if err != nil {
		return err
	}
	var stale sql.NullInt64
	if e.Stale {
		stale = sql.NullInt64{Int64: micros(e.StaleAt), Valid: true}
	}
	changes := int64(0)
	if e.Changes {
		changes = 1
	}
	_, err = s.db.q.exec(ctx, `INSERT INTO amtkit_runtime (`+runtimeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (device) DO UPDATE SET technology = excluded.technology, profile = excluded.profile, origin = excluded.origin,
			learned_at = excluded.learned_at, stale_at = excluded.stale_at, sealed = excluded.sealed, changes = excluded.changes`,
		key, string(e.Technology), e.Profile, int64(e.Origin), micros(e.LearnedAt), stale, sealed, changes)
	if err != nil {
		return s.db.fail("storing the runtime entry for "+key, err)
	}
	return nil
}

// MarkRuntimeStale marks host's entry stale at the given time if it still
// holds credential c.
func (s *Credentials) MarkRuntimeStale(ctx context.Context, host string, c credentials.Credential, at time.Time) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	key := hostKey(host)
	err := s.db.InTx(ctx, func(tx *Tx) error {
		e, err := s.scanRuntime(tx.q.queryRow(ctx, "SELECT "+runtimeColumns+" FROM amtkit_runtime WHERE device = $1", key))
		if errors.Is(err, errNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if !sameLogin(e.Credential, c) {
			return nil // a newer success replaced it meanwhile
		}
		_, err = tx.q.exec(ctx, "UPDATE amtkit_runtime SET stale_at = $1 WHERE device = $2", micros(at), key)
		return err
	})
	if err != nil {
		return s.db.fail("marking the runtime entry for "+key+" stale", err)
	}
	return nil
}

// RuntimeEntries returns every runtime entry, sorted by host.
func (s *Credentials) RuntimeEntries(ctx context.Context) ([]credentials.RuntimeEntry, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rs, err := s.db.q.query(ctx, "SELECT "+runtimeColumns+" FROM amtkit_runtime")
	if err != nil {
		return nil, s.db.fail("reading the runtime profile", err)
	}
	defer rs.Close()
	var out []credentials.RuntimeEntry
	for rs.Next() {
		e, err := s.scanRuntime(rs)
		if err != nil {
			return nil, s.db.fail("reading the runtime profile", err)
		}
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, s.db.fail("reading the runtime profile", err)
	}
	slices.SortFunc(out, func(a, b credentials.RuntimeEntry) int { return credentials.CompareDevices(a.Host, b.Host) })
	return out, nil
}

// ForgetRuntime removes host's runtime entry.
func (s *Credentials) ForgetRuntime(ctx context.Context, host string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	key := hostKey(host)
	n, err := s.db.q.exec(ctx, "DELETE FROM amtkit_runtime WHERE device = $1", key)
	if err != nil {
		return s.db.fail("forgetting "+key, err)
	}
	if n == 0 {
		return notFound("runtime entry for host", key)
	}
	return nil
}

// Close ends the use of the store; the database stays open.
func (s *Credentials) Close() error {
	s.closed.Store(true)
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
