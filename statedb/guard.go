package statedb

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/amtkit/amtkit/credentials"
)

var _ credentials.GuardStore = (*Credentials)(nil)

type guardRow struct {
	id        string
	candidate []byte
	at, until time.Time
	pending   bool
}

func readGuardRows(ctx context.Context, q querier, device string, now time.Time) ([]guardRow, error) {
	rs, err := q.query(ctx, "SELECT id, candidate, at, until_at, pending FROM amtkit_guard WHERE device = $1 AND until_at > $2 ORDER BY at, id",
		device, micros(now))
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []guardRow
	for rs.Next() {
		var (
			r         guardRow
			at, until int64
			pending   int64
		)
		if err := rs.Scan(&r.id, &r.candidate, &at, &until, &pending); err != nil {
			return nil, err
		}
		r.at, r.until, r.pending = fromMicros(at), fromMicros(until), pending == 1
		out = append(out, r)
	}
	return out, rs.Err()
}

func summarizeRows(device string, rs []guardRow) credentials.GuardRecord {
	at := make([]time.Time, len(rs))
	until := make([]time.Time, len(rs))
	pending := make([]bool, len(rs))
	for i, r := range rs {
		at[i], until[i], pending[i] = r.at, r.until, r.pending
	}
	return credentials.SummarizeGuard(device, at, until, pending)
}

// lockDevice serialises guard transactions of one device. SQLite
// transactions already hold the database's write lock from their start;
// Postgres takes a transaction-scoped advisory lock on the device.
func (s *Credentials) lockDevice(ctx context.Context, tx *Tx, device string) error {
	if tx.pgxTx == nil {
		return nil
	}
	_, err := tx.q.exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", "amtkit guard "+device)
	return err
}

// ReserveLogin implements credentials.GuardStore: in one transaction,
// serialised per device across every process that shares the database.
func (s *Credentials) ReserveLogin(ctx context.Context, req credentials.GuardRequest) (credentials.GuardReservation, error) {
	if req.Device == "" {
		return credentials.GuardReservation{}, errors.New("statedb: a guard record needs a device")
	}
	if req.Window <= 0 || req.MaxFailures < 1 {
		return credentials.GuardReservation{}, fmt.Errorf("statedb: guard request for %s: budget %d per %v", req.Device, req.MaxFailures, req.Window)
	}
	if err := s.check(ctx); err != nil {
		return credentials.GuardReservation{}, err
	}
	hash := s.db.macKey.Hash(req.Candidate)
	var res credentials.GuardReservation
	err := s.db.InTx(ctx, func(tx *Tx) error {
		if err := s.lockDevice(ctx, tx, req.Device); err != nil {
			return err
		}
		if _, err := tx.q.exec(ctx, "DELETE FROM amtkit_guard WHERE device = $1 AND until_at <= $2", req.Device, micros(req.At)); err != nil {
			return err
		}
		rows, err := readGuardRows(ctx, tx.q, req.Device, req.At)
		if err != nil {
			return err
		}
		res = credentials.GuardReservation{}
		untils := make([]time.Time, 0, len(rows))
		for _, r := range rows {
			if !r.pending && hmac.Equal(r.candidate, hash) && (res.Decision == 0 || r.until.After(res.RetryAt)) {
				res = credentials.GuardReservation{Decision: credentials.GuardSkip, RetryAt: r.until}
			}
			untils = append(untils, r.until)
		}
		if res.Decision != 0 {
			return nil
		}
		if res = credentials.EvaluateGuard(untils, req.MaxFailures); res.Decision != credentials.GuardAllow {
			return nil
		}
		res.ID = credentials.NewGuardID()
		_, err = tx.q.exec(ctx, "INSERT INTO amtkit_guard (id, device, candidate, at, until_at, pending, port) VALUES ($1, $2, $3, $4, $5, 1, $6)",
			res.ID, req.Device, hash, micros(req.At), micros(req.At.Add(req.Window)), int64(req.Port))
		return err
	})
	if err != nil {
		return credentials.GuardReservation{}, s.db.fail("lockout guard of "+req.Device, err)
	}
	return res, nil
}

// SettleLogin implements credentials.GuardStore.
func (s *Credentials) SettleLogin(ctx context.Context, device, id string, failed bool) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var err error
	if failed {
		_, err = s.db.q.exec(ctx, "UPDATE amtkit_guard SET pending = 0 WHERE device = $1 AND id = $2", device, id)
	} else {
		_, err = s.db.q.exec(ctx, "DELETE FROM amtkit_guard WHERE device = $1 AND id = $2", device, id)
	}
	if err != nil {
		return s.db.fail("lockout guard of "+device, err)
	}
	return nil
}

// GuardRecord implements credentials.GuardStore.
func (s *Credentials) GuardRecord(ctx context.Context, device string, now time.Time) (credentials.GuardRecord, bool, error) {
	if err := s.check(ctx); err != nil {
		return credentials.GuardRecord{}, false, err
	}
	rows, err := readGuardRows(ctx, s.db.q, device, now)
	if err != nil {
		return credentials.GuardRecord{}, false, s.db.fail("lockout guard of "+device, err)
	}
	if len(rows) == 0 {
		return credentials.GuardRecord{}, false, nil
	}
	return summarizeRows(device, rows), true, nil
}

// GuardRecords implements credentials.GuardStore.
func (s *Credentials) GuardRecords(ctx context.Context, now time.Time) ([]credentials.GuardRecord, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rs, err := s.db.q.query(ctx, "SELECT DISTINCT device FROM amtkit_guard WHERE until_at > $1", micros(now))
	if err != nil {
		return nil, s.db.fail("reading the lockout guard", err)
	}
	var devices []string
	for rs.Next() {
		var d string
		if err := rs.Scan(&d); err != nil {
			rs.Close()
			return nil, s.db.fail("reading the lockout guard", err)
		}
		devices = append(devices, d)
	}
	err = rs.Err()
	rs.Close()
	if err != nil {
		return nil, s.db.fail("reading the lockout guard", err)
	}
	out := make([]credentials.GuardRecord, 0, len(devices))
	for _, d := range devices {
		rows, err := readGuardRows(ctx, s.db.q, d, now)
		if err != nil {
			return nil, s.db.fail("reading the lockout guard", err)
		}
		if len(rows) > 0 {
			out = append(out, summarizeRows(d, rows))
		}
	}
	slices.SortFunc(out, func(a, b credentials.GuardRecord) int { return credentials.CompareDevices(a.Device, b.Device) })
	return out, nil
}

// ResetGuard implements credentials.GuardStore.
func (s *Credentials) ResetGuard(ctx context.Context, device string) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	n, err := s.db.q.exec(ctx, "DELETE FROM amtkit_guard WHERE device = $1", device)
	if err != nil {
		return 0, s.db.fail("resetting the lockout guard of "+device, err)
	}
	return int(n), nil
}
