package db_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

func insertAccount(ctx context.Context, tx *db.Tx, id string) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO accounts (id, email_lookup, email_enc, role, created_at, updated_at)
		 VALUES ($1, $2, $3, 'customer', $4, $4)`,
		id, []byte("lookup-"+id), []byte("enc"), tx.Now())
	return err
}

func count(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.QueryRowContext(context.Background(), `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTransact(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()

		t.Run("commits when fn returns nil", func(t *testing.T) {
			if err := d.Transact(ctx, func(tx *db.Tx) error { return insertAccount(ctx, tx, "a") }); err != nil {
				t.Fatal(err)
			}
			if n := count(t, d); n != 1 {
				t.Fatalf("rows = %d, want 1", n)
			}
		})

		t.Run("rolls back when fn fails", func(t *testing.T) {
			boom := errors.New("boom")
			err := d.Transact(ctx, func(tx *db.Tx) error {
				if err := insertAccount(ctx, tx, "b"); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want boom", err)
			}
			if n := count(t, d); n != 1 {
				t.Fatalf("rows = %d, want 1 (the insert must be rolled back)", n)
			}
		})

		t.Run("rolls back and re-panics on panic", func(t *testing.T) {
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("panic was swallowed")
					}
				}()
				d.Transact(ctx, func(tx *db.Tx) error {
					if err := insertAccount(ctx, tx, "c"); err != nil {
						return err
					}
					panic("boom")
				})
			}()
			if n := count(t, d); n != 1 {
				t.Fatalf("rows = %d, want 1", n)
			}
			// The writer connection is usable after the panic.
			if err := d.Transact(ctx, func(tx *db.Tx) error { return insertAccount(ctx, tx, "d") }); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("rolls back when fn leaves its goroutine", func(t *testing.T) {
			// t.Fatal inside fn calls runtime.Goexit: neither an error
			// nor a panic. The writer must not stay inside a transaction.
			done := make(chan struct{})
			go func() {
				defer close(done)
				d.Transact(ctx, func(tx *db.Tx) error {
					if err := insertAccount(ctx, tx, "g"); err != nil {
						return err
					}
					runtime.Goexit()
					return nil
				})
			}()
			<-done
			if n := count(t, d); n != 2 {
				t.Fatalf("rows = %d, want 2 (the insert must be rolled back)", n)
			}
			tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := d.Transact(tctx, func(tx *db.Tx) error { return insertAccount(ctx, tx, "h") }); err != nil {
				t.Fatalf("the writer is still taken: %v", err)
			}
		})

		t.Run("reports unique violations", func(t *testing.T) {
			err := d.Transact(ctx, func(tx *db.Tx) error { return insertAccount(ctx, tx, "a") })
			if !db.IsUniqueViolation(err) {
				t.Fatalf("err = %v, want a unique violation", err)
			}
			if db.IsUniqueViolation(errors.New("other")) {
				t.Fatal("plain error taken for a unique violation")
			}
		})
	})
}

func TestTransactNowIsFixedAndInjectable(t *testing.T) {
	fixed := time.Date(2026, 3, 1, 12, 30, 0, 123456789, time.FixedZone("X", 3600))
	calls := 0
	clock := func() time.Time { calls++; return fixed.Add(time.Duration(calls) * time.Hour) }
	dbtest.EachWith(t, dbtest.Options{Now: clock}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		calls = 0
		var first, second time.Time
		err := d.Transact(ctx, func(tx *db.Tx) error {
			first = tx.Now()
			time.Sleep(2 * time.Millisecond)
			second = tx.Now()
			return insertAccount(ctx, tx, "n")
		})
		if err != nil {
			t.Fatal(err)
		}
		if !first.Equal(second) {
			t.Fatalf("now moved within one transaction: %v then %v", first, second)
		}
		want := db.Time(fixed.Add(time.Hour))
		if !first.Equal(want) || first.Location() != time.UTC {
			t.Fatalf("now = %v, want %v in UTC", first, want)
		}
		var stored time.Time
		if err := d.QueryRowContext(ctx, `SELECT created_at FROM accounts WHERE id = 'n'`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if !stored.Equal(want) {
			t.Fatalf("stored %v, want %v (microsecond precision, UTC)", stored, want)
		}
	})
}

