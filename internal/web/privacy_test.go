package web

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico/portico/internal/access"
)

// TestDataRightsPages: a customer prepares an export (fresh sign-in),
// downloads it once as a zip, schedules the erasure of their account and
// cancels it; staff are sent to an administrator; admins see the request
// with its deadline (CP-11.1, MTL-7.1).
func TestDataRightsPages(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		tok := signInFull(t, s, "rights@example.com")
		c := cookieOf(tok)
		if w := do(s, "GET", "/account/data", nil, map[string]string{"Cookie": c}); w.Code != 200 || !strings.Contains(w.Body.String(), "Prepare my data") {
			t.Fatalf("data page: %d", w.Code)
		}
		r := post(s, "/account/data/export", url.Values{}, c)
		body, _ := io.ReadAll(r.Body)
		m := regexp.MustCompile(`name="token" value="([a-z2-7]+)"`).FindSubmatch(body)
		if r.StatusCode != 200 || m == nil {
			t.Fatalf("prepare: %d", r.StatusCode)
		}
		dl := post(s, "/account/data/download", url.Values{"token": {string(m[1])}}, c)
		zipped, _ := io.ReadAll(dl.Body)
		if dl.StatusCode != 200 || dl.Header.Get("Content-Type") != "application/zip" {
			t.Fatalf("download: %d %s", dl.StatusCode, dl.Header.Get("Content-Type"))
		}
		zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
		if err != nil || len(zr.File) < 5 {
			t.Fatalf("zip: %v", err)
		}
		if again := post(s, "/account/data/download", url.Values{"token": {string(m[1])}}, c); again.StatusCode != http.StatusGone {
			t.Errorf("second download: %d", again.StatusCode)
		}
		if r := post(s, "/account/data/erase", url.Values{}, c); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("erase without confirming: %d", r.StatusCode)
		}
		if r := post(s, "/account/data/erase", url.Values{"confirm": {"yes"}}, c); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("erase: %d", r.StatusCode)
		}
		if w := do(s, "GET", "/account/data", nil, map[string]string{"Cookie": c}); !strings.Contains(w.Body.String(), "will be deleted on") {
			t.Error("the page does not show the scheduled deletion")
		}
		// CP-11.1: every other page says so too, with the way back.
		for _, path := range []string{"/account", "/account/security", "/tickets"} {
			if w := do(s, "GET", path, nil, map[string]string{"Cookie": c}); !strings.Contains(w.Body.String(), "will be deleted on") || !strings.Contains(w.Body.String(), "Cancel the deletion") {
				t.Errorf("%s does not show the scheduled deletion", path)
			}
		}
		admin := signInAs(t, s, "dpo@example.com", access.RoleAdmin)
		if w := do(s, "GET", "/admin/privacy", nil, map[string]string{"Cookie": cookieOf(admin)}); w.Code != 200 || !strings.Contains(w.Body.String(), "erasure") || !strings.Contains(w.Body.String(), "Record of processing") {
			t.Errorf("admin privacy page: %d", w.Code)
		}
		if r := post(s, "/account/data/erase/cancel", url.Values{}, c); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("cancel: %d", r.StatusCode)
		}
		if w := do(s, "GET", "/account", nil, map[string]string{"Cookie": c}); strings.Contains(w.Body.String(), "will be deleted on") {
			t.Error("the deletion banner stays after the cancel")
		}
		makeStale(t, s, tok)
		if r := post(s, "/account/data/export", url.Values{}, c); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/account/reauth?action=") {
			t.Errorf("stale export: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		staff := signInAs(t, s, "staffdata@example.com", access.RoleSupport)
		if r := post(s, "/account/data/erase", url.Values{"confirm": {"yes"}}, cookieOf(staff)); r.StatusCode != http.StatusForbidden {
			t.Errorf("staff self-erasure: %d", r.StatusCode)
		}
	})
}

