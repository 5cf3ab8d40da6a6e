package findings_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/vulncheck"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func setup(t *testing.T, d *db.DB) (*findings.Service, *audit.Log, policy.Profile) {
	t.Helper()
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	l := audit.New(d)
	return findings.New(d, l, p), l, p
}

func exec(t *testing.T, d *db.DB, q string, args ...any) {
	t.Helper()
	if err := d.Transact(context.Background(), func(tx *db.Tx) error { _, err := tx.ExecContext(context.Background(), q, args...); return err }); err != nil {
		t.Fatal(err)
	}
}

func account(t *testing.T, d *db.DB, id, role string) {
	exec(t, d, `INSERT INTO accounts (id, email_lookup, email_enc, password_hash, role, status, created_at, updated_at)
		VALUES ($1, $2, $3, '', $4, 'active', $5, $5)`, id, []byte(id), []byte("x"), role, t0)
}

// events returns the audit records of an action, oldest first.
func events(t *testing.T, l *audit.Log, action string) []audit.Record {
	t.Helper()
	recs, err := l.After(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	for _, r := range recs {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

func count(t *testing.T, d *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFindingLifecycle (MTL-4.3.2, CP-6.2): a finding is due its
// severity's remediation time after it is filed; changing the severity
// moves the due date (audited with both); it is resolved only with
// evidence, accepted only by someone other than who filed it, with a
// reason and a date within a year, and reopened with a reason; bad input
// is refused with nothing written.
func TestFindingLifecycle(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l, p := setup(t, d)
		account(t, d, "sec1", "security")
		account(t, d, "sec2", "security")
		account(t, d, "c1", "customer")

		ok := findings.NewFinding{SourceKind: findings.SourceOther, Title: "TLS 1.0 on the mail relay", Description: "Found by hand.",
			Severity: "high", Component: "mail relay", Owner: "sec1", By: "sec1"}
		for name, tc := range map[string]func(n *findings.NewFinding){
			"no title":         func(n *findings.NewFinding) { n.Title = " " },
			"long title":       func(n *findings.NewFinding) { n.Title = strings.Repeat("x", findings.MaxTitle+1) },
			"no description":   func(n *findings.NewFinding) { n.Description = "" },
			"a severity":       func(n *findings.NewFinding) { n.Severity = "urgent" },
			"a source":         func(n *findings.NewFinding) { n.SourceKind = "rumour" },
			"customer owner":   func(n *findings.NewFinding) { n.Owner = "c1" },
			"unknown owner":    func(n *findings.NewFinding) { n.Owner = "nobody" },
			"long component":   func(n *findings.NewFinding) { n.Component = strings.Repeat("x", findings.MaxComponent+1) },
			"no assessment":    func(n *findings.NewFinding) { n.AssessmentID = "missing" },
			"a long reference": func(n *findings.NewFinding) { n.SourceID = strings.Repeat("x", 201) },
			// An agreed date may come before the severity's deadline,
			// never after it, and never in the past.
			"due after the deadline": func(n *findings.NewFinding) {
				n.DueAt = t0.Add(p.Governance.Remediation.High.Duration + time.Second)
			},
			"due in the past": func(n *findings.NewFinding) { n.DueAt = t0.Add(-time.Second) },
		} {
			n := ok
			tc(&n)
			if _, err := s.Create(ctx, n); apperr.CodeOf(err) != apperr.Invalid && apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("%s: %v, want refused", name, err)
			}
		}
		if n := count(t, d, `SELECT COUNT(*) FROM findings`); n != 0 || len(events(t, l, "finding.create")) != 0 {
			t.Fatalf("refused findings were kept: %d", n)
		}

		f, err := s.Create(ctx, ok)
		if err != nil {
			t.Fatal(err)
		}
		if want := t0.Add(p.Governance.Remediation.High.Duration); !f.DueAt.Equal(want) || f.Status != findings.StatusOpen {
			t.Fatalf("filed: due %v (want %v), status %s", f.DueAt, want, f.Status)
		}
		// A new severity moves the due date from the creation, audited.
		clock.Set(t0.Add(2 * day))
		f, err = s.Update(ctx, f.ID, findings.Edit{Title: f.Title, Description: f.Description, Severity: "critical", Component: f.Component, Owner: "sec1"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if want := t0.Add(p.Governance.Remediation.Critical.Duration); !f.DueAt.Equal(want) {
			t.Fatalf("critical: due %v, want %v", f.DueAt, want)
		}
		up := events(t, l, "finding.update")
		var det struct{ Severity, SeverityFrom, Due, DueFrom string }
		if len(up) != 1 || json.Unmarshal(up[0].Details, &det) != nil {
			t.Fatalf("update audited %d times", len(up))
		}
		if !strings.Contains(string(up[0].Details), `"severity_from":"high"`) || !strings.Contains(string(up[0].Details), `"due_from":"`+t0.Add(p.Governance.Remediation.High.Duration).Format(time.RFC3339)) {
			t.Fatalf("update details: %s", up[0].Details)
		}
		if _, err := s.Update(ctx, f.ID, findings.Edit{Title: f.Title, Description: f.Description, Severity: "severe"}, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("bad severity: %v", err)
		}

		if err := s.Start(ctx, f.ID, "sec1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx, f.ID, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("started twice: %v", err)
		}
		if err := s.Resolve(ctx, f.ID, "  ", "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("resolved without evidence: %v", err)
		}
		// Accepting the risk: not by who filed it, not for over a year,
		// not in the past, not without a reason.
		if err := s.Accept(ctx, f.ID, "Mail relay retires in March.", t0.Add(90*day), "sec1"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("accepted by who filed it: %v", err)
		}
		if err := s.Accept(ctx, f.ID, "Retiring.", t0.Add(400*day), "sec2"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("accepted for over a year: %v", err)
		}
		if err := s.Accept(ctx, f.ID, "Retiring.", t0, "sec2"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("accepted until the past: %v", err)
		}
		if err := s.Accept(ctx, f.ID, "", t0.Add(90*day), "sec2"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("accepted without a reason: %v", err)
		}
		if got, _ := s.Get(ctx, f.ID); got.Status != findings.StatusInProgress {
			t.Fatalf("refused transitions changed the status to %s", got.Status)
		}
		if err := s.Accept(ctx, f.ID, "Mail relay retires in March.", t0.Add(90*day), "sec2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Update(ctx, f.ID, findings.Edit{Title: "x", Description: "y", Severity: "low"}, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("edited while closed: %v", err)
		}
		if err := s.Reopen(ctx, f.ID, "", "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("reopened without a reason: %v", err)
		}
		if err := s.Reopen(ctx, f.ID, "The relay stays.", "sec1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Resolve(ctx, f.ID, "Disabled TLS 1.0 in relay config, commit abc123.", "sec1"); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, f.ID)
		if got.Status != findings.StatusResolved || got.ClosingNote != "Disabled TLS 1.0 in relay config, commit abc123." || got.ClosedBy != "sec1" {
			t.Fatalf("resolved: %+v", got)
		}
		for _, a := range []string{"finding.create", "finding.start", "finding.accept", "finding.reopen", "finding.resolve"} {
			if len(events(t, l, a)) != 1 {
				t.Errorf("%s audited %d times, want once", a, len(events(t, l, a)))
			}
		}
		// An agreed earlier date (an exercise's) is kept, at the
		// deadline too, and an edit that keeps the severity keeps it.
		agreed := ok
		agreed.DueAt = t0.Add(3 * day)
		early, err := s.Create(ctx, agreed)
		if err != nil || !early.DueAt.Equal(t0.Add(3*day)) {
			t.Fatalf("agreed due date: %+v, %v", early, err)
		}
		agreed.DueAt = clock.Now().Add(p.Governance.Remediation.High.Duration)
		if last, err := s.Create(ctx, agreed); err != nil || !last.DueAt.Equal(agreed.DueAt) {
			t.Fatalf("due at the deadline: %+v, %v", last, err)
		}
		early, err = s.Update(ctx, early.ID, findings.Edit{Title: "TLS 1.0 on the relay", Description: early.Description, Severity: "high", Owner: "sec2"}, "sec1")
		if err != nil || !early.DueAt.Equal(t0.Add(3*day)) {
			t.Fatalf("edit moved the agreed date: %+v, %v", early, err)
		}

	})
}

// TestOverdueAlerts (MTL-4.3.2, CP-6.2, MTL-4.3.1): the pass records an
// open finding past its due date and an overdue assessment once per due
// date (governance.overdue, for detection's governance_overdue alert);
// a closed finding never; an accepted risk whose date has passed is
// reopened; the next assessment is due an interval after the last one
// performed (or after the installation's first account).
func TestOverdueAlerts(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l, p := setup(t, d)
		account(t, d, "sec1", "security")
		account(t, d, "sec2", "security")
		interval := p.Governance.AssessmentInterval.Duration
		if due, err := s.NextAssessmentDue(ctx); err != nil || !due.Equal(t0.Add(interval)) {
			t.Fatalf("next assessment with none: %v, %v", due, err)
		}
		low, _ := s.Create(ctx, findings.NewFinding{SourceKind: findings.SourceOther, Title: "Low", Description: "x", Severity: "low", By: "sec1"})
		crit, _ := s.Create(ctx, findings.NewFinding{SourceKind: findings.SourceOther, Title: "Crit", Description: "x", Severity: "critical", By: "sec1"})
		done, _ := s.Create(ctx, findings.NewFinding{SourceKind: findings.SourceOther, Title: "Done", Description: "x", Severity: "critical", By: "sec1"})
		if err := s.Resolve(ctx, done.ID, "Patched in v1.2.", "sec1"); err != nil {
			t.Fatal(err)
		}
		overdue := func() []string {
			var out []string
			for _, r := range events(t, l, "governance.overdue") {
				var det struct{ Kind, Due, Summary string }
				if err := json.Unmarshal(r.Details, &det); err != nil {
					t.Fatal(err)
				}
				out = append(out, r.Target+" "+det.Kind+" "+det.Due+" "+det.Summary)
			}
			return out
		}
		if _, err := s.Check(ctx); err != nil || len(overdue()) != 0 {
			t.Fatalf("overdue at once: %v, %q", err, overdue())
		}
		clock.Set(t0.Add(p.Governance.Remediation.Critical.Duration + time.Second))
		if _, err := s.Check(ctx); err != nil {
			t.Fatal(err)
		}
		want := "finding:" + crit.ID + " finding " + crit.DueAt.Format(time.RFC3339) + " A critical finding is past its remediation date."
		if got := overdue(); len(got) != 1 || got[0] != want {
			t.Fatalf("overdue %q, want %q", got, want)
		}
		if _, err := s.Check(ctx); err != nil || len(overdue()) != 1 {
			t.Fatalf("recorded twice: %q", overdue())
		}
		if list, _ := s.List(ctx, findings.Filter{Overdue: true}); len(list) != 1 || list[0].ID != crit.ID {
			t.Fatalf("overdue list: %+v", list)
		}
		// A year on: the low finding and the assessment too.
		clock.Set(t0.Add(interval + time.Hour))
		if _, err := s.Check(ctx); err != nil {
			t.Fatal(err)
		}
		got := overdue()
		if len(got) != 3 || !strings.HasPrefix(got[1], "finding:"+low.ID) ||
			got[2] != "assessments:"+t0.Add(interval).Format(time.RFC3339)+" assessment "+t0.Add(interval).Format(time.RFC3339)+" A vulnerability assessment or penetration test is overdue." {
			t.Fatalf("a year on: %q", got)
		}
		// Recording an assessment moves the next one a year on from it.
		a, err := s.RecordAssessment(ctx, findings.Assessment{Kind: findings.AssessmentPentest, Scope: "portal.example.com", PerformedBy: "Acme Security",
			PerformedAt: clock.Now().Add(-day), Summary: "Two findings."}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if due, _ := s.NextAssessmentDue(ctx); !due.Equal(a.PerformedAt.Add(interval)) {
			t.Fatalf("next assessment: %v", due)
		}
		// An acceptance that ends reopens the finding.
		if err := s.Accept(ctx, low.ID, "Not reachable from outside.", clock.Now().Add(30*day), "sec2"); err != nil {
			t.Fatal(err)
		}
		clock.Add(30*day + time.Second)
		pass, err := s.Check(ctx)
		if err != nil || pass.Lapsed != 1 {
			t.Fatalf("lapse: %+v, %v", pass, err)
		}
		if f, _ := s.Get(ctx, low.ID); f.Status != findings.StatusOpen {
			t.Fatalf("after the acceptance ended: %s", f.Status)
		}
	})
}

// TestAssessments (CP-6.2, MTL-4.3.1): an assessment is recorded with its
// kind, scope, who performed it and when (not in the future); its
// findings are attached to it; bad input is refused with nothing written.
func TestAssessments(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l, _ := setup(t, d)
		account(t, d, "sec1", "security")
		ok := findings.Assessment{Kind: findings.AssessmentScan, Scope: "All public endpoints", PerformedBy: "Internal", PerformedAt: t0.Add(-day), Summary: "Clean."}
		for name, tc := range map[string]func(a *findings.Assessment){
			"a kind":    func(a *findings.Assessment) { a.Kind = "guess" },
			"no scope":  func(a *findings.Assessment) { a.Scope = "" },
			"nobody":    func(a *findings.Assessment) { a.PerformedBy = " " },
			"no date":   func(a *findings.Assessment) { a.PerformedAt = time.Time{} },
			"future":    func(a *findings.Assessment) { a.PerformedAt = t0.Add(time.Hour) },
			"a summary": func(a *findings.Assessment) { a.Summary = "" },
		} {
			a := ok
			tc(&a)
			if _, err := s.RecordAssessment(ctx, a, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%s: %v, want refused", name, err)
			}
		}
		if all, _ := s.Assessments(ctx); len(all) != 0 {
			t.Fatalf("refused assessments kept: %+v", all)
		}
		a, err := s.RecordAssessment(ctx, ok, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		f, err := s.Create(ctx, findings.NewFinding{AssessmentID: a.ID, Title: "Verbose errors", Description: "Stack traces on /api.", Severity: "medium", By: "sec1"})
		if err != nil {
			t.Fatal(err)
		}
		if f.SourceKind != findings.SourceAssessment || f.SourceID != a.ID {
			t.Fatalf("an assessment's finding: %+v", f)
		}
		if list, _ := s.List(ctx, findings.Filter{Assessment: a.ID}); len(list) != 1 || list[0].ID != f.ID {
			t.Fatalf("the assessment's findings: %+v", list)
		}
		if len(events(t, l, "assessment.record")) != 1 {
			t.Fatal("assessment not audited")
		}
	})
}

// TestInternalAuditRecords (MTL-7.2): an internal audit of compliance is
// recorded like any assessment, with its scope, its auditor and its date;
// what it finds goes into the findings register with the remediation
// deadline of its severity and stays listed under the audit; an internal
// audit counts as the assessment that moves the next one's due date.
func TestInternalAuditRecords(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l, p := setup(t, d)
		account(t, d, "sec1", "security")
		a, err := s.RecordAssessment(ctx, findings.Assessment{Kind: findings.AssessmentAudit, Scope: "CP-4.1 and CP-5.3 against the live system",
			PerformedBy: "Internal audit, J. Auditor", PerformedAt: t0.Add(-2 * day), Summary: "One staff account without a second factor."}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Assessment(ctx, a.ID); err != nil || got.Kind != findings.AssessmentAudit || findings.KindName(got.Kind) != "internal audit" ||
			got.PerformedBy != "Internal audit, J. Auditor" || !got.PerformedAt.Equal(t0.Add(-2*day)) {
			t.Fatalf("the audit as recorded: %+v, %v", got, err)
		}
		f, err := s.Create(ctx, findings.NewFinding{AssessmentID: a.ID, Title: "Staff account without MFA", Description: "Found by the audit.",
			Severity: "high", Component: "identity", By: "sec1"})
		if err != nil {
			t.Fatal(err)
		}
		if f.SourceKind != findings.SourceAssessment || f.SourceID != a.ID || !f.DueAt.Equal(t0.Add(s.Remediation("high"))) {
			t.Fatalf("the audit's finding: %+v", f)
		}
		if list, _ := s.List(ctx, findings.Filter{Assessment: a.ID}); len(list) != 1 || list[0].ID != f.ID {
			t.Fatalf("the audit's findings: %+v", list)
		}
		due, err := s.NextAssessmentDue(ctx)
		if err != nil || !due.Equal(t0.Add(-2*day).Add(p.Governance.AssessmentInterval.Duration)) {
			t.Fatalf("next assessment due %v, %v", due, err)
		}
		if len(events(t, l, "assessment.record")) != 1 {
			t.Fatal("the audit is not in the audit trail")
		}
	})
}

// TestVulncheckFilesFindings (MTL-4.1.2): each vulnerable module and
// advisory of the OSV check becomes one finding (graded by the advisory,
// else high), never twice while it is not resolved, and again once a
// resolved one is found vulnerable again; the run is recorded.
func TestVulncheckFilesFindings(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := audit.WithActor(context.Background(), audit.ActorCLI)
		s, _, p := setup(t, d)
		m := vulncheck.Modules{GoVersion: "go1.26.8", Main: vulncheck.Module{Path: "github.com/portico/portico"},
			Deps: []vulncheck.Module{{Path: "example.com/atfixed", Version: "v1.0.0"}, {Path: "example.com/later", Version: "v1.1.0"}}}
		res, err := vulncheck.Check("../vulncheck/testdata/osv", m)
		if err != nil {
			t.Fatal(err)
		}
		filed, err := s.FileVulns(ctx, res, m)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]findings.Finding{}
		for _, f := range filed.New {
			got[f.SourceID+" "+f.Component] = f
		}
		want := map[string]string{"GO-TEST-0002 example.com/atfixed": "critical", "GO-TEST-0003 example.com/later": "medium", "GO-TEST-0006 stdlib": "high"}
		if len(got) != len(want) {
			t.Fatalf("filed %v, want %v", got, want)
		}
		for k, sev := range want {
			f, ok := got[k]
			if !ok || f.Severity != sev || f.SourceKind != findings.SourceVulncheck || !f.DueAt.Equal(t0.Add(p.Governance.Remediation.Critical.Duration)) && sev == "critical" {
				t.Errorf("%s: %+v, want %s", k, f, sev)
			}
		}
		again, err := s.FileVulns(ctx, res, m)
		if err != nil || len(again.New) != 0 || again.Existing != 3 {
			t.Fatalf("second run: %+v, %v", again, err)
		}
		stdlib := got["GO-TEST-0006 stdlib"]
		if err := s.Resolve(ctx, stdlib.ID, "Rebuilt with go1.26.9.", "sec1"); err != nil {
			t.Fatal(err)
		}
		third, err := s.FileVulns(ctx, res, m)
		if err != nil || len(third.New) != 1 || third.New[0].SourceID != "GO-TEST-0006" {
			t.Fatalf("vulnerable again after resolving: %+v, %v", third, err)
		}
		last, ok, err := s.LastVulncheck(ctx)
		if err != nil || !ok || last.Vulnerable != 3 || last.Filed != 1 || last.GoVersion != "go1.26.8" {
			t.Fatalf("last check: %+v, %v, %v", last, ok, err)
		}
	})
}

