package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/session"
)

// sessionLive reports whether the session behind a token still opens.
func sessionLive(s *testServer, token string) bool {
	_, err := s.sessions.Authenticate(context.Background(), token)
	return err == nil
}

func riskKinds(t *testing.T, s *testServer, accountID string) []string {
	t.Helper()
	var q string
	var args []any
	if accountID == "" {
		q = `SELECT kind FROM risk_signals WHERE account_id IS NULL ORDER BY created_at`
	} else {
		q, args = `SELECT kind FROM risk_signals WHERE account_id = $1 ORDER BY created_at`, []any{accountID}
	}
	rows, err := s.db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		rows.Scan(&k)
		out = append(out, k)
	}
	return out
}

func accountOf(t *testing.T, s *testServer, token string) string {
	t.Helper()
	sess, err := s.sessions.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return sess.AccountID
}

// TestContextChangeForcesSignIn: a session used from another browser or
// from another country is ended, its holder is sent to sign in again with
// the reason, and a risk signal is recorded (CP-6.3).
func TestContextChangeForcesSignIn(t *testing.T) {
	// The test client is 192.0.2.1; it is the operator's reverse proxy.
	s := newTestServer(t, func(d *Deps) { d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })

	t.Run("user agent change", func(t *testing.T) {
		tok := signInFull(t, s, "ua@example.com")
		id := accountOf(t, s, tok)
		cookie := session.CookieName + "=" + tok
		if w := do(s, "GET", "/account", nil, map[string]string{"Cookie": cookie}); w.Code != 200 {
			t.Fatalf("same browser: %d", w.Code)
		}
		w := do(s, "GET", "/account", nil, map[string]string{"Cookie": cookie, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"})
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?done=risk-user_agent_change") {
			t.Fatalf("other browser: %d %q", w.Code, w.Header().Get("Location"))
		}
		if sessionLive(s, tok) {
			t.Fatal("the session survived a change of browser")
		}
		if got := riskKinds(t, s, id); len(got) != 1 || got[0] != identity.RiskUserAgentChange {
			t.Fatalf("risk signals %v", got)
		}
		page := do(s, "GET", w.Header().Get("Location"), nil, nil)
		if !strings.Contains(page.Body.String(), "different browser") {
			t.Error("the sign-in page does not say why")
		}

	})

	t.Run("country change through a trusted proxy", func(t *testing.T) {
		tok := signInFull(t, s, "country@example.com") // signed in from 192.0.2.10: no country
		id := accountOf(t, s, tok)
		cookie := session.CookieName + "=" + tok
		// A client-written hop to the left of the real one proves nothing.
		w := do(s, "POST", "/account/report", strings.NewReader(url.Values{}.Encode()), map[string]string{
			"Cookie": cookie, "X-Forwarded-For": "81.2.69.142, 8.8.8.8", "Sec-Fetch-Site": "same-origin",
			"Content-Type": "application/x-www-form-urlencoded"})
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("POST from another country: %d", w.Code)
		}
		if sessionLive(s, tok) {
			t.Fatal("the session survived a change of country")
		}
		var detail string
		s.db.QueryRowContext(context.Background(), `SELECT detail FROM risk_signals WHERE account_id = $1`, id).Scan(&detail)
		if !strings.Contains(detail, `"to_country":"US"`) || strings.Contains(detail, "8.8.8.8") {
			t.Fatalf("risk detail %s: want the country, never the address", detail)
		}
	})

	t.Run("untrusted peer's X-Forwarded-For is ignored", func(t *testing.T) {
		plain := newTestServer(t)
		tok := signInFull(t, plain, "noproxy@example.com")
		w := do(plain, "GET", "/account", nil, map[string]string{"Cookie": session.CookieName + "=" + tok, "X-Forwarded-For": "8.8.8.8"})
		if w.Code != 200 || !sessionLive(plain, tok) {
			t.Fatalf("a forged X-Forwarded-For changed the session: %d", w.Code)
		}
	})
}

