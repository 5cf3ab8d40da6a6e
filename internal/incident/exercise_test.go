package incident_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/policy"
)

// TestExercisesAndFindings (MTL-5.2.2, MTL-4.3.2): with no exercise
// held, one is due now and overdue; a tabletop is recorded with its
// participants (staff only) and findings, each filed in the findings
// register (source exercise, its ID; titled by its first line; medium
// unless given; owned by staff; due at the agreed date, never after the
// severity's deadline nor in the past) in the exercise's transaction;
// the exercise reads them back from the register, where they are
// resolved with evidence; the next exercise is due a year later.
func TestExercisesAndFindings(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l := setup(t, d)
		p, _ := policy.Builtin(policy.CustomerPortal)
		register := findings.New(d, l, p)
		account(t, d, "sec1", "security")
		account(t, d, "sup1", "support")
		account(t, d, "c1", "customer")

		// None held: one interval from the installation's first account.
		interval := incident.ExerciseIntervalOf(s)
		if due, err := s.NextExerciseDue(ctx); err != nil || !due.Equal(t0.Add(interval)) {
			t.Fatalf("due with none held: %v, %v", due, err)
		}
		if over, err := s.Overdue(ctx, t0); err != nil || over {
			t.Fatalf("overdue at installation: %v, %v", over, err)
		}
		if over, err := s.Overdue(ctx, t0.Add(interval+time.Hour)); err != nil || !over {
			t.Fatalf("not overdue an interval after installation: %v, %v", over, err)
		}
		// Overdue, it is recorded once per due date for detection's alert.
		clock.Set(t0.Add(interval + time.Hour))
		if warned, err := s.WarnExercise(ctx); err != nil || !warned {
			t.Fatalf("exercise overdue not recorded: %v, %v", warned, err)
		}
		if warned, err := s.WarnExercise(ctx); err != nil || warned {
			t.Fatalf("exercise overdue recorded twice: %v, %v", warned, err)
		}
		clock.Set(t0)
		held := t0.Add(-24 * time.Hour)
		ok := incident.Exercise{Kind: incident.ExerciseTabletop, Scenario: "Stolen support laptop", HeldAt: held,
			Participants: []string{"sec1", "sup1", "sec1"}}
		found := []incident.Finding{
			{Text: "Nobody knew where the regulator's form is\nIt is in the plan's appendix; print it.", Owner: "sec1", Due: t0.Add(30 * day)},
			{Text: "Support's phone tree is out of date", Owner: "sup1", Severity: "high", Due: t0.Add(7 * day)},
		}
		medium := p.Governance.Remediation.Medium.Duration
		for name, tc := range map[string]func(e *incident.Exercise, f []incident.Finding) []incident.Finding{
			"a kind":      func(e *incident.Exercise, f []incident.Finding) []incident.Finding { e.Kind = "game"; return f },
			"no scenario": func(e *incident.Exercise, f []incident.Finding) []incident.Finding { e.Scenario = " "; return f },
			"in the future": func(e *incident.Exercise, f []incident.Finding) []incident.Finding {
				e.HeldAt = t0.Add(time.Hour)
				return f
			},
			"nobody": func(e *incident.Exercise, f []incident.Finding) []incident.Finding { e.Participants = nil; return f },
			"a customer": func(e *incident.Exercise, f []incident.Finding) []incident.Finding {
				e.Participants = []string{"sec1", "c1"}
				return f
			},
			"finding without text": func(_ *incident.Exercise, f []incident.Finding) []incident.Finding {
				return append(f, incident.Finding{Text: " ", Owner: "sec1"})
			},
			"finding due after its deadline": func(_ *incident.Exercise, f []incident.Finding) []incident.Finding {
				return append(f, incident.Finding{Text: "x", Owner: "sec1", Due: t0.Add(medium + time.Second)})
			},
			"finding due in the past": func(_ *incident.Exercise, f []incident.Finding) []incident.Finding {
				return append(f, incident.Finding{Text: "x", Owner: "sec1", Due: held.Add(time.Hour)})
			},
			"finding of nobody": func(_ *incident.Exercise, f []incident.Finding) []incident.Finding {
				return append(f, incident.Finding{Text: "x", Owner: ""})
			},
			"finding of a customer": func(_ *incident.Exercise, f []incident.Finding) []incident.Finding {
				return append(f, incident.Finding{Text: "x", Owner: "c1"})
			},
			"finding of a severity": func(_ *incident.Exercise, f []incident.Finding) []incident.Finding {
				return append(f, incident.Finding{Text: "x", Owner: "sec1", Severity: "urgent"})
			},
		} {
			e := ok
			f := tc(&e, append([]incident.Finding(nil), found...))
			if _, err := s.RecordExercise(ctx, e, f, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%s: %v, want refused", name, err)
			}
		}
		if all, _ := s.Exercises(ctx); len(all) != 0 {
			t.Fatalf("a refused exercise was kept: %+v", all)
		}
		if fs, _ := register.List(ctx, findings.Filter{}); len(fs) != 0 {
			t.Fatalf("a refused exercise's findings were filed: %+v", fs)
		}
		e, err := s.RecordExercise(ctx, ok, found, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Participants) != 2 || e.PlanVersion != incident.BuiltinPlan.Version || len(e.Findings) != 2 {
			t.Errorf("recorded %+v", e)
		}
		if due, _ := s.NextExerciseDue(ctx); !due.Equal(held.Add(365 * 24 * time.Hour)) {
			t.Errorf("next due %v", due)
		}
		if over, _ := s.Overdue(ctx, t0); over {
			t.Error("overdue the day after an exercise")
		}
		if over, _ := s.Overdue(ctx, held.Add(366*24*time.Hour)); !over {
			t.Error("not overdue a year and a day after")
		}
		// In the register, with the exercise as their source; the first
		// due first.
		inRegister, err := register.List(ctx, findings.Filter{Source: findings.SourceExercise, SourceID: e.ID})
		if err != nil || len(inRegister) != 2 {
			t.Fatalf("register holds %+v, %v", inRegister, err)
		}
		phone, form := inRegister[0], inRegister[1]
		if phone.Title != "Support's phone tree is out of date" || phone.Severity != "high" || phone.Owner != "sup1" ||
			!phone.DueAt.Equal(t0.Add(7*day)) || phone.Status != findings.StatusOpen || phone.CreatedBy != "sec1" {
			t.Errorf("phone tree finding %+v", phone)
		}
		if form.Title != "Nobody knew where the regulator's form is" || form.Description != found[0].Text || form.Severity != "medium" ||
			!form.DueAt.Equal(t0.Add(30*day)) || form.SourceKind != findings.SourceExercise || form.SourceID != e.ID {
			t.Errorf("regulator's form finding %+v", form)
		}
		got, err := s.Exercise(ctx, e.ID)
		if err != nil || len(got.Findings) != 2 || got.Findings[0].ID != phone.ID || got.Findings[1].ID != form.ID {
			t.Fatalf("exercise %+v, %v", got, err)
		}
		// Without an agreed date, the severity's deadline; a long first
		// line is cut to the register's title.
		long := strings.Repeat("x", findings.MaxTitle+50) + "\nmore"
		added, err := s.AddFinding(ctx, e.ID, incident.Finding{Text: long, Owner: "sec1"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if !added.DueAt.Equal(t0.Add(medium)) || utf8.RuneCountInString(added.Title) != findings.MaxTitle || added.Description != long {
			t.Errorf("added %+v", added)
		}
		if _, err := s.AddFinding(ctx, "nope", incident.Finding{Text: "x", Owner: "sec1"}, "sec1"); err != incident.ErrNoExercise {
			t.Errorf("finding of no exercise: %v", err)
		}
		// Closed in the register, with evidence.
		clock.Add(time.Hour)
		if err := register.Resolve(ctx, phone.ID, "Updated and printed", "sup1"); err != nil {
			t.Fatal(err)
		}
		all, err := s.Exercises(ctx)
		if err != nil || len(all) != 1 || len(all[0].Findings) != 3 {
			t.Fatalf("exercises %+v, %v", all, err)
		}
		closed := all[0].Findings[2] // the open first
		if closed.ID != phone.ID || closed.Status != findings.StatusResolved || !closed.ClosedAt.Equal(t0.Add(time.Hour)) ||
			closed.ClosedBy != "sup1" || closed.ClosingNote != "Updated and printed" {
			t.Errorf("findings %+v", all[0].Findings)
		}
		// Past its agreed date, the register's pass raises it like any
		// finding (governance.overdue); the incident service has no
		// overdue pass of its own for findings.
		clock.Set(t0.Add(30*day + time.Hour))
		if _, err := register.Check(ctx); err != nil {
			t.Fatal(err)
		}
		recs, _ := l.After(ctx, 0, 1000)
		count := map[string]int{}
		overdue := map[string]bool{}
		for _, r := range recs {
			count[r.Action]++
			if r.Action == "governance.overdue" {
				overdue[r.Target] = true
			}
		}
		if count["incident.exercise_record"] != 1 || count["finding.create"] != 3 || count["finding.resolve"] != 1 {
			t.Errorf("audited %v", count)
		}
		if !overdue["finding:"+form.ID] || overdue["finding:"+phone.ID] || overdue["finding:"+added.ID] {
			t.Errorf("overdue raised for %v, want the regulator's form finding only", overdue)
		}
	})
}

