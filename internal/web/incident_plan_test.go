package web

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/incident"
)

// planEnv is two members of the security team and an auditor, signed in.
type planEnv struct {
	s               *testServer
	sec1, sec2, aud string // cookies
	id1, id2, audID string // account IDs
	get             func(path, cookie string) (int, string)
	mustPost        func(path string, form url.Values, cookie, wantLocation string) string
	postCode        func(path string, form url.Values, cookie string) (int, string)
}

func newPlanEnv(t *testing.T, s *testServer) *planEnv {
	t.Helper()
	e := &planEnv{s: s}
	t1 := signInAs(t, s, "sec1@example.com", access.RoleSecurity)
	t2 := signInAs(t, s, "sec2@example.com", access.RoleSecurity)
	ta := signInAs(t, s, "aud@example.com", access.RoleAuditor)
	e.sec1, e.sec2, e.aud = cookieOf(t1), cookieOf(t2), cookieOf(ta)
	e.id1, e.id2, e.audID = accountOf(t, s, t1), accountOf(t, s, t2), accountOf(t, s, ta)
	e.get = func(path, cookie string) (int, string) {
		w := do(s, "GET", path, nil, map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin"})
		return w.Code, html.UnescapeString(w.Body.String())
	}
	e.postCode = func(path string, form url.Values, cookie string) (int, string) {
		resp := post(s, path, form, cookie)
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, html.UnescapeString(string(b))
	}
	e.mustPost = func(path string, form url.Values, cookie, want string) string {
		t.Helper()
		resp := post(s, path, form, cookie)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !regexp.MustCompile("^"+want+"$").MatchString(loc) {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("POST %s: %d %q, want a redirect to %s\n%s", path, resp.StatusCode, loc, want, visibleText(string(b)))
		}
		return loc
	}
	return e
}

// TestPlanApprovalFourEyes (MTL-5.2.1): the security team drafts a
// version from pasted Markdown (a version without every phase is
// refused with the reason); its author cannot approve it, another member
// can, and it is then in force with its review date; the auditor reads
// the plan but neither drafts nor approves.
func TestPlanApprovalFourEyes(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		e := newPlanEnv(t, s)
		code, page := e.get("/security/plan", e.sec1)
		if code != 200 || !strings.Contains(page, "The built-in plan: no version has been approved yet") ||
			!strings.Contains(page, "☐ Name the incident's owner in the security team") || !strings.Contains(page, "{#owner}") {
			t.Fatalf("plan page before any version: %d\n%s", code, visibleText(page))
		}

		if code, page := e.postCode("/security/plan", url.Values{"body": {"# Plan\n\n## Detected\n\n- [ ] one\n"}, "owner": {e.id1}}, e.sec1); code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, "## Triaged") || !strings.Contains(page, `aria-invalid="true"`) {
			t.Errorf("draft lacking phases: %d\n%s", code, visibleText(page))
		}
		e.mustPost("/security/plan", url.Values{"body": {incident.BuiltinPlanMarkdown()}, "owner": {e.id1}}, e.sec1, `/security/plan\?version=1&done=plan-drafted`)

		_, page = e.get("/security/plan", e.sec1)
		if !strings.Contains(page, "You wrote it: another member approves it.") || strings.Contains(page, `action="/security/plan/1/approve"`) {
			t.Error("the author is offered the approval")
		}
		if code, page := e.postCode("/security/plan/1/approve", nil, e.sec1); code != http.StatusForbidden || !strings.Contains(page, "four eyes") {
			t.Fatalf("the author approves: %d\n%s", code, visibleText(page))
		}
		if code, _ := e.postCode("/security/plan/1/approve", nil, e.aud); code != http.StatusNotFound {
			t.Errorf("the auditor approves: %d, want 404", code)
		}
		if code, _ := e.postCode("/security/plan", url.Values{"body": {incident.BuiltinPlanMarkdown()}, "owner": {e.id1}}, e.aud); code != http.StatusNotFound {
			t.Errorf("the auditor drafts: %d, want 404", code)
		}
		if n := auditCount(t, s, "incident.plan_approve", "incident_plan:1"); n != 0 {
			t.Fatalf("%d approvals audited before one", n)
		}
		_, page = e.get("/security/plan", e.sec2)
		if !strings.Contains(page, `action="/security/plan/1/approve"`) {
			t.Fatal("the second member is not offered the approval")
		}
		e.mustPost("/security/plan/1/approve", nil, e.sec2, `/security/plan\?done=plan-approved`)
		if n := auditCount(t, s, "incident.plan_approve", "incident_plan:1"); n != 1 {
			t.Errorf("%d approvals audited", n)
		}
		code, page = e.get("/security/plan", e.aud)
		if text := visibleText(page); code != 200 || !strings.Contains(text, "Version 1, owned by "+e.id1) || !strings.Contains(text, "by "+e.id2) ||
			!strings.Contains(page, "Review due") || strings.Contains(page, `action="/security/plan`) {
			t.Errorf("the auditor's view of the plan in force: %d\n%s", code, visibleText(page))
		}
		if code, _ := e.get("/security/plan?version=9", e.aud); code != http.StatusNotFound {
			t.Errorf("no such version: %d", code)
		}
		inc, err := s.incidents.Open(context.Background(), incident.NewIncident{Title: "After v1", Severity: "low", Category: "test"}, e.id1)
		if err != nil || inc.PlanVersion != "1" {
			t.Errorf("incident under the approved version: %+v, %v", inc, err)
		}
	})
}

