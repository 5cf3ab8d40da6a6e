package approval_test

import (
	"context"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/approval"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

func file(t *testing.T, d *db.DB, st *approval.Store, requester string) approval.Request {
	t.Helper()
	var r approval.Request
	if err := d.Transact(context.Background(), func(tx *db.Tx) error {
		var err error
		r, err = st.File(context.Background(), tx, approval.RoleChange, "target", requester, map[string]string{"role": "admin"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDecideRules covers CP-4.2: the requester cannot approve, the
// account concerned cannot approve, the requester's reject is a cancel, a
// decided or expired request cannot be decided again, and one request of
// a kind waits per target.
func TestDecideRules(t *testing.T) {
	clk := dbtest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		st := approval.New(d, audit.New(d))
		r := file(t, d, st, "alice")
		decide := func(who string, approve bool) (approval.Request, error) {
			var out approval.Request
			err := d.Transact(ctx, func(tx *db.Tx) error {
				var err error
				out, err = st.Decide(ctx, tx, approval.RoleChange, r.ID, who, approve)
				return err
			})
			return out, err
		}
		if err := d.Transact(ctx, func(tx *db.Tx) error {
			_, err := st.File(ctx, tx, approval.RoleChange, "target", "bob", map[string]string{"role": "auditor"})
			return err
		}); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("a second open request for the same target: %v", err)
		}
		if _, err := decide("alice", true); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("the requester approved: %v", err)
		}
		if _, err := decide("target", true); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("the account concerned approved: %v", err)
		}
		if got, err := decide("alice", false); err != nil || got.Outcome != approval.Cancelled {
			t.Errorf("the requester's reject: %+v %v", got, err)
		}
		if _, err := decide("bob", true); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("approved after a cancel: %v", err)
		}
		r = file(t, d, st, "alice")
		clk.Add(approval.Lifetime)
		if _, err := decide("bob", true); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("approved after expiry: %v", err)
		}
		if open, _ := st.Open(ctx); len(open) != 0 {
			t.Errorf("open after expiry: %+v", open)
		}
	})
}

// TestDecisionIsOneConditionalUpdate covers CP-4.2 and CP-5.3 on both
// databases: while one administrator's approval is being committed,
// another's cancel that read the request as still open must not overwrite
// it: it answers Conflict and the approval stands. On PostgreSQL the
// second transaction is let go only once it is waiting on the first's row
// lock, so it has read the row before the approval committed.
func TestDecisionIsOneConditionalUpdate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		st := approval.New(d, audit.New(d))
		r := file(t, d, st, "alice")
		decided, release := make(chan struct{}), make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- d.Transact(ctx, func(tx *db.Tx) error {
				if _, err := st.Decide(ctx, tx, approval.RoleChange, r.ID, "bob", true); err != nil {
					return err
				}
				close(decided)
				<-release
				return nil
			})
		}()
		select {
		case <-decided:
		case err := <-first:
			t.Fatalf("the approval: %v", err)
		}
		second := make(chan error, 1)
		go func() {
			second <- d.Transact(ctx, func(tx *db.Tx) error {
				_, err := st.Decide(ctx, tx, approval.RoleChange, r.ID, "alice", false)
				return err
			})
		}()
		if d.Dialect() == db.Postgres {
			// Wait until the cancel is blocked on the approval's row lock.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				var waiting int
				if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE approvals%'`).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
				if waiting > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the cancel never waited on the approval's lock")
				}
			}
		}
		close(release)
		if err := <-first; err != nil {
			t.Fatalf("the approval: %v", err)
		}
		if err := <-second; apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("the racing cancel: %v, want Conflict", err)
		}
		got, err := st.Get(ctx, r.ID)
		if err != nil || got.Outcome != approval.Approved || got.DecidedBy != "bob" {
			t.Errorf("after the race: %+v %v", got, err)
		}
	})
}
