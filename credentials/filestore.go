package credentials

import (
	"context"
	"sync"
	"time"
)

// FileStore is the embedded store opened for each call: every method opens
// the database file, does its work in one transaction, and closes it again,
// so that the file's lock is held for milliseconds rather than for as long as
// a command runs. Long-running programs (a serial-over-LAN session, an IDE-R
// server) then do not keep other processes out of the credentials and the
// lockout guard's counts. Calls within one process take turns.
type FileStore struct {
	path string
	opts []StoreOption

	mu     sync.Mutex
	closed bool
}

var (
	_ Store      = (*FileStore)(nil)
	_ GuardStore = (*FileStore)(nil)
)

// OpenFile checks (or creates) the store at path as Open does, closes it
// again, and returns a FileStore that opens it for each call.
func OpenFile(path string, opts ...StoreOption) (*FileStore, error) {
	db, err := Open(path, opts...)
	if err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	return &FileStore{path: path, opts: opts}, nil
}

// Path returns the database file's path.
func (f *FileStore) Path() string { return f.path }

func (f *FileStore) with(fn func(db *DB) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	db, err := Open(f.path, f.opts...)
	if err != nil {
		return err
	}
	err = fn(db)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close makes later calls return ErrClosed.
func (f *FileStore) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *FileStore) Profiles(ctx context.Context) (ps []Profile, err error) {
	err = f.with(func(db *DB) error { ps, err = db.Profiles(ctx); return err })
	return ps, err
}

func (f *FileStore) Profile(ctx context.Context, name string) (p Profile, err error) {
	err = f.with(func(db *DB) error { p, err = db.Profile(ctx, name); return err })
	return p, err
}

func (f *FileStore) PutProfile(ctx context.Context, p Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return f.with(func(db *DB) error { return db.PutProfile(ctx, p) })
}

func (f *FileStore) DeleteProfile(ctx context.Context, name string) error {
	return f.with(func(db *DB) error { return db.DeleteProfile(ctx, name) })
}

func (f *FileStore) SetDefault(ctx context.Context, name string) error {
	return f.with(func(db *DB) error { return db.SetDefault(ctx, name) })
}

func (f *FileStore) Runtime(ctx context.Context, host string) (e RuntimeEntry, ok bool, err error) {
	err = f.with(func(db *DB) error { e, ok, err = db.Runtime(ctx, host); return err })
	return e, ok, err
}

func (f *FileStore) PutRuntime(ctx context.Context, host string, e RuntimeEntry) error {
	if _, _, err := prepareRuntime(host, e); err != nil {
		return err
	}
	return f.with(func(db *DB) error { return db.PutRuntime(ctx, host, e) })
}

func (f *FileStore) MarkRuntimeStale(ctx context.Context, host string, c Credential, at time.Time) error {
	return f.with(func(db *DB) error { return db.MarkRuntimeStale(ctx, host, c, at) })
}

func (f *FileStore) RuntimeEntries(ctx context.Context) (es []RuntimeEntry, err error) {
	err = f.with(func(db *DB) error { es, err = db.RuntimeEntries(ctx); return err })
	return es, err
}

func (f *FileStore) ForgetRuntime(ctx context.Context, host string) error {
	return f.with(func(db *DB) error { return db.ForgetRuntime(ctx, host) })
}

func (f *FileStore) ReserveLogin(ctx context.Context, req GuardRequest) (r GuardReservation, err error) {
	if err := validGuardRequest(req); err != nil {
		return GuardReservation{}, err
	}
	err = f.with(func(db *DB) error { r, err = db.ReserveLogin(ctx, req); return err })
	return r, err
}

func (f *FileStore) SettleLogin(ctx context.Context, device, id string, failed bool) error {
	return f.with(func(db *DB) error { return db.SettleLogin(ctx, device, id, failed) })
}

func (f *FileStore) GuardRecord(ctx context.Context, device string, now time.Time) (r GuardRecord, ok bool, err error) {
	err = f.with(func(db *DB) error { r, ok, err = db.GuardRecord(ctx, device, now); return err })
	return r, ok, err
}

func (f *FileStore) GuardRecords(ctx context.Context, now time.Time) (rs []GuardRecord, err error) {
	err = f.with(func(db *DB) error { rs, err = db.GuardRecords(ctx, now); return err })
	return rs, err
}

func (f *FileStore) ResetGuard(ctx context.Context, device string) (n int, err error) {
	err = f.with(func(db *DB) error { n, err = db.ResetGuard(ctx, device); return err })
	return n, err
}
