// Package db opens Portico's database (embedded SQLite by default, PostgreSQL
// when configured), applies the embedded migrations and runs transactions.
//
// Queries are written once for both dialects: positional placeholders are
// "$1", "$2", ... (SQLite accepts them too), times are stored as UTC with
// microsecond precision (TIMESTAMP text in SQLite, TIMESTAMPTZ in PostgreSQL),
// and binary values as BLOB/BYTEA.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the database engine behind a DB.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options configure Open.
type Options struct {
	// Path is the SQLite database file. Used when URL is empty.
	Path string
	// URL is a postgres:// (or postgresql://) connection URL. When set,
	// PostgreSQL is used instead of SQLite.
	URL string
	// Now is the clock; nil means time.Now. Tests inject a fixed clock.
	Now func() time.Time
	// MaxReaders bounds the SQLite reader pool (default 4) or the
	// PostgreSQL pool (default 16).
	MaxReaders int
}

// DB is an open database. It is safe for concurrent use.
//
// On SQLite there is one writer connection (every Transact runs on it, with
// BEGIN IMMEDIATE so that a transaction never has to upgrade its lock) and a
// pool of read-only connections for plain queries. WAL mode lets readers run
// while the writer commits. On PostgreSQL both are the same pool.
type DB struct {
	dialect Dialect
	write   *sql.DB
	read    *sql.DB
	now     func() time.Time
	desc    string // what String shows: the file, or the URL without password
	probe   writeProbe
}

// Querier is what both *DB (for reads) and *Tx run queries on.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Open opens the database described by opts and checks that it answers.
// It does not apply migrations; call Migrate for that.
func Open(ctx context.Context, opts Options) (*DB, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var d *DB
	var err error
	if opts.URL != "" {
		d, err = openPostgres(opts)
	} else {
		d, err = openSQLite(opts)
	}
	if err != nil {
		return nil, err
	}
	d.now = now
	if err := d.Ping(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("database %s: %w", d.desc, err)
	}
	return d, nil
}

// IsPostgresURL reports whether s selects PostgreSQL.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

func openSQLite(opts Options) (*DB, error) {
	if opts.Path == "" {
		return nil, errors.New("database: no SQLite path given")
	}
	// A database file that exists but cannot be read, or is not a database,
	// must stop start-up with its name: nothing is recreated silently.
	if fi, err := os.Stat(opts.Path); err == nil {
		if fi.IsDir() {
			return nil, fmt.Errorf("database %s: is a directory", opts.Path)
		}
		f, err := os.Open(opts.Path)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", opts.Path, err)
		}
		f.Close()
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("database %s: %w", opts.Path, err)
	} else {
		// Create the file with owner-only permissions before SQLite does.
		f, err := os.OpenFile(opts.Path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", opts.Path, err)
		}
		f.Close()
	}
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", opts.Path, err)
	}
	// The file is named in a URI: a '#', '?' or '%' in the path would end
	// or change it (a test named "x#01" opened a database elsewhere).
	abs = uriPath.Replace(abs)
	common := url.Values{}
	for _, p := range []string{
		"busy_timeout(10000)",
		"foreign_keys(1)",
		"journal_mode(WAL)",
		// NORMAL in WAL mode: a committed transaction survives the
		// process being killed at any moment; only an OS crash or power
		// loss can roll back the last commits. See docs/architecture.md.
		"synchronous(NORMAL)",
		// Freed pages are overwritten with zeros, so deleted rows (and
		// destroyed subject keys) do not linger in the file.
		"secure_delete(1)",
	} {
		common.Add("_pragma", p)
	}
	common.Set("_time_format", "sqlite")

	wq := cloneValues(common)
	wq.Set("_txlock", "immediate")
	write, err := sql.Open("sqlite", "file:"+abs+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", opts.Path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	rq := cloneValues(common)
	rq.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", "file:"+abs+"?"+rq.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("database %s: %w", opts.Path, err)
	}
	n := opts.MaxReaders
	if n <= 0 {
		n = 4
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return &DB{dialect: SQLite, write: write, read: read, desc: opts.Path}, nil
}

func openPostgres(opts Options) (*DB, error) {
	if !IsPostgresURL(opts.URL) {
		return nil, errors.New("database URL must start with postgres:// or postgresql://")
	}
	pool, err := sql.Open("pgx", opts.URL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	n := opts.MaxReaders
	if n <= 0 {
		n = 16
	}
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{dialect: Postgres, write: pool, read: pool, desc: redactURL(opts.URL)}, nil
}

// redactURL keeps only what identifies the database (scheme, user, host,
// database name) so that it can be shown in logs and errors. The password
// and the whole query string go: pgx also reads secrets from query keys
// such as password and sslpassword.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "postgres URL"
	}
	out := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.User != nil {
		out.User = url.User(u.User.Username())
	}
	return out.String()
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Dialect reports which engine this is.
func (d *DB) Dialect() Dialect { return d.dialect }

