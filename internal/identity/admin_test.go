package identity_test

import (
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
)

// as returns a freshly signed-in principal of an account.
func (e *env) as(a identity.Account) access.Principal {
	return access.Principal{AccountID: a.ID, Role: a.Role, SessionID: "s", Stage: access.StageDone, ReauthAt: e.d.Now()}
}

// TestRoleSeparationOfDuties: nobody changes their own role; granting
// admin needs a second administrator, neither the requester nor the
// account concerned; a role change ends the account's sessions, is
// audited and notified (CP-4.2).
func TestRoleSeparationOfDuties(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		a1 := e.account("admin1@example.com", pwA, access.RoleAdmin)
		a2 := e.account("admin2@example.com", pwA, access.RoleAdmin)
		sup := e.account("agent@example.com", pwA, access.RoleSupport)
		if _, err := e.svc.ChangeRole(e.ctx, e.as(a1), a1.ID, access.RoleAuditor); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("self role change: %v", err)
		}
		if _, err := e.svc.ChangeRole(e.ctx, e.as(sup), a1.ID, access.RoleCustomer); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("support changed a role: %v", err)
		}
		stale := e.as(a1)
		stale.ReauthAt = e.d.Now().Add(-time.Hour)
		if _, err := e.svc.ChangeRole(e.ctx, stale, sup.ID, access.RoleAuditor); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("role change without step-up: %v", err)
		}

		// A plain role change applies at once and ends sessions.
		si := e.mustLogin("agent@example.com", pwA)
		if req, err := e.svc.ChangeRole(e.ctx, e.as(a1), sup.ID, access.RoleAuditor); err != nil || req != "" {
			t.Fatalf("ChangeRole: %q %v", req, err)
		}
		if e.authenticates(si.Token) {
			t.Error("a session survived its account's role change")
		}
		if got := e.acct(sup.ID).Role; got != access.RoleAuditor {
			t.Errorf("role %s", got)
		}
		e.wantEvent("account:"+sup.ID, "account.role.change", map[string]any{"old": "support", "new": "auditor"})
		if n := len(e.inbox(sup.ID)); n == 0 {
			t.Error("no notice of the role change")
		}

		// Granting admin waits for a second administrator.
		req, err := e.svc.ChangeRole(e.ctx, e.as(a1), sup.ID, access.RoleAdmin)
		if err != nil || req == "" {
			t.Fatalf("admin grant: %q %v", req, err)
		}
		if got := e.acct(sup.ID).Role; got != access.RoleAuditor {
			t.Fatalf("the admin grant applied without approval: %s", got)
		}
		if err := e.svc.DecideAccountRequest(e.ctx, e.as(a1), req, true); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("requester approved their own request: %v", err)
		}
		if err := e.svc.DecideAccountRequest(e.ctx, e.as(a2), req, true); err != nil {
			t.Fatal(err)
		}
		if got := e.acct(sup.ID).Role; got != access.RoleAdmin {
			t.Fatalf("after approval: %s", got)
		}
		e.wantEvent("account:"+sup.ID, "account.role.change", map[string]any{"new": "admin", "approved_by": a2.ID})

		// The account concerned cannot approve its own grant, and an
		// expired request cannot be approved.
		a3 := e.account("admin3@example.com", pwA, access.RoleAuditor)
		req, _ = e.svc.ChangeRole(e.ctx, e.as(a1), a3.ID, access.RoleAdmin)
		e.tick(73 * time.Hour)
		if err := e.svc.DecideAccountRequest(e.ctx, e.as(a2), req, true); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("expired request approved: %v", err)
		}
		if rs, _ := e.svc.Approvals(e.ctx, e.as(a2)); len(rs) != 0 {
			t.Errorf("expired requests listed: %+v", rs)
		}

		// Taking the admin role away waits for a second administrator
		// too, and the account concerned cannot approve it.
		e.tick(time.Minute)
		req, err = e.svc.ChangeRole(e.ctx, e.as(a1), sup.ID, access.RoleSupport)
		if err != nil || req == "" {
			t.Fatalf("admin demotion: %q %v", req, err)
		}
		if got := e.acct(sup.ID).Role; got != access.RoleAdmin {
			t.Fatalf("the demotion applied without approval: %s", got)
		}
		if err := e.svc.DecideAccountRequest(e.ctx, e.as(e.acct(sup.ID)), req, true); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("the account approved its own demotion: %v", err)
		}
		if err := e.svc.DecideAccountRequest(e.ctx, e.as(a2), req, true); err != nil {
			t.Fatal(err)
		}
		if got := e.acct(sup.ID).Role; got != access.RoleSupport {
			t.Errorf("after approval of the demotion: %s", got)
		}
	})
}

