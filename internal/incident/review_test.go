package incident_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/incident"
)

// TestReviewAndExport (CP-7.2): the review is refused before the
// incident has recovered, written after, with its actions owned and due,
// rewritten with an action done, audited each time; the export holds the
// incident's facts, its timeline, the checklist ticks and the review.
func TestReviewAndExport(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := setup(t, d)
		account(t, d, "sec1", "security")
		account(t, d, "c1", "customer")
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Leaked | token", Severity: "critical", Category: "data exposure"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		review := incident.Review{Summary: "A token leaked in a **log**.", Worked: "The alert fired in minutes.", Failed: "Nobody had the regulator's form.",
			Actions: []incident.Action{{Text: "Scrub tokens from logs", Owner: "sec1", Due: t0.Add(14 * 24 * time.Hour)}}}
		if err := s.SaveReview(ctx, inc.ID, review, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("review while detected: %v", err)
		}
		for _, phase := range incident.Phases[:4] {
			clock.Add(time.Hour)
			for _, it := range incident.BuiltinPlan.Checklists[phase] {
				if err := s.Check(ctx, inc.ID, it.Code, "sec1"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Advance(ctx, inc.ID, "sec1"); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Check(ctx, inc.ID, "restore", "sec1"); err != nil {
			t.Fatal(err)
		}
		for name, mod := range map[string]func(r *incident.Review){
			"no summary":          func(r *incident.Review) { r.Summary = " " },
			"no failed":           func(r *incident.Review) { r.Failed = "" },
			"action without due":  func(r *incident.Review) { r.Actions = []incident.Action{{Text: "x", Owner: "sec1"}} },
			"action of nobody":    func(r *incident.Review) { r.Actions = []incident.Action{{Text: "x", Owner: "c1", Due: t0}} },
			"action without text": func(r *incident.Review) { r.Actions = []incident.Action{{Owner: "sec1", Due: t0}} },
		} {
			r := review
			mod(&r)
			if err := s.SaveReview(ctx, inc.ID, r, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, ok, err := s.Review(ctx, inc.ID); ok || err != nil {
			t.Fatalf("a refused review was kept: %v, %v", ok, err)
		}
		if err := s.SaveReview(ctx, inc.ID, review, "sec1"); err != nil {
			t.Fatal(err)
		}
		review.Actions[0].Done = true
		review.Actions = append(review.Actions, incident.Action{Text: "Print the form", Owner: "sec1", Due: t0.Add(24 * time.Hour)})
		clock.Add(time.Hour)
		if err := s.SaveReview(ctx, inc.ID, review, "sec1"); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Review(ctx, inc.ID)
		if err != nil || !ok || len(got.Actions) != 2 || !got.Actions[0].Done || got.Actions[1].Done || !got.CreatedAt.Equal(t0.Add(4*time.Hour)) || !got.UpdatedAt.Equal(t0.Add(5*time.Hour)) {
			t.Fatalf("review %+v, %v, %v", got, ok, err)
		}
		if _, _, err := s.Review(ctx, "nope"); err != incident.ErrNoIncident {
			t.Errorf("review of no incident: %v", err)
		}

		out, err := s.Export(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		md := string(out)
		for _, want := range []string{
			"# Incident " + inc.ID + ": Leaked | token",
			"| Severity | critical |",
			"| Response plan | the built-in plan |",
			"incident.open", "incident.phase", "incident.review",
			"- [x] Name the incident's owner in the security team — sec1, 2026-11-02 10:00:00 UTC",
			"- [x] Restore normal service",
			"- [ ] Tell the affected customers",
			"### What happened\n\nA token leaked in a **log**.",
			"| Scrub tokens from logs | sec1 | 2026-11-16 | yes |",
		} {
			if !strings.Contains(md, want) {
				t.Errorf("export lacks %q:\n%s", want, md)
			}
		}
		if strings.Contains(md, "drill") {
			t.Error("a real incident's export says it is a drill")
		}
	})
}