// TestBlockedNetwork: a request from a network the profile blocks ends the
// session, is recorded as a risk signal and is refused, sign-in included;
// static files and health checks still answer (CP-6.3).
func TestBlockedNetwork(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		tok := signInFull(t, s, "blocked@example.com")
		id := accountOf(t, s, tok)
		if w := do(s, "GET", "/account", nil, map[string]string{"Cookie": session.CookieName + "=" + tok}); w.Code != http.StatusForbidden {
			t.Fatalf("blocked network, session: %d", w.Code)
		}
		if sessionLive(s, tok) {
			t.Fatal("the session survived a request from a blocked network")
		}
		if got := riskKinds(t, s, id); len(got) != 1 || got[0] != identity.RiskBlockedNetwork {
			t.Fatalf("risk signals %v", got)
		}
		resp := post(s, "/login", url.Values{"email": {"blocked@example.com"}, "password": {testPassword}}, "")
		if resp.StatusCode != http.StatusForbidden || sessionCookie(resp) != "" {
			t.Fatalf("sign-in from a blocked network: %d", resp.StatusCode)
		}
		if got := riskKinds(t, s, ""); len(got) != 1 {
			t.Fatalf("anonymous risk signals %v", got)
		}
		if w := do(s, "GET", "/healthz", nil, nil); w.Code != 200 {
			t.Errorf("health check from a blocked network: %d", w.Code)
		}
	}, func(d *Deps) { d.Profile.Access.BlockedNetworks = []string{"192.0.2.0/24"} })
}

// TestLoopbackIsNotTrusted: a request from loopback gets the same checks
// as any other (CP-6.3): admin pages are not exempt.
func TestLoopbackIsNotTrusted(t *testing.T) {
	s := newTestServer(t)
	for _, target := range []string{"/admin", "/admin/users", "/desk", "/account"} {
		r := newRequest("GET", target)
		r.RemoteAddr = "127.0.0.1:5555"
		w := serve(s, r)
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login") {
			t.Errorf("GET %s from loopback: %d %q", target, w.Code, w.Header().Get("Location"))
		}
	}
}

// TestSensitiveNeedsStepUp: every route with a sensitive permission sends a
// session that has not re-authenticated within the step-up window to do
// so, before its handler runs (CP-6.3, MTL-3.2.2).
func TestSensitiveNeedsStepUp(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		for _, role := range access.Roles() {
			tok := signInAs(t, s, string(role)+"-stale@example.com", role)
			stale := time.Now().Add(-s.profile.Session.StepUpWindow.Duration - time.Minute)
			id := accountOf(t, s, tok)
			if err := s.db.Transact(context.Background(), func(tx *db.Tx) error {
				_, err := tx.ExecContext(context.Background(), `UPDATE sessions SET reauth_at = $1 WHERE account_id = $2`, stale, id)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			p := access.Principal{Role: role, Stage: access.StageDone}
			for _, rt := range s.routes() {
				if !access.Sensitive(rt.perm) || !access.Allowed(p, rt.perm) {
					continue
				}
				method, path := concrete(rt.pattern)
				w := do(s, method, path, nil, map[string]string{"Cookie": session.CookieName + "=" + tok, "Sec-Fetch-Site": "same-origin"})
				want := "/account/reauth?next=" // a page comes back to itself
				if method == http.MethodPost {
					want = "/account/reauth?action=" // a form is held (TestStepUpKeepsTheAction)
				}
				if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), want) {
					t.Errorf("%s as %s with a stale sign-in: %d %q", rt.pattern, role, w.Code, w.Header().Get("Location"))
				}
			}
		}
	})
}

func newRequest(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Header.Set("User-Agent", "test")
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestTrainingOverdueRestrictsStaff: a member of staff whose training is
// overdue keeps their own account pages, with a banner saying why, and
// gets a clear refusal on their role's pages until an administrator
// records the training (CP-12).
func TestTrainingOverdueRestrictsStaff(t *testing.T) {
	s := newTestServer(t)
	tok := signInAs(t, s, "late@example.com", access.RoleSupport)
	id := accountOf(t, s, tok)
	if err := s.db.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(), `UPDATE accounts SET created_at = $1 WHERE id = $2`, time.Now().Add(-30*24*time.Hour), id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"Cookie": cookieOf(tok)}
	if w := do(s, "GET", "/desk", nil, h); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "training is overdue") {
		t.Errorf("role page with overdue training: %d", w.Code)
	}
	w := do(s, "GET", "/account", nil, h)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "security-awareness training was due") {
		t.Errorf("own account page: %d", w.Code)
	}
	admin := signInAs(t, s, "trainer@example.com", access.RoleAdmin)
	if r := post(s, "/admin/users/"+id+"/training", url.Values{"date": {time.Now().UTC().Format("2006-01-02")}}, cookieOf(admin)); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("record training: %d", r.StatusCode)
	}
	if w := do(s, "GET", "/desk", nil, h); w.Code != 200 {
		t.Errorf("after training: %d", w.Code)
	}
}

