package web

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/incident"
)

// TestIncidentRegulatorReport (MTL-5.1.1): a member of the security team
// sees the draft with its missing parts, sets the assessment, records the
// initial submission and downloads the report as PDF and JSON, each
// download audited; an auditor reads the report and downloads it but
// cannot change it; a customer finds none of it.
func TestIncidentRegulatorReport(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		sec := cookieOf(signInAs(t, s, "sec@example.com", access.RoleSecurity))
		aud := cookieOf(signInAs(t, s, "aud@example.com", access.RoleAuditor))
		cust := cookieOf(signInFull(t, s, "cust@example.com"))
		inc, err := s.incidents.Open(ctx, incident.NewIncident{Title: "Exposed sign-in history", Severity: "high", Category: "data exposure",
			DataCategories: []string{"Account identity"}}, "sec")
		if err != nil {
			t.Fatal(err)
		}
		base := "/security/incidents/" + inc.ID
		get := func(path, cookie string) *http.Response {
			return do(s, "GET", path, nil, map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin"}).Result()
		}
		page := func(cookie string) (int, string) {
			resp := get(base+"/regulator", cookie)
			return resp.StatusCode, html.UnescapeString(readBody(resp))
		}
		mustPost := func(path string, form url.Values, wantDone string) {
			t.Helper()
			resp := post(s, path, form, sec)
			if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "/regulator?done="+wantDone) {
				t.Fatalf("POST %s: %d %q\n%s", path, resp.StatusCode, resp.Header.Get("Location"), readBody(resp))
			}
		}

		// The draft names what it lacks, and links back to the incident.
		code, body := page(sec)
		if code != http.StatusOK || !strings.Contains(body, "Draft: missing") || !strings.Contains(body, incident.MissingNature) ||
			!strings.Contains(body, `href="`+base+`"`) || !strings.Contains(body, `action="`+base+`/assessment"`) {
			t.Fatalf("the draft: %d\n%s", code, body)
		}

		// A number of records that is not one is refused, next to its input.
		resp := post(s, base+"/assessment", url.Values{"nature": {"An export was readable."}, "records_approx": {"many"}}, sec)
		if body := readBody(resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="records_approx-problem"`) ||
			!strings.Contains(body, "An export was readable.") {
			t.Fatalf("records as words: %d", resp.StatusCode)
		}
		// A follow-up before the initial submission is refused.
		if resp := post(s, base+"/submissions", url.Values{"kind": {"follow-up"}, "authority": {"CNIL"}, "reference": {"R-0"}}, sec); resp.StatusCode != http.StatusConflict {
			t.Errorf("a follow-up first: %d, want 409", resp.StatusCode)
		}
		mustPost(base+"/assessment", url.Values{"nature": {"A misconfigured export left sign-in records readable."},
			"consequences": {"Targeted phishing."}, "measures": {"The export was closed."}, "contact_point": {"DPO, dpo@example.com"},
			"records_approx": {"12,000"}}, "assessment-saved")
		mustPost(base+"/submissions", url.Values{"kind": {"initial"}, "authority": {"Commission d'accès à l'information"}, "reference": {"CAI-2026-42"}},
			"submission-recorded")
		code, body = page(sec)
		for _, want := range []string{"A misconfigured export left sign-in records readable.", "12,000", "Commission d'accès à l'information",
			"CAI-2026-42"} {
			if !strings.Contains(body, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		if code != http.StatusOK || !strings.Contains(body, incident.MissingSubjects) || strings.Contains(body, incident.MissingNature) {
			t.Errorf("missing after the assessment: the affected customers are still to find, nothing else")
		}
		subs, err := s.incidents.Submissions(ctx, inc.ID)
		if err != nil || len(subs) != 1 || subs[0].Kind != incident.SubmissionInitial || subs[0].CreatedBy == "" {
			t.Fatalf("submissions %+v, %v", subs, err)
		}

		// The downloads.
		pdf := get(base+"/regulator.pdf", sec)
		pdfBody := readBody(pdf)
		if pdf.StatusCode != http.StatusOK || pdf.Header.Get("Content-Type") != "application/pdf" ||
			!strings.HasPrefix(pdf.Header.Get("Content-Disposition"), `attachment; filename="portico-incident-`+inc.ID) || !strings.HasPrefix(pdfBody, "%PDF-") {
			t.Fatalf("the PDF: %d %q %q", pdf.StatusCode, pdf.Header.Get("Content-Type"), pdf.Header.Get("Content-Disposition"))
		}
		js := get(base+"/regulator.json", sec)
		var report map[string]any
		if err := json.Unmarshal([]byte(readBody(js)), &report); err != nil || js.StatusCode != http.StatusOK ||
			!strings.HasPrefix(js.Header.Get("Content-Disposition"), "attachment") || report["incident_id"] != inc.ID || report["draft"] != true {
			t.Fatalf("the JSON: %d %v %v", js.StatusCode, report, err)
		}

		// An auditor reads and downloads, but changes nothing.
		code, body = page(aud)
		if code != http.StatusOK || !strings.Contains(body, "CAI-2026-42") || strings.Contains(body, `action="`+base+`/assessment"`) ||
			strings.Contains(body, `action="`+base+`/submissions"`) {
			t.Errorf("the auditor's page: %d", code)
		}
		if resp := get(base+"/regulator.pdf", aud); resp.StatusCode != http.StatusOK {
			t.Errorf("the auditor's download: %d", resp.StatusCode)
		}
		for _, path := range []string{"/assessment", "/submissions"} {
			if resp := post(s, base+path, url.Values{"nature": {"changed"}, "kind": {"follow-up"}, "authority": {"x"}, "reference": {"y"}}, aud); resp.StatusCode != http.StatusNotFound {
				t.Errorf("an auditor's POST %s: %d, want 404", path, resp.StatusCode)
			}
		}
		if a, _ := s.incidents.Assessment(ctx, inc.ID); a.Nature != "A misconfigured export left sign-in records readable." {
			t.Errorf("the auditor changed the assessment: %q", a.Nature)
		}

		// A customer finds nothing.
		for _, path := range []string{"/regulator", "/regulator.pdf", "/regulator.json"} {
			if resp := get(base+path, cust); resp.StatusCode != http.StatusNotFound {
				t.Errorf("a customer's GET %s: %d, want 404", path, resp.StatusCode)
			}
		}
		if resp := post(s, base+"/assessment", url.Values{"nature": {"x"}}, cust); resp.StatusCode != http.StatusNotFound {
			t.Errorf("a customer's POST: %d, want 404", resp.StatusCode)
		}

		// Each download is on the record, with its format.
		recs, err := s.audit.Search(ctx, audit.Filter{Action: "incident.report_export", Target: "incident:" + inc.ID})
		if err != nil || len(recs) != 3 {
			t.Fatalf("%d downloads audited, want 3: %v", len(recs), err)
		}
		if !strings.Contains(string(recs[0].Details), `"format":"pdf"`) || !strings.Contains(string(recs[1].Details), `"format":"json"`) {
			t.Errorf("the downloads' records: %s; %s", recs[0].Details, recs[1].Details)
		}
	})
}
