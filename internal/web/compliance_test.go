package web

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/compliance"
)

// TestCompliancePage (MTL-7.2): administrators, auditors and the security
// team read the live report, linked from the header and from governance;
// support and customers do not see it. The status filter keeps the
// clauses of one status and says so when none is left; a bad filter is
// answered, not ignored. An administrator takes the evidence now (stored,
// audited with who asked, shown); a second taking within a minute is
// refused; an auditor cannot take it.
func TestCompliancePage(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		e := newPlanEnv(t, s)
		adminTok := signInAs(t, s, "admin@example.com", access.RoleAdmin)
		admin, adminID := cookieOf(adminTok), accountOf(t, s, adminTok)
		support := cookieOf(signInAs(t, s, "agent@example.com", access.RoleSupport))
		cust := cookieOf(signInFull(t, s, "cust@example.com"))

		code, page := e.get("/admin/compliance", e.aud)
		text := visibleText(page)
		if code != 200 || !strings.Contains(text, "Not taken yet: every clause with evidence checks is partial") ||
			!strings.Contains(page, `id="clause-CP-4.1"`) || !strings.Contains(page, `id="clause-MTL-8.2"`) {
			t.Fatalf("the report before any evidence: %d\n%s", code, text)
		}
		if !strings.Contains(page, `<a href="/admin/compliance" aria-current="page">Compliance</a>`) {
			t.Error("the header does not link the report")
		}
		if strings.Contains(text, "Take evidence now") {
			t.Error("the auditor is offered to take the evidence")
		}
		if _, page := e.get("/governance", e.aud); !strings.Contains(page, `href="/admin/compliance"`) {
			t.Error("the governance overview does not link the report")
		}
		for who, cookie := range map[string]string{"support": support, "a customer": cust} {
			if code, page := e.get("/admin/compliance", cookie); code != http.StatusNotFound {
				t.Errorf("%s opens the report: %d", who, code)
			} else if strings.Contains(page, `href="/admin/compliance"`) {
				t.Errorf("%s's header links the report", who)
			}
			if code, _ := e.get("/admin/compliance/report.json", cookie); code != http.StatusNotFound {
				t.Errorf("%s downloads the report: %d", who, code)
			}
		}

		// An auditor reads; it does not take the evidence.
		if code, _ := e.postCode("/admin/compliance/evidence", nil, e.aud); code != http.StatusNotFound {
			t.Errorf("the auditor takes the evidence: %d, want 404", code)
		}
		if runs, err := s.compliance.Runs(ctx, 10); err != nil || len(runs) != 0 {
			t.Fatalf("runs after the auditor's try: %v %d", err, len(runs))
		}

		_, page = e.get("/admin/compliance", admin)
		if !strings.Contains(page, `action="/admin/compliance/evidence"`) || !strings.Contains(page, `name="`+CSRFField+`"`) {
			t.Fatal("the administrator has no form to take the evidence")
		}
		e.mustPost("/admin/compliance/evidence", nil, admin, `/admin/compliance\?done=evidence-taken`)
		runs, err := s.compliance.Runs(ctx, 10)
		if err != nil || len(runs) != 1 || runs[0].Actor != "account:"+adminID || runs[0].Trigger != "demand" {
			t.Fatalf("runs: %v %+v", err, runs)
		}
		evs, err := s.audit.Search(ctx, audit.Filter{Action: "compliance.evidence"})
		if err != nil || len(evs) != 1 || evs[0].Actor != "account:"+adminID {
			t.Fatalf("the taking is not audited with who asked: %v %+v", err, evs)
		}
		_, page = e.get("/admin/compliance?done=evidence-taken", admin)
		text = visibleText(page)
		for _, want := range []string{"The evidence of every clause was taken now", "(on demand)", "audit.chain-verified",
			"the audit chain verifies", "events verified:", "History, oldest first (1 run(s)", "Every hour (governance.evidence_interval)"} {
			if !strings.Contains(text, want) {
				t.Errorf("the report after the taking lacks %q", want)
			}
		}
		if !strings.Contains(page, `<li class="strip-pass" title="`) {
			t.Error("no history cell, or one without its text")
		}

		// Within a minute of the last, a second taking is refused.
		if code, page := e.postCode("/admin/compliance/evidence", nil, e.sec1); code != http.StatusTooManyRequests ||
			!strings.Contains(page, "less than a minute ago") {
			t.Errorf("a second taking at once: %d\n%s", code, visibleText(page))
		}
		if runs, _ := s.compliance.Runs(ctx, 10); len(runs) != 1 {
			t.Errorf("%d runs after the refused taking", len(runs))
		}

		// The filter: each status keeps its clauses and no other; a
		// status no clause has says so.
		rep, err := s.compliance.Report(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		byStatus := map[compliance.ClauseState][]string{}
		for _, p := range rep.Policies {
			for _, c := range p.Clauses {
				byStatus[c.Status] = append(byStatus[c.Status], c.ID)
			}
		}
		if len(byStatus[compliance.Enforced]) == 0 || len(byStatus[compliance.Failing])+len(byStatus[compliance.Partial]) == 0 {
			t.Fatalf("the test wants enforced and other clauses: %v", byStatus)
		}
		for _, st := range []compliance.ClauseState{compliance.Failing, compliance.Partial, compliance.Enforced} {
			_, page = e.get("/admin/compliance?status="+string(st), e.sec1)
			ids := byStatus[st]
			if len(ids) == 0 {
				if !strings.Contains(visibleText(page), "No clause is "+string(st)+" now.") || strings.Contains(page, `<article`) {
					t.Errorf("?status=%s with none:\n%s", st, visibleText(page))
				}
				continue
			}
			if !strings.Contains(page, `id="clause-`+ids[0]+`"`) {
				t.Errorf("?status=%s lacks %s", st, ids[0])
			}
			for other, oids := range byStatus {
				if other != st && len(oids) > 0 && strings.Contains(page, `id="clause-`+oids[0]+`"`) {
					t.Errorf("?status=%s shows %s, which is %s", st, oids[0], other)
				}
			}
		}
		code, page = e.get("/admin/compliance?status=bogus", e.sec1)
		if code != http.StatusBadRequest || !strings.Contains(page, "Filter by failing, partial or enforced.") ||
			!strings.Contains(page, `id="clause-CP-4.2"`) {
			t.Errorf("a bad filter: %d\n%s", code, visibleText(page))
		}
	})
}

