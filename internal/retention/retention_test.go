package retention_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/retention"
	"github.com/portico/portico/internal/session"
	"github.com/portico/portico/internal/support"
)

const pw = "correct horse battery staple 42"

// clock is the test clock that the database follows.
type clock = dbtest.Clock

type env struct {
	ctx     context.Context
	d       *db.DB
	clk     *clock
	id      *identity.Service
	desk    *support.Service
	notices *notify.Service
	purge   *retention.Service
	deps    retention.Deps
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	clk := dbtest.NewClock(time.Time{})
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		clk.Set(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
		keyset := filepath.Join(t.TempDir(), crypto.KeysetFileName)
		if err := crypto.CreateMasterKeyset(keyset); err != nil {
			t.Fatal(err)
		}
		keys, err := crypto.Open(d, keyset)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := policy.Builtin(policy.Default)
		p.Password.Argon2 = policy.Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
		pwc, _ := password.New(p.Password, "")
		t.Cleanup(func() { pwc.Close() })
		log := audit.New(d)
		notices, _ := notify.New(d, keys, log, notify.Options{Logger: slog.New(slog.DiscardHandler)})
		id, err := identity.New(identity.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Passwords: pwc, Sessions: session.NewStore(d, keys, log, p.Session)})
		if err != nil {
			t.Fatal(err)
		}
		desk, _ := support.New(support.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Identity: id})
		deps := retention.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Identity: id, Notices: notices, Batch: 3, Pause: -1}
		purge, err := retention.New(deps)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if res, err := log.Verify(context.Background(), audit.VerifyOptions{}); err != nil || !res.OK {
				t.Errorf("audit chain does not verify: %+v %v", res, err)
			}
		})
		fn(t, &env{ctx: context.Background(), d: d, clk: clk, id: id, desk: desk, notices: notices, purge: purge, deps: deps})
	})
}

