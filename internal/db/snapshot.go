package db

import (
	"context"
	"database/sql"
	"fmt"
)

// Snapshot runs fn in a read-only transaction that sees one consistent
// state of the whole database, without blocking writers: a deferred read
// transaction on a SQLite reader (WAL keeps its snapshot), REPEATABLE READ
// on PostgreSQL. Backups read through it.
func (d *DB) Snapshot(ctx context.Context, fn func(q Querier) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if d.dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := d.read.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin snapshot: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// Tables lists the application's tables in the order they were created,
// which is an order that satisfies their foreign keys (migrations create a
// referenced table first). The migration bookkeeping table is left out.
func (d *DB) Tables(ctx context.Context, q Querier) ([]string, error) {
	query := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY rowid`
	if d.dialect == Postgres {
		query = `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		         WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> 'goose_db_version' ORDER BY c.oid`
	}
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// MigrateTo applies the migrations up to version and no further, for a
// restore that loads rows of that schema before migrating the rest.
func (d *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := d.provider(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}