// TestNoticeAndConsentPages: a customer who has not read the notice in
// force is asked on every page until they acknowledge it; consents are
// given and withdrawn from the data page; an administrator's new version
// asks again (MTL-2.1.1, MTL-2.1.2).
func TestNoticeAndConsentPages(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		c := cookieOf(signInFull(t, s, "notice@example.com"))
		page := do(s, "GET", "/account", nil, map[string]string{"Cookie": c}).Body.String()
		if !strings.Contains(page, "We updated our privacy notice") {
			t.Fatal("no request to read the notice")
		}
		form := do(s, "GET", "/account/privacy-notice", nil, map[string]string{"Cookie": c}).Body.String()
		v := regexp.MustCompile(`name="version" value="([^"]+)"`).FindStringSubmatch(form)
		if v == nil {
			t.Fatal("no acknowledgement form")
		}
		if r := post(s, "/account/privacy-notice", url.Values{"version": {v[1]}, "next": {"/account"}}, c); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("acknowledge: %d", r.StatusCode)
		}
		if strings.Contains(do(s, "GET", "/account", nil, map[string]string{"Cookie": c}).Body.String(), "We updated our privacy notice") {
			t.Error("still asked after acknowledging")
		}
		if r := post(s, "/account/data/consent", url.Values{"purpose": {"product_news"}, "granted": {"yes"}}, c); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("consent: %d", r.StatusCode)
		}
		data := do(s, "GET", "/account/data", nil, map[string]string{"Cookie": c}).Body.String()
		if !strings.Contains(data, `id="withdraw-product_news"`) {
			t.Error("the consent is not shown as given")
		}
		post(s, "/account/data/consent", url.Values{"purpose": {"product_news"}, "granted": {"no"}}, c)
		if data := do(s, "GET", "/account/data", nil, map[string]string{"Cookie": c}).Body.String(); !strings.Contains(data, `id="agree-product_news"`) || !strings.Contains(data, "withdrew product_news") {
			t.Error("the withdrawal is not shown")
		}
		admin := cookieOf(signInAs(t, s, "publisher@example.com", access.RoleAdmin))
		if r := post(s, "/admin/privacy/notices", url.Values{"version": {"2027-01"}, "changes": {"We now keep sign-in history for 12 months."}}, admin); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("publish: %d", r.StatusCode)
		}
		if !strings.Contains(do(s, "GET", "/account", nil, map[string]string{"Cookie": c}).Body.String(), "We updated our privacy notice") {
			t.Error("a new version does not ask again")
		}
	})
}

// TestRestrictionOfProcessing: an administrator restricts a customer's
// processing with a reason; the customer's account becomes read-only (no
// new ticket, no change of contact details) but keeps their data rights
// and security; support cannot answer their tickets; lifting it restores
// everything (CP-11.1).
func TestRestrictionOfProcessing(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		tok := signInFull(t, s, "restrict.me@example.com")
		c := cookieOf(tok)
		id := accountOf(t, s, tok)
		resp := postMultipart(s, "/tickets", map[string]string{"subject": "Before the restriction", "body": "hello"}, nil, c)
		tid := ticketLink.FindStringSubmatch(resp.Header.Get("Location"))[1]
		admin := cookieOf(signInAs(t, s, "dpo2@example.com", access.RoleAdmin))
		if r := post(s, "/admin/users/"+id+"/restrict", url.Values{"reason": {"short"}}, admin); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("restriction without a reason: %d", r.StatusCode)
		}
		if r := post(s, "/admin/users/"+id+"/restrict", url.Values{"reason": {"The customer objected by email on 24 November"}}, admin); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("restrict: %d", r.StatusCode)
		}
		if w := do(s, "GET", "/tickets/"+tid, nil, map[string]string{"Cookie": c}); w.Code != 200 || !strings.Contains(w.Body.String(), "read-only") {
			t.Errorf("reading under restriction: %d", w.Code)
		}
		if r := postMultipart(s, "/tickets", map[string]string{"subject": "During the restriction", "body": "hello"}, nil, c); r.StatusCode != http.StatusForbidden {
			t.Errorf("new ticket under restriction: %d", r.StatusCode)
		}
		if r := post(s, "/account/contact", url.Values{"name": {"Changed"}}, c); r.StatusCode != http.StatusForbidden {
			t.Errorf("contact change under restriction: %d", r.StatusCode)
		}
		if r := post(s, "/account/data/export", url.Values{}, c); r.StatusCode != 200 {
			t.Errorf("export under restriction: %d", r.StatusCode)
		}
		agent := cookieOf(signInAs(t, s, "agent.r@example.com", access.RoleSupport))
		if r := postMultipart(s, "/desk/tickets/"+tid+"/reply", map[string]string{"body": "An answer"}, nil, agent); r.StatusCode != http.StatusConflict {
			t.Errorf("support reply under restriction: %d", r.StatusCode)
		}
		if page := do(s, "GET", "/admin/privacy", nil, map[string]string{"Cookie": admin}).Body.String(); !strings.Contains(page, "<td>restriction</td>") {
			t.Error("the restriction is not tracked on the requests page")
		}
		// The reason is sealed under the customer's key in the trail and
		// shown decrypted to whoever reads the trail (CP-5.2).
		auditor := cookieOf(signInAs(t, s, "auditor.r@example.com", access.RoleAuditor))
		if page := do(s, "GET", "/admin/audit?action=account.restriction.set", nil, map[string]string{"Cookie": auditor}).Body.String(); !strings.Contains(page, "The customer objected by email on 24 November") {
			t.Error("the audit page does not show the restriction's reason")
		}
		if r := post(s, "/admin/users/"+id+"/unrestrict", url.Values{}, admin); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("lift: %d", r.StatusCode)
		}
		if r := postMultipart(s, "/tickets", map[string]string{"subject": "After the restriction", "body": "hello"}, nil, c); r.StatusCode != http.StatusSeeOther {
			t.Errorf("new ticket after lifting: %d", r.StatusCode)
		}
	})
}
