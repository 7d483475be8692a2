package statedb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Names in amtkit_meta of the lockout guard's budget.
const (
	metaGuardMaxFailures = "guard_max_failures"
	metaGuardWindow      = "guard_window_seconds"
)

// GuardBudget is the lockout guard's budget kept in the database, so that
// every process and worker sharing the count spends it under the same
// limit: at most MaxFailures failed logins per device within Window.
type GuardBudget struct {
	MaxFailures int
	Window      time.Duration
}

// GuardBudget returns the budget set with SetGuardBudget; ok is false when
// none was set (the credentials package's defaults apply).
func (d *DB) GuardBudget(ctx context.Context) (b GuardBudget, ok bool, err error) {
	if d.isClosed() {
		return GuardBudget{}, false, ErrClosed
	}
	read := func(name string) (int64, bool, error) {
		var v []byte
		err := d.q.queryRow(ctx, "SELECT value FROM amtkit_meta WHERE name = $1", name).Scan(&v)
		if errors.Is(err, errNoRows) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < 1 {
			return 0, false, fmt.Errorf("%w: %s is %q", ErrCorrupt, name, v)
		}
		return n, true, nil
	}
	max, okMax, err := read(metaGuardMaxFailures)
	if err != nil {
		return GuardBudget{}, false, d.fail("reading the lockout guard's budget", err)
	}
	win, okWin, err := read(metaGuardWindow)
	if err != nil {
		return GuardBudget{}, false, d.fail("reading the lockout guard's budget", err)
	}
	if !okMax || !okWin {
		return GuardBudget{}, false, nil
	}
	return GuardBudget{MaxFailures: int(max), Window: time.Duration(win) * time.Second}, true, nil
}

// SetGuardBudget keeps b as the lockout guard's budget; a zero b removes
// it, so that the defaults apply again. Checking that b is safe for the
// devices is the caller's part.
func (d *DB) SetGuardBudget(ctx context.Context, b GuardBudget) error {
	if d.isClosed() {
		return ErrClosed
	}
	if b != (GuardBudget{}) && (b.MaxFailures < 1 || b.Window < time.Second) {
		return fmt.Errorf("statedb: a lockout guard budget needs at least one failure and a window of a second or more, not %d in %v", b.MaxFailures, b.Window)
	}
	err := d.InTx(ctx, func(tx *Tx) error {
		if b == (GuardBudget{}) {
			_, err := tx.q.exec(ctx, "DELETE FROM amtkit_meta WHERE name IN ($1, $2)", metaGuardMaxFailures, metaGuardWindow)
			return err
		}
		for name, v := range map[string]int64{metaGuardMaxFailures: int64(b.MaxFailures), metaGuardWindow: int64(b.Window / time.Second)} {
			if _, err := tx.q.exec(ctx, `INSERT INTO amtkit_meta (name, value) VALUES ($1, $2)
				ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, []byte(strconv.FormatInt(v, 10))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return d.fail("setting the lockout guard's budget", err)
	}
	return nil
}