// TestDisclosure (CP-6.2): an outside report becomes an open, unassigned
// medium finding from a disclosure, the reporter's contact kept apart and
// out of the audit trail, and cleared once the finding has been closed
// for the retention of security reports; bad input is refused.
func TestDisclosure(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l, p := setup(t, d)
		account(t, d, "sec1", "security")
		for name, in := range map[string]findings.Disclosure{
			"nothing":      {What: " "},
			"too long":     {What: strings.Repeat("x", findings.MaxDisclosure+1)},
			"long where":   {What: "x", Where: strings.Repeat("x", findings.MaxWhere+1)},
			"long contact": {What: "x", Contact: strings.Repeat("x", findings.MaxContact+1)},
		} {
			if _, err := s.Disclose(ctx, in); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%s: %v", name, err)
			}
		}
		f, err := s.Disclose(ctx, findings.Disclosure{What: "XSS in the search box", Where: "/search", Contact: "alice@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		if f.SourceKind != findings.SourceDisclosure || f.Severity != "medium" || f.Status != findings.StatusOpen || f.Owner != "" || f.ReporterContact != "alice@example.org" {
			t.Fatalf("disclosure: %+v", f)
		}
		for _, r := range events(t, l, "finding.create") {
			if strings.Contains(string(r.Details), "alice") || strings.Contains(string(r.Details), "XSS") {
				t.Fatalf("the report's words in the audit trail: %s", r.Details)
			}
		}
		if err := s.Resolve(ctx, f.ID, "Escaped in v1.4.", "sec1"); err != nil {
			t.Fatal(err)
		}
		clock.Add(p.Retention.SecurityReports.Duration - time.Hour)
		if pass, err := s.Check(ctx); err != nil || pass.Purged != 0 {
			t.Fatalf("purged early: %+v, %v", pass, err)
		}
		clock.Add(2 * time.Hour)
		if pass, err := s.Check(ctx); err != nil || pass.Purged != 1 {
			t.Fatalf("not purged: %+v, %v", pass, err)
		}
		if got, _ := s.Get(ctx, f.ID); got.ReporterContact != "" {
			t.Fatalf("contact kept: %q", got.ReporterContact)
		}
	})
}