// TestDisablingAnAdministratorNeedsTwo covers CP-4.2: one administrator
// cannot disable another alone; the request waits, the requester cannot
// approve it, a second administrator's approval disables the account and
// ends its sessions; a cancelled request cannot be approved after.
func TestDisablingAnAdministratorNeedsTwo(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		a1 := e.account("admin1@example.com", pwA, access.RoleAdmin)
		a2 := e.account("admin2@example.com", pwA, access.RoleAdmin)
		target := e.account("admin3@example.com", pwA, access.RoleAdmin)
		si := e.mustLogin("admin3@example.com", pwA)
		req, err := e.svc.AdminSetDisabled(e.ctx, e.as(a1), target.ID, true)
		if err != nil || req == "" {
			t.Fatalf("disable an admin: %q %v", req, err)
		}
		if e.acct(target.ID).Status != identity.StatusActive || !e.authenticates(si.Token) {
			t.Fatal("the administrator was disabled without a second administrator")
		}
		if err := e.svc.DecideAccountRequest(e.ctx, e.as(a1), req, true); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("the requester approved: %v", err)
		}
		if err := e.svc.DecideAccountRequest(e.ctx, e.as(a2), req, true); err != nil {
			t.Fatal(err)
		}
		if e.acct(target.ID).Status != identity.StatusDisabled || e.authenticates(si.Token) {
			t.Error("approved, but the administrator is still active or signed in")
		}
		e.wantEvent("account:"+target.ID, "account.disable", map[string]any{"approved_by": a2.ID})

		// A cancelled request stays cancelled.
		if _, err := e.svc.AdminSetDisabled(e.ctx, e.as(a1), target.ID, false); err != nil {
			t.Fatal(err)
		}
		req, _ = e.svc.AdminSetDisabled(e.ctx, e.as(a1), target.ID, true)
		if err := e.svc.DecideAccountRequest(e.ctx, e.as(a1), req, false); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DecideAccountRequest(e.ctx, e.as(a2), req, true); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("approved a cancelled request: %v", err)
		}
		if e.acct(target.ID).Status != identity.StatusActive {
			t.Error("a cancelled request disabled the administrator")
		}
		// Customers and staff other than admins are disabled at once.
		c := e.customer("plain@example.com", pwA)
		if req, err := e.svc.AdminSetDisabled(e.ctx, e.as(a1), c.ID, true); err != nil || req != "" {
			t.Errorf("disable a customer: %q %v", req, err)
		}
	})
}

// TestContractorPastEndDate: a contractor cannot sign in once the end
// date passes, and the maintenance job disables the account and ends its
// sessions (MTL-1.2).
func TestContractorPastEndDate(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{})
		admin := e.account("admin@example.com", pwA, access.RoleAdmin)
		c := e.account("contractor@example.com", pwA, access.RoleSupport)
		if err := e.svc.SetContractor(e.ctx, e.as(admin), c.ID, e.d.Now().Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetContractor(e.ctx, e.as(admin), admin.ID, e.d.Now().Add(48*time.Hour)); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("self contract change: %v", err)
		}
		a2 := e.account("admin2@example.com", pwA, access.RoleAdmin)
		if err := e.svc.SetContractor(e.ctx, e.as(admin), a2.ID, e.d.Now().Add(48*time.Hour)); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("contractor admin: %v", err)
		}
		si := e.mustLogin("contractor@example.com", pwA)
		e.tick(49 * time.Hour)
		if _, err := e.login("contractor@example.com", pwA); err == nil {
			t.Fatal("a contractor signed in after the end date")
		}
		n, err := e.svc.DisableEndedContracts(e.ctx)
		if err != nil || n != 1 {
			t.Fatalf("DisableEndedContracts = %d, %v", n, err)
		}
		if e.acct(c.ID).Status != identity.StatusDisabled || e.authenticates(si.Token) {
			t.Error("the contractor's account or session is still live")
		}
		if n, _ := e.svc.DisableEndedContracts(e.ctx); n != 0 {
			t.Errorf("second run disabled %d", n)
		}
	})
}

