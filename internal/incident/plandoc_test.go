package incident_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/incident"
)

// TestBuiltinPlanMarkdown: the first version's text, made from the
// built-in plan, gives the built-in plan's checklists back.
func TestBuiltinPlanMarkdown(t *testing.T) {
	p, err := incident.ParsePlan(incident.BuiltinPlanMarkdown())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Checklists, incident.BuiltinPlan.Checklists) {
		t.Fatalf("parsed %v\nwant %v", p.Checklists, incident.BuiltinPlan.Checklists)
	}
}

// TestParsePlan: the checklists come from the task lists under the
// phases' headings; codes are slugs or explicit; a version lacking a
// phase, with an empty checklist, or with a phase twice is refused with
// a message naming it.
func TestParsePlan(t *testing.T) {
	full := func(extra string) string {
		return "# Plan\n\nIntro with `## Detected` in code.\n\n- [ ] not in a phase\n\n" +
			"## detected\n\nProse.\n\n- [ ] Say what was seen\n- plain bullet, not an item\n- [x] Name the owner {#owner}\n  - [ ] a nested one is detail\n\n" +
			"```\n## Triaged\n- [ ] inside code\n```\n\n" +
			"## Triaged\n\n### Sub-heading\n\n- [ ] Set the Sévérité, and the category!\n\n" +
			"## Contained\n\n1. [ ] Stop the harm\n   across two lines\n\n" +
			"## Eradicated\n\n* [ ] Remove the cause\n\n" +
			"## Recovered\n\n- [ ] Restore\n\n" + extra +
			"## Contacts\n\n- [ ] a task outside the phases is prose\n"
	}
	p, err := incident.ParsePlan(full(""))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]incident.Item{
		incident.PhaseDetected:   {{Code: "say-what-was-seen", Text: "Say what was seen"}, {Code: "owner", Text: "Name the owner"}},
		incident.PhaseTriaged:    {{Code: "set-the-severite-and-the-category", Text: "Set the Sévérité, and the category!"}},
		incident.PhaseContained:  {{Code: "stop-the-harm-across-two-lines", Text: "Stop the harm across two lines"}},
		incident.PhaseEradicated: {{Code: "remove-the-cause", Text: "Remove the cause"}},
		incident.PhaseRecovered:  {{Code: "restore", Text: "Restore"}},
	}
	if !reflect.DeepEqual(p.Checklists, want) {
		t.Fatalf("parsed %v\nwant %v", p.Checklists, want)
	}
	if _, err := incident.ParsePlan(full("## Closed\n\nWrite the review.\n\n")); err != nil {
		t.Errorf("a Closed section of prose: %v", err)
	}
	for name, tc := range map[string]struct{ body, says string }{
		"lacks a phase":    {strings.Replace(full(""), "## Eradicated\n\n* [ ] Remove the cause\n\n", "", 1), "## Eradicated"},
		"empty checklist":  {strings.Replace(full(""), "- [ ] Restore", "Restore, without a box", 1), "checklist of Recovered is empty"},
		"a phase twice":    {full("## Recovered\n\n- [ ] Again\n\n"), "recovered phase twice"},
		"closed with task": {full("## Closed\n\n- [ ] Review\n\n"), "Closed section has a checklist"},
		"same code twice":  {strings.Replace(full(""), "- [ ] Restore", "- [ ] Restore\n- [ ] Restore!", 1), `code "restore"`},
		"bad code":         {strings.Replace(full(""), "{#owner}", "{#Owner X}", 1), "{#Owner X}"},
		"no letters":       {strings.Replace(full(""), "- [ ] Restore", "- [ ] Restore\n- [ ] 復旧", 1), "{#a-code}"},
		"empty":            {"", "## Detected"},
	} {
		_, err := incident.ParsePlan(tc.body)
		if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(apperr.MessageOf(err), tc.says) {
			t.Errorf("%s: %v, want a message with %q", name, err, tc.says)
		}
	}
}

// TestRenderMarkdown: scripts, event handlers, styles and javascript:
// links do not survive the rendering; images become links (the CSP loads
// none from elsewhere); task boxes are drawn, explicit codes left out.
func TestRenderMarkdown(t *testing.T) {
	got := string(incident.RenderMarkdown("# Plan\n\n<script>alert(1)</script>\n\n" +
		"[click](javascript:alert(2)) [ok](https://example.com/runbook)\n\n" +
		`<a href="javascript:alert(3)" onclick="alert(4)">raw</a>` + "\n\n" +
		"<img src=x onerror=alert(5)>\n\n![diagram](https://example.com/d.png) ![x](javascript:alert(6))\n\n" +
		"| a |\n|--:|\n| 1 |\n\n- [ ] Name the owner {#owner}\n- [x] Done\n"))
	for _, bad := range []string{"<script", "alert(1)", "javascript:", "onclick", "onerror", "{#owner}", "<img", "style=", "<input"} {
		if strings.Contains(got, bad) {
			t.Errorf("rendering keeps %q:\n%s", bad, got)
		}
	}
	for _, good := range []string{"<h1", `href="https://example.com/runbook"`, `href="https://example.com/d.png" rel="nofollow">diagram</a>`, "<td>1</td>", "☐ Name the owner", "☑ Done"} {
		if !strings.Contains(got, good) {
			t.Errorf("rendering lacks %q:\n%s", good, got)
		}
	}
}

