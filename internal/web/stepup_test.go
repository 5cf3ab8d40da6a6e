package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
)

// stepUpCycle posts form to path with a stale session, follows the step-up
// to the confirmation page and confirms the password; it returns the
// confirmation page and the final response.
func stepUpCycle(t *testing.T, s *testServer, cookie, path string, form url.Values) (string, *http.Response) {
	t.Helper()
	r := post(s, path, form, cookie)
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/account/reauth?action=") {
		t.Fatalf("stale POST %s: %d %q, want the step-up with a held action", path, r.StatusCode, loc)
	}
	page := do(s, "GET", loc, nil, map[string]string{"Cookie": cookie})
	if page.Code != 200 {
		t.Fatalf("confirmation page: %d", page.Code)
	}
	u, _ := url.Parse(loc)
	final := post(s, "/account/reauth", url.Values{"password": {testPassword}, "action": {u.Query().Get("action")}}, cookie)
	return page.Body.String(), final
}

// TestStepUpKeepsTheAction covers MTL-3.2.2 and CP-6.3: when the step-up
// window has passed, a sensitive action is held on the server, the
// confirmation page says what it is for, and confirming the password
// carries the action out with what was typed; the held action works once
// and only for its own session.
func TestStepUpKeepsTheAction(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		cust := signInFull(t, s, "held.customer@example.com")
		agentTok := signInAs(t, s, "held.agent@example.com", access.RoleSupport)
		agent := cookieOf(agentTok)
		custPath := "/desk/customers/" + accountOf(t, s, cust)
		reason := "Sending the refund the customer asked for"

		makeStale(t, s, agentTok)
		page, final := stepUpCycle(t, s, agent, custPath+"/reveal", url.Values{"field": {"email"}, "reason": {reason}})
		if !strings.Contains(page, "to reveal this customer") {
			t.Errorf("the confirmation page does not say what it protects")
		}
		if strings.Contains(page, reason) {
			t.Error("the held reason is echoed into the page; it should stay on the server")
		}
		if final.StatusCode != http.StatusSeeOther || final.Header.Get("Location") != custPath+"?done=revealed" {
			t.Fatalf("after the password: %d %q, want the reveal done", final.StatusCode, final.Header.Get("Location"))
		}
		shown := do(s, "GET", custPath, nil, map[string]string{"Cookie": agent}).Body.String()
		if !strings.Contains(shown, "held.customer@example.com") {
			t.Error("the held reveal did not reveal")
		}
		hist := do(s, "GET", "/account/access-history", nil, map[string]string{"Cookie": cookieOf(cust)}).Body.String()
		if !strings.Contains(hist, reason) {
			t.Error("the reveal done after the step-up is not in the customer's access history")
		}
		reveals := func() int {
			evs, err := s.audit.Search(ctx, audit.Filter{Action: "customer.reveal", Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		if n := reveals(); n != 1 {
			t.Fatalf("%d reveal events, want 1", n)
		}

		// Used once: the same confirmation again does nothing more.
		makeStale(t, s, agentTok)
		r := post(s, custPath+"/reveal", url.Values{"field": {"email"}, "reason": {reason}}, agent)
		action, _ := url.Parse(r.Header.Get("Location"))
		id := action.Query().Get("action")
		// Another session of another account cannot see or release it.
		other := signInAs(t, s, "held.other@example.com", access.RoleSupport)
		if w := do(s, "GET", "/account/reauth?action="+id, nil, map[string]string{"Cookie": cookieOf(other)}); w.Code != http.StatusNotFound {
			t.Errorf("another session's held action: %d, want 404", w.Code)
		}
		if w := post(s, "/account/reauth", url.Values{"password": {testPassword}, "action": {id}}, cookieOf(other)); strings.Contains(w.Header.Get("Location"), "revealed") {
			t.Error("another session released the held action")
		}
		for i := 0; i < 2; i++ {
			post(s, "/account/reauth", url.Values{"password": {testPassword}, "action": {id}}, agent)
		}
		if n := reveals(); n != 2 {
			t.Errorf("%d reveal events after confirming one held action twice, want 2", n)
		}
	})
}

// TestEverySensitiveRouteKeepsItsAction covers MTL-3.2.2: every route that
// needs a step-up, and every form whose handler asks for one, holds its
// request and carries it out after the password instead of dropping it.
func TestEverySensitiveRouteKeepsItsAction(t *testing.T) {
	s := newTestServer(t)
	fresh := map[string]bool{ // handlers that call s.fresh themselves
		"POST /account/email": true, "POST /account/mfa/totp/start": true, "POST /account/mfa/totp/remove": true,
		"POST /account/recovery-codes": true, "POST /account/passkeys/{id}/remove": true,
	}
	for _, role := range access.Roles() {
		tok := signInAs(t, s, string(role)+"-held@example.com", role)
		p := access.Principal{Role: role, Stage: access.StageDone}
		for _, rt := range s.routes() {
			method, path := concrete(rt.pattern)
			if method != http.MethodPost || !access.Allowed(p, rt.perm) || !(access.Sensitive(rt.perm) || fresh[rt.pattern]) {
				continue
			}
			if stepUpPurposes[rt.pattern] == "" {
				t.Errorf("%s: no purpose for its confirmation page", rt.pattern)
			}
			makeStale(t, s, tok)
			page, final := stepUpCycle(t, s, cookieOf(tok), path, url.Values{"probe": {"1"}})
			if !strings.Contains(page, html.EscapeString(stepUpPurposes[rt.pattern])) {
				t.Errorf("%s as %s: the confirmation page does not say %q", rt.pattern, role, stepUpPurposes[rt.pattern])
			}
			if loc := final.Header.Get("Location"); strings.HasPrefix(loc, "/account/reauth") || strings.Contains(loc, "stepup-lapsed") {
				t.Errorf("%s as %s: after the password %d %q: the action was not carried out", rt.pattern, role, final.StatusCode, loc)
			}
		}
	}
}

// TestRecoveryCodesRefreshDoesNotReplace covers CP-4.1: the page that shows
// new recovery codes is a form's answer; sending that form again (a
// refresh) must not void the codes the person just saved.
func TestRecoveryCodesRefreshDoesNotReplace(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		tok := signInFull(t, s, "codes.refresh@example.com")
		id := accountOf(t, s, tok)
		page := do(s, "GET", "/account/security", nil, map[string]string{"Cookie": cookieOf(tok)}).Body.String()
		if !strings.Contains(page, "(authenticator app)") {
			t.Error("the sign-in history names methods by their identifiers, not for people")
		}
		m := regexp.MustCompile(`name="set" value="([^"]*)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatal("the security page's form does not name the current set")
		}
		form := url.Values{"set": {m[1]}}
		first := post(s, "/account/recovery-codes", form, cookieOf(tok))
		if first.StatusCode != 200 {
			t.Fatalf("new codes: %d", first.StatusCode)
		}
		set, err := s.identity.RecoverySet(context.Background(), id)
		if err != nil || set == m[1] {
			t.Fatalf("the set did not change: %q (%v)", set, err)
		}
		again := post(s, "/account/recovery-codes", form, cookieOf(tok))
		if again.StatusCode != http.StatusSeeOther || !strings.Contains(again.Header.Get("Location"), "recovery-already-made") {
			t.Errorf("the same form again: %d %q", again.StatusCode, again.Header.Get("Location"))
		}
		if now, _ := s.identity.RecoverySet(context.Background(), id); now != set {
			t.Error("sending the form again replaced the codes just shown")
		}
	})
}
