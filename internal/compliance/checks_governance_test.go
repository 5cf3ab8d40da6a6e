package compliance_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/buildinfo"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/governance"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/thirdparty"
	"github.com/portico/portico/internal/vulncheck"
)

// govT0 is the start of the governance checks' tests.
var govT0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const govDay = 24 * time.Hour

// govStaff creates an active member of staff in role through the
// identity service, as an administrator's invitation ends, and returns
// its ID.
func govStaff(t *testing.T, w *world, role access.Role, name string) string {
	t.Helper()
	a, err := w.sv.Identity.CreateAccount(context.Background(), identity.NewAccount{Email: name + "@staff.example", Role: role,
		Password: "correct horse battery staple 42"})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// govEach runs fn on SQLite and PostgreSQL over a world whose clock starts
// at govT0 in each.
func govEach(t *testing.T, fn func(t *testing.T, w *world, clock *dbtest.Clock)) {
	clock := dbtest.NewClock(govT0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(govT0)
		fn(t, newWorld(t, d, nil), clock)
	})
}

// govVendor registers a vendor with one endpoint, has it assessed (answered
// by one member of the security team, approved by another) and approves
// it, at the clock's time.
func govVendor(t *testing.T, w *world, endpoint string) (thirdparty.Vendor, string, string) {
	t.Helper()
	ctx := context.Background()
	sec1, sec2 := govStaff(t, w, access.RoleSecurity, "sec1"), govStaff(t, w, access.RoleSecurity, "sec2")
	v, err := w.sv.Vendors.Register(ctx, thirdparty.NewVendor{Name: "Mailer", Service: "Sends the portal's email", Endpoints: []string{endpoint}, Owner: sec1}, sec1)
	if err != nil {
		t.Fatal(err)
	}
	a, err := w.sv.Vendors.StartAssessment(ctx, v.ID, sec1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.sv.Vendors.AnswerAssessment(ctx, a.ID, govAnswers(), sec1); err != nil {
		t.Fatal(err)
	}
	if err := w.sv.Vendors.ApproveAssessment(ctx, a.ID, sec2); err != nil {
		t.Fatal(err)
	}
	if err := w.sv.Vendors.Approve(ctx, v.ID, sec2); err != nil {
		t.Fatal(err)
	}
	return v, sec1, sec2
}

// govAnswers answers the vendor questions well.
func govAnswers() map[string]string {
	answers := map[string]string{}
	for _, q := range thirdparty.Questions().Questions {
		switch {
		case q.Kind == thirdparty.KindYesNo:
			answers[q.ID] = q.Good
		case q.Good == "max:72":
			answers[q.ID] = "24"
		default:
			answers[q.ID] = "Our answer"
		}
	}
	return answers
}

// TestVendorsAssessedEvidence (CP-10.1, MTL-6.1): an assessed vendor
// passes; its reassessment near its date warns, and past it fails.
func TestVendorsAssessedEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "thirdparty.vendors-assessed"
		wantStatus(t, "empty register", w.check(t, name), compliance.Pass)
		govVendor(t, w, "https://mail.example/")
		wantStatus(t, "assessed and approved", w.check(t, name), compliance.Pass)
		clock.Add(340 * govDay)
		wantStatus(t, "reassessment due within a tenth of the year", w.check(t, name), compliance.Warn)
		clock.Add(30 * govDay)
		r := w.check(t, name)
		wantStatus(t, "reassessment overdue", r, compliance.Fail)
		if !strings.Contains(r.Summary, "1 reassessment overdue") {
			t.Errorf("summary: %s", r.Summary)
		}
	})
}