func (e *env) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.d.QueryRowContext(e.ctx, q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) customer(t *testing.T, email string) access.Principal {
	t.Helper()
	a, err := e.id.CreateAccount(e.ctx, identity.NewAccount{Email: email, Role: access.RoleCustomer, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return access.Principal{AccountID: a.ID, Role: access.RoleCustomer, Stage: access.StageDone}
}

// TestPurge: each category goes when its period from the profile has
// passed, not before (every category of the schedule on its own, in
// categories_test.go); a dry run counts without deleting; deletion runs in
// batches; the run is recorded and audited (CP-5.2).
func TestPurge(t *testing.T) {
	t.Run("schedule", testPurgeCasesCoverTheSchedule)
	t.Run("category", testPurgeEachCategory)
	each(t, func(t *testing.T, e *env) {
		c := e.customer(t, "old@example.com")
		for i := 0; i < 7; i++ { // more than one batch of 3
			e.id.Login(e.ctx, identity.Credentials{Email: "old@example.com", Password: "wrong password " + string(rune('a'+i)), IP: "192.0.2.1", UserAgent: "t"})
		}
		tk, _ := e.desk.Open(e.ctx, c, "An old question", "Long ago.", nil)
		e.desk.SetStatus(e.ctx, c, tk.ID, support.StatusClosed)
		open, _ := e.desk.Open(e.ctx, c, "Still open", "Keep me.", nil)
		if err := e.id.SignUp(e.ctx, identity.SignUpInput{Email: "never.confirmed@example.com", Name: "Never Confirmed", Password: pw, PrivacyVersion: "2026-11", CurrentPrivacyVersion: "2026-11", IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}

		e.clk.Add(8 * 24 * time.Hour) // the unconfirmed sign-up expires
		dry, err := e.purge.Run(e.ctx, true)
		if err != nil || dry.Counts["unverified_signups"] != 1 || dry.Counts["sign_in_history"] != 0 {
			t.Fatalf("dry run %+v %v", dry.Counts, err)
		}
		if e.count(t, `SELECT COUNT(*) FROM accounts WHERE status = 'unverified'`) != 1 {
			t.Fatal("the dry run deleted")
		}
		run, err := e.purge.Run(e.ctx, false)
		if err != nil || run.Counts["unverified_signups"] != 1 || run.Counts["sign_in_history"] != 0 || run.Counts["closed_tickets"] != 0 {
			t.Fatalf("run %+v %v", run.Counts, err)
		}
		if _, err := e.id.FindByEmail(e.ctx, "never.confirmed@example.com"); err == nil {
			t.Error("the expired sign-up survived")
		}

		e.clk.Add(396 * 24 * time.Hour) // 13 months: sign-in history goes
		run, _ = e.purge.Run(e.ctx, false)
		if run.Counts["sign_in_history"] != 7 || e.count(t, `SELECT COUNT(*) FROM sign_in_events`) != 0 {
			t.Errorf("sign-in history: %+v", run.Counts)
		}
		if run.Counts["closed_tickets"] != 0 {
			t.Error("a closed ticket went before 3 years")
		}
		e.clk.Add(3 * 366 * 24 * time.Hour)                                                                              // past 3 years after closing
		e.id.Login(e.ctx, identity.Credentials{Email: "old@example.com", Password: pw, IP: "192.0.2.1", UserAgent: "t"}) // still active
		run, _ = e.purge.Run(e.ctx, false)
		if run.Counts["closed_tickets"] != 1 {
			t.Errorf("closed tickets: %+v", run.Counts)
		}
		if _, err := e.desk.Get(e.ctx, c, open.ID); err != nil {
			t.Error("an open ticket was purged")
		}
		if run.Counts["audit_events"] == 0 {
			t.Error("audit events older than 3 years were kept (the cleanup verifies the pruned chain)")
		}
		last, ok, _ := e.purge.LastRun(e.ctx)
		if !ok || last.ID != run.ID || last.Counts["closed_tickets"] != 1 || last.FinishedAt.IsZero() {
			t.Errorf("last run %+v", last)
		}
		// Each run is audited (the oldest runs' events have themselves
		// been pruned by now: they are older than the audit retention).
		if e.count(t, `SELECT COUNT(*) FROM audit_events WHERE action = 'retention.run' AND target = $1`, "retention:"+run.ID) != 1 {
			t.Error("the run is not audited")
		}
	})
}

// TestInactiveAccounts: an inactive customer is warned first and deleted
// (crypto-shredded) only after the warning period; signing in keeps the
// account (CP-5.2, MTL-2.1.2).
func TestInactiveAccounts(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		gone := e.customer(t, "gone@example.com")
		back := e.customer(t, "back@example.com")
		e.clk.Add(3*365*24*time.Hour - 29*24*time.Hour) // inside the warning window
		run, _ := e.purge.Run(e.ctx, false)
		if run.Counts["inactive_warned"] != 2 || run.Counts["inactive_accounts"] != 0 {
			t.Fatalf("warnings %+v", run.Counts)
		}
		if inbox, _ := e.notices.Inbox(e.ctx, gone.AccountID, 10); len(inbox) != 1 {
			t.Errorf("no warning in the inbox: %d", len(inbox))
		}
		run, _ = e.purge.Run(e.ctx, false)
		if run.Counts["inactive_warned"] != 0 {
			t.Error("warned twice")
		}
		e.clk.Add(10 * 24 * time.Hour)
		// The customer signs in (both factors: the sign-in completes).
		if err := e.d.Transact(e.ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(e.ctx, `UPDATE accounts SET last_sign_in_at = $1 WHERE id = $2`, tx.Now(), back.AccountID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		e.clk.Add(25 * 24 * time.Hour) // past the warning period
		run, _ = e.purge.Run(e.ctx, false)
		if run.Counts["inactive_accounts"] != 1 {
			t.Fatalf("inactive deletions %+v", run.Counts)
		}
		if _, err := e.id.Account(e.ctx, gone.AccountID); err == nil {
			t.Error("the inactive account survived")
		}
		if _, err := e.id.Account(e.ctx, back.AccountID); err != nil {
			t.Error("the account that signed in was deleted")
		}
	})
}

// TestPurgeIsLeased: while one node runs the purge, another is told it is
// busy (one runner at a time on a shared database).
func TestPurgeIsLeased(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		other, _ := retention.New(e.deps)
		// Hold the lease as the other node would mid-run.
		if err := e.d.Transact(e.ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(e.ctx, `INSERT INTO job_leases (name, holder, expires_at) VALUES ('retention.purge', 'someone-else', $1)`, tx.Now().Add(time.Minute))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Run(e.ctx, false); err != retention.ErrBusy {
			t.Fatalf("while leased: %v", err)
		}
		e.clk.Add(2 * time.Minute)
		if _, err := other.Run(e.ctx, false); err != nil {
			t.Fatalf("after the lease ran out: %v", err)
		}
	})
}

// TestOverdue: Overdue counts what a purge started at a given time should
// have deleted and is still stored, and changes nothing (CP-5.2).
func TestOverdue(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.customer(t, "old@example.com")
		e.id.Login(e.ctx, identity.Credentials{Email: "old@example.com", Password: "wrong password entirely", IP: "192.0.2.1", UserAgent: "t"})
		start := e.clk.Now()
		got, err := e.purge.Overdue(e.ctx, start)
		if err != nil || got["sign_in_history"] != 0 {
			t.Fatalf("nothing is past its retention yet: %v %v", got, err)
		}
		e.clk.Add(396 * 24 * time.Hour) // 13 months: the sign-in is past its retention
		if got, _ := e.purge.Overdue(e.ctx, start); got["sign_in_history"] != 0 {
			t.Errorf("as of before its end, the sign-in is not overdue: %v", got)
		}
		got, err = e.purge.Overdue(e.ctx, e.clk.Now())
		if err != nil || got["sign_in_history"] != 1 {
			t.Fatalf("the expired sign-in is overdue: %v %v", got, err)
		}
		if _, ok := got["inactive_warned"]; ok {
			t.Error("warnings to send are not overdue data")
		}
		if e.count(t, `SELECT COUNT(*) FROM sign_in_events`) != 1 || e.count(t, `SELECT COUNT(*) FROM retention_runs`) != 0 {
			t.Error("Overdue deleted or recorded something")
		}
		if _, err := e.purge.Run(e.ctx, false); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.purge.Overdue(e.ctx, e.clk.Now()); got["sign_in_history"] != 0 {
			t.Errorf("after the purge nothing is overdue: %v", got)
		}
	})
}