// String describes the database for logs (no credentials).
func (d *DB) String() string { return string(d.dialect) + " " + d.desc }

// Now returns the current time from the database's clock, in the form that
// is stored: UTC, truncated to microseconds.
func (d *DB) Now() time.Time { return Time(d.now()) }

// Time normalises t to the stored form: UTC, microsecond precision.
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Ping checks that the database answers, on both pools.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.write.PingContext(ctx); err != nil {
		return err
	}
	if d.read != d.write {
		return d.read.PingContext(ctx)
	}
	return nil
}

// Close closes the database. On SQLite it checkpoints the WAL into the main
// file first, so a cleanly stopped server leaves a single, complete file.
func (d *DB) Close() error {
	var errs []error
	if d.dialect == SQLite {
		if _, err := d.write.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			errs = append(errs, err)
		}
	}
	if d.read != d.write {
		errs = append(errs, d.read.Close())
	}
	errs = append(errs, d.write.Close())
	return errors.Join(errs...)
}

// Checkpoint copies SQLite's write-ahead log into the database file and
// truncates the log to nothing. Until then the log keeps the pages that
// committed transactions replaced, so a row overwritten or deleted (a
// destroyed data key) still lies in the -wal file; secure_delete zeroes it
// only in the database file. A checkpoint that a reader keeps from
// finishing is an error. On PostgreSQL it does nothing: its files are not
// the operator's to read, and VACUUM is its own business.
//
// Enforces CP-5.2: nothing of an erased person's key remains in any file
// of the data directory once the erasure has committed.
func (d *DB) Checkpoint(ctx context.Context) error {
	if d.dialect != SQLite {
		return nil
	}
	var busy, logFrames, moved int
	if err := d.write.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &moved); err != nil {
		return fmt.Errorf("checkpoint %s: %w", d.desc, err)
	}
	if busy != 0 {
		return fmt.Errorf("checkpoint %s: a reader kept the log from being truncated (%d of %d frames copied)", d.desc, moved, logFrames)
	}
	return nil
}

// QueryContext runs a read-only query outside any transaction.
func (d *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.read.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a read-only single-row query outside any transaction.
func (d *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.read.QueryRowContext(ctx, query, args...)
}

// Tx is a write transaction with its own fixed "now".
type Tx struct {
	*sql.Tx
	now         time.Time
	dialect     Dialect
	afterCommit []func() error
}

// AfterCommit registers fn to run once the transaction has committed, in
// the order registered, and never if it rolls back. It is for effects
// outside the database that must not happen for a transaction that does
// not (the erasure ledger next to the keyset). Transact returns fn's
// error, marked as coming after a commit.
func (tx *Tx) AfterCommit(fn func() error) { tx.afterCommit = append(tx.afterCommit, fn) }

// ErrAfterCommit marks an error of an AfterCommit step: the transaction's
// changes are in the database.
var ErrAfterCommit = errors.New("committed, but a step after the commit failed")

// Now is the time fixed when the transaction began: every row written in
// one transaction carries the same timestamp.
func (tx *Tx) Now() time.Time { return tx.now }

// Dialect reports which engine the transaction runs on.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// Transact runs fn in a write transaction. It commits if fn returns nil,
// then runs the steps registered with tx.AfterCommit, and rolls back
// otherwise: when fn returns an error, panics (the panic is re-raised) or
// leaves its goroutine with runtime.Goexit (t.Fatal in a test), so the
// writer connection is never left inside a transaction. A transaction
// that a storage fault stopped (disk full, read-only file system) returns
// an apperr.Unavailable whose cause FaultOf names (see storageFault).
func (d *DB) Transact(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return d.storageFault(fmt.Errorf("begin transaction: %w", err))
	}
	tx := &Tx{Tx: sqlTx, now: d.Now(), dialect: d.dialect}
	committed := false
	defer func() {
		if !committed {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return d.storageFault(err)
	}
	committed = true // a failed commit has ended the transaction too
	if err := sqlTx.Commit(); err != nil {
		return d.storageFault(fmt.Errorf("commit: %w", err))
	}
	var errs []error
	for _, fn := range tx.afterCommit {
		if err := fn(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrAfterCommit, errors.Join(errs...))
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique or primary-key
// constraint failure on either dialect.
func IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// uriPath escapes what ends or changes a path inside an SQLite file: URI.
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Reader reads rows: a *DB (from its read pool) or a *Tx.
type Reader interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Strings runs a query that selects one text column and returns its
// values in order: the account IDs a job acts on, a batch to deliver to.
func Strings(ctx context.Context, q Reader, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