var exerciseHeading = regexp.MustCompile(`id="ex-([a-z2-7]{26})"`)

// TestExerciseRecordWeb (MTL-5.2.2, MTL-4.3.2): the security team
// records a tabletop exercise with participants and a finding of a
// severity, filed in the findings register (a due date past the
// severity's deadline is refused); the exercise lists it with a link to
// its page there, where it is resolved with evidence; another is added
// from the exercise; a drill opens an incident marked as an exercise and
// goes to its page; the auditor reads the exercises but records and
// files nothing.
func TestExerciseRecordWeb(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		e := newPlanEnv(t, s)
		_, page := e.get("/security/exercises", e.sec1)
		if !strings.Contains(page, "Next exercise due") || !strings.Contains(page, "No exercise recorded yet.") {
			t.Fatalf("with no exercise: %s", visibleText(page))
		}
		today := s.db.Now().UTC().Format("2006-01-02")
		due := s.db.Now().Add(10 * 24 * time.Hour).UTC().Format("2006-01-02")
		form := url.Values{"kind": {"tabletop"}, "scenario": {"Ransomware on the support desk"}, "held": {today},
			"participant": {e.id1, e.id2}, "finding": {"Backups were not tested this year", "", ""}, "finding_severity": {"high", "medium", "medium"},
			"finding_owner": {e.id2, e.id1, e.id1}, "finding_due": {due, "", ""}}
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("held", "yesterday")
		if code, page := e.postCode("/security/exercises", bad, e.sec1); code != http.StatusUnprocessableEntity || !strings.Contains(page, "Ransomware on the support desk") {
			t.Errorf("a bad date: %d (the form keeps what was sent)", code)
		}
		bad.Set("held", today)
		bad["finding_due"] = []string{"2099-01-31", "", ""}
		if code, page := e.postCode("/security/exercises", bad, e.sec1); code != http.StatusUnprocessableEntity || !strings.Contains(page, "A high finding must be fixed by") {
			t.Errorf("due after the high deadline: %d\n%s", code, visibleText(page))
		}
		if code, _ := e.postCode("/security/exercises", form, e.aud); code != http.StatusNotFound {
			t.Errorf("the auditor records: %d, want 404", code)
		}
		e.mustPost("/security/exercises", form, e.sec1, `/security/exercises\?done=exercise-recorded`)

		code, page := e.get("/security/exercises", e.aud)
		if code != 200 || !strings.Contains(page, "Ransomware on the support desk") || !strings.Contains(page, "Backups were not tested this year") ||
			!strings.Contains(page, e.id2) || strings.Contains(page, `action="/security/`) {
			t.Fatalf("the auditor's view: %d\n%s", code, visibleText(page))
		}
		all, err := s.incidents.Exercises(context.Background())
		if err != nil || len(all) != 1 || len(all[0].Findings) != 1 || len(all[0].Participants) != 2 {
			t.Fatalf("recorded %+v, %v", all, err)
		}
		f := all[0].Findings[0]
		if f.DueAt.UTC().Format("2006-01-02") != due || f.Severity != "high" || f.SourceKind != findings.SourceExercise || f.SourceID != all[0].ID || f.Owner != e.id2 {
			t.Errorf("filed %+v, want high, due the day given, from the exercise", f)
		}
		if !strings.Contains(page, `href="/findings/`+f.ID+`"`) {
			t.Error("the exercise does not link its finding in the register")
		}
		if _, page := e.get("/findings/"+f.ID, e.aud); !strings.Contains(page, `href="/security/exercises#ex-`+all[0].ID+`"`) {
			t.Error("the finding's page does not link back to its exercise")
		}
		// Resolved on its page in the register, with evidence.
		if code, _ := e.postCode("/findings/"+f.ID+"/resolve", url.Values{"evidence": {"Tested"}}, e.aud); code != http.StatusNotFound {
			t.Errorf("the auditor resolves a finding: %d, want 404", code)
		}
		e.mustPost("/findings/"+f.ID+"/resolve", url.Values{"evidence": {"Restored a backup on 3 March"}}, e.sec2, `/findings/`+f.ID+`\?done=finding-resolved`)
		if got, err := s.findings.Get(context.Background(), f.ID); err != nil || got.Status != findings.StatusResolved || got.ClosingNote != "Restored a backup on 3 March" {
			t.Errorf("resolved %+v, %v", got, err)
		}
		if _, page = e.get("/security/exercises", e.aud); !strings.Contains(page, "resolved") {
			t.Error("the exercise does not show its finding resolved")
		}
		// Another, from the exercise, of the default severity.
		add := url.Values{"finding": {"Nobody had the insurer's number"}, "severity": {"medium"}, "owner": {e.id1}, "due": {""}}
		if code, _ := e.postCode("/security/exercises/"+all[0].ID+"/findings", add, e.aud); code != http.StatusNotFound {
			t.Errorf("the auditor files a finding: %d, want 404", code)
		}
		e.mustPost("/security/exercises/"+all[0].ID+"/findings", add, e.sec1, `/security/exercises\?done=finding-added`)
		if got, _ := s.findings.List(context.Background(), findings.Filter{Source: findings.SourceExercise, SourceID: all[0].ID}); len(got) != 2 ||
			got[0].Title != "Nobody had the insurer's number" || got[0].Severity != "medium" {
			t.Errorf("register after adding: %+v", got)
		}
		if m := exerciseHeading.FindStringSubmatch(page); m == nil || m[1] != all[0].ID {
			t.Error("the exercise is not on the page by its ID")
		}

		loc := e.mustPost("/security/drills", url.Values{"scenario": {"Stuffing from one network"}}, e.sec1, `/security/incidents/[a-z2-7]{26}\?done=drill-started`)
		id := strings.TrimSuffix(strings.TrimPrefix(loc, "/security/incidents/"), "?done=drill-started")
		if ex, err := s.incidents.IsExercise(context.Background(), id); err != nil || !ex {
			t.Errorf("the drill's incident is not marked: %v, %v", ex, err)
		}
		if _, page := e.get("/security/exercises", e.sec1); !strings.Contains(page, `href="/security/incidents/`+id+`"`) || !strings.Contains(page, "Time to each phase") {
			t.Error("the drill is not listed with its incident and times")
		}
	})
}