// TestVendorEndpointsEvidence (CP-10.2): endpoints checked recently and
// good pass; a check that finds the endpoint unreachable fails, and so
// does monitoring that stopped.
func TestVendorEndpointsEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "thirdparty.endpoints-monitored"
		ctx := context.Background()
		// Nothing listens on port 1: a live check finds it unreachable.
		v, _, _ := govVendor(t, w, "https://127.0.0.1:1/")
		wantStatus(t, "new vendor not checked yet", w.check(t, name), compliance.Pass)
		// The monitoring pass's good result, as it records one for a
		// healthy endpoint (the test cannot reach a trusted server).
		good := func(status string) {
			exec(t, w.st.DB, `INSERT INTO vendor_checks (id, vendor_id, endpoint, checked_at, reachable, tls_version, cipher, hsts, security_txt, status, findings, items)
				VALUES ($1, $2, $3, $4, $5, 'TLS 1.3', 'TLS_AES_128_GCM_SHA256', 'pass', 'pass', $6, '', '[]')`,
				"chk"+status+clock.Now().Format("150405"), v.ID, v.Endpoints[0], clock.Now(), true, status)
		}
		good(thirdparty.CheckGood)
		wantStatus(t, "checked and good", w.check(t, name), compliance.Pass)
		clock.Add(time.Hour)
		good(thirdparty.CheckWarn)
		wantStatus(t, "last check warned", w.check(t, name), compliance.Warn)
		clock.Add(time.Hour)
		good(thirdparty.CheckGood)
		wantStatus(t, "good again", w.check(t, name), compliance.Pass)
		clock.Add(49 * time.Hour)
		wantStatus(t, "monitoring stopped for two intervals", w.check(t, name), compliance.Fail)
		clock.Add(time.Hour)
		if _, err := w.sv.Vendors.CheckVendor(ctx, v.ID); err != nil {
			t.Fatal(err)
		}
		r := w.check(t, name)
		wantStatus(t, "endpoint unreachable", r, compliance.Fail)
		if !strings.Contains(r.Summary, "1 bad") {
			t.Errorf("summary: %s", r.Summary)
		}
	})
}

// TestVendorAgreementsEvidence (MTL-6.2): an approved vendor without an
// agreement fails; with a contract in force it passes; near its expiry it
// warns; an expired vendor contract fails and turns the clause failing in
// the report.
func TestVendorAgreementsEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "thirdparty.agreements"
		ctx := context.Background()
		v, sec1, _ := govVendor(t, w, "https://mail.example/")
		wantStatus(t, "approved without an agreement", w.check(t, name), compliance.Fail)
		if _, err := w.sv.Vendors.AddAgreement(ctx, v.ID, thirdparty.NewAgreement{Kind: thirdparty.AgreementContract, Filename: "contract.txt",
			Body: []byte("The contract between us and the mailer.\n"), Clauses: []string{"breach_notification", "audit_rights"},
			StartsOn: govT0, ExpiresOn: govT0.Add(365 * govDay)}, sec1); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "contract in force", w.check(t, name), compliance.Pass)
		if st := govClause(t, w, "MTL-6.2"); st == compliance.Failing {
			t.Fatalf("MTL-6.2 with a contract in force: %s", st)
		}
		clock.Add(320 * govDay)
		wantStatus(t, "contract expires within the warning", w.check(t, name), compliance.Warn)
		clock.Add(50 * govDay)
		r := w.check(t, name)
		wantStatus(t, "contract expired", r, compliance.Fail)
		if !strings.Contains(r.Summary, "1 vendor agreement expired") {
			t.Errorf("summary: %s", r.Summary)
		}
		if st := govClause(t, w, "MTL-6.2"); st != compliance.Failing {
			t.Fatalf("MTL-6.2 with an expired contract: %s, want failing", st)
		}
	})
}

// govClause takes the evidence now and returns the clause's status in
// the report.
func govClause(t *testing.T, w *world, id string) compliance.ClauseState {
	t.Helper()
	ctx := context.Background()
	if _, err := w.svc.TakeEvidence(ctx, compliance.OnDemand, "account:test"); err != nil {
		t.Fatal(err)
	}
	rep, err := w.svc.Report(ctx, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Policies {
		for _, c := range p.Clauses {
			if c.ID == id {
				return c.Status
			}
		}
	}
	t.Fatalf("no clause %s in the report", id)
	return ""
}

// TestPolicyReviewsEvidence (CP-11.2): no document in force fails; an
// approved one passes; its review near warns; past due fails; a
// significant change asking for a review warns.
func TestPolicyReviewsEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "governance.policy-reviews"
		ctx := context.Background()
		wantStatus(t, "no document", w.check(t, name), compliance.Fail)
		adm1, adm2 := govStaff(t, w, access.RoleAdmin, "adm1"), govStaff(t, w, access.RoleAdmin, "adm2")
		if _, err := w.sv.PolicyDocs.Import(ctx, governance.NewDocument{ID: "access", Title: "Access policy", Owner: adm1,
			Body: "# Access policy\n\nStaff use a second factor.\n"}, adm1); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "draft only", w.check(t, name), compliance.Fail)
		if _, err := w.sv.PolicyDocs.Approve(ctx, "access", 1, adm2); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "approved", w.check(t, name), compliance.Pass)
		exec(t, w.st.DB, `UPDATE policy_documents SET review_requested_at = $1, review_requested_reason = 'a major version' WHERE id = 'access'`, clock.Now())
		wantStatus(t, "review requested by a significant change", w.check(t, name), compliance.Warn)
		exec(t, w.st.DB, `UPDATE policy_documents SET review_requested_at = NULL, review_requested_reason = '' WHERE id = 'access'`)
		clock.Add(340 * govDay)
		wantStatus(t, "review due within a tenth of the year", w.check(t, name), compliance.Warn)
		clock.Add(30 * govDay)
		wantStatus(t, "review overdue", w.check(t, name), compliance.Fail)
	})
}

