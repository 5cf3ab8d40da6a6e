package compliance_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/policy"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func profile(t testing.TB) policy.Profile {
	t.Helper()
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// control is one control for clause id, so that a test clause has one.
func controlsFor(ids ...string) []policy.Control {
	var out []policy.Control
	for _, id := range ids {
		out = append(out, policy.Control{Clause: id, Name: "test.control", Description: "a control", Test: "internal/compliance: TestX"})
	}
	return out
}

// TestEvidenceDrivesClauseStatus (MTL-7.2): a clause's status is computed
// from its controls and its latest evidence, never typed: a failing check
// makes an enforced clause failing, a warning makes it partial, and the
// history keeps the period in which it failed; the change to failing is
// recorded once per period for the security team's alert.
func TestEvidenceDrivesClauseStatus(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		status := compliance.Pass
		checks := []compliance.Check{{
			Name: "test.condition", Clauses: []string{"CP-4.1"}, Description: "the condition holds",
			Run: func(ctx context.Context, now time.Time) (compliance.Result, error) {
				return compliance.Result{Status: status, Summary: "condition is " + string(status),
					Figures: []compliance.Figure{{Label: "count", Value: "3"}}}, nil
			},
		}, {
			Name: "test.broken", Clauses: []string{"CP-5.3"}, Description: "cannot run",
			Run: func(ctx context.Context, now time.Time) (compliance.Result, error) {
				return compliance.Result{}, errors.New("no database")
			},
		}}
		log := audit.New(d)
		s, err := compliance.New(d, log, profile(t), controlsFor("CP-4.1", "CP-5.3"), checks)
		if err != nil {
			t.Fatal(err)
		}
		clause := func(id string) compliance.ClauseReport {
			t.Helper()
			rep, err := s.Report(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range rep.Policies {
				for _, c := range p.Clauses {
					if c.ID == id {
						return c
					}
				}
			}
			t.Fatalf("clause %s not in the report", id)
			return compliance.ClauseReport{}
		}

		// Before any evidence: partial, "not taken yet".
		if c := clause("CP-4.1"); c.Status != compliance.Partial || !strings.Contains(strings.Join(c.Reasons, ";"), "not been taken") {
			t.Fatalf("before evidence: %s %v", c.Status, c.Reasons)
		}
		take := func(want compliance.Status) {
			t.Helper()
			status = want
			clock.Add(time.Hour)
			if _, err := s.TakeEvidence(ctx, compliance.Scheduled, audit.ActorSystem); err != nil {
				t.Fatal(err)
			}
		}
		take(compliance.Pass)
		if c := clause("CP-4.1"); c.Status != compliance.Enforced || len(c.Reasons) != 0 {
			t.Fatalf("passing: %s %v", c.Status, c.Reasons)
		}
		// A check that cannot run fails its clause, saying why.
		if c := clause("CP-5.3"); c.Status != compliance.Failing || !strings.Contains(c.Reasons[0], "no database") {
			t.Fatalf("broken check: %s %v", c.Status, c.Reasons)
		}
		// A clause without a control is "not yet".
		if c := clause("CP-9.1"); c.Status != compliance.NotYet {
			t.Fatalf("uncontrolled clause: %s", c.Status)
		}

		take(compliance.Fail)
		failedAt := clock.Now()
		c := clause("CP-4.1")
		if c.Status != compliance.Failing || len(c.Failures) != 1 || !c.Failures[0].Ongoing || !c.Failures[0].From.Equal(failedAt) {
			t.Fatalf("failing: %s %v %+v", c.Status, c.Reasons, c.Failures)
		}
		take(compliance.Warn)
		c = clause("CP-4.1")
		if c.Status != compliance.Partial || c.Failures[0].Ongoing || !c.Failures[0].To.Equal(clock.Now()) {
			t.Fatalf("warning after failure: %s %+v", c.Status, c.Failures)
		}
		if len(c.History) != 3 || c.History[0].Status != compliance.Pass || c.History[1].Status != compliance.Fail || c.History[2].Status != compliance.Warn {
			t.Fatalf("history: %+v", c.History)
		}
		if c.Evidence[0].Result == nil || c.Evidence[0].Result.Figures[0].Value != "3" {
			t.Fatalf("evidence: %+v", c.Evidence)
		}

		// Each run is audited with its counts and the chain head it began at.
		runs, err := s.Runs(ctx, 10)
		if err != nil || len(runs) != 3 {
			t.Fatalf("runs: %v %d", err, len(runs))
		}
		if runs[0].Warned != 1 || runs[0].Failed != 1 || runs[0].ChainHead.Seq < 2 {
			t.Fatalf("latest run: %+v", runs[0])
		}
		evs, err := log.Search(ctx, audit.Filter{Action: "compliance.evidence"})
		if err != nil || len(evs) != 3 {
			t.Fatalf("audit events: %v %d", err, len(evs))
		}

		// A check that begins to fail is recorded once per failing period
		// (compliance.check_failed, which detection raises as an alert),
		// from a baseline: the broken check failed from the first run (a
		// thing not set up yet, not a change), the condition began to
		// fail twice.
		failed := func() map[string]int {
			t.Helper()
			evs, err := log.Search(ctx, audit.Filter{Action: "compliance.check_failed"})
			if err != nil {
				t.Fatal(err)
			}
			n := map[string]int{}
			for _, e := range evs {
				n[e.Target]++
			}
			return n
		}
		if n := failed(); n["compliance-check:test.broken"] != 0 || n["compliance-check:test.condition"] != 1 {
			t.Fatalf("check_failed events after one failing period: %v", n)
		}
		take(compliance.Fail)
		take(compliance.Fail)
		if n := failed(); n["compliance-check:test.broken"] != 0 || n["compliance-check:test.condition"] != 2 {
			t.Fatalf("check_failed events after a second failing period: %v", n)
		}
	})
}