// TestMigrations checks that both dialects reach the same schema version,
// that it is the newest embedded one, and that re-running is a no-op.
func TestMigrations(t *testing.T) {
	versions := map[string]int64{}
	dbtest.EachWith(t, dbtest.Options{NoMigrate: true}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if cur, latest, err := d.SchemaVersion(ctx); err != nil || cur != 0 || latest == 0 {
			t.Fatalf("an empty database: version %d, latest %d, %v", cur, latest, err)
		}
		res, err := d.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.From != 0 || res.Applied == 0 {
			t.Fatalf("first run = %+v, want migrations applied from 0", res)
		}
		again, err := d.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if again.Applied != 0 || again.From != res.To || again.To != res.To {
			t.Fatalf("second run = %+v, want a no-op at %d", again, res.To)
		}
		cur, latest, err := d.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cur != latest || cur != res.To {
			t.Fatalf("version = %d, latest = %d, migrated to %d", cur, latest, res.To)
		}
		// SchemaVersion reads what goose's own provider reads, without
		// building it.
		gcur, glatest, err := db.GooseVersions(ctx, d)
		if err != nil || gcur != cur || glatest != latest {
			t.Fatalf("goose says %d/%d (%v), SchemaVersion %d/%d", gcur, glatest, err, cur, latest)
		}
		versions[string(d.Dialect())] = cur
	})
	if len(versions) == 2 && versions["sqlite"] != versions["postgres"] {
		t.Fatalf("dialects disagree: %v", versions)
	}
}

// TestMigrationSetsMatch keeps the two dialects' migration files in step: the
// same versions with the same names.
func TestMigrationSetsMatch(t *testing.T) {
	names := func(dir string) []string {
		entries, err := os.ReadDir(filepath.Join("migrations", dir))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	s, p := names("sqlite"), names("postgres")
	if strings.Join(s, ",") != strings.Join(p, ",") {
		t.Fatalf("migration sets differ:\n sqlite:   %v\n postgres: %v", s, p)
	}
}

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()

	t.Run("creates the file owner-only", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "new.db")
		d, err := db.Open(ctx, db.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode = %v, want 0600", fi.Mode().Perm())
		}
	})

	// A '#', '?' or '%' in the path once ended the file: URI early, so
	// the database lived at another path (shared by whoever else cut there).
	t.Run("uses the path as given, with URI characters in it", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data#1?x=%41")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "portico.db")
		d, err := db.Open(ctx, db.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
			t.Fatalf("the database is not at %s: %v", path, err)
		}
		if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
			t.Fatalf("files written beside the data directory: %v", entries)
		}
	})

	t.Run("refuses a corrupt file and names it, without overwriting", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "corrupt.db")
		junk := []byte(strings.Repeat("this is not a database ", 200))
		if err := os.WriteFile(path, junk, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := db.Open(ctx, db.Options{Path: path})
		if err == nil {
			_, err = d.Migrate(ctx)
			d.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "corrupt.db") && !strings.Contains(err.Error(), "not a database") {
			t.Fatalf("err = %v, want an error about corrupt.db", err)
		}
		after, _ := os.ReadFile(path)
		if string(after) != string(junk) {
			t.Fatal("corrupt file was modified")
		}
	})

	t.Run("pragmas are in effect on the writer and the readers", func(t *testing.T) {
		d := dbtest.SQLite(t, dbtest.Options{})
		want := map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000", "secure_delete": "1"}
		type rowQuerier interface {
			QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		}
		check := func(where string, q rowQuerier) {
			for p, w := range want {
				var got string
				if err := q.QueryRowContext(ctx, "PRAGMA "+p).Scan(&got); err != nil {
					t.Fatalf("%s: PRAGMA %s: %v", where, p, err)
				}
				if got != w {
					t.Errorf("%s: %s = %s, want %s", where, p, got, w)
				}
			}
		}
		check("reader", d)
		if err := d.Transact(ctx, func(tx *db.Tx) error { check("writer", tx); return nil }); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("readers cannot write", func(t *testing.T) {
		d := dbtest.SQLite(t, dbtest.Options{})
		_, err := d.QueryContext(ctx, `INSERT INTO accounts (id, email_lookup, email_enc, role, created_at, updated_at) VALUES ('x', x'01', x'01', 'customer', '2026-01-01', '2026-01-01')`)
		if err == nil {
			t.Fatal("write through the reader pool succeeded")
		}
	})
}