// TestFindingsRemediationEvidence (MTL-4.3.2, CP-6.2): an open finding
// within its deadline passes, near it warns, past it fails; a risk
// accepted until a later date passes, and fails again once the
// acceptance ends.
func TestFindingsRemediationEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "findings.remediation"
		ctx := context.Background()
		sec := govStaff(t, w, access.RoleSecurity, "sec1")
		wantStatus(t, "empty register", w.check(t, name), compliance.Pass)
		f, err := w.sv.Findings.Create(ctx, findings.NewFinding{SourceKind: findings.SourceOther, Title: "Weak header", Description: "A header is missing.",
			Severity: "high", By: audit.ActorCLI})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "high finding filed today", w.check(t, name), compliance.Pass)
		clock.Add(28 * govDay)
		wantStatus(t, "two days before its deadline", w.check(t, name), compliance.Warn)
		clock.Add(3 * govDay)
		r := w.check(t, name)
		wantStatus(t, "past its deadline", r, compliance.Fail)
		if !strings.Contains(r.Summary, "1 finding past the remediation deadline") {
			t.Errorf("summary: %s", r.Summary)
		}
		if err := w.sv.Findings.Accept(ctx, f.ID, "Compensating control in the proxy.", clock.Now().Add(30*govDay), sec); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "risk accepted", w.check(t, name), compliance.Pass)
		clock.Add(31 * govDay)
		wantStatus(t, "acceptance ended", w.check(t, name), compliance.Fail)
	})
}

// TestAssessmentsEvidence (MTL-4.3.1, CP-6.2): an assessment performed
// within the interval passes; near the next one's date warns; past it
// fails; recording one passes again.
func TestAssessmentsEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "findings.assessments"
		ctx := context.Background()
		record := func(kind string) {
			t.Helper()
			if _, err := w.sv.Findings.RecordAssessment(ctx, findings.Assessment{Kind: kind, Scope: "The portal", PerformedBy: "Testers Ltd",
				PerformedAt: clock.Now(), Summary: "Two findings."}, audit.ActorCLI); err != nil {
				t.Fatal(err)
			}
		}
		govStaff(t, w, access.RoleAdmin, "adm1") // the installation starts
		wantStatus(t, "new installation", w.check(t, name), compliance.Pass)
		clock.Add(366 * govDay)
		wantStatus(t, "no assessment in the first year", w.check(t, name), compliance.Fail)
		record(findings.AssessmentPentest)
		wantStatus(t, "pen test performed", w.check(t, name), compliance.Pass)
		clock.Add(340 * govDay)
		wantStatus(t, "next due within a tenth of the year", w.check(t, name), compliance.Warn)
		clock.Add(30 * govDay)
		wantStatus(t, "next overdue", w.check(t, name), compliance.Fail)
	})
}

