package web

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"log"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/thirdparty"
	"github.com/portico/portico/internal/vendorcheck"
)

var vendorLink = regexp.MustCompile(`/vendor-assessment/([A-Z2-7]{26})`)

func vendorAnswers() url.Values {
	f := url.Values{}
	for _, q := range thirdparty.Questions().Questions {
		switch {
		case q.Kind == thirdparty.KindYesNo:
			f.Set("q-"+q.ID, q.Good)
		case q.Good == "max:72":
			f.Set("q-"+q.ID, "24")
		default:
			f.Set("q-"+q.ID, "Our answer")
		}
	}
	return f
}

// TestVendorPages (CP-10.1, MTL-6.1, MTL-6.2, MTL-1.2): the security team
// registers a vendor (a category outside the inventory is refused on the
// form), starts an assessment and sends the link; the vendor answers once
// without an account (a second answer and an expired link are refused
// with a clear page); another member approves; the vendor is approved;
// an agreement is uploaded and downloaded; a staff account is linked.
// Auditors read the register and the vendor but change nothing (their
// writes answer 404, like every route they may not use).
func TestVendorPages(t *testing.T) {
	// A vendor endpoint: a local TLS server without HSTS, trusted through
	// the service's option.
	endpoint := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("vendor")) }))
	endpoint.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(endpoint.Close)
	roots := x509.NewCertPool()
	roots.AddCert(endpoint.Certificate())
	withRoots := func(d *Deps) {
		d.Vendors = thirdparty.New(d.DB, d.Audit, d.Profile, thirdparty.WithCheckOptions(vendorcheck.Options{Roots: roots, Timeout: 5 * time.Second}))
		d.Vendors.SetDataCategories(privacy.CategoryNames(d.Profile))
	}
	eachServer(t, func(t *testing.T, s *testServer) {
		e := newPlanEnv(t, s)
		code, page := e.get("/vendors", e.aud)
		if code != 200 || !strings.Contains(page, "No vendor is registered yet.") || strings.Contains(page, `href="/vendors/new"`) {
			t.Fatalf("empty register for the auditor: %d\n%s", code, visibleText(page))
		}
		if code, _ := e.get("/vendors/new", e.aud); code != http.StatusNotFound {
			t.Errorf("auditor opens the form: %d", code)
		}
		if code, _ := e.postCode("/vendors", url.Values{"name": {"X"}}, e.aud); code != http.StatusNotFound {
			t.Errorf("auditor registers: %d", code)
		}
		if code, page := e.get("/vendors/new", e.sec1); code != 200 || !strings.Contains(page, "Account identity") {
			t.Fatalf("form: %d\n%s", code, visibleText(page))
		}
		form := url.Values{"name": {"Mailer Ltd"}, "service": {"Sends our email"}, "categories": {"Account identity", "Card numbers"},
			"endpoints": {"https://api.mailer.example/v1"}, "owner": {e.id1}}
		if code, page := e.postCode("/vendors", form, e.sec1); code != http.StatusUnprocessableEntity || !strings.Contains(page, "Choose the data categories from the data inventory") ||
			!strings.Contains(page, `value="Mailer Ltd"`) {
			t.Fatalf("unknown category: %d\n%s", code, visibleText(page))
		}
		form["categories"] = []string{"Account identity", "Contact details"}
		loc := e.mustPost("/vendors", form, e.sec1, `/vendors/[a-z2-7]{26}\?done=vendor-registered`)
		base := strings.Split(loc, "?")[0]
		code, page = e.get(loc, e.aud)
		if code != 200 || !strings.Contains(page, "Mailer Ltd") || !strings.Contains(page, "https://api.mailer.example/v1") || strings.Contains(page, "Check now") {
			t.Fatalf("vendor page for the auditor: %d\n%s", code, visibleText(page))
		}

		// Editing: the same checks; the tier follows the categories.
		if code, page := e.get(base+"/edit", e.sec1); code != 200 || !strings.Contains(page, `value="Mailer Ltd"`) {
			t.Fatalf("edit form: %d\n%s", code, visibleText(page))
		}
		form["endpoints"] = []string{"ftp://api.mailer.example/"}
		if code, page := e.postCode(base+"/edit", form, e.sec1); code != http.StatusUnprocessableEntity || !strings.Contains(page, "https:// URL") {
			t.Fatalf("edit with a bad endpoint: %d\n%s", code, visibleText(page))
		}
		form["endpoints"] = []string{"https://api.mailer.example/v2"}
		e.mustPost(base+"/edit", form, e.sec1, base+`\?done=vendor-updated`)
		if _, page := e.get(base, e.aud); !strings.Contains(page, "https://api.mailer.example/v2") {
			t.Errorf("edited endpoint not shown:\n%s", visibleText(page))
		}
		loc = e.mustPost(base+"/assessments", nil, e.sec1, base+`/assessments/[a-z2-7]{26}\?done=assessment-started`)
		assess := strings.Split(loc, "?")[0]
		code, page = e.postCode(assess+"/link", nil, e.sec1)
		m := vendorLink.FindStringSubmatch(page)
		if code != 200 || m == nil {
			t.Fatalf("link: %d\n%s", code, visibleText(page))
		}
		link := "/vendor-assessment/" + m[1]
		// The vendor, without an account.
		if code, page := e.get(link, ""); code != 200 || !strings.Contains(page, "Mailer Ltd: please answer") || !strings.Contains(page, "ISO/IEC 27001") {
			t.Fatalf("vendor's form: %d\n%s", code, visibleText(page))
		}
		bad := vendorAnswers()
		bad.Del("q-enc-rest")
		if code, page := e.postCode(link, bad, ""); code != http.StatusUnprocessableEntity || !strings.Contains(page, "Answer yes or no") {
			t.Fatalf("incomplete: %d\n%s", code, visibleText(page))
		}
		if code, page := e.postCode(link, vendorAnswers(), ""); code != 200 || !strings.Contains(page, "your answers are recorded") {
			t.Fatalf("answers: %d\n%s", code, visibleText(page))
		}
		if code, page := e.postCode(link, vendorAnswers(), ""); code != http.StatusConflict || !strings.Contains(page, "already been answered") {
			t.Fatalf("second answer: %d\n%s", code, visibleText(page))
		}
		if code, _ := e.get("/vendor-assessment/AAAAAAAAAAAAAAAAAAAAAAAAAA", ""); code != http.StatusNotFound {
			t.Errorf("unknown link: %d", code)
		}

		e.mustPost(assess+"/approve", nil, e.sec2, base+`\?done=assessment-approved`)

		// Check now (CP-10.2): the live endpoint, its result in the history.
		form["endpoints"] = []string{endpoint.URL + "/"}
		e.mustPost(base+"/edit", form, e.sec1, base+`\?done=vendor-updated`)
		if code, _ := e.postCode(base+"/check", nil, e.aud); code != http.StatusNotFound {
			t.Errorf("auditor checks: %d", code)
		}
		e.mustPost(base+"/check", nil, e.sec1, base+`\?done=vendor-checked`)
		if _, page := e.get(base, e.aud); !strings.Contains(visibleText(page), "hsts fail: no Strict-Transport-Security header") ||
			!strings.Contains(visibleText(page), "TLS 1.3") {
			t.Errorf("check history:\n%s", visibleText(page))
		}
		e.mustPost(base+"/approve", nil, e.sec1, base+`\?done=vendor-approved`)
		_, page = e.get("/vendors", e.aud)
		if !strings.Contains(page, "medium") || !strings.Contains(page, "approved") {
			t.Errorf("register after approval:\n%s", visibleText(page))
		}
		// The privacy notice names it as a recipient, with what it receives.
		if _, page := e.get("/privacy", ""); !strings.Contains(visibleText(page), "Mailer Ltd (Sends our email): Account identity, Contact details") {
			t.Errorf("privacy notice recipients:\n%s", visibleText(page))
		}

		// A second assessment whose link has expired.
		loc = e.mustPost(base+"/assessments", nil, e.sec1, base+`/assessments/[a-z2-7]{26}\?done=assessment-started`)
		_, page = e.postCode(strings.Split(loc, "?")[0]+"/link", nil, e.sec1)
		link2 := "/vendor-assessment/" + vendorLink.FindStringSubmatch(page)[1]
		if err := s.db.Transact(context.Background(), func(tx *db.Tx) error {
			_, err := tx.ExecContext(context.Background(), `UPDATE vendor_assessments SET link_expires_at = $1 WHERE link_hash IS NOT NULL AND link_used_at IS NULL`,
				s.db.Now().Add(-time.Second))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if code, page := e.get(link2, ""); code != http.StatusGone || !strings.Contains(page, "This assessment link has expired") {
			t.Errorf("expired link: %d\n%s", code, visibleText(page))
		}
		if code, _ := e.postCode(link2, vendorAnswers(), ""); code != http.StatusGone {
			t.Errorf("expired link answered: %d", code)
		}

		// An agreement, uploaded and downloaded.
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, v := range map[string]string{"kind": "dpa", "starts_on": "2026-01-01", "expires_on": "2030-01-01"} {
			mw.WriteField(k, v)
		}
		mw.WriteField("clauses", "breach_notification")
		fw, _ := mw.CreateFormFile("file", "dpa.pdf")
		body := []byte("%PDF-1.4\n%%EOF\n")
		fw.Write(body)
		mw.Close()
		resp := do(s, "POST", base+"/agreements", &b, map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": mw.FormDataContentType(), "Cookie": e.sec1}).Result()
		if resp.StatusCode != http.StatusSeeOther {
			rb, _ := io.ReadAll(resp.Body)
			t.Fatalf("agreement: %d\n%s", resp.StatusCode, visibleText(string(rb)))
		}
		_, page = e.get(base, e.aud)
		gm := regexp.MustCompile(base + `/agreements/([a-z2-7]{26})`).FindString(page)
		if gm == "" || !strings.Contains(page, "audit_rights") {
			t.Fatalf("agreement on the page:\n%s", visibleText(page))
		}
		w := do(s, "GET", gm, nil, map[string]string{"Cookie": e.aud, "Sec-Fetch-Site": "same-origin"})
		if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), body) || !strings.HasPrefix(w.Header().Get("Content-Disposition"), "attachment") {
			t.Errorf("download: %d %q", w.Code, w.Header().Get("Content-Disposition"))
		}

		// People.
		if code, _ := e.postCode(base+"/people", url.Values{"account": {e.id2}}, e.aud); code != http.StatusNotFound {
			t.Errorf("auditor links: %d", code)
		}
		e.mustPost(base+"/people", url.Values{"account": {e.id2}}, e.sec1, base+`\?done=person-linked`)
		_, page = e.get(base, e.aud)
		if !strings.Contains(visibleText(page), e.id2+" (security), linked") {
			t.Errorf("people on the page:\n%s", visibleText(page))
		}
		admin := cookieOf(signInAs(t, s, "adm@example.com", access.RoleAdmin))
		if code, page := e.get("/admin/users/"+e.id2, admin); code != 200 || !strings.Contains(visibleText(page), "Works forMailer Ltd") {
			t.Errorf("the administrator's view of the account: %d\n%s", code, visibleText(page))
		}
	}, withRoots)
}
