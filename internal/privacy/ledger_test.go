package privacy_test

import (
	"slices"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/privacy"
)

// failAccountDeletes makes every DELETE on accounts fail, on either
// dialect: a step of the erasure transaction that comes after the key is
// destroyed (where the ledger used to be written) fails, and the whole
// erasure rolls back. It returns the undo.
func (e *env) failAccountDeletes(t *testing.T) func() {
	t.Helper()
	do := func(qs ...string) {
		for _, q := range qs {
			if err := e.d.Transact(e.ctx, func(tx *db.Tx) error { _, err := tx.ExecContext(e.ctx, q); return err }); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	if e.d.Dialect() == db.SQLite {
		do(`CREATE TRIGGER test_fail_delete BEFORE DELETE ON accounts BEGIN SELECT RAISE(ABORT, 'forced failure'); END`)
		return func() { do(`DROP TRIGGER test_fail_delete`) }
	}
	do(`CREATE FUNCTION test_fail_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'forced failure'; END $$`,
		`CREATE TRIGGER test_fail_delete BEFORE DELETE ON accounts FOR EACH ROW EXECUTE FUNCTION test_fail_delete()`)
	return func() { do(`DROP TRIGGER test_fail_delete ON accounts`) }
}

// TestRolledBackErasureIsNotInLedger: the erasure ledger, which a restore
// re-applies, names an account only once its erasure has committed. An
// erasure whose transaction fails after the key was destroyed leaves no
// entry (the next restore must not erase a person who was not erased),
// the account and its key intact and the request pending; when it runs
// again and commits, the entry is written (CP-5.2, CP-11.1).
func TestRolledBackErasureIsNotInLedger(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.customer(t, "not.yet@example.com")
		if _, err := e.svc.RequestErasure(e.ctx, c); err != nil {
			t.Fatal(err)
		}
		e.clk.Add(8 * 24 * time.Hour)
		undo := e.failAccountDeletes(t)
		if n, err := e.svc.RunDueErasures(e.ctx); err == nil || n != 0 {
			t.Fatalf("RunDueErasures = %d, %v; want the forced failure", n, err)
		}
		erased, err := e.keys.ErasedSubjects()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(erased, c.AccountID) {
			t.Fatal("CP-5.2: a rolled-back erasure is in the ledger: the next restore would erase a person who was not erased")
		}
		if email, err := e.id.Email(e.ctx, c.AccountID); err != nil || email != "not.yet@example.com" {
			t.Fatalf("after the rollback the account's data reads %q, %v", email, err)
		}
		if _, pending, _ := e.svc.PendingErasure(e.ctx, c.AccountID); !pending {
			t.Fatal("the failed erasure is no longer pending: it would never run")
		}

		undo()
		if n, err := e.svc.RunDueErasures(e.ctx); n != 1 || err != nil {
			t.Fatalf("RunDueErasures = %d, %v", n, err)
		}
		if erased, _ = e.keys.ErasedSubjects(); !slices.Contains(erased, c.AccountID) {
			t.Fatal("CP-5.2: a committed erasure is not in the ledger")
		}
		var reqs []privacy.Request
		if reqs, err = e.svc.Requests(e.ctx, c.AccountID); err != nil || len(reqs) != 1 || reqs[0].Status != privacy.StatusDone {
			t.Fatalf("requests %+v %v", reqs, err)
		}
	})
}
