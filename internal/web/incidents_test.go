package web

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico/portico/internal/access"
)

var (
	incidentLink = regexp.MustCompile(`/security/incidents/([a-z2-7]{26})\?done=incident-open`)
	noticeLink   = regexp.MustCompile(`/security/incidents/[a-z2-7]{26}/notices/([a-z2-7]{26})\?done=notice-saved`)
)

// TestIncidentToCustomerNotice (CP-7.2, CP-9.1, CP-9.2, MTL-5.1.2): the
// security team opens an incident, finds the affected customers (every
// customer here), writes a breach notice the page refuses to send while a
// part is missing, and sends it; the affected customer sees the banner
// and the notice with its steps and confirms one; a customer outside the
// set sees nothing; an auditor reads the incident but cannot change it.
func TestIncidentToCustomerNotice(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		cust := cookieOf(signInFull(t, s, "affected@example.com"))
		sec := cookieOf(signInAs(t, s, "sec@example.com", access.RoleSecurity))
		aud := cookieOf(signInAs(t, s, "aud@example.com", access.RoleAuditor))
		get := func(path, cookie string) (int, string) {
			w := do(s, "GET", path, nil, map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin"})
			return w.Code, html.UnescapeString(w.Body.String())
		}
		mustPost := func(path string, form url.Values, cookie, wantDone string) string {
			t.Helper()
			resp := post(s, path, form, cookie)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "?done="+wantDone) {
				t.Fatalf("POST %s: %d %q", path, resp.StatusCode, loc)
			}
			return loc
		}
		loc := mustPost("/security/incidents", url.Values{"title": {"Passwords tried from one network"}, "severity": {"high"},
			"category": {"account takeover"}, "data": {"Account identity"}}, sec, "incident-open")
		id := incidentLink.FindStringSubmatch(loc)[1]
		base := "/security/incidents/" + id
		if code, page := get(base, sec); code != 200 || !strings.Contains(page, "Passwords tried from one network") || !strings.Contains(page, "Tell the affected customers (from detection): ") {
			t.Fatalf("incident page: %d", code)
		}
		// The customers are found first; a notice before that goes to nobody.
		mustPost(base+"/affected", url.Values{"kind": {"all"}}, sec, "incident-affected")
		// A draft without the consequences is saved but not sendable.
		draft := url.Values{"kind": {"breach"}, "title": {"A security incident affecting your account"},
			"nature": {"Someone tried stolen passwords."}, "measures": {"We locked the accounts."}, "advice": {"Choose a new password."},
			"contact": {"security@example.test"}, "step": {"change_password", "review_sessions"}}
		loc = mustPost(base+"/notices", draft, sec, "notice-saved")
		nid := noticeLink.FindStringSubmatch(loc)[1]
		nbase := base + "/notices/" + nid
		if _, page := get(nbase, sec); !strings.Contains(page, "It cannot be sent yet") || !strings.Contains(page, "likely consequences") {
			t.Fatal("the composer does not say what is missing")
		}
		if resp := post(s, nbase+"/send", nil, sec); resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("an incomplete notice was sent: %d", resp.StatusCode)
		}
		if _, page := get("/account/notices", cust); strings.Contains(page, "Someone tried stolen passwords.") {
			t.Fatal("the customer received an incomplete notice")
		}
		draft.Set("consequences", "Someone may have read your tickets.")
		mustPost(nbase, draft, sec, "notice-saved")
		if code, _ := get(nbase, aud); code != 200 {
			t.Errorf("an auditor cannot read the notice: %d", code)
		}
		if resp := post(s, nbase+"/send", nil, aud); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusForbidden {
			t.Errorf("an auditor sent the notice: %d", resp.StatusCode)
		}
		mustPost(nbase+"/send", nil, sec, "notice-sent")

		// Everyone signed up is a customer here; the staff are not.
		other := cookieOf(signInFull(t, s, "later@example.com"))
		if _, page := get("/account/notices", other); strings.Contains(page, "Someone tried stolen passwords.") {
			t.Fatal("a customer outside the affected set sees the notice")
		}
		_, page := get("/account", cust)
		if !strings.Contains(page, "We wrote to you about a security incident") {
			t.Fatal("no banner for the unread breach notice")
		}
		_, page = get("/account/notices", cust)
		if !strings.Contains(page, "Someone may have read your tickets.") || !strings.Contains(page, "Change your password") {
			t.Fatal("the customer's notice or its steps are missing")
		}
		m := regexp.MustCompile(`action="/account/notices/([a-z2-7]{26})/steps/review_sessions"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no confirm button for reviewing sessions")
		}
		if resp := post(s, "/account/notices/"+m[1]+"/steps/review_sessions", nil, other); resp.StatusCode != http.StatusNotFound {
			t.Errorf("a customer outside the set confirmed a step: %d", resp.StatusCode)
		}
		mustPost("/account/notices/"+m[1]+"/steps/review_sessions", nil, cust, "notice-step")
		if _, page := get(nbase, sec); !strings.Contains(page, "Review your signed-in devices and end any you do not recognise: 1 of 1 done") {
			t.Error("the step's progress is not shown to the security team")
		}
		if code, _ := get(base, cust); code != http.StatusNotFound {
			t.Errorf("a customer opens the incident: %d", code)
		}
	})
}