// TestCurrencyFilesFindings (MTL-4.1.2): a currency check files a low
// finding per module behind by a major or minor version (not by a patch)
// and a medium one for a Go that is not the latest patch of a supported
// line, never a second one for the same module while one is not
// resolved (even when a newer version has come out); the run is
// recorded with the modules behind, for the inventory page.
func TestCurrencyFilesFindings(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := audit.WithActor(context.Background(), audit.ActorCLI)
		s, l, _ := setup(t, d)
		if _, ok, err := s.LastCurrency(ctx); ok || err != nil {
			t.Fatalf("a currency check before any: %v, %v", ok, err)
		}
		c := vulncheck.Currency{
			Go: vulncheck.GoCurrency{Version: "go1.26.7", Line: "go1.26", Latest: "go1.26.8", Newest: "go1.26.8", Supported: true, Lines: []string{"go1.26", "go1.25"}},
			Modules: []vulncheck.ModuleCurrency{
				{Path: "example.com/major", Version: "v0.9.0", Latest: "v1.0.0", Behind: vulncheck.BehindMajor},
				{Path: "example.com/minor", Version: "v1.2.3", Latest: "v1.4.0", Behind: vulncheck.BehindMinor},
				{Path: "example.com/patch", Version: "v1.2.3", Latest: "v1.2.5", Behind: vulncheck.BehindPatch},
				{Path: "example.com/current", Version: "v1.0.0", Latest: "v1.0.0"},
				{Path: "example.com/private", Version: "v1.0.0"},
			}}
		filed, err := s.FileUpdates(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range filed.New {
			if f.SourceKind != findings.SourceVulncheck || f.Status != findings.StatusOpen {
				t.Errorf("filed %+v", f)
			}
			got[f.SourceID+" "+f.Component] = f.Severity
		}
		want := map[string]string{"outdated:example.com/major@v1.0.0 example.com/major": "low",
			"outdated:example.com/minor@v1.4.0 example.com/minor": "low", "outdated:go@go1.26.8 go": "medium"}
		if !maps.Equal(got, want) {
			t.Fatalf("filed %v, want %v", got, want)
		}
		// A newer version out, the findings still open: nothing new.
		c.Modules[1].Latest, c.Go.Latest = "v1.5.0", "go1.26.9"
		again, err := s.FileUpdates(ctx, c)
		if err != nil || len(again.New) != 0 || again.Existing != 3 {
			t.Fatalf("second run: %+v, %v", again, err)
		}
		last, ok, err := s.LastCurrency(ctx)
		if err != nil || !ok || last.Behind != 3 || last.Modules != 5 || last.Unknown != 1 || last.Filed != 0 || last.GoCurrent || !last.GoSupported ||
			last.GoLatest != "go1.26.9" || last.LatestAt("example.com/minor", "v1.2.3") != "v1.5.0" || last.LatestAt("example.com/minor", "v1.2.4") != "" || len(last.Outdated) != 3 {
			t.Fatalf("last check: %+v, %v, %v", last, ok, err)
		}
		// An unsupported Go line, the earlier finding resolved: filed anew.
		for _, f := range filed.New {
			if f.Component == findings.ComponentGo {
				if err := s.Resolve(ctx, f.ID, "Rebuilt with go1.26.8.", "sec1"); err != nil {
					t.Fatal(err)
				}
			}
		}
		c.Go = vulncheck.GoCurrency{Version: "go1.24.13", Line: "go1.24", Latest: "go1.24.13", Newest: "go1.26.9", Lines: []string{"go1.26", "go1.25"}}
		third, err := s.FileUpdates(ctx, c)
		if err != nil || len(third.New) != 1 || third.New[0].SourceID != "outdated:go@go1.26.9" || third.New[0].Severity != "medium" ||
			!strings.Contains(third.New[0].Title, "no longer supported") {
			t.Fatalf("an unsupported Go: %+v, %v", third, err)
		}
		// Everything current: nothing filed, the run recorded.
		current := vulncheck.Currency{Go: vulncheck.GoCurrency{Version: "go1.26.9", Latest: "go1.26.9", Supported: true, Current: true},
			Modules: []vulncheck.ModuleCurrency{{Path: "example.com/current", Version: "v1.0.0", Latest: "v1.0.0"}}}
		if f, err := s.FileUpdates(ctx, current); err != nil || len(f.New) != 0 || f.Existing != 0 {
			t.Fatalf("a current binary: %+v, %v", f, err)
		}
		if n := len(events(t, l, "vulncheck.updates")); n != 4 {
			t.Fatalf("%d runs recorded", n)
		}
		// Many modules behind: the event stays small, and says so.
		var many vulncheck.Currency
		many.Go = current.Go
		for i := range 200 {
			many.Modules = append(many.Modules, vulncheck.ModuleCurrency{Path: fmt.Sprintf("example.com/a-rather-long-module-path/number%03d", i), Version: "v1.0.0", Latest: "v1.0.1", Behind: vulncheck.BehindPatch})
		}
		if _, err := s.FileUpdates(ctx, many); err != nil {
			t.Fatal(err)
		}
		if last, _, err := s.LastCurrency(ctx); err != nil || last.Behind != 200 || !last.Truncated || len(last.Outdated) == 0 || len(last.Outdated) > 40 {
			t.Fatalf("many behind: %d recorded, %+v, %v", len(last.Outdated), last.Truncated, err)
		}
	})
}