// TestComplianceDownloads (MTL-7.2, CP-5.3): the report downloads as JSON,
// HTML and PDF with their types, as attachments; each download is in the
// audit trail with its format.
func TestComplianceDownloads(t *testing.T) {
	s := newTestServer(t)
	e := newPlanEnv(t, s)
	ctx := context.Background()
	for _, tc := range []struct{ path, ctype, starts string }{
		{"/admin/compliance/report.json", "application/json", "{"},
		{"/admin/compliance/report.html", "text/html; charset=utf-8", "<!doctype html>"},
		{"/admin/compliance/report.pdf", "application/pdf", "%PDF-"},
	} {
		w := do(s, "GET", tc.path, nil, map[string]string{"Cookie": e.aud, "Sec-Fetch-Site": "same-origin"})
		if w.Code != 200 || w.Header().Get("Content-Type") != tc.ctype || !bytes.HasPrefix(w.Body.Bytes(), []byte(tc.starts)) {
			t.Errorf("%s: %d %q %.20q", tc.path, w.Code, w.Header().Get("Content-Type"), w.Body.String())
		}
		if cd := w.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="portico-compliance-`) {
			t.Errorf("%s: Content-Disposition %q", tc.path, cd)
		}
		if tc.ctype == "application/json" {
			var rep struct {
				Counts struct{ All int } `json:"counts"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil || rep.Counts.All == 0 {
				t.Errorf("the JSON report: %v %+v", err, rep)
			}
		}
		if tc.ctype == "text/html; charset=utf-8" && !strings.Contains(html.UnescapeString(w.Body.String()), "CP-4.1") {
			t.Error("the HTML report lacks CP-4.1")
		}
	}
	evs, err := s.audit.Search(ctx, audit.Filter{Action: "compliance.report.download"})
	if err != nil || len(evs) != 3 {
		t.Fatalf("downloads in the trail: %v %d", err, len(evs))
	}
	formats := map[string]bool{}
	for _, ev := range evs {
		if ev.Actor != "account:"+e.audID {
			t.Errorf("download recorded for %q", ev.Actor)
		}
		var d struct{ Format string }
		if err := json.Unmarshal(ev.Details, &d); err != nil {
			t.Fatal(err)
		}
		formats[d.Format] = true
	}
	if len(formats) != 3 {
		t.Errorf("formats recorded: %v", formats)
	}
}

// TestComplianceFailingClause (MTL-7.2): a clause whose evidence fails is
// shown failing, with the check's summary as its reason and the period
// it has been failing since, and the failing filter finds it.
func TestComplianceFailingClause(t *testing.T) {
	broken := func(d *Deps) {
		svc, err := compliance.New(d.DB, d.Audit, d.Profile, Controls(), []compliance.Check{{
			Name: "test.factors", Clauses: []string{"CP-4.1"}, Description: "every active customer has a second factor",
			Run: func(ctx context.Context, now time.Time) (compliance.Result, error) {
				return compliance.Result{Status: compliance.Fail, Summary: "2 active customers have no second factor",
					Figures: []compliance.Figure{{Label: "without a factor", Value: "2"}}}, nil
			},
		}})
		if err != nil {
			panic(err)
		}
		d.Compliance = svc
	}
	eachServer(t, func(t *testing.T, s *testServer) {
		e := newPlanEnv(t, s)
		run, err := s.compliance.TakeEvidence(context.Background(), compliance.Scheduled, audit.ActorSystem)
		if err != nil {
			t.Fatal(err)
		}
		code, page := e.get("/admin/compliance?status=failing", e.aud)
		text := visibleText(page)
		for _, want := range []string{"CP-4.1 MFA required to access the portal failing",
			"evidence test.factors fails: 2 active customers have no second factor", "without a factor: 2",
			"Failing since " + compliance.When(run.StartedAt), "(on schedule): 0 passed, 0 warned, 1 failed."} {
			if !strings.Contains(text, want) {
				t.Errorf("the failing clause lacks %q", want)
			}
		}
		if code != 200 || strings.Count(page, "<article") != 1 || !strings.Contains(page, `<li class="strip-fail" title="`) {
			t.Errorf("?status=failing: %d, want CP-4.1 alone with its failed run\n%s", code, text)
		}
	}, broken)
}

