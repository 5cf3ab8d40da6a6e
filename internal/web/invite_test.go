package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
)

// invitationLink reads the newest invitation mail of accountID in the
// outbox and returns the path of its link ("/invite/...").
func invitationLink(t *testing.T, s *testServer, accountID string) string {
	t.Helper()
	ctx := context.Background()
	var id string
	var enc []byte
	if err := s.db.QueryRowContext(ctx,
		`SELECT id, body_enc FROM outbox WHERE account_id = $1 AND kind = 'staff-invitation' ORDER BY created_at DESC, id DESC LIMIT 1`,
		accountID).Scan(&id, &enc); err != nil {
		t.Fatalf("no invitation mail: %v", err)
	}
	body, err := s.keys.Decrypt(ctx, s.db, accountID, crypto.Field{Table: "outbox", Column: "body_enc", Row: id}, enc)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`https://localhost(/invite/[A-Za-z0-9]+)`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no link in the invitation mail: %s", body)
	}
	return m[1]
}

// invitedID is the account ID of the invitation to email.
func invitedID(t *testing.T, s *testServer, email string) string {
	t.Helper()
	var id string
	lookup := func() error {
		a, err := s.identity.FindByEmail(context.Background(), email)
		id = a.ID
		return err
	}
	if err := lookup(); err != nil {
		t.Fatalf("no account for %s: %v", email, err)
	}
	return id
}

// TestStaffInvitation: an administrator invites a member of staff; the
// mail holds a single-use link; the invitee chooses a password under the
// policy and signs in, and must enrol a second factor first; the training
// grace starts at the acceptance; each step is audited (CP-4.2, CP-4.3,
// CP-12).
func TestStaffInvitation(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := cookieOf(signInAs(t, s, "admin@example.com", access.RoleAdmin))
		r := post(s, "/admin/users/invite", url.Values{"email": {"New.Starter@example.com"}, "role": {"support"}}, admin)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/users/invite?done=invited" {
			t.Fatalf("invite: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		id := invitedID(t, s, "new.starter@example.com")
		list := do(s, "GET", "/admin/users/invite", nil, map[string]string{"Cookie": admin}).Body.String()
		if !strings.Contains(list, `data-invitation="`+id+`"`) || !strings.Contains(list, "n***@example.com") || strings.Contains(list, "new.starter@") {
			t.Error("the pending invitation is not listed, or not masked")
		}
		if n := auditCount(t, s, "account.invite.create", "account:"+id); n != 1 {
			t.Errorf("%d invitation events", n)
		}
		link := invitationLink(t, s, id)
		// Nobody signs in to an invitation, nor resets its password.
		if res, err := s.identity.Login(ctx, identity.Credentials{Email: "new.starter@example.com", Password: testPassword, IP: "192.0.2.10", UserAgent: "test"}); err == nil {
			t.Fatalf("sign-in to a pending invitation: %+v", res)
		}
		page := do(s, "GET", link, nil, nil)
		if page.Code != 200 || !strings.Contains(page.Body.String(), "new.starter@example.com") || !strings.Contains(page.Body.String(), `action="`+link+`"`) {
			t.Fatalf("the link's page: %d", page.Code)
		}
		if r := post(s, link, url.Values{"name": {"Nina Starter"}, "password": {"short"}, "confirm": {"short"}}, ""); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("a password the policy refuses: %d", r.StatusCode)
		}
		r = post(s, link, url.Values{"name": {"Nina Starter"}, "password": {testPassword}, "confirm": {testPassword}}, "")
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login?done=invitation-accepted" {
			t.Fatalf("accept: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		// Single use.
		if r := post(s, link, url.Values{"password": {testPassword + "x"}, "confirm": {testPassword + "x"}}, ""); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("the link used twice: %d", r.StatusCode)
		}
		if body := do(s, "GET", link, nil, nil).Body.String(); !strings.Contains(body, "not valid") {
			t.Error("a used link still offers the form")
		}
		if n := auditCount(t, s, "account.invite.accept", "account:"+id); n != 1 {
			t.Errorf("%d acceptance events", n)
		}
		// The normal sign-in: staff must enrol a second factor first.
		r = post(s, "/login", url.Values{"email": {"new.starter@example.com"}, "password": {testPassword}}, "")
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/account/mfa/setup") {
			t.Fatalf("sign-in after accepting: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		newcomer := sessionCookie(r)
		if w := do(s, "GET", "/desk", nil, map[string]string{"Cookie": newcomer}); w.Code == 200 {
			t.Error("the newcomer reaches the desk before enrolling a second factor")
		}
		a, err := s.identity.Account(ctx, id)
		if err != nil || a.Role != access.RoleSupport || a.Status != identity.StatusActive {
			t.Fatalf("after accepting: %+v %v", a, err)
		}
		if due := s.identity.TrainingDue(a); !due.Equal(a.CreatedAt.Add(s.profile.Governance.TrainingGrace.Duration)) || a.CreatedAt.Before(time.Now().Add(-time.Minute)) {
			t.Errorf("training due %v for an account created %v", due, a.CreatedAt)
		}
		user := do(s, "GET", "/admin/users/"+id, nil, map[string]string{"Cookie": admin}).Body.String()
		if !strings.Contains(user, "Nina Starter") || !strings.Contains(user, "Invited by") {
			t.Error("the account page lacks the name or who invited them")
		}
		if list := do(s, "GET", "/admin/users/invite", nil, map[string]string{"Cookie": admin}).Body.String(); strings.Contains(list, `data-invitation="`+id+`"`) {
			t.Error("an accepted invitation is still pending")
		}
	})
}