// TestInternalAuditEvidence (MTL-7.2): an internal audit within the
// interval passes; other assessments do not count for it; past its
// interval it fails.
func TestInternalAuditEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "findings.internal-audit"
		ctx := context.Background()
		record := func(kind string) findings.Assessment {
			t.Helper()
			a, err := w.sv.Findings.RecordAssessment(ctx, findings.Assessment{Kind: kind, Scope: "MTL policy", PerformedBy: "Internal audit",
				PerformedAt: clock.Now(), Summary: "One finding."}, audit.ActorCLI)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		govStaff(t, w, access.RoleAdmin, "adm1")
		wantStatus(t, "new installation", w.check(t, name), compliance.Pass)
		clock.Add(340 * govDay)
		wantStatus(t, "first audit due soon", w.check(t, name), compliance.Warn)
		clock.Add(30 * govDay)
		record(findings.AssessmentPentest)
		wantStatus(t, "a pen test is no internal audit", w.check(t, name), compliance.Fail)
		a := record(findings.AssessmentAudit)
		if _, err := w.sv.Findings.Create(ctx, findings.NewFinding{AssessmentID: a.ID, Title: "Access review late",
			Description: "The quarterly access review was not held.", Severity: "medium", By: audit.ActorCLI}); err != nil {
			t.Fatal(err)
		}
		r := w.check(t, name)
		wantStatus(t, "audit performed", r, compliance.Pass)
		for _, f := range []compliance.Figure{{Label: "findings of the last audit", Value: "1"}, {Label: "of which open", Value: "1"}} {
			if !slices.Contains(r.Figures, f) {
				t.Errorf("want %v in %v", f, r.Figures)
			}
		}
		clock.Add(366 * govDay)
		wantStatus(t, "audit overdue", w.check(t, name), compliance.Fail)
	})
}

// TestOSVEvidence (MTL-4.1.2): a recent OSV check of the running binary
// that found nothing passes; one that found an advisory warns while its
// finding is within its deadline and fails past it; an old check fails;
// no check fails; a check of another build than the running one warns.
func TestOSVEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "vulncheck.osv"
		ctx := context.Background()
		m, err := vulncheck.Current()
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "never checked", w.check(t, name), compliance.Fail)
		run := func(vulns ...vulncheck.Vuln) {
			t.Helper()
			if _, err := w.sv.Findings.FileVulns(ctx, vulncheck.Result{Vulns: vulns}, m); err != nil {
				t.Fatal(err)
			}
		}
		run()
		wantStatus(t, "nothing found", w.check(t, name), compliance.Pass)
		other := m
		other.GoVersion = "go1.25.0"
		if _, err := w.sv.Findings.FileVulns(ctx, vulncheck.Result{}, other); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "the check was of another build", w.check(t, name), compliance.Warn)
		run()
		clock.Add(14 * govDay)
		wantStatus(t, "check nearly too old", w.check(t, name), compliance.Warn)
		clock.Add(2 * govDay)
		wantStatus(t, "check too old", w.check(t, name), compliance.Fail)
		vuln := vulncheck.Vuln{ID: "GO-2026-0001", Module: "example.com/mod", Installed: "v1.0.0", Fixed: "v1.0.1", Severity: "critical"}
		run(vuln)
		wantStatus(t, "advisory found, finding within its deadline", w.check(t, name), compliance.Warn)
		clock.Add(16 * govDay)
		run(vuln)
		r := w.check(t, name)
		wantStatus(t, "advisory finding past its deadline", r, compliance.Fail)
		if !strings.Contains(r.Summary, "advisory finding is past the deadline") {
			t.Errorf("summary: %s", r.Summary)
		}
	})
}

// TestCurrencyEvidence (MTL-4.1.2): a recent currency check with Go
// current and no module behind by a minor version passes; a module behind
// warns while its finding is in time and fails past it; an unsupported Go
// fails; no check fails.
func TestCurrencyEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "vulncheck.currency"
		ctx := context.Background()
		wantStatus(t, "never checked", w.check(t, name), compliance.Fail)
		goOK := vulncheck.GoCurrency{Version: "go1.26.8", Latest: "go1.26.8", Newest: "go1.26.8", Supported: true, Current: true}
		run := func(g vulncheck.GoCurrency, mods ...vulncheck.ModuleCurrency) {
			t.Helper()
			if _, err := w.sv.Findings.FileUpdates(ctx, vulncheck.Currency{Go: g, Modules: mods}); err != nil {
				t.Fatal(err)
			}
		}
		current := vulncheck.ModuleCurrency{Path: "example.com/a", Version: "v1.2.3", Latest: "v1.2.3"}
		patch := vulncheck.ModuleCurrency{Path: "example.com/b", Version: "v1.2.3", Latest: "v1.2.4", Behind: vulncheck.BehindPatch}
		run(goOK, current, patch)
		wantStatus(t, "current but for a patch", w.check(t, name), compliance.Pass)
		minor := vulncheck.ModuleCurrency{Path: "example.com/c", Version: "v1.2.3", Latest: "v1.3.0", Behind: vulncheck.BehindMinor}
		run(goOK, current, minor)
		wantStatus(t, "a module behind by a minor version", w.check(t, name), compliance.Warn)
		for range 13 {
			clock.Add(14 * govDay)
			run(goOK, current, minor)
		}
		wantStatus(t, "its finding past its deadline", w.check(t, name), compliance.Fail)
		clock.Add(16 * govDay)
		wantStatus(t, "check too old", w.check(t, name), compliance.Fail)
		// The module is upgraded: its finding resolved, the check is
		// run again, on a Go whose line is no longer supported.
		open, err := w.sv.Findings.List(ctx, findings.Filter{Open: true, Source: findings.SourceVulncheck})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range open {
			if err := w.sv.Findings.Resolve(ctx, f.ID, "Upgraded to v1.3.0.", audit.ActorCLI); err != nil {
				t.Fatal(err)
			}
		}
		run(goOK, current)
		wantStatus(t, "upgraded", w.check(t, name), compliance.Pass)
		run(vulncheck.GoCurrency{Version: "go1.24.3", Latest: "go1.24.9", Newest: "go1.26.8"}, current)
		wantStatus(t, "Go line unsupported", w.check(t, name), compliance.Fail)
	})
}