// TestComplianceBundleDownload (MTL-7.2): an auditor downloads the signed
// evidence bundle from the page (a POST with the form's token); it
// verifies offline with the key published at the well-known URL, and the
// making is in the audit trail with who asked. Support cannot make one.
func TestComplianceBundleDownload(t *testing.T) {
	s := newTestServer(t)
	e := newPlanEnv(t, s)
	ctx := context.Background()
	_, page := e.get("/admin/compliance", e.aud)
	if !strings.Contains(page, `action="/admin/compliance/bundle"`) {
		t.Fatal("the page has no form to download the bundle")
	}
	resp := post(s, "/admin/compliance/bundle", nil, e.aud)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="portico-evidence-`) {
		t.Fatalf("bundle: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	key, err := s.compliance.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := compliance.VerifyBundle(body, key.Public); err != nil || !v.OK {
		t.Fatalf("the downloaded bundle does not verify: %v %+v", err, v)
	}
	evs, err := s.audit.Search(ctx, audit.Filter{Action: "compliance.bundle"})
	if err != nil || len(evs) != 1 || evs[0].Actor != "account:"+e.audID {
		t.Fatalf("the bundle is not audited with who made it: %v %+v", err, evs)
	}
	support := cookieOf(signInAs(t, s, "agent@example.com", access.RoleSupport))
	if code, _ := e.postCode("/admin/compliance/bundle", nil, support); code != http.StatusNotFound {
		t.Errorf("support made a bundle: %d", code)
	}
}
