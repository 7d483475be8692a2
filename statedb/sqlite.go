package statedb

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteMaxConns is the size of a process's SQLite pool. SQLite runs one
// writer at a time; a few connections let readers proceed beside it (WAL)
// without the lock contention River warns of with many.
const sqliteMaxConns = 4

func openSQLite(ctx context.Context, path string, cfg config) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("statedb: %w", err)
	}
	path = abs
	if err := ensurePrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := prepareFile(path); err != nil {
		return nil, err
	}
	keyPath := cfg.keyFile
	if keyPath == "" {
		keyPath = os.Getenv(KeyFileEnv)
	}
	if keyPath == "" {
		keyPath = filepath.Join(filepath.Dir(path), KeyFileName)
	}

	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Writers take the lock when their transaction begins, so that two
	// transactions never both read and then fail to upgrade.
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("statedb: %s: %w", path, err)
	}
	db.SetMaxOpenConns(sqliteMaxConns)
	db.SetMaxIdleConns(sqliteMaxConns)
	d := &DB{engine: SQLite, where: path, keyPath: keyPath, sql: db, q: sqlQ{db}, retention: cfg.retention, now: timeNow,
		gate: newWriteGate(path+".wlock", cfg.busyTimeout)}
	if err := d.init(ctx, &fileLocker{path: path + ".lock"}); err != nil {
		_ = db.Close()
		return nil, err
	}
	return d, nil
}

// ensurePrivateDir creates dir with mode 0700, or checks that an existing
// one is not open to other users.
func ensurePrivateDir(dir string) error {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("statedb: creating the state directory: %w", err)
		}
		return os.Chmod(dir, 0o700) // whatever the umask did
	}
	if err != nil {
		return fmt.Errorf("statedb: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("statedb: %s is not a directory", dir)
	}
	return checkPrivate(dir, info, "chmod 700")
}

// checkPrivate refuses a file or directory that other users may read.
func checkPrivate(path string, info fs.FileInfo, fix string) error {
	if runtime.GOOS == "windows" {
		return nil // permissions are ACLs there
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("statedb: %s has mode %04o: %w; run: %s %s", path, perm, ErrInsecure, fix, path)
	}
	return nil
}

// prepareFile checks an existing database file (mode, header) without
// writing to it, or creates an empty one with mode 0600, which SQLite's WAL
// and shared-memory files then inherit.
func prepareFile(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return prepareFile(path) // another process made it first
		}
		if err != nil {
			return fmt.Errorf("statedb: creating %s: %w", path, err)
		}
		return f.Close()
	}
	if err != nil {
		return fmt.Errorf("statedb: %w", err)
	}
	if info.IsDir() {
		return fmt.Errorf("statedb: %s is a directory, not a state database", path)
	}
	if err := checkPrivate(path, info, "chmod 600"); err != nil {
		return err
	}
	for _, side := range []string{"-wal", "-shm"} {
		if si, err := os.Stat(path + side); err == nil {
			if err := checkPrivate(path+side, si, "chmod 600"); err != nil {
				return err
			}
		}
	}
	if info.Size() == 0 {
		return nil // new, or made by a process that has not laid it out yet
	}
	if err := checkHeader(path, info.Size()); err != nil {
		return fmt.Errorf("statedb: %s: %w: %v (the file is left as it is; move it aside to start afresh, or restore it from a backup)", path, ErrCorrupt, err)
	}
	return nil
}

// checkHeader checks the 100-byte header of a SQLite file: the magic
// string, a valid page size, and a file long enough for the pages the
// header counts.
func checkHeader(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var h [100]byte
	if n, _ := f.ReadAt(h[:], 0); n < len(h) {
		return fmt.Errorf("the file is %d bytes, shorter than a SQLite header", size)
	}
	if string(h[:16]) != "SQLite format 3\x00" {
		return errors.New("not a SQLite database")
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("invalid page size %d", pageSize)
	}
	pages := int64(binary.BigEndian.Uint32(h[28:]))
	changes, validFor := binary.BigEndian.Uint32(h[24:]), binary.BigEndian.Uint32(h[92:])
	if pages > 0 && changes == validFor && size < pages*pageSize {
		return fmt.Errorf("the file is %d bytes but its header counts %d pages of %d (truncated?)", size, pages, pageSize)
	}
	if size%pageSize != 0 {
		return fmt.Errorf("the file is %d bytes, not a whole number of %d-byte pages (truncated?)", size, pageSize)
	}
	return nil
}

// isSQLiteBusy reports whether err is SQLite's "database is locked".
func isSQLiteBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// classifySQLite names the class of a SQLite error: ErrCorrupt for a
// damaged file.
func classifySQLite(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return ErrCorrupt
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			// Another process held the write lock for longer than the
			// busy timeout.
			return ErrUnavailable
		}
	}
	return nil
}
