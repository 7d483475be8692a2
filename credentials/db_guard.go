package credentials

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The lockout guard's records: one value per device, a JSON list of its
// logins. Nothing in them is secret (the candidate is a keyed hash), so they
// are not sealed.
var bucketGuard = []byte("credentials.guard")

type guardRecordJSON struct {
	ID      string    `json:"id"`
	Hash    []byte    `json:"h"`
	At      time.Time `json:"at"`
	Until   time.Time `json:"until"`
	Pending bool      `json:"pending,omitempty"`
}

func (d *DB) readGuard(tx *bolt.Tx, device string) ([]guardEntry, error) {
	b := tx.Bucket(bucketGuard)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(device))
	if v == nil {
		return nil, nil
	}
	var recs []guardRecordJSON
	if err := json.Unmarshal(v, &recs); err != nil {
		return nil, fmt.Errorf("%w: lockout guard record of %s: %v", ErrCorrupt, device, err)
	}
	es := make([]guardEntry, len(recs))
	for i, r := range recs {
		es[i] = guardEntry{id: r.ID, hash: r.Hash, at: r.At, until: r.Until, pending: r.Pending}
	}
	return es, nil
}

func (d *DB) writeGuard(tx *bolt.Tx, device string, es []guardEntry) error {
	b, err := tx.CreateBucketIfNotExists(bucketGuard)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return b.Delete([]byte(device))
	}
	recs := make([]guardRecordJSON, len(es))
	for i, e := range es {
		recs[i] = guardRecordJSON{ID: e.id, Hash: e.hash, At: e.at.UTC(), Until: e.until.UTC(), Pending: e.pending}
	}
	v, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	return b.Put([]byte(device), v)
}

// ReserveLogin implements GuardStore. The transaction holds the database's
// write lock, so reservations for one device are serialised across the
// processes that open the file.
func (d *DB) ReserveLogin(ctx context.Context, req GuardRequest) (GuardReservation, error) {
	if err := validGuardRequest(req); err != nil {
		return GuardReservation{}, err
	}
	hash := KeyedHash(d.macKey, req.Candidate)
	var res GuardReservation
	err := d.update(ctx, func(tx *bolt.Tx) error {
		es, err := d.readGuard(tx, req.Device)
		if err != nil {
			return err
		}
		n := len(es)
		es = pruneEntries(es, req.At)
		res = decide(es, hash, req)
		if res.Decision == GuardAllow {
			res.ID = NewGuardID()
			es = append(es, guardEntry{id: res.ID, hash: hash, at: req.At, until: req.At.Add(req.Window), pending: true})
		} else if len(es) == n {
			return nil
		}
		return d.writeGuard(tx, req.Device, es)
	})
	if err != nil {
		return GuardReservation{}, fmt.Errorf("credentials: lockout guard of %s: %w", req.Device, err)
	}
	return res, nil
}

// SettleLogin implements GuardStore.
func (d *DB) SettleLogin(ctx context.Context, device, id string, failed bool) error {
	err := d.update(ctx, func(tx *bolt.Tx) error {
		es, err := d.readGuard(tx, device)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(es, func(e guardEntry) bool { return e.id == id })
		if i < 0 {
			return nil
		}
		if failed {
			es[i].pending = false
		} else {
			es = slices.Delete(es, i, i+1)
		}
		return d.writeGuard(tx, device, es)
	})
	if err != nil {
		return fmt.Errorf("credentials: lockout guard of %s: %w", device, err)
	}
	return nil
}

// GuardRecord implements GuardStore.
func (d *DB) GuardRecord(ctx context.Context, device string, now time.Time) (GuardRecord, bool, error) {
	var (
		rec GuardRecord
		ok  bool
	)
	err := d.view(ctx, func(tx *bolt.Tx) error {
		es, err := d.readGuard(tx, device)
		if err != nil {
			return err
		}
		es = pruneEntries(es, now)
		if len(es) > 0 {
			rec, ok = summarize(device, es), true
		}
		return nil
	})
	if err != nil {
		return GuardRecord{}, false, fmt.Errorf("credentials: lockout guard of %s: %w", device, err)
	}
	return rec, ok, nil
}

// GuardRecords implements GuardStore.
func (d *DB) GuardRecords(ctx context.Context, now time.Time) ([]GuardRecord, error) {
	var out []GuardRecord
	err := d.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGuard)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			es, err := d.readGuard(tx, string(k))
			if err != nil {
				return err
			}
			if es = pruneEntries(es, now); len(es) > 0 {
				out = append(out, summarize(string(k), es))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("credentials: lockout guard: %w", err)
	}
	slices.SortFunc(out, func(a, b GuardRecord) int { return CompareDevices(a.Device, b.Device) })
	return out, nil
}

// ResetGuard implements GuardStore.
func (d *DB) ResetGuard(ctx context.Context, device string) (int, error) {
	var n int
	err := d.update(ctx, func(tx *bolt.Tx) error {
		es, err := d.readGuard(tx, device)
		if err != nil {
			return err
		}
		n = len(es)
		if n == 0 {
			return nil
		}
		return d.writeGuard(tx, device, nil)
	})
	if err != nil {
		return 0, fmt.Errorf("credentials: lockout guard of %s: %w", device, err)
	}
	return n, nil
}