// TestInvitationLinks: only the newest link of an address works; a link
// stops working when it expires, and the maintenance job then withdraws
// the invitation (audited); an administrator revokes one; an existing
// account is not invited (CP-4.3).
func TestInvitationLinks(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := cookieOf(signInAs(t, s, "admin@example.com", access.RoleAdmin))
		invite := func(email, role string) *http.Response {
			return post(s, "/admin/users/invite", url.Values{"email": {email}, "role": {role}}, admin)
		}
		invite("twice@example.com", "support")
		id := invitedID(t, s, "twice@example.com")
		first := invitationLink(t, s, id)
		if r := invite("twice@example.com", "auditor"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("invite again: %d", r.StatusCode)
		}
		second := invitationLink(t, s, id)
		if first == second {
			t.Fatal("the same link twice")
		}
		if r := post(s, first, url.Values{"password": {testPassword}, "confirm": {testPassword}}, ""); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("the older link: %d", r.StatusCode)
		}
		if body := do(s, "GET", second, nil, nil).Body.String(); !strings.Contains(body, "auditor") {
			t.Error("the newest link does not offer the newest role")
		}

		// Expiry.
		invite("late@example.com", "security")
		late := invitedID(t, s, "late@example.com")
		lateLink := invitationLink(t, s, late)
		if n, err := s.identity.ExpireInvitations(ctx); err != nil || n != 0 {
			t.Fatalf("expire with none due: %d %v", n, err)
		}
		if err := s.db.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE account_tokens SET expires_at = $1 WHERE account_id = $2`, time.Now().Add(-time.Second), late)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if r := post(s, lateLink, url.Values{"password": {testPassword}, "confirm": {testPassword}}, ""); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("an expired link: %d", r.StatusCode)
		}
		if n, err := s.identity.ExpireInvitations(ctx); err != nil || n != 1 {
			t.Fatalf("expire: %d %v", n, err)
		}
		if _, err := s.identity.Account(ctx, late); err == nil {
			t.Error("the expired invitation's account remains")
		}
		if n := auditCount(t, s, "account.invite.expire", "account:"+late); n != 1 {
			t.Errorf("%d expiry events", n)
		}

		// Revocation.
		if r := post(s, "/admin/users/"+id+"/revoke-invitation", url.Values{}, admin); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d", r.StatusCode)
		}
		if r := post(s, second, url.Values{"password": {testPassword}, "confirm": {testPassword}}, ""); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("a revoked invitation's link: %d", r.StatusCode)
		}
		if n := auditCount(t, s, "account.invite.revoke", "account:"+id); n != 1 {
			t.Errorf("%d revocation events", n)
		}
		var mails int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE account_id = $1`, id).Scan(&mails); err != nil || mails != 0 {
			t.Errorf("%d mails of a revoked invitation remain (%v)", mails, err)
		}

		// An existing account is not invited.
		signInFull(t, s, "customer@example.com")
		if r := invite("customer@example.com", "support"); r.StatusCode != http.StatusConflict {
			t.Errorf("inviting an existing account: %d", r.StatusCode)
		}
	})
}

