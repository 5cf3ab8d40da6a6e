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
		admin := signInAs(t, s, "dpo@example.com", access.RoleAdmin)
		if w := do(s, "GET", "/admin/privacy", nil, map[string]string{"Cookie": cookieOf(admin)}); w.Code != 200 || !strings.Contains(w.Body.String(), "erasure") || !strings.Contains(w.Body.String(), "Record of processing") {
			t.Errorf("admin privacy page: %d", w.Code)
		}
		if r := post(s, "/account/data/erase/cancel", url.Values{}, c); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("cancel: %d", r.StatusCode)
		}
		makeStale(t, s, tok)
		if r := post(s, "/account/data/export", url.Values{}, c); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/account/reauth?next=%2Faccount%2Fdata") {
			t.Errorf("stale export: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		staff := signInAs(t, s, "staffdata@example.com", access.RoleSupport)
		if r := post(s, "/account/data/erase", url.Values{"confirm": {"yes"}}, cookieOf(staff)); r.StatusCode != http.StatusForbidden {
			t.Errorf("staff self-erasure: %d", r.StatusCode)
		}
	})
}
