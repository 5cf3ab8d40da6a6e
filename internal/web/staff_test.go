package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico/portico/internal/access"
)

// auditCount counts the audit events of action on target.
func auditCount(t *testing.T, s *testServer, action, target string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(context.Background(),
		`SELECT COUNT(*) FROM audit_events WHERE action = $1 AND target = $2`, action, target).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAdminTellsAccountsApart: two addresses that mask alike
// ("a***@example.com") are told apart on the administrators' list and
// account page by name, account ID, role, status, creation date and last
// sign-in; the addresses stay masked (MTL-3.2.1).
func TestAdminTellsAccountsApart(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		admin := cookieOf(signInAs(t, s, "admin@example.com", access.RoleAdmin))
		one := signInFull(t, s, "alice.one@example.com")
		two := signInFull(t, s, "anna.two@example.com")
		for tok, name := range map[string]string{one: "Alice One", two: "Anna Two"} {
			if r := post(s, "/account/contact", url.Values{"name": {name}}, cookieOf(tok)); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("contact: %d", r.StatusCode)
			}
		}
		oneID, twoID := accountOf(t, s, one), accountOf(t, s, two)
		list := do(s, "GET", "/admin/users?role=customer", nil, map[string]string{"Cookie": admin}).Body.String()
		for _, want := range []string{"Alice One", "Anna Two", oneID, twoID, "a***@example.com", "Created"} {
			if !strings.Contains(list, want) {
				t.Errorf("the account list lacks %q", want)
			}
		}
		if strings.Contains(list, "alice.one@example.com") || strings.Contains(list, "never") {
			t.Error("the list shows an address in clear, or no last sign-in for accounts that signed in")
		}
		a, _ := s.identity.Account(context.Background(), oneID)
		page := do(s, "GET", "/admin/users/"+oneID, nil, map[string]string{"Cookie": admin}).Body.String()
		for _, want := range []string{"Alice One", oneID, "customer", "active", a.CreatedAt.UTC().Format("2 January 2006"),
			a.LastSignInAt.UTC().Format("2 January 2006 15:04 UTC"), "a***@example.com"} {
			if !strings.Contains(page, want) {
				t.Errorf("the account page lacks %q", want)
			}
		}
		if strings.Contains(page, "alice.one@example.com") || strings.Contains(page, "Anna Two") {
			t.Error("the account page shows the address in clear, or another account's name")
		}
	})
}

// TestAdminRevealsEmail: an administrator unmasks an account's address
// only with a reason and a fresh step-up; the reveal is audited with the
// reason sealed, lasts the grant period for that administrator only and
// is listed in the account's access history (MTL-3.2.2). Auditors, who
// read the list, cannot reveal.
func TestAdminRevealsEmail(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		adminTok := signInAs(t, s, "admin@example.com", access.RoleAdmin)
		admin := cookieOf(adminTok)
		admin2Tok := signInAs(t, s, "admin2@example.com", access.RoleAdmin)
		admin2 := cookieOf(admin2Tok)
		auditor := cookieOf(signInAs(t, s, "auditor@example.com", access.RoleAuditor))
		staff := signInAs(t, s, "agent.smith@example.com", access.RoleSupport)
		id := accountOf(t, s, staff)
		path := "/admin/users/" + id
		if page := do(s, "GET", path, nil, map[string]string{"Cookie": admin}).Body.String(); !strings.Contains(page, path+"/reveal") {
			t.Fatal("the administrator is not offered a reveal")
		}
		if page := do(s, "GET", path, nil, map[string]string{"Cookie": auditor}).Body.String(); strings.Contains(page, path+"/reveal") {
			t.Error("an auditor is offered a reveal")
		}
		if r := post(s, path+"/reveal", url.Values{"reason": {"Checking the new starter's address"}}, auditor); r.StatusCode != http.StatusNotFound {
			t.Errorf("auditor reveal: %d", r.StatusCode)
		}
		if r := post(s, path+"/reveal", url.Values{"reason": {"short"}}, admin); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("reveal with a short reason: %d", r.StatusCode)
		}
		if r := post(s, path+"/reveal", url.Values{}, admin); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("reveal without a reason: %d", r.StatusCode)
		}
		makeStale(t, s, adminTok)
		r := post(s, path+"/reveal", url.Values{"reason": {"Checking the new starter's address"}}, admin)
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/account/reauth") {
			t.Errorf("stale reveal: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		if n := auditCount(t, s, "account.reveal", "account:"+id); n != 0 {
			t.Fatalf("%d reveals recorded before a valid one", n)
		}
		if r := post(s, path+"/reveal", url.Values{"reason": {"Checking the new starter's address"}}, admin2); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("reveal: %d", r.StatusCode)
		}
		if page := do(s, "GET", path, nil, map[string]string{"Cookie": admin2}).Body.String(); !strings.Contains(page, "agent.smith@example.com") {
			t.Error("the revealed address is not shown")
		}
		if page := do(s, "GET", path, nil, map[string]string{"Cookie": auditor}).Body.String(); strings.Contains(page, "agent.smith@example.com") {
			t.Error("another member of staff sees the address revealed for one administrator")
		}
		if n := auditCount(t, s, "account.reveal", "account:"+id); n != 1 {
			t.Errorf("%d reveal events", n)
		}
		var details string
		if err := s.db.QueryRowContext(context.Background(), `SELECT details FROM audit_events WHERE action = 'account.reveal'`).Scan(&details); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(details, "new starter") || !strings.Contains(details, "reason_enc") {
			t.Errorf("the reason is not sealed in the trail: %s", details)
		}
		hist := do(s, "GET", "/account/access-history", nil, map[string]string{"Cookie": cookieOf(staff)}).Body.String()
		if !strings.Contains(hist, "Checking the new starter&#39;s address") || !strings.Contains(hist, "your email") || !strings.Contains(hist, "admin team") {
			t.Error("the account's access history does not list the reveal")
		}
		// Nobody reveals their own address this way.
		own := "/admin/users/" + accountOf(t, s, admin2Tok) + "/reveal"
		if r := post(s, own, url.Values{"reason": {"Checking my own address here"}}, admin2); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("own reveal: %d", r.StatusCode)
		}
	})
}

// TestNoRevealOfEmptyFields: the desk offers no reveal for a field the
// customer left empty, and refuses one sent anyway without recording it
// (MTL-3.2.2: a reveal record means data was seen).
func TestNoRevealOfEmptyFields(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		cust := signInFull(t, s, "no.phone@example.com")
		if r := post(s, "/account/contact", url.Values{"name": {"Nora Phoneless"}}, cookieOf(cust)); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("contact: %d", r.StatusCode)
		}
		id := accountOf(t, s, cust)
		agent := cookieOf(signInAs(t, s, "agent@example.com", access.RoleSupport))
		page := do(s, "GET", "/desk/customers/"+id, nil, map[string]string{"Cookie": agent}).Body.String()
		for field, offered := range map[string]bool{"email": true, "name": true, "phone": false} {
			if got := strings.Contains(page, `name="field" value="`+field+`"`); got != offered {
				t.Errorf("reveal of the %s offered: %v, want %v", field, got, offered)
			}
		}
		if !strings.Contains(page, "(none given)") {
			t.Error("the empty phone is not shown as such")
		}
		r := post(s, "/desk/customers/"+id+"/reveal", url.Values{"field": {"phone"}, "reason": {"Calling the customer back today"}}, agent)
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("reveal of an empty field: %d", r.StatusCode)
		}
		if n := auditCount(t, s, "customer.reveal", "account:"+id); n != 0 {
			t.Errorf("%d reveals of an empty field recorded", n)
		}
	})
}