// TestTrainingEvidence (MTL-8.1): staff with training current pass, a
// renewal near warns, an overdue member of staff fails (and is counted
// as restricted, with the alert the reminders' pass recorded).
func TestTrainingEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "training.current"
		ctx := context.Background()
		if _, err := w.sv.Training.InstallDefaults(ctx); err != nil {
			t.Fatal(err)
		}
		a, b := govStaff(t, w, access.RoleSupport, "sup1"), govStaff(t, w, access.RoleSecurity, "sec1")
		wantStatus(t, "new staff within their grace", w.check(t, name), compliance.Pass)
		for _, id := range []string{a, b} {
			if err := w.sv.Identity.RecordTrainingFromCLI(ctx, id, clock.Now(), ""); err != nil {
				t.Fatal(err)
			}
		}
		wantStatus(t, "both trained", w.check(t, name), compliance.Pass)
		clock.Add(200 * govDay)
		if err := w.sv.Identity.RecordTrainingFromCLI(ctx, b, clock.Now(), ""); err != nil {
			t.Fatal(err)
		}
		clock.Add(140 * govDay)
		wantStatus(t, "a renewal due within a tenth of the year", w.check(t, name), compliance.Warn)
		clock.Add(30 * govDay)
		if _, err := w.sv.Training.Remind(ctx); err != nil {
			t.Fatal(err)
		}
		r := w.check(t, name)
		wantStatus(t, "one overdue", r, compliance.Fail)
		if !strings.Contains(r.Summary, "1 of 2, 1 overdue (restricted)") {
			t.Errorf("summary: %s", r.Summary)
		}
		for _, f := range r.Figures {
			if f.Label == "overdue with the alert recorded" && f.Value != "1" {
				t.Errorf("overdue alerts: %s, want 1", f.Value)
			}
		}
	})
}

// TestEvidenceScheduleEvidence (MTL-7.2): evidence taken within its
// interval passes, and so within two (a run on demand delays the next);
// evidence not taken for longer fails; an old installation that never
// took evidence fails.
func TestEvidenceScheduleEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "compliance.evidence-schedule"
		ctx := context.Background()
		wantStatus(t, "new installation, first run", w.check(t, name), compliance.Pass)
		govStaff(t, w, access.RoleAdmin, "adm1")
		clock.Add(3 * time.Hour)
		wantStatus(t, "never taken on an installation three hours old", w.check(t, name), compliance.Fail)
		if _, err := w.svc.TakeEvidence(ctx, compliance.Scheduled, audit.ActorSystem); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Hour)
		wantStatus(t, "taken an hour ago", w.check(t, name), compliance.Pass)
		clock.Add(50 * time.Minute)
		wantStatus(t, "the next pass delayed by a run on demand", w.check(t, name), compliance.Pass)
		clock.Add(20 * time.Minute)
		r := w.check(t, name)
		wantStatus(t, "not taken for two intervals", r, compliance.Fail)
		// Inside a run, the check sees the run before it, not its own.
		run, err := w.svc.TakeEvidence(ctx, compliance.OnDemand, "account:test")
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range run.Results {
			if res.Check == name && res.Status != compliance.Fail {
				t.Fatalf("in the run after a gap: %s (%s)", res.Status, res.Summary)
			}
		}
		wantStatus(t, "just taken", w.check(t, name), compliance.Pass)
	})
}