// TestPlanVersionsDriveThePhases (MTL-5.2.1, CP-7.2): a draft is not in
// force; its author cannot approve it, another member of the security
// team can, and its review falls due a year later; an incident keeps the
// version in force when it was opened: one opened under v1 still needs
// v1's items after v2 is approved, one opened after needs v2's.
func TestPlanVersionsDriveThePhases(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l := setup(t, d)
		account(t, d, "sec1", "security")
		account(t, d, "sec2", "security")
		account(t, d, "sup1", "support")

		if p, err := s.PlanInForce(ctx); err != nil || p.Version != incident.BuiltinPlan.Version {
			t.Fatalf("in force with no version: %v, %v", p.Version, err)
		}
		if _, err := s.DraftPlan(ctx, "# Plan\n\n## Detected\n\n- [ ] one\n", "sec1", "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("draft without every phase: %v", err)
		}
		if _, err := s.DraftPlan(ctx, incident.BuiltinPlanMarkdown(), "sup1", "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("owner outside the security team: %v", err)
		}
		v1, err := s.DraftPlan(ctx, incident.BuiltinPlanMarkdown(), "sec1", "sec1")
		if err != nil || v1.Version != 1 {
			t.Fatalf("draft v1: %+v, %v", v1, err)
		}
		if p, _ := s.PlanInForce(ctx); p.Version != incident.BuiltinPlan.Version {
			t.Fatalf("a draft is in force: %v", p.Version)
		}
		if _, err := s.ApprovePlan(ctx, 1, "sec1"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("the author approves: %v", err)
		}
		if _, err := s.ApprovePlan(ctx, 1, "sup1"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("support approves: %v", err)
		}
		clock.Add(time.Hour)
		v1, err = s.ApprovePlan(ctx, 1, "sec2")
		if err != nil || !v1.ReviewDue.Equal(t0.Add(time.Hour).Add(365*24*time.Hour)) {
			t.Fatalf("approve v1: %+v, %v", v1, err)
		}
		if _, err := s.ApprovePlan(ctx, 1, "sec2"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("approved twice: %v", err)
		}
		if p, _ := s.PlanInForce(ctx); p.Version != "1" || !reflect.DeepEqual(p.Checklists, incident.BuiltinPlan.Checklists) {
			t.Fatalf("in force after v1: %+v", p)
		}

		old, err := s.Open(ctx, incident.NewIncident{Title: "Under v1", Severity: "high", Category: "takeover"}, "sec1")
		if err != nil || old.PlanVersion != "1" {
			t.Fatalf("open under v1: %+v, %v", old, err)
		}

		// v2 adds an item to Detected; a draft v3 is left unapproved.
		body2 := strings.Replace(incident.BuiltinPlanMarkdown(), "{#owner}\n", "{#owner}\n- [ ] Call the lawyers {#lawyers}\n", 1)
		if _, err := s.DraftPlan(ctx, body2, "sec2", "sec2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DraftPlan(ctx, body2, "sec2", "sec2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApprovePlan(ctx, 2, "sec1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApprovePlan(ctx, 1, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("approve again an older version: %v", err)
		}
		versions, err := s.PlanVersions(ctx)
		if err != nil || len(versions) != 3 || versions[0].Approved() || !versions[1].InForce || versions[2].InForce {
			t.Fatalf("versions: %+v, %v", versions, err)
		}
		fresh, err := s.Open(ctx, incident.NewIncident{Title: "Under v2", Severity: "high", Category: "takeover"}, "sec1")
		if err != nil || fresh.PlanVersion != "2" {
			t.Fatalf("open under v2: %+v, %v", fresh, err)
		}

		tickAll := func(id string, items []incident.Item) {
			t.Helper()
			for _, it := range items {
				if err := s.Check(ctx, id, it.Code, "sec1"); err != nil {
					t.Fatalf("%s: %v", it.Code, err)
				}
			}
		}
		// The open one still follows v1: lawyers is not one of its items,
		// and v1's are enough.
		items, _, err := s.Checklist(ctx, old.ID, incident.PhaseDetected)
		if err != nil || len(items) != 2 {
			t.Fatalf("v1 incident's checklist: %v, %v", items, err)
		}
		if err := s.Check(ctx, old.ID, "lawyers", "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("v2's item on a v1 incident: %v", err)
		}
		tickAll(old.ID, incident.BuiltinPlan.Checklists[incident.PhaseDetected])
		if _, err := s.Advance(ctx, old.ID, "sec1"); err != nil {
			t.Fatalf("v1 incident with v1's items done: %v", err)
		}
		// The new one needs v2's.
		tickAll(fresh.ID, incident.BuiltinPlan.Checklists[incident.PhaseDetected])
		if _, err := s.Advance(ctx, fresh.ID, "sec1"); apperr.CodeOf(err) != apperr.Conflict || !strings.Contains(apperr.MessageOf(err), "Call the lawyers") {
			t.Fatalf("v2 incident without v2's item: %v", err)
		}
		tickAll(fresh.ID, []incident.Item{{Code: "lawyers"}})
		if _, err := s.Advance(ctx, fresh.ID, "sec1"); err != nil {
			t.Fatal(err)
		}

		recs, _ := l.After(ctx, 0, 1000)
		count := map[string]int{}
		for _, r := range recs {
			count[r.Action]++
		}
		if count["incident.plan_draft"] != 3 || count["incident.plan_approve"] != 2 {
			t.Errorf("audited: %v", count)
		}
		if _, _, err := s.Checklist(ctx, "nope", incident.PhaseDetected); err != incident.ErrNoIncident {
			t.Errorf("checklist of no incident: %v", err)
		}
	})
}
