package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds one directory of goose SQL files per dialect. Both sets
// carry the same version numbers with the same intent; they differ only
// where the SQL must (types, triggers).
//
//go:embed migrations
var migrations embed.FS

// MigrationResult says what Migrate did.
type MigrationResult struct {
	From, To int64
	Applied  int
}

func (d *DB) provider(ctx context.Context) (*goose.Provider, error) {
	dir := "migrations/" + string(d.dialect)
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	dialect := goose.DialectSQLite3
	if d.dialect == Postgres {
		dialect = goose.DialectPostgres
		// Several nodes may start at once against one PostgreSQL: only
		// one applies migrations. The lock is per schema, so schemas in
		// one database (one per test) do not wait for each other.
		var schema string
		if err := d.write.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return nil, fmt.Errorf("read current schema: %w", err)
		}
		h := fnv.New64a()
		h.Write([]byte("portico-migrate:" + schema))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(h.Sum64()>>1)),
			lock.WithLockTimeout(1, 300),
		)
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// The provider is never closed: Provider.Close closes the *sql.DB it
	// was given, which belongs to this DB.
	return goose.NewProvider(dialect, d.write, fsys, opts...)
}

// Migrate applies every pending migration. Running it again is a no-op.
func (d *DB) Migrate(ctx context.Context) (MigrationResult, error) {
	p, err := d.provider(ctx)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("migrations: %w", err)
	}
	from, err := p.GetDBVersion(ctx)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("migrations: read version: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("migrations: %w", err)
	}
	to, err := p.GetDBVersion(ctx)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("migrations: read version: %w", err)
	}
	return MigrationResult{From: from, To: to, Applied: len(res)}, nil
}

// SchemaVersion returns the applied migration version and the newest version
// embedded in this binary. It reads goose's version table and the embedded
// file names directly: building goose's provider parses every migration
// (8 MB of buffers at each start), which only Migrate needs.
func (d *DB) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	if latest, err = latestEmbedded(d.dialect); err != nil {
		return 0, 0, err
	}
	var exists bool
	switch d.dialect {
	case Postgres:
		err = d.write.QueryRowContext(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&exists)
	default:
		err = d.write.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version')`).Scan(&exists)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return 0, latest, nil
	}
	// As goose's provider reads it: the highest version recorded.
	var v sql.NullInt64
	if err := d.write.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version`).Scan(&v); err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	return v.Int64, latest, nil
}

// latestEmbedded is the highest version among the dialect's embedded
// migrations, from their file names ("00041_compliance_evidence.sql").
func latestEmbedded(dialect Dialect) (int64, error) {
	entries, err := fs.ReadDir(migrations, "migrations/"+string(dialect))
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		latest = max(latest, v)
	}
	return latest, nil
}