// TestTrainingRestrictsStaff: staff past the training interval (or new
// staff past the grace period) work in restricted mode until training is
// recorded (CP-12); customers never need it.
func TestTrainingRestrictsStaff(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{tweak: func(p *policy.Profile) { p.MFA.Mode = policy.MFAEncouraged; p.Password.MinLength = 15 }})
		admin := e.account("admin@example.com", pwA, access.RoleAdmin)
		staff := e.account("new@example.com", pwA, access.RoleAuditor)
		cust := e.customer("cust@example.com", pwA)
		e.tick(15 * 24 * time.Hour) // past the 14-day grace
		if !e.svc.TrainingOverdue(e.acct(staff.ID)) || e.svc.TrainingOverdue(e.acct(cust.ID)) {
			t.Fatal("training overdue: want staff only")
		}
		if err := e.svc.RecordTraining(e.ctx, e.as(admin), staff.ID, e.d.Now().Add(time.Hour)); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("training in the future: %v", err)
		}
		if err := e.svc.RecordTraining(e.ctx, e.as(admin), cust.ID, e.d.Now()); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("training for a customer: %v", err)
		}
		if err := e.svc.RecordTraining(e.ctx, e.as(admin), staff.ID, e.d.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if e.svc.TrainingOverdue(e.acct(staff.ID)) {
			t.Error("training recorded but still overdue")
		}
		e.tick(366 * 24 * time.Hour)
		if !e.svc.TrainingOverdue(e.acct(staff.ID)) {
			t.Error("a year-old training still counts")
		}
	})
}

// TestAdminActions: unlock lifts the lock and forgets the failures;
// end-sessions, disable and force-change work on others but never on
// oneself; auditors read but do not act (CP-4.2, CP-8.2).
func TestAdminActions(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, clk, options{tweak: func(p *policy.Profile) { p.Lockout.Threshold = 3 }})
		admin := e.account("admin@example.com", pwA, access.RoleAdmin)
		aud := e.account("auditor@example.com", pwA, access.RoleAuditor)
		c := e.customer("locked@example.com", pwA)
		for i := 0; i < 3; i++ {
			e.login("locked@example.com", pwB)
			e.tick(time.Minute)
		}
		if !e.d.Now().Before(e.acct(c.ID).LockedUntil) {
			t.Fatal("not locked")
		}
		if err := e.svc.Unlock(e.ctx, e.as(aud), c.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("auditor unlocked: %v", err)
		}
		if err := e.svc.Unlock(e.ctx, e.as(admin), c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.login("locked@example.com", pwA); err != nil {
			t.Fatalf("sign-in after unlock: %v", err)
		}
		if _, err := e.svc.EndAllSessions(e.ctx, e.as(admin), c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AdminSetDisabled(e.ctx, e.as(admin), admin.ID, true); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("self disable: %v", err)
		}
		if err := e.svc.AdminRequirePasswordChange(e.ctx, e.as(admin), c.ID); err != nil {
			t.Fatal(err)
		}
		if e.acct(c.ID).PasswordChangeRequired != identity.ChangeAdmin {
			t.Error("no forced change")
		}
		list, total, err := e.svc.SearchAccounts(e.ctx, e.as(aud), identity.AccountQuery{Email: "LOCKED@example.com"})
		if err != nil || total != 1 || len(list) != 1 || list[0].EmailMasked != "l***@example.com" {
			t.Fatalf("search by email: %+v %d %v", list, total, err)
		}
		if _, total, _ := e.svc.SearchAccounts(e.ctx, e.as(aud), identity.AccountQuery{Role: access.RoleAdmin}); total != 1 {
			t.Errorf("search by role: %d", total)
		}
		if _, _, err := e.svc.SearchAccounts(e.ctx, access.Principal{AccountID: c.ID, Role: access.RoleCustomer}, identity.AccountQuery{}); err == nil {
			t.Error("a customer searched accounts")
		}
		e.wantEvent("account:"+c.ID, "account.unlock", nil)
	})
}