// TestRegistryRefusesBadChecks: a check without a clause, with an unknown
// clause or listed twice stops the service from starting.
func TestRegistryRefusesBadChecks(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	run := func(context.Context, time.Time) (compliance.Result, error) {
		return compliance.Result{Status: compliance.Pass}, nil
	}
	for name, checks := range map[string][]compliance.Check{
		"no clause":      {{Name: "a", Description: "d", Run: run}},
		"unknown clause": {{Name: "a", Description: "d", Clauses: []string{"CP-99"}, Run: run}},
		"twice":          {{Name: "a", Description: "d", Clauses: []string{"CP-4.1"}, Run: run}, {Name: "a", Description: "d", Clauses: []string{"CP-4.1"}, Run: run}},
		"no function":    {{Name: "a", Description: "d", Clauses: []string{"CP-4.1"}}},
	} {
		if _, err := compliance.New(d, audit.New(d), profile(t), nil, checks); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestHistoryKeptAsLongAsTheAuditTrail (CP-5.2, MTL-7.2): evidence runs are
// kept for the audit trail's retention and deleted, with their results,
// after it.
func TestHistoryKeptAsLongAsTheAuditTrail(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		p := profile(t)
		checks := []compliance.Check{{Name: "test.ok", Clauses: []string{"CP-4.1"}, Description: "ok",
			Run: func(context.Context, time.Time) (compliance.Result, error) {
				return compliance.Result{Status: compliance.Pass, Summary: "ok"}, nil
			}}}
		s, err := compliance.New(d, audit.New(d), p, nil, checks)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := s.TakeEvidence(ctx, compliance.Scheduled, audit.ActorSystem); err != nil {
				t.Fatal(err)
			}
			clock.Add(24 * time.Hour)
		}
		clock.Set(t0.Add(p.Retention.AuditEvents.Duration + 12*time.Hour)) // past the first run's retention only
		if n, err := s.PruneHistory(ctx); err != nil || n != 1 {
			t.Fatalf("pruned %d runs (%v), want 1", n, err)
		}
		var results int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM compliance_results`).Scan(&results); err != nil || results != 1 {
			t.Fatalf("%d results left (%v), want the second run's 1", results, err)
		}
		if runs, err := s.Runs(ctx, 10); err != nil || len(runs) != 1 {
			t.Fatalf("runs left: %d %v", len(runs), err)
		}
	})
}
