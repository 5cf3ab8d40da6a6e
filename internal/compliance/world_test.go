package compliance_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/cryptotest"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
)

// world is a Portico without its web server: the real storage and domain
// services over the test's database, and the compliance service with
// every evidence check of the program, as `portico serve` builds them.
type world struct {
	st  *app.Storage
	sv  *app.Services
	svc *compliance.Service
}

// newWorld builds the world over d with the customer-portal profile
// (cheap argon2id, set as an operator would), changed by edit if given.
func newWorld(t *testing.T, d *db.DB, edit func(*policy.Profile)) *world {
	t.Helper()
	p := profile(t)
	p.Password.Argon2 = policy.Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	if edit != nil {
		edit(&p)
	}
	st := &app.Storage{DB: d, Keyring: cryptotest.Keyring(t, d), Audit: audit.New(d), Profile: p}
	sv, err := app.NewServices(st, config.Config{}, "https://portal.example", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sv.Close() })
	svc, err := app.NewCompliance(st, sv, "https://portal.example", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &world{st: st, sv: sv, svc: svc}
}

// check runs the evidence check called name now and returns its result.
func (w *world) check(t *testing.T, name string) compliance.Result {
	t.Helper()
	for _, c := range w.svc.Checks() {
		if c.Name == name {
			r, err := c.Run(context.Background(), w.st.DB.Now())
			if err != nil {
				t.Fatalf("check %s: %v", name, err)
			}
			return r
		}
	}
	t.Fatalf("no check called %s", name)
	return compliance.Result{}
}

// wantStatus fails the test unless r has status want.
func wantStatus(t *testing.T, what string, r compliance.Result, want compliance.Status) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %s, want %s (%s; %v)", what, r.Status, want, r.Summary, r.Figures)
	}
}

// exec runs statements as someone with direct database access would.
func exec(t testing.TB, d *db.DB, query string, args ...any) {
	t.Helper()
	err := d.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(), query, args...)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// dropAuditTriggers removes the audit trail's append-only triggers, as an
// attacker with database access would before tampering.
func dropAuditTriggers(t testing.TB, d *db.DB) {
	t.Helper()
	for _, tr := range []struct{ name, table string }{
		{"audit_events_no_update", "audit_events"},
		{"audit_events_no_delete", "audit_events"},
		{"audit_head_no_delete", "audit_head"},
	} {
		q := "DROP TRIGGER " + tr.name
		if d.Dialect() == db.Postgres {
			q += " ON " + tr.table
		}
		exec(t, d, q)
	}
}
