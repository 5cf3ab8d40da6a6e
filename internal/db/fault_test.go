package db_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// checkFault asserts that err is a storage fault as Transact reports one:
// 503-worthy, with a Retry-After and a message that names no internals.
func checkFault(t *testing.T, err error, want db.Fault) {
	t.Helper()
	if got := db.FaultOf(err); got != want {
		t.Fatalf("FaultOf(%v) = %q, want %q", err, got, want)
	}
	if apperr.CodeOf(err) != apperr.Unavailable {
		t.Errorf("code = %s, want unavailable", apperr.CodeOf(err))
	}
	if apperr.RetryAfterOf(err) <= 0 {
		t.Error("no Retry-After")
	}
	if apperr.MessageOf(err) != db.CannotSave {
		t.Errorf("message = %q", apperr.MessageOf(err))
	}
	if db.DriverError(err) == nil {
		t.Error("the driver's error is lost")
	}
}

// TestStorageFaults (MTL-1.1): Transact, the one door of every write,
// turns a storage fault into apperr.Unavailable naming the fault, on
// either dialect's codes; other errors pass through unchanged. The
// file-system faults themselves (ENOSPC, EROFS) are in internal/app's
// TestDiskFull and TestReadOnlyFileSystem.
func TestStorageFaults(t *testing.T) {
	ctx := context.Background()

	t.Run("SQLITE_READONLY is read-only, and the writer goes on", func(t *testing.T) {
		d := dbtest.SQLite(t, dbtest.Options{})
		err := d.Transact(ctx, func(tx *db.Tx) error {
			if _, err := tx.ExecContext(ctx, `PRAGMA query_only = 1`); err != nil {
				return err
			}
			defer tx.ExecContext(ctx, `PRAGMA query_only = 0`)
			return insertAccount(ctx, tx, "refused")
		})
		checkFault(t, err, db.FaultReadOnly)
		if err := d.Transact(ctx, func(tx *db.Tx) error { return insertAccount(ctx, tx, "saved") }); err != nil {
			t.Fatal(err)
		}
		if n := count(t, d); n != 1 {
			t.Fatalf("rows = %d, want 1", n)
		}
	})

	// PostgreSQL's codes, mapped only: a cluster with a full disk is not
	// something a test makes cheaply.
	for code, want := range map[string]db.Fault{
		"53100": db.FaultDiskFull, // disk_full
		"25006": db.FaultReadOnly, // read_only_sql_transaction (a hot standby)
		"58030": db.FaultIO,       // io_error
	} {
		t.Run("PostgreSQL "+code, func(t *testing.T) {
			d := dbtest.SQLite(t, dbtest.Options{})
			err := d.Transact(ctx, func(tx *db.Tx) error {
				return fmt.Errorf("insert: %w", &pgconn.PgError{Severity: "ERROR", Code: code, Message: "fault"})
			})
			checkFault(t, err, want)
		})
	}

	t.Run("other errors pass through", func(t *testing.T) {
		d := dbtest.SQLite(t, dbtest.Options{})
		if err := d.Transact(ctx, func(tx *db.Tx) error { return insertAccount(ctx, tx, "a") }); err != nil {
			t.Fatal(err)
		}
		err := d.Transact(ctx, func(tx *db.Tx) error { return insertAccount(ctx, tx, "a") })
		if !db.IsUniqueViolation(err) || db.FaultOf(err) != "" || apperr.CodeOf(err) != apperr.Internal {
			t.Fatalf("a unique violation became %v (fault %q, code %s)", err, db.FaultOf(err), apperr.CodeOf(err))
		}
	})
}