// TestBuildEvidence (MTL-4.1.1): a binary built from a commit without
// uncommitted changes, or a released version, passes; one built from a
// modified tree fails, and so does one that records neither.
func TestBuildEvidence(t *testing.T) {
	const name = "build.committed-source"
	run := func(i buildinfo.Info, build bool) (compliance.Result, error) {
		src := compliance.Sources{}
		if build {
			src.Build = func() buildinfo.Info { return i }
		}
		for _, c := range compliance.Checks(src) {
			if c.Name == name {
				return c.Run(context.Background(), govT0)
			}
		}
		t.Fatalf("no check %s", name)
		return compliance.Result{}, nil
	}
	for _, c := range []struct {
		what string
		info buildinfo.Info
		want compliance.Status
	}{
		{"a clean commit", buildinfo.Info{Version: "dev", Revision: "0123456789abcdef0123", GoVersion: "go1.26.8"}, compliance.Pass},
		{"a released version", buildinfo.Info{Version: "v1.4.0", GoVersion: "go1.26.8"}, compliance.Pass},
		{"a modified tree", buildinfo.Info{Version: "dev", Revision: "0123456789abcdef0123", Modified: true, GoVersion: "go1.26.8"}, compliance.Fail},
		{"a dirty version", buildinfo.Info{Version: "v1.4.1-0.20261203101500-0123456789ab+dirty", GoVersion: "go1.26.8"}, compliance.Fail},
		{"a development build", buildinfo.Info{Version: "dev", GoVersion: "go1.26.8"}, compliance.Fail},
	} {
		r, err := run(c.info, true)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		wantStatus(t, c.what, r, c.want)
	}
	if _, err := run(buildinfo.Info{}, false); err == nil {
		t.Fatal("no build information: the check ran")
	}
}

// TestVendorExpiryAlertedEvidence (CP-10.2): a reassessment past due and
// an agreement expiring, then expired, pass once the monitoring pass
// raised them, and fail when the pass has not raised them in time.
func TestVendorExpiryAlertedEvidence(t *testing.T) {
	govEach(t, func(t *testing.T, w *world, clock *dbtest.Clock) {
		const name = "thirdparty.expiry-alerted"
		ctx := context.Background()
		v, sec1, sec2 := govVendor(t, w, "https://mail.example/")
		if _, err := w.sv.Vendors.AddAgreement(ctx, v.ID, thirdparty.NewAgreement{Kind: thirdparty.AgreementDPA, Filename: "dpa.txt",
			Body: []byte("The data processing agreement.\n"), StartsOn: govT0, ExpiresOn: govT0.Add(90 * govDay)}, sec1); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "nothing due", w.check(t, name), compliance.Pass)
		clock.Add(31 * govDay)
		wantStatus(t, "expiring within the warning, the pass not yet due", w.check(t, name), compliance.Pass)
		clock.Add(3 * govDay)
		wantStatus(t, "expiring, not raised for three days", w.check(t, name), compliance.Fail)
		if _, err := w.sv.Vendors.WarnDue(ctx); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "expiring, raised", w.check(t, name), compliance.Pass)
		clock.Add(60 * govDay)
		wantStatus(t, "expired, not raised", w.check(t, name), compliance.Fail)
		if _, err := w.sv.Vendors.WarnDue(ctx); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "expired, raised", w.check(t, name), compliance.Pass)
		clock.Add(300 * govDay)
		r := w.check(t, name)
		wantStatus(t, "reassessment overdue, not raised", r, compliance.Fail)
		if _, err := w.sv.Vendors.WarnDue(ctx); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "reassessment overdue, raised", w.check(t, name), compliance.Pass)
		// Reassessed: the next due date needs its own warning, which the
		// first one's does not stand for.
		a, err := w.sv.Vendors.StartAssessment(ctx, v.ID, sec1)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.sv.Vendors.AnswerAssessment(ctx, a.ID, govAnswers(), sec1); err != nil {
			t.Fatal(err)
		}
		if err := w.sv.Vendors.ApproveAssessment(ctx, a.ID, sec2); err != nil {
			t.Fatal(err)
		}
		clock.Add(368 * govDay)
		wantStatus(t, "the next reassessment overdue, not raised", w.check(t, name), compliance.Fail)
	})
}
