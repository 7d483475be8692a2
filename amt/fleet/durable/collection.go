package durable

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/amtkit/amtkit/statedb"
)

var collectionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func checkCollectionName(name string) error {
	if !collectionName.MatchString(name) {
		return fmt.Errorf("%w: collection name %q (letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit)", ErrInvalid, name)
	}
	return nil
}

// CreateCollection creates a collection with the targets given (it may be
// empty). A collection of that name gives ErrExists.
func (m *Manager) CreateCollection(ctx context.Context, name string, targets ...string) error {
	if err := checkCollectionName(name); err != nil {
		return err
	}
	ts, err := normTargets(targets)
	if err != nil {
		return err
	}
	return m.db.InTx(ctx, func(tx *statedb.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM amtkit_collection WHERE name = $1", name).Scan(&n); err != nil {
			return fmt.Errorf("durable: creating collection %s: %w", name, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: collection %s", ErrExists, name)
		}
		now := statedb.Micros(m.now())
		if _, err := tx.Exec(ctx, "INSERT INTO amtkit_collection (name, created_at, updated_at) VALUES ($1, $2, $2)",
			name, now); err != nil {
			return fmt.Errorf("durable: creating collection %s: %w", name, err)
		}
		_, err := addTargets(ctx, tx, name, ts, now)
		return err
	})
}

// addTargets adds the targets not yet in the collection, after the others.
func addTargets(ctx context.Context, tx *statedb.Tx, name string, ts []string, now int64) (int, error) {
	var next int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(seq), -1) + 1 FROM amtkit_collection_target WHERE collection = $1",
		name).Scan(&next); err != nil {
		return 0, fmt.Errorf("durable: collection %s: %w", name, err)
	}
	added := 0
	for _, t := range ts {
		n, err := tx.Exec(ctx, `INSERT INTO amtkit_collection_target (collection, seq, target) VALUES ($1, $2, $3)
			ON CONFLICT (collection, target) DO NOTHING`, name, next, t)
		if err != nil {
			return 0, fmt.Errorf("durable: collection %s: %w", name, err)
		}
		if n > 0 {
			added++
			next++
		}
	}
	if _, err := tx.Exec(ctx, "UPDATE amtkit_collection SET updated_at = $1 WHERE name = $2", now, name); err != nil {
		return 0, fmt.Errorf("durable: collection %s: %w", name, err)
	}
	return added, nil
}

func collectionExists(ctx context.Context, tx *statedb.Tx, name string) error {
	var n int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM amtkit_collection WHERE name = $1", name).Scan(&n); err != nil {
		return fmt.Errorf("durable: collection %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: collection %s", ErrNotFound, name)
	}
	return nil
}

// AddToCollection adds targets to a collection and returns how many were
// new.
func (m *Manager) AddToCollection(ctx context.Context, name string, targets ...string) (int, error) {
	ts, err := normTargets(targets)
	if err != nil {
		return 0, err
	}
	var added int
	err = m.db.InTx(ctx, func(tx *statedb.Tx) error {
		if err := collectionExists(ctx, tx, name); err != nil {
			return err
		}
		added, err = addTargets(ctx, tx, name, ts, statedb.Micros(m.now()))
		return err
	})
	return added, err
}

// RemoveFromCollection removes targets from a collection and returns how
// many were in it.
func (m *Manager) RemoveFromCollection(ctx context.Context, name string, targets ...string) (int, error) {
	ts, err := normTargets(targets)
	if err != nil {
		return 0, err
	}
	var removed int
	err = m.db.InTx(ctx, func(tx *statedb.Tx) error {
		if err := collectionExists(ctx, tx, name); err != nil {
			return err
		}
		for _, t := range ts {
			n, err := tx.Exec(ctx, "DELETE FROM amtkit_collection_target WHERE collection = $1 AND target = $2", name, t)
			if err != nil {
				return fmt.Errorf("durable: collection %s: %w", name, err)
			}
			removed += int(n)
		}
		_, err := tx.Exec(ctx, "UPDATE amtkit_collection SET updated_at = $1 WHERE name = $2", statedb.Micros(m.now()), name)
		return err
	})
	return removed, err
}

// Collections lists the collections by name.
func (m *Manager) Collections(ctx context.Context) ([]CollectionInfo, error) {
	rs, err := m.db.Query(ctx, `SELECT c.name, c.created_at, c.updated_at, COUNT(t.target) FROM amtkit_collection c
		LEFT JOIN amtkit_collection_target t ON t.collection = c.name GROUP BY c.name, c.created_at, c.updated_at ORDER BY c.name`)
	if err != nil {
		return nil, fmt.Errorf("durable: listing collections: %w", err)
	}
	defer rs.Close()
	out := []CollectionInfo{}
	for rs.Next() {
		var (
			ci      CollectionInfo
			cr, upd int64
		)
		if err := rs.Scan(&ci.Name, &cr, &upd, &ci.Count); err != nil {
			return nil, fmt.Errorf("durable: listing collections: %w", err)
		}
		ci.CreatedAt, ci.UpdatedAt = statedb.FromMicros(cr), statedb.FromMicros(upd)
		out = append(out, ci)
	}
	return out, rs.Err()
}

// Collection returns a collection with its targets.
func (m *Manager) Collection(ctx context.Context, name string) (Collection, error) {
	c := Collection{Name: name, Targets: []string{}}
	var cr, upd int64
	err := m.db.QueryRow(ctx, "SELECT created_at, updated_at FROM amtkit_collection WHERE name = $1", name).Scan(&cr, &upd)
	if errors.Is(err, statedb.ErrNoRows) {
		return c, fmt.Errorf("%w: collection %s", ErrNotFound, name)
	}
	if err != nil {
		return c, fmt.Errorf("durable: collection %s: %w", name, err)
	}
	c.CreatedAt, c.UpdatedAt = statedb.FromMicros(cr), statedb.FromMicros(upd)
	err = m.db.InTx(ctx, func(tx *statedb.Tx) error {
		ts, err := collectionTargets(ctx, tx, name)
		c.Targets = append(c.Targets, ts...)
		return err
	})
	return c, err
}

// collectionTargets reads a collection's targets in a transaction.
func collectionTargets(ctx context.Context, tx *statedb.Tx, name string) ([]string, error) {
	if err := collectionExists(ctx, tx, name); err != nil {
		return nil, err
	}
	rs, err := tx.Query(ctx, "SELECT target FROM amtkit_collection_target WHERE collection = $1 ORDER BY seq", name)
	if err != nil {
		return nil, fmt.Errorf("durable: collection %s: %w", name, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var t string
		if err := rs.Scan(&t); err != nil {
			return nil, fmt.Errorf("durable: collection %s: %w", name, err)
		}
		out = append(out, t)
	}
	return out, rs.Err()
}

// DeleteCollection deletes a collection. Jobs submitted with it keep their
// machines.
func (m *Manager) DeleteCollection(ctx context.Context, name string) error {
	return m.db.InTx(ctx, func(tx *statedb.Tx) error {
		if err := collectionExists(ctx, tx, name); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM amtkit_collection_target WHERE collection = $1", name); err != nil {
			return fmt.Errorf("durable: deleting collection %s: %w", name, err)
		}
		_, err := tx.Exec(ctx, "DELETE FROM amtkit_collection WHERE name = $1", name)
		return err
	})
}
