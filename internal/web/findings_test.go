package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/vulncheck"
)

// TestSecurityTxt (CP-6.2): /.well-known/security.txt names where to
// report (the public form), the policy, the language and the canonical
// address, and expires in the future but within a year (RFC 9116).
func TestSecurityTxt(t *testing.T) {
	s := newTestServer(t)
	w := do(s, "GET", "/.well-known/security.txt", nil, nil)
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("security.txt: %d %q\n%s", w.Code, w.Header().Get("Content-Type"), body)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, "#") {
			fields[k] = v
		}
	}
	for k, want := range map[string]string{
		"Contact": "https://example.com/security/report", "Policy": "https://example.com/security/report",
		"Preferred-Languages": "en", "Canonical": "https://example.com/.well-known/security.txt",
	} {
		if fields[k] != want {
			t.Errorf("%s: %q, want %q", k, fields[k], want)
		}
	}
	exp, err := time.Parse(time.RFC3339, fields["Expires"])
	if now := time.Now(); err != nil || !exp.After(now) || exp.After(now.AddDate(1, 0, 0)) {
		t.Errorf("Expires %q: %v; want in the future, within a year", fields["Expires"], err)
	}
	if w := do(s, "GET", "/security/report", nil, nil); w.Code != 200 || !strings.Contains(w.Body.String(), `action="/security/report"`) {
		t.Errorf("the policy page and form: %d", w.Code)
	}
}

// TestDisclosureForm (CP-6.2, CP-8.2): anyone's report through the public
// form files an open medium finding from a disclosure and thanks them,
// with nothing of the reporter in the logs; bad input is shown again with
// the problem; the same network is refused after the sign-up limit, with
// nothing filed, while another network is not.
func TestDisclosureForm(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		report := func(remote string, form url.Values) (int, string) {
			r := httptest.NewRequest("POST", "/security/report", strings.NewReader(form.Encode()))
			r.RemoteAddr = remote
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			return w.Code, w.Body.String()
		}
		filed := func() []findings.Finding {
			t.Helper()
			list, err := s.findings.List(ctx, findings.Filter{Source: findings.SourceDisclosure})
			if err != nil {
				t.Fatal(err)
			}
			return list
		}
		good := url.Values{"what": {"Reflected XSS in the search box"}, "where": {"/search"}, "contact": {"researcher@example.org"}}
		code, page := report("198.51.100.7:4000", good)
		if code != 200 || !strings.Contains(page, "Thank you for your report") {
			t.Fatalf("report: %d\n%s", code, visibleText(page))
		}
		list := filed()
		if len(list) != 1 || list[0].Severity != "medium" || list[0].Status != findings.StatusOpen || list[0].ReporterContact != "researcher@example.org" ||
			list[0].Component != "/search" || list[0].Description != "Reflected XSS in the search box" {
			t.Fatalf("filed: %+v", list)
		}
		if logs := s.logs.String(); strings.Contains(logs, "researcher") || strings.Contains(logs, "XSS") {
			t.Fatalf("the reporter in the logs:\n%s", logs)
		}
		if auditCount(t, s, "finding.create", "finding:"+list[0].ID) != 1 {
			t.Fatal("the report is not audited")
		}
		code, page = report("198.51.100.8:4000", url.Values{"what": {"x"}, "where": {strings.Repeat("x", findings.MaxWhere+1)}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `aria-invalid="true"`) || len(filed()) != 1 {
			t.Fatalf("too long a place: %d, %d filed", code, len(filed()))
		}
		// Two reports so far from 198.51.100.0/24; the limit is the
		// sign-up limit per window.
		limit := s.profile.RateLimit.SignupPerIP
		for i := 2; i < limit; i++ {
			if code, _ := report("198.51.100.9:4000", good); code != 200 {
				t.Fatalf("report %d of %d refused: %d", i+1, limit, code)
			}
		}
		before := len(filed())
		code, page = report("198.51.100.10:4000", good)
		if code != http.StatusTooManyRequests || !strings.Contains(page, "Too many attempts") {
			t.Fatalf("report %d from one network: %d, want 429", limit+1, code)
		}
		if len(filed()) != before {
			t.Fatal("a throttled report was filed")
		}
		if code, _ := report("203.0.113.5:4000", good); code != 200 {
			t.Fatalf("another network refused: %d", code)
		}
	})
}

var findingLink = regexp.MustCompile(`^/findings/([a-z2-7]{26})\?`)

