package incident_test

import (
	"context"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/cryptotest"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// TestContainAffectedAccounts (CP-7.2): containment acts on every
// affected customer and no one else: their sessions end, they must change
// their password, they are locked; each action is audited.
func TestContainAffectedAccounts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		keys := cryptotest.Keyring(t, d)
		p, err := policy.Builtin(policy.CustomerPortal)
		if err != nil {
			t.Fatal(err)
		}
		p.Password.Argon2 = policy.Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
		pwc, err := password.New(p.Password, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pwc.Close() })
		log := audit.New(d)
		id, err := identity.New(identity.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Passwords: pwc, Sessions: session.NewStore(d, keys, log, p.Session)})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			a, err := id.CreateAccount(ctx, identity.NewAccount{Email: e, Role: access.RoleCustomer, Password: "correct horse battery staple 42"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, a.ID)
		}
		s := incident.New(d, log, p)
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Leaked passwords", Severity: "critical", Category: "takeover"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Contain(ctx, id.Responder(), inc.ID, incident.ContainLock, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("containment before the affected set: %v", err)
		}
		if _, err := s.SetAffected(ctx, inc.ID, incident.Query{Kind: "all"}); err != nil {
			t.Fatal(err)
		}
		// c is erased from the set by hand: only a and b are affected.
		if err := d.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM incident_affected WHERE account_id = $1`, ids[2])
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, action := range []string{incident.ContainForcePassword, incident.ContainLock} {
			if n, err := s.Contain(ctx, id.Responder(), inc.ID, action, "sec1"); err != nil || n != 2 {
				t.Fatalf("%s: %d, %v", action, n, err)
			}
		}
		for i, acct := range ids {
			a, err := id.Account(ctx, acct)
			if err != nil {
				t.Fatal(err)
			}
			affected := i < 2
			if (a.PasswordChangeRequired != "") != affected || a.LockedUntil.After(time.Now()) != affected {
				t.Errorf("account %d (affected %v): change required %q, locked until %v", i, affected, a.PasswordChangeRequired, a.LockedUntil)
			}
		}
		if _, err := s.Contain(ctx, id.Responder(), inc.ID, "delete", "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("unknown action: %v", err)
		}
	})
}