// TestDrill (MTL-5.2.2): a drill opens a real incident marked as an
// exercise (a real one is not), recorded as a drill held now; its times
// to each phase come from the audit trail.
func TestDrill(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := setup(t, d)
		account(t, d, "sec1", "security")
		if _, err := s.StartDrill(ctx, "  ", "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("drill without a scenario: %v", err)
		}
		real, err := s.Open(ctx, incident.NewIncident{Title: "Real", Severity: "high", Category: "takeover"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		inc, err := s.StartDrill(ctx, "Credential stuffing from one network\nmore words", "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if inc.Title != "Drill: Credential stuffing from one network" || inc.Phase != incident.PhaseDetected {
			t.Errorf("drill incident %+v", inc)
		}
		if ex, err := s.IsExercise(ctx, inc.ID); err != nil || !ex {
			t.Errorf("drill is an exercise: %v, %v", ex, err)
		}
		if ex, err := s.IsExercise(ctx, real.ID); err != nil || ex {
			t.Errorf("real incident is an exercise: %v, %v", ex, err)
		}
		if _, err := s.IsExercise(ctx, "nope"); err != incident.ErrNoIncident {
			t.Errorf("no incident: %v", err)
		}
		all, err := s.Exercises(ctx)
		if err != nil || len(all) != 1 || all[0].Kind != incident.ExerciseDrill || all[0].IncidentID != inc.ID || !all[0].HeldAt.Equal(t0) {
			t.Fatalf("drill recorded as %+v, %v", all, err)
		}
		for i, phase := range incident.Phases[:3] {
			clock.Add(time.Duration(i+1) * 10 * time.Minute)
			for _, it := range incident.BuiltinPlan.Checklists[phase] {
				if err := s.Check(ctx, inc.ID, it.Code, "sec1"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Advance(ctx, inc.ID, "sec1"); err != nil {
				t.Fatal(err)
			}
		}
		times, err := s.DrillTimes(ctx, all[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, pt := range times {
			got = append(got, pt.Phase+"@"+pt.After.String())
		}
		if want := "detected@0s triaged@10m0s contained@30m0s eradicated@1h0m0s"; strings.Join(got, " ") != want {
			t.Errorf("drill times %v, want %s", got, want)
		}
		tabletop, err := s.RecordExercise(ctx, incident.Exercise{Kind: incident.ExerciseTabletop, Scenario: "x", HeldAt: t0, Participants: []string{"sec1"}}, nil, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DrillTimes(ctx, tabletop.ID); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("times of a tabletop: %v", err)
		}
	})
}
