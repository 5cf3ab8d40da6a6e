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
	"github.com/portico/portico/internal/detect"
)

var reportLink = regexp.MustCompile(`href="/security/reports/([a-z2-7]{26})"`)

// TestReportThroughTheQueue (CP-7.3, CP-3.2, CP-3.1): a customer's "this
// wasn't me" reaches the security team's queue; the team's question
// reaches the customer's page for the report (the internal note does not);
// the customer answers there; the team closes it, and the customer sees the
// outcome on the page and in their inbox. Another customer gets 404 for
// the report and its answer form.
func TestReportThroughTheQueue(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		cust := cookieOf(signInFull(t, s, "reporter@example.com"))
		other := cookieOf(signInFull(t, s, "other@example.com"))
		sec := cookieOf(signInAs(t, s, "sec@example.com", access.RoleSecurity))
		get := func(path, cookie string) (int, string) {
			w := do(s, "GET", path, nil, map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin"})
			return w.Code, html.UnescapeString(w.Body.String())
		}
		mustPost := func(path string, form url.Values, cookie, wantDone string) {
			t.Helper()
			resp := post(s, path, form, cookie)
			if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "?done="+wantDone) {
				t.Fatalf("POST %s: %d %q", path, resp.StatusCode, resp.Header.Get("Location"))
			}
		}

		if resp := post(s, "/account/report", url.Values{"note": {"A sign-in from Lisbon I never made."}}, cust); resp.StatusCode != http.StatusOK {
			t.Fatalf("report: %d", resp.StatusCode)
		}
		code, queue := get("/security/reports", sec)
		m := reportLink.FindStringSubmatch(queue)
		if code != 200 || m == nil {
			t.Fatalf("the report is not in the queue: %d", code)
		}
		id := m[1]
		base := "/security/reports/" + id
		if _, page := get(base, sec); !strings.Contains(page, "A sign-in from Lisbon I never made.") {
			t.Fatal("the security team does not see what the customer said")
		}

		mustPost(base+"/assign", nil, sec, "report-assign")
		mustPost(base+"/note", url.Values{"body": {"Internal: same network as alert 7."}}, sec, "report-note")
		mustPost(base+"/ask", url.Values{"body": {"Were you travelling on 1 November?"}}, sec, "report-ask")

		mine := "/account/reports/" + id
		code, page := get(mine, cust)
		if code != 200 || !strings.Contains(page, "Were you travelling on 1 November?") || !strings.Contains(page, `action="/account/reports/`+id+`/answer"`) {
			t.Fatalf("the customer does not see the question and the answer form: %d", code)
		}
		if strings.Contains(page, "same network as alert 7") {
			t.Fatal("the customer sees the security team's internal note")
		}
		if code, _ := get(mine, other); code != http.StatusNotFound {
			t.Errorf("another customer opens the report: %d, want 404", code)
		}
		if resp := post(s, mine+"/answer", url.Values{"answer": {"Yes, I was in Lisbon."}}, other); resp.StatusCode != http.StatusNotFound {
			t.Errorf("another customer answers the report: %d, want 404", resp.StatusCode)
		}
		mustPost(mine+"/answer", url.Values{"answer": {"No, I was at home."}}, cust, "report-answered")
		if _, page := get(base, sec); !strings.Contains(page, "No, I was at home.") || strings.Contains(page, "Yes, I was in Lisbon.") {
			t.Fatal("the security team does not see the owner's answer alone")
		}

		// Closing needs an outcome; closed, the customer sees it.
		if resp := post(s, base+"/close", url.Values{"outcome": {""}}, sec); resp.StatusCode != http.StatusUnprocessableEntity && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("close without an outcome: %d", resp.StatusCode)
		}
		mustPost(base+"/close", url.Values{"outcome": {"confirmed_compromise"}, "message": {"We ended every session."}}, sec, "report-close")
		_, page = get(mine, cust)
		if !strings.Contains(page, detect.Outcomes["confirmed_compromise"]) || !strings.Contains(page, "We ended every session.") ||
			strings.Contains(page, `/answer"`) {
			t.Fatal("the customer does not see the outcome (or may still answer)")
		}
		sess, err := s.sessions.Authenticate(ctx, strings.TrimPrefix(cust, cookieOf("")))
		if err != nil {
			t.Fatal(err)
		}
		inbox, err := s.notices.Inbox(ctx, sess.AccountID, 20)
		if err != nil {
			t.Fatal(err)
		}
		told := false
		for _, n := range inbox {
			told = told || strings.Contains(n.Body, detect.Outcomes["confirmed_compromise"]) && strings.Contains(n.Body, "/account/reports/"+id)
		}
		if !told {
			t.Error("the customer was not told the outcome by a notice")
		}
		if resp := post(s, base+"/close", url.Values{"outcome": {"duplicate"}}, sec); resp.StatusCode != http.StatusConflict {
			t.Errorf("closing twice: %d, want 409", resp.StatusCode)
		}
	})
}