// TestFindingsPages (MTL-4.3.2, MTL-4.3.1, MTL-4.1.2): the security team
// records an assessment, files its finding, sees it in the list with its
// due date, moves its severity and resolves it with evidence; the
// auditor reads every page and changes nothing; the inventory lists the
// Go version.
func TestFindingsPages(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		e := newPlanEnv(t, s)
		for _, p := range []string{"/findings", "/assessments", "/admin/inventory"} {
			if code, page := e.get(p, e.aud); code != 200 || !strings.Contains(page, "<h1") {
				t.Fatalf("%s for the auditor: %d", p, code)
			}
		}
		if _, page := e.get("/findings", e.aud); !strings.Contains(page, "No finding matches.") {
			t.Error("no empty state")
		}
		if _, page := e.get("/admin/inventory", e.aud); !strings.Contains(page, "go1.") {
			t.Error("the inventory has no Go version")
		}
		if code, page := e.postCode("/assessments", url.Values{"kind": {"pentest"}, "scope": {""}, "performed_by": {"Acme"}, "performed": {"2026-01-05"}, "summary": {"x"}}, e.sec1); code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, "Say what the assessment covered") {
			t.Fatalf("assessment without scope: %d", code)
		}
		loc := e.mustPost("/assessments", url.Values{"kind": {"pentest"}, "scope": {"The portal"}, "performed_by": {"Acme Security"}, "performed": {time.Now().UTC().Format("2006-01-02")}, "summary": {"One finding."}},
			e.sec1, `/assessments/[a-z2-7]{26}\?done=assessment-recorded`)
		aID := strings.TrimPrefix(strings.Split(loc, "?")[0], "/assessments/")
		if code, _ := e.postCode("/findings", url.Values{"title": {"x"}, "description": {"y"}, "severity": {"high"}, "source": {"other"}}, e.aud); code != http.StatusNotFound {
			t.Fatalf("the auditor files a finding: %d", code)
		}
		loc = e.mustPost("/findings", url.Values{"assessment": {aID}, "title": {"Verbose errors"}, "description": {"Stack traces on **/api**."},
			"severity": {"high"}, "owner": {e.id1}}, e.sec1, `/findings/[a-z2-7]{26}\?done=finding-filed`)
		id := findingLink.FindStringSubmatch(loc)[1]
		_, page := e.get("/findings?open=1&severity=high", e.aud)
		if !strings.Contains(page, "Verbose errors") || !strings.Contains(page, "due in 30 days") {
			t.Fatalf("the list:\n%s", visibleText(page))
		}
		if _, page := e.get("/findings?severity=low", e.aud); strings.Contains(page, "Verbose errors") {
			t.Fatal("the severity filter lets a high finding through")
		}
		if _, page := e.get("/assessments/"+aID, e.aud); !strings.Contains(page, "Verbose errors") {
			t.Fatal("the assessment does not list its finding")
		}
		_, page = e.get("/findings/"+id, e.aud)
		if !strings.Contains(page, "<strong>/api</strong>") || strings.Contains(page, `action="/findings/`+id+`/resolve"`) {
			t.Fatalf("the auditor's view:\n%s", page)
		}
		e.mustPost("/findings/"+id, url.Values{"title": {"Verbose errors"}, "description": {"Stack traces."}, "severity": {"critical"}, "owner": {e.id1}},
			e.sec1, `/findings/`+id+`\?done=finding-updated`)
		if f, _ := s.findings.Get(context.Background(), id); f.Severity != "critical" || !f.DueAt.Equal(f.CreatedAt.Add(s.profile.Governance.Remediation.Critical.Duration)) {
			t.Fatalf("after the severity change: %+v", f)
		}
		if code, page := e.postCode("/findings/"+id+"/resolve", url.Values{"evidence": {""}}, e.sec1); code != http.StatusUnprocessableEntity || !strings.Contains(page, "Say what was done") {
			t.Fatalf("resolved without evidence: %d", code)
		}
		if code, page := e.postCode("/findings/"+id+"/accept", url.Values{"reason": {"Later."}, "until": {time.Now().AddDate(0, 1, 0).Format("2006-01-02")}}, e.sec1); code != http.StatusForbidden ||
			!strings.Contains(page, "another member") {
			t.Fatalf("accepted by who filed it: %d", code)
		}
		e.mustPost("/findings/"+id+"/resolve", url.Values{"evidence": {"Fixed in v1.3 (commit abc123)."}}, e.sec1, `/findings/`+id+`\?done=finding-resolved`)
		if _, page := e.get("/findings/"+id, e.aud); !strings.Contains(page, "Fixed in v1.3 (commit abc123).") {
			t.Fatal("the evidence is not shown")
		}
		if auditCount(t, s, "finding.resolve", "finding:"+id) != 1 {
			t.Fatal("the resolution is not audited")
		}
		resp := post(s, "/findings/"+id+"/nonsense", nil, e.sec1)
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("an unknown transition: %d", resp.StatusCode)
		}
	})
}

// TestInventoryCurrency (MTL-4.1.2): the inventory page shows the last
// currency check, when there is one: its date, how many modules were
// behind, whether Go was current, and the modules behind with their
// latest versions; the page says how to run one before.
func TestInventoryCurrency(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		e := newPlanEnv(t, s)
		if _, page := e.get("/admin/inventory", e.aud); !strings.Contains(page, "No currency check has filed its result yet") {
			t.Fatal("no empty state for the currency check")
		}
		c := vulncheck.Currency{
			Go: vulncheck.GoCurrency{Version: "go1.26.7", Line: "go1.26", Latest: "go1.26.8", Newest: "go1.26.8", Supported: true},
			Modules: []vulncheck.ModuleCurrency{
				{Path: "example.com/minor", Version: "v1.2.3", Latest: "v1.4.0", Behind: vulncheck.BehindMinor},
				{Path: "example.com/current", Version: "v1.0.0", Latest: "v1.0.0"},
			}}
		if _, err := s.findings.FileUpdates(audit.WithActor(context.Background(), audit.ActorCLI), c); err != nil {
			t.Fatal(err)
		}
		_, page := e.get("/admin/inventory", e.aud)
		for _, want := range []string{"1 of 2 modules behind their latest version", "Go go1.26.7 is behind: the latest of its line is go1.26.8",
			"2 new finding(s) filed", "<td>example.com/minor</td><td>v1.2.3</td><td>v1.4.0</td><td>minor</td>"} {
			if !strings.Contains(page, want) {
				t.Errorf("the inventory page lacks %q", want)
			}
		}
		if strings.Contains(page, "example.com/current") {
			t.Error("a current module listed as behind")
		}
	})
}