// TestInvitationPermissions: only administrators invite, with a fresh
// step-up; customers cannot be invited; the administrator role is refused
// in an invitation and granted afterwards through the four-eyes request
// (CP-4.2).
func TestInvitationPermissions(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		adminTok := signInAs(t, s, "admin@example.com", access.RoleAdmin)
		admin := cookieOf(adminTok)
		for _, role := range []access.Role{access.RoleSecurity, access.RoleSupport, access.RoleAuditor, access.RoleCustomer} {
			tok := cookieOf(signInAs(t, s, string(role)+"@example.com", role))
			if r := post(s, "/admin/users/invite", url.Values{"email": {"x." + string(role) + "@example.com"}, "role": {"support"}}, tok); r.StatusCode != http.StatusNotFound {
				t.Errorf("%s invites: %d", role, r.StatusCode)
			}
		}
		for _, role := range []string{"admin", "customer", "root"} {
			r := post(s, "/admin/users/invite", url.Values{"email": {"role." + role + "@example.com"}, "role": {role}}, admin)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("invite as %s: %d", role, r.StatusCode)
			}
			if _, err := s.identity.FindByEmail(ctx, "role."+role+"@example.com"); err == nil {
				t.Errorf("an invitation as %s was made", role)
			}
		}
		w := do(s, "GET", "/admin/users/invite", nil, map[string]string{"Cookie": admin})
		if body := w.Body.String(); !strings.Contains(body, "second administrator") || strings.Contains(body, `<option value="admin"`) {
			t.Error("the form offers the admin role, or does not say how administrators are made")
		}
		makeStale(t, s, adminTok)
		r := post(s, "/admin/users/invite", url.Values{"email": {"stale@example.com"}, "role": {"support"}}, admin)
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/account/reauth") {
			t.Errorf("stale invite: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		if _, err := s.identity.FindByEmail(ctx, "stale@example.com"); err == nil {
			t.Error("an invitation was made without a fresh step-up")
		}
		// Administrator, after the invitation, through four eyes.
		admin2 := cookieOf(signInAs(t, s, "admin2@example.com", access.RoleAdmin))
		post(s, "/admin/users/invite", url.Values{"email": {"future.admin@example.com"}, "role": {"security"}}, admin2)
		id := invitedID(t, s, "future.admin@example.com")
		link := invitationLink(t, s, id)
		if r := post(s, link, url.Values{"password": {testPassword}, "confirm": {testPassword}}, ""); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("accept: %d", r.StatusCode)
		}
		r = post(s, "/admin/users/"+id+"/role", url.Values{"role": {"admin"}}, admin2)
		if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=role-requested") {
			t.Fatalf("grant admin: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		if a, _ := s.identity.Account(ctx, id); a.Role != access.RoleSecurity {
			t.Errorf("one administrator made an administrator: %s", a.Role)
		}
		reqs, err := s.identity.Approvals(ctx, access.Principal{AccountID: "x", Role: access.RoleAdmin, Stage: access.StageDone})
		if err != nil || len(reqs) != 1 || reqs[0].Target != id {
			t.Errorf("the four-eyes request: %+v %v", reqs, err)
		}
	})
}
