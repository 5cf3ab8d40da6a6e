package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
)

// makeStale moves a session's last re-authentication out of the step-up
// window.
func makeStale(t *testing.T, s *testServer, token string) {
	t.Helper()
	id := accountOf(t, s, token)
	stale := time.Now().Add(-s.profile.Session.StepUpWindow.Duration - time.Minute)
	if err := s.db.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(), `UPDATE sessions SET reauth_at = $1 WHERE account_id = $2`, stale, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestAdminPages: administrators see and act; auditors see and cannot act;
// customers do not find the pages at all; a role change needs a fresh
// step-up (CP-4.2, CP-6.3, MTL-3.2.2).
func TestAdminPages(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		admin := signInAs(t, s, "admin@example.com", access.RoleAdmin)
		auditor := signInAs(t, s, "auditor@example.com", access.RoleAuditor)
		cust := signInFull(t, s, "someone@example.com")
		custID := accountOf(t, s, cust)
		for _, path := range []string{"/admin", "/admin/users", "/admin/users?role=customer", "/admin/users/" + custID, "/admin/roles", "/admin/access"} {
			if w := do(s, "GET", path, nil, map[string]string{"Cookie": cookieOf(admin)}); w.Code != 200 {
				t.Errorf("admin GET %s: %d", path, w.Code)
			}
			if w := do(s, "GET", path, nil, map[string]string{"Cookie": cookieOf(cust)}); w.Code != http.StatusNotFound {
				t.Errorf("customer GET %s: %d", path, w.Code)
			}
		}
		list := do(s, "GET", "/admin/users", nil, map[string]string{"Cookie": cookieOf(auditor)}).Body.String()
		if !strings.Contains(list, "s***@example.com") || strings.Contains(list, "someone@example.com") {
			t.Error("the account list is not masked")
		}
		if page := do(s, "GET", "/admin/users/"+custID, nil, map[string]string{"Cookie": cookieOf(auditor)}).Body.String(); strings.Contains(page, "/disable") {
			t.Error("an auditor is offered actions")
		}
		if r := post(s, "/admin/users/"+custID+"/disable", url.Values{}, cookieOf(auditor)); r.StatusCode != http.StatusNotFound {
			t.Errorf("auditor disable: %d", r.StatusCode)
		}
		if r := post(s, "/admin/users/"+custID+"/disable", url.Values{}, cookieOf(admin)); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("admin disable: %d", r.StatusCode)
		}
		if sessionLive(s, cust) {
			t.Error("the disabled customer's session lives on")
		}
		if r := post(s, "/admin/users/"+custID+"/enable", url.Values{}, cookieOf(admin)); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("admin enable: %d", r.StatusCode)
		}
		// A role change with a fresh sign-in works; a stale one is sent to
		// confirm the password first.
		staff := signInAs(t, s, "agent@example.com", access.RoleSupport)
		staffID := accountOf(t, s, staff)
		if r := post(s, "/admin/users/"+staffID+"/role", url.Values{"role": {"auditor"}}, cookieOf(admin)); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("role change: %d", r.StatusCode)
		}
		if a, _ := s.identity.Account(context.Background(), staffID); a.Role != access.RoleAuditor || sessionLive(s, staff) {
			t.Errorf("after the role change: %s, session live %v", a.Role, sessionLive(s, staff))
		}
		makeStale(t, s, admin)
		r := post(s, "/admin/users/"+staffID+"/role", url.Values{"role": {"support"}}, cookieOf(admin))
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/account/reauth") {
			t.Errorf("stale role change: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		// Nobody changes their own role through the page either.
		admin2 := signInAs(t, s, "admin2@example.com", access.RoleAdmin)
		r = post(s, "/admin/users/"+accountOf(t, s, admin2)+"/role", url.Values{"role": {"auditor"}}, cookieOf(admin2))
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("self role change: %d", r.StatusCode)
		}
	})
}

// TestMassAssignmentRole: a customer who adds role=admin (and similar
// fields) to every form they can send stays a customer (CP-4.2): no
// handler copies form fields into the account.
func TestMassAssignmentRole(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		tok := signInFull(t, s, "mass@example.com")
		id := accountOf(t, s, tok)
		extra := url.Values{"role": {"admin"}, "Role": {"admin"}, "permissions": {"user.manage"}, "status": {"active"}, "account_id": {"x"}}
		for _, rt := range s.routes() {
			method, path := concrete(rt.pattern)
			if method != "POST" || rt.perm == access.Public && !strings.HasPrefix(path, "/signup") || path == "/logout" {
				continue
			}
			form := url.Values{}
			for k, v := range extra {
				form[k] = v
			}
			form.Set("email", "mass2@example.com")
			form.Set("password", testPassword)
			form.Set("name", "Mass Assign")
			post(s, path, form, cookieOf(tok))
			if !sessionLive(s, tok) {
				t.Fatalf("POST %s ended the session: the rest of the forms would not be tried", path)
			}
		}
		a, err := s.identity.Account(context.Background(), id)
		if err != nil || a.Role != access.RoleCustomer {
			t.Fatalf("role after every form: %s %v", a.Role, err)
		}
		if b, err := s.identity.FindByEmail(context.Background(), "mass2@example.com"); err == nil && b.Role != access.RoleCustomer {
			t.Errorf("sign-up with role=admin made a %s", b.Role)
		}
	})
}

// TestStepUpReturnsToThePage: a sensitive form sent from a stale session
// leads to the password prompt and back to the page the form was on
// (pages send no Referer, so the route tree decides).
func TestStepUpReturnsToThePage(t *testing.T) {
	s := newTestServer(t)
	for path, want := range map[string]string{
		"/admin/users/abc/role":      "/admin/users/abc",
		"/desk/customers/abc/reveal": "/desk/customers/abc",
		"/admin/keys/rotate":         "/admin/keys",
		"/admin/approvals/x/approve": "/admin/approvals",
		"/admin/policy":              "/admin/policy",
	} {
		if got := s.pageOf(path); got != want {
			t.Errorf("pageOf(%s) = %s, want %s", path, got, want)
		}
	}
}