// TestReviewSaveAndExport (CP-7.2): the review is refused before the
// incident has recovered, saved after with an action, shown to the
// auditor, who may not write it; the export is a Markdown attachment
// with the review and the timeline.
func TestReviewSaveAndExport(t *testing.T) {
	eachServer(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		e := newPlanEnv(t, s)
		inc, err := s.incidents.Open(ctx, incident.NewIncident{Title: "Leaked token", Severity: "high", Category: "exposure"}, e.id1)
		if err != nil {
			t.Fatal(err)
		}
		base := "/security/incidents/" + inc.ID + "/review"
		form := url.Values{"summary": {"A token leaked in a **log**. <script>alert(1)</script>"}, "worked": {"The alert."}, "failed": {"The form."},
			"action": {"Scrub logs", ""}, "action_owner": {e.id2, e.id1}, "action_due": {"2099-02-01", ""}, "action_done": {"0"}}
		if code, _ := e.postCode(base, form, e.sec1); code != http.StatusConflict {
			t.Errorf("review while detected: %d, want 409", code)
		}
		for _, phase := range incident.Phases[:4] {
			for _, it := range incident.BuiltinPlan.Checklists[phase] {
				if err := s.incidents.Check(ctx, inc.ID, it.Code, e.id1); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.incidents.Advance(ctx, inc.ID, e.id1); err != nil {
				t.Fatal(err)
			}
		}
		if code, _ := e.postCode(base, form, e.aud); code != http.StatusNotFound {
			t.Errorf("the auditor writes the review: %d, want 404", code)
		}
		e.mustPost(base, form, e.sec1, base+`\?done=review-saved`)
		if n := auditCount(t, s, "incident.review", "incident:"+inc.ID); n != 1 {
			t.Errorf("%d reviews audited", n)
		}
		code, page := e.get(base, e.aud)
		if code != 200 || !strings.Contains(page, "<strong>log</strong>") || strings.Contains(page, "<script>alert") ||
			!strings.Contains(page, "Scrub logs") || !strings.Contains(page, "done") || strings.Contains(page, `action="`+base+`"`) {
			t.Fatalf("the auditor's view of the review: %d\n%s", code, visibleText(page))
		}
		w := do(s, "GET", "/security/incidents/"+inc.ID+"/export", nil, map[string]string{"Cookie": e.aud, "Sec-Fetch-Site": "same-origin"})
		md := w.Body.String()
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/markdown") ||
			w.Header().Get("Content-Disposition") != `attachment; filename="portico-incident-`+inc.ID+`.md"` ||
			!strings.Contains(md, "# Incident "+inc.ID+": Leaked token") || !strings.Contains(md, "incident.review") ||
			!strings.Contains(md, "| Scrub logs | "+e.id2+" | 2099-02-01 | yes |") {
			t.Fatalf("export: %d %v\n%s", w.Code, w.Header(), md)
		}
		if code, _ := e.get("/security/incidents/nope/export", e.aud); code != http.StatusNotFound {
			t.Errorf("export of no incident: %d", code)
		}
		sup := cookieOf(signInAs(t, s, "sup@example.com", access.RoleSupport))
		if code, _ := e.get("/security/incidents/"+inc.ID+"/export", sup); code != http.StatusNotFound {
			t.Errorf("support exports an incident: %d, want 404", code)
		}
	})
}
