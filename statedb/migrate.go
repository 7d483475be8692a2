package statedb

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// The schema: amtkit's tables are migrated by goose from the SQL files
// embedded here (one directory per engine, the same versions, tables and
// columns in each), tracked in amtkit_schema_version; River's tables by
// River's own migrator, tracked in river_migration. Both live in the same
// database, so that one transaction can write both.
//
//go:embed migrations
var migrationFS embed.FS

// SchemaTable is the table goose records amtkit's schema versions in.
const SchemaTable = "amtkit_schema_version"

var timeNow = time.Now

// migrationLocker serialises migrations between processes.
type migrationLocker interface {
	lock(ctx context.Context) (unlock func(), err error)
}

// SchemaVersion is the state of a database's schema.
type SchemaVersion struct {
	// Amtkit and River are the versions applied; AmtkitKnown and
	// RiverKnown the newest this build carries.
	Amtkit, AmtkitKnown int64
	River, RiverKnown   int
}

func (d *DB) migrationsDir() fs.FS {
	sub, err := fs.Sub(migrationFS, path.Join("migrations", string(d.engine)))
	if err != nil {
		panic(err) // the directories are embedded
	}
	return sub
}

// knownVersion is the newest amtkit migration this build carries.
func (d *DB) knownVersion() int64 {
	entries, err := fs.ReadDir(d.migrationsDir(), ".")
	if err != nil {
		panic(err)
	}
	var v int64
	for _, e := range entries {
		n, _, _ := strings.Cut(e.Name(), "_")
		if x, err := strconv.ParseInt(n, 10, 64); err == nil && x > v {
			v = x
		}
	}
	return v
}

func (d *DB) riverMigrator() (interface {
	AllVersions() []rivermigrate.Migration
	ExistingVersions(context.Context) ([]rivermigrate.Migration, error)
	Migrate(context.Context, rivermigrate.Direction, *rivermigrate.MigrateOpts) (*rivermigrate.MigrateResult, error)
}, error) {
	cfg := &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)}
	if d.pool != nil {
		return rivermigrate.New(riverpgxv5.New(d.pool), cfg)
	}
	return rivermigrate.New(riversqlite.New(d.sql), cfg)
}

// Schema reads the schema versions of the database, without writing.
func (d *DB) Schema(ctx context.Context) (SchemaVersion, error) {
	v := SchemaVersion{AmtkitKnown: d.knownVersion()}
	exists := d.tableExistsQuery()
	var n int64
	if err := d.q.queryRow(ctx, exists, SchemaTable).Scan(&n); err != nil {
		return v, d.fail("reading the schema version", err)
	}
	if n > 0 {
		err := d.q.queryRow(ctx, "SELECT COALESCE(MAX(version_id), 0) FROM "+SchemaTable).Scan(&v.Amtkit)
		if err != nil {
			return v, d.fail("reading the schema version", err)
		}
	}
	m, err := d.riverMigrator()
	if err != nil {
		return v, fmt.Errorf("statedb: %w", err)
	}
	for _, mv := range m.AllVersions() {
		v.RiverKnown = max(v.RiverKnown, mv.Version)
	}
	existing, err := m.ExistingVersions(ctx)
	if err != nil {
		return v, d.fail("reading River's schema version", err)
	}
	for _, mv := range existing {
		v.River = max(v.River, mv.Version)
	}
	return v, nil
}

func (d *DB) tableExistsQuery() string {
	if d.engine == Postgres {
		return "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = $1 AND schemaname = ANY (current_schemas(false))"
	}
	return "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
}

// checkSchema refuses a database newer than this build, and says whether
// migrations are pending.
func (d *DB) checkSchema(ctx context.Context) (pending bool, err error) {
	v, err := d.Schema(ctx)
	// SQLite may answer SQLITE_BUSY at once, without its busy handler,
	// while another process lays out a new file (WAL set-up or recovery):
	// ask again, for at most the busy timeout.
	for deadline := time.Now().Add(DefaultBusyTimeout); err != nil && isSQLiteBusy(err) && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("statedb: %s: %w", d.where, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		v, err = d.Schema(ctx)
	}
	if err != nil {
		return false, err
	}
	if v.Amtkit > v.AmtkitKnown || v.River > v.RiverKnown {
		return false, fmt.Errorf("statedb: %s: %w (amtkit schema %d, River schema %d; this build knows up to %d and %d): upgrade amtkit; the database is left as it is",
			d.where, ErrNewerSchema, v.Amtkit, v.River, v.AmtkitKnown, v.RiverKnown)
	}
	return v.Amtkit < v.AmtkitKnown || v.River < v.RiverKnown, nil
}

// init brings the schema up to date (under the migration lock, and only when
// something is pending) and loads the key.
func (d *DB) init(ctx context.Context, locker migrationLocker) error {
	pending, err := d.checkSchema(ctx)
	if err != nil {
		return err
	}
	if pending {
		if err := d.migrate(ctx, locker); err != nil {
			return err
		}
	}
	return d.loadKey(ctx)
}

func (d *DB) migrate(ctx context.Context, locker migrationLocker) error {
	unlock, err := locker.lock(ctx)
	if err != nil {
		return d.fail("waiting for another process's migration", err)
	}
	defer unlock()
	// Another process may have migrated while this one waited, or may
	// have been newer.
	pending, err := d.checkSchema(ctx)
	if err != nil || !pending {
		return err
	}
	dialect := goose.DialectSQLite3
	if d.engine == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, d.sql, d.migrationsDir(),
		goose.WithTableName(SchemaTable), goose.WithLogger(goose.NopLogger()), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("statedb: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return d.fail("migrating amtkit's tables", err)
	}
	m, err := d.riverMigrator()
	if err != nil {
		return fmt.Errorf("statedb: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return d.fail("migrating River's tables", err)
	}
	return nil
}