// TestAuditRecordsNetworksNotAddresses: the audit trail, which is never
// encrypted and outlives accounts, records the client's network and coarse
// device, not the exact address or browser string (CP-5.1, MTL-2.1.3).
func TestAuditRecordsNetworksNotAddresses(t *testing.T) {
	s := newTestServer(t, func(d *Deps) { d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })
	post(s, "/login", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password entirely"}}, "")
	r := newRequest("POST", "/signup")
	r.Header.Set("X-Forwarded-For", "198.51.100.77")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0 Exact-UA-5J1")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Body = io.NopCloser(strings.NewReader(url.Values{"email": {"new@example.com"}, "name": {"New Person"}, "password": {testPassword}, "privacy": {"on"}}.Encode()))
	serve(s, r)
	rows, err := s.db.QueryContext(context.Background(), `SELECT ip, user_agent FROM audit_events WHERE ip <> ''`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var ip, ua string
		rows.Scan(&ip, &ua)
		seen++
		if strings.Contains(ip, "198.51.100.77") || strings.Contains(ua, "Exact-UA-5J1") {
			t.Errorf("the audit trail holds %q / %q", ip, ua)
		}
		if ip == "198.51.100.0/24" && !strings.Contains(ua, "Firefox") {
			t.Errorf("device %q", ua)
		}
	}
	if seen == 0 {
		t.Fatal("no audit event with a request context: the test checks nothing")
	}
}

// TestRiskSignalsShownToTheOwner: a session ended on a risk signal is
// listed on its owner's security page, with what changed (CP-6.3, CP-3.1).
func TestRiskSignalsShownToTheOwner(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	// A session short of its second factor is checked for its context
	// too: its browser changes, and it ends.
	first, _, secret := signInSecret(t, s, "told@example.com", true)
	full := func(at time.Time) string {
		res, err := s.identity.Login(ctx, identity.Credentials{Email: "told@example.com", Password: testPassword, IP: "192.0.2.10", UserAgent: "test"})
		if err != nil {
			t.Fatal(err)
		}
		sess, err := s.sessions.Authenticate(ctx, res.Token)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := totp.GenerateCode(secret, at)
		done, err := s.identity.VerifySecondFactor(ctx, sess, code, "192.0.2.10", "test")
		if err != nil {
			t.Fatal(err)
		}
		return done.Token
	}
	do(s, "GET", "/login/mfa", nil, map[string]string{"Cookie": session.CookieName + "=" + first, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"})
	second := full(time.Now().Add(30 * time.Second))
	page := do(s, "GET", "/account/security", nil, map[string]string{"Cookie": session.CookieName + "=" + second}).Body.String()
	if !strings.Contains(page, "used from another browser") || !strings.Contains(page, "Firefox") {
		t.Error("the security page does not list the session ended on a change of browser")
	}
}

// TestStaffPagesRefuseCrossSite covers CP-6.1 and CP-6.3: a staff page
// opened from another site (a link, a redirect, an image: any request whose
// browser says cross-site or same-site) is refused and leaves no event in
// the staff member's name; opened from Portico, a bookmark or the address
// bar it works. A customer's pages still open from a link in an email.
func TestStaffPagesRefuseCrossSite(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		sup := signInAs(t, s, "desk@example.com", access.RoleSupport)
		cust := signInAs(t, s, "cust@example.com", access.RoleCustomer)
		page := "/desk/customers/" + accountOf(t, s, cust)
		views := func() int {
			t.Helper()
			evs, err := s.audit.Search(context.Background(), audit.Filter{Action: "customer.view", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		for _, site := range []string{"cross-site", "same-site"} {
			w := do(s, "GET", page, nil, map[string]string{"Cookie": cookieOf(sup), "Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate"})
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "another site") {
				t.Errorf("%s navigation to a staff page: %d", site, w.Code)
			}
		}
		if n := views(); n != 0 {
			t.Fatalf("a refused cross-site view left %d customer.view events", n)
		}
		for _, site := range []string{"same-origin", "none", ""} {
			if w := do(s, "GET", page, nil, map[string]string{"Cookie": cookieOf(sup), "Sec-Fetch-Site": site}); w.Code != 200 {
				t.Errorf("Sec-Fetch-Site %q: %d, want 200", site, w.Code)
			}
		}
		if n := views(); n != 3 {
			t.Errorf("%d customer.view events after three views", n)
		}
		if w := do(s, "GET", "/account", nil, map[string]string{"Cookie": cookieOf(cust), "Sec-Fetch-Site": "cross-site"}); w.Code != 200 {
			t.Errorf("customer page from an email link: %d", w.Code)
		}
	})
}
