package web

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico/portico/internal/access"
)

// postPolicyFile sends the import form as multipart, with a file when
// name is not empty.
func postPolicyFile(s *testServer, fields map[string]string, name string, data []byte, cookie string) (int, string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if name != "" {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(data)
	}
	mw.Close()
	resp := do(s, "POST", "/policies", &b, map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": mw.FormDataContentType(), "Cookie": cookie}).Result()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// TestPolicyDocumentPages (CP-11.2): the generated documents are listed
// with no owner; an administrator imports a document from a Markdown
// file (a binary file, a Word file, an oversize upload and an empty text
// are refused with nothing stored); its author cannot approve it,
// another administrator can, and it is shown rendered, safe, with its
// review date; a new version is compared line by line with the one in
// force; a review is recorded; the security team and auditors read every
// page but change nothing, and customers see none of it.
func TestPolicyDocumentPages(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		e := newPlanEnv(t, s) // two members of the security team and an auditor
		ta1 := signInAs(t, s, "adm1@example.com", access.RoleAdmin)
		ta2 := signInAs(t, s, "adm2@example.com", access.RoleAdmin)
		adm1, adm2 := cookieOf(ta1), cookieOf(ta2)
		id1, id2 := accountOf(t, s, ta1), accountOf(t, s, ta2)
		cust := cookieOf(signInFull(t, s, "cust@example.com"))

		code, page := e.get("/policies", adm1)
		if code != 200 || !strings.Contains(page, "No policy document yet.") {
			t.Fatalf("before any document: %d\n%s", code, visibleText(page))
		}
		if n, err := s.policyDocs.EnsureDefaults(context.Background()); err != nil || n != 2 {
			t.Fatalf("defaults: %d, %v", n, err)
		}
		_, page = e.get("/policies", e.aud)
		if text := visibleText(page); !strings.Contains(text, "Customer Portal Policy") || !strings.Contains(text, "1642MTL Webpage Security Policy") ||
			!strings.Contains(text, "none named") || !strings.Contains(text, "no version in force yet") || strings.Contains(page, `href="/policies/new"`) {
			t.Fatalf("the auditor's list of the generated documents:\n%s", text)
		}
		_, page = e.get("/policies/customer-portal-policy", e.aud)
		if text := visibleText(page); !strings.Contains(text, "CP-11.2: Annual review, or on significant change") || strings.Contains(page, `action="/policies`) {
			t.Fatalf("the auditor's view of a generated document:\n%s", text)
		}

		for who, c := range map[string]string{"customer": cust, "security": e.sec1, "auditor": e.aud} {
			if code, _ := e.get("/policies/new", c); code != http.StatusNotFound {
				t.Errorf("the %s opens the import form: %d", who, code)
			}
		}
		if code, _ := e.get("/policies", cust); code != http.StatusNotFound {
			t.Errorf("a customer lists the policies: %d", code)
		}
		if code, page := e.get("/policies/new", adm1); code != 200 || !strings.Contains(page, `enctype="multipart/form-data"`) {
			t.Fatalf("the import form: %d", code)
		}

		// Bad input is refused and nothing is stored.
		fields := map[string]string{"title": "Access policy", "owner": id1}
		for name, tc := range map[string]struct {
			file string
			data []byte
			want int
			says string
		}{
			"binary":   {"access.md", []byte("%PDF-1.7\x00\x01\x02"), http.StatusUnprocessableEntity, "not text"},
			"word":     {"access.docx", []byte("# Access"), http.StatusUnprocessableEntity, "Markdown file"},
			"oversize": {"access.md", bytes.Repeat([]byte("policy "), 1000), http.StatusRequestEntityTooLarge, ""},
			"empty":    {"", nil, http.StatusUnprocessableEntity, "empty"},
		} {
			code, _, body := postPolicyFile(s, fields, tc.file, tc.data, adm1)
			if code != tc.want || !strings.Contains(body, tc.says) {
				t.Errorf("%s: %d, want %d with %q\n%s", name, code, tc.want, tc.says, visibleText(body))
			}
		}
		if code, _ := e.postCode("/policies", url.Values{"title": {"Access policy"}, "owner": {id1}, "body": {"# A"}}, e.aud); code != http.StatusNotFound {
			t.Errorf("the auditor imports: %d", code)
		}
		var n int
		if err := s.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM policy_documents`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d documents after refused imports, %v", n, err)
		}

		body1 := "# Access policy\n\n<script>alert(1)</script>\n\nStaff use a second factor.\n\nAccess is reviewed every quarter.\n"
		code, loc, _ := postPolicyFile(s, fields, "access.md", []byte(body1), adm1)
		if code != http.StatusSeeOther || loc != "/policies/access-policy?done=policydoc-imported" {
			t.Fatalf("import: %d %q", code, loc)
		}

		// Four eyes.
		_, page = e.get("/policies/access-policy", adm1)
		if !strings.Contains(page, "You wrote it: another administrator approves it.") || strings.Contains(page, `action="/policies/access-policy/versions/1/approve"`) {
			t.Error("the author is offered the approval")
		}
		if code, page := e.postCode("/policies/access-policy/versions/1/approve", nil, adm1); code != http.StatusForbidden || !strings.Contains(page, "four eyes") {
			t.Fatalf("the author approves: %d\n%s", code, visibleText(page))
		}
		for who, c := range map[string]string{"security": e.sec1, "auditor": e.aud} {
			if code, _ := e.postCode("/policies/access-policy/versions/1/approve", nil, c); code != http.StatusNotFound {
				t.Errorf("the %s approves: %d, want 404", who, code)
			}
		}
		if n := auditCount(t, s, "policydoc.approve", "policydoc:access-policy"); n != 0 {
			t.Fatalf("%d approvals audited before one", n)
		}

		// Pasted text works as well as a file, but not both at once.
		if code, _, body := postPolicyFile(s, map[string]string{"title": "Both", "owner": id1, "body": "# Both"}, "both.md", []byte("# Both"), adm1); code != http.StatusUnprocessableEntity ||
			!strings.Contains(body, "not both") {
			t.Errorf("a file and pasted text: %d\n%s", code, visibleText(body))
		}
		e.mustPost("/policies", url.Values{"title": {"Pasted policy"}, "id": {"pasted"}, "owner": {id2}, "body": {"# Pasted\n\nText.\n"}}, adm1,
			`/policies/pasted\?done=policydoc-imported`)
		if code, page := e.get("/policies/pasted/diff", e.aud); code != 200 || !strings.Contains(page, "a single version") {
			t.Errorf("the diff of a single version: %d\n%s", code, visibleText(page))
		}
		_, page = e.get("/policies/access-policy", adm2)
		if !strings.Contains(page, `action="/policies/access-policy/versions/1/approve"`) {
			t.Fatal("the second administrator is not offered the approval")
		}
		e.mustPost("/policies/access-policy/versions/1/approve", nil, adm2, `/policies/access-policy\?done=policydoc-approved`)
		if n := auditCount(t, s, "policydoc.approve", "policydoc:access-policy"); n != 1 {
			t.Errorf("%d approvals audited", n)
		}
		code, raw := e.get("/policies/access-policy", e.aud)
		text := visibleText(raw)
		if code != 200 || !strings.Contains(text, "Version 1, approved") || !strings.Contains(text, "by "+id2) || !strings.Contains(text, "due in 12 months") ||
			!strings.Contains(text, "Staff use a second factor.") || strings.Contains(raw, `action="/policies`) {
			t.Fatalf("the auditor's view of the version in force: %d\n%s", code, text)
		}
		if w := do(s, "GET", "/policies/access-policy", nil, map[string]string{"Cookie": e.aud, "Sec-Fetch-Site": "same-origin"}); strings.Contains(w.Body.String(), "<script>alert") {
			t.Error("the rendered version keeps a script")
		}

		// A new version, and the diff.
		if code, page := e.postCode("/policies/access-policy/versions", url.Values{"body": {body1}, "summary": {"same"}}, adm2); code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, "same as version 1") || !strings.Contains(page, `aria-invalid="true"`) {
			t.Errorf("the same text again: %d\n%s", code, visibleText(page))
		}
		body2 := strings.Replace(body1, "every quarter", "every month", 1)
		e.mustPost("/policies/access-policy/versions", url.Values{"body": {body2}, "summary": {"Monthly access reviews"}}, adm2,
			`/policies/access-policy\?version=2&done=policydoc-version`)
		if code, _ := e.postCode("/policies/access-policy/versions/2/approve", nil, adm2); code != http.StatusForbidden {
			t.Errorf("the author of version 2 approves it: %d", code)
		}
		_, page = e.get("/policies/access-policy", adm1)
		if !strings.Contains(page, `href="/policies/access-policy/diff?from=1&to=2"`) {
			t.Errorf("no link to the diff of the draft:\n%s", visibleText(page))
		}
		code, raw = e.get("/policies/access-policy/diff", e.aud)
		if code != 200 || !strings.Contains(raw, `<del class="diff-line diff-del">-Access is reviewed every quarter.</del>`) ||
			!strings.Contains(raw, `<ins class="diff-line diff-add">+Access is reviewed every month.</ins>`) {
			t.Fatalf("the diff: %d\n%s", code, raw)
		}
		if code, _ := e.get("/policies/access-policy/diff?from=1&to=9", e.aud); code != http.StatusNotFound {
			t.Errorf("a diff with no such version: %d", code)
		}

		// Reviews and the owner.
		if code, page := e.postCode("/policies/access-policy/reviews", url.Values{"outcome": {"changes_needed"}, "reviewed_at": {"2000-01-01"}}, adm1); code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, `aria-invalid="true"`) {
			t.Errorf("a bad review: %d\n%s", code, visibleText(page))
		}
		today := s.db.Now().UTC().Format("2006-01-02")
		e.mustPost("/policies/access-policy/reviews", url.Values{"outcome": {"no_change"}, "reviewed_at": {today}, "notes": {"Still right."}}, adm1,
			`/policies/access-policy\?done=policydoc-reviewed`)
		if code, _ := e.postCode("/policies/access-policy/reviews", url.Values{"outcome": {"no_change"}, "reviewed_at": {today}}, e.aud); code != http.StatusNotFound {
			t.Errorf("the auditor reviews: %d", code)
		}
		e.mustPost("/policies/access-policy/owner", url.Values{"owner": {e.id1}}, adm1, `/policies/access-policy\?done=policydoc-owner`)
		_, page = e.get("/policies/access-policy", e.sec2)
		if text := visibleText(page); !strings.Contains(text, "No change") || !strings.Contains(text, "Still right.") || !strings.Contains(text, e.id1) ||
			strings.Contains(page, `action="/policies`) {
			t.Errorf("the security team's view after the review:\n%s", text)
		}
		if code, _ := e.get("/policies/nope", adm1); code != http.StatusNotFound {
			t.Errorf("no such document: %d", code)
		}
	})
}
