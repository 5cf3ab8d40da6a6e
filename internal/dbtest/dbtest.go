// Package dbtest gives tests real databases: a fresh SQLite file in
// t.TempDir(), and, when PORTICO_TEST_POSTGRES_URL is set, a fresh schema in
// that PostgreSQL database. Nothing is mocked.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
)

// PostgresEnv names the environment variable with the test server's URL.
const PostgresEnv = "PORTICO_TEST_POSTGRES_URL"

// Options adjust the database a test gets.
type Options struct {
	// Now fixes the clock; nil means time.Now.
	Now func() time.Time
	// NoMigrate leaves the schema empty.
	NoMigrate bool
}

// Each runs fn as a subtest once per available dialect: "sqlite" always,
// "postgres" when PORTICO_TEST_POSTGRES_URL is set.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	EachWith(t, Options{}, fn)
}

// EachWith is Each with options.
func EachWith(t *testing.T, o Options, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, o)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, o)) })
}

// SQLite opens a migrated database in a new temporary directory.
func SQLite(t testing.TB, o Options) *db.DB {
	t.Helper()
	return open(t, db.Options{Path: filepath.Join(t.TempDir(), "portico.db"), Now: o.Now}, o)
}

// Postgres opens a migrated database in a new schema of the test server,
// dropped when the test ends. It skips the test when no server is
// configured, saying why.
func Postgres(t testing.TB, o Options) *db.DB {
	t.Helper()
	u := PostgresURL(t)
	return open(t, db.Options{URL: u, Now: o.Now}, o)
}

// PostgresURL creates a fresh schema and returns a URL whose search_path
// selects it. The schema is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip("PostgreSQL tests skipped: " + PostgresEnv + " is not set (make test sets it)")
	}
	schema := "t_" + strings.ToLower(rand.Text()[:16])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	defer admin.Close()
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	pu, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	return pu.String()
}

func open(t testing.TB, opts db.Options, o Options) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, opts)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if !o.NoMigrate {
		if _, err := d.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	return d
}
