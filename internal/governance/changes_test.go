package governance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/governance"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/policy"
)

// closeIncident walks an incident through the built-in plan's phases to
// recovered, writes its review when asked before closing, and closes it.
func closeIncident(t *testing.T, inc *incident.Service, title string, reviewFirst bool) string {
	t.Helper()
	ctx := context.Background()
	i, err := inc.Open(ctx, incident.NewIncident{Title: title, Severity: "low", Category: "test"}, "sec1")
	if err != nil {
		t.Fatal(err)
	}
	for _, phase := range incident.Phases[:len(incident.Phases)-1] {
		for _, it := range incident.BuiltinPlan.Checklists[phase] {
			if err := inc.Check(ctx, i.ID, it.Code, "sec1"); err != nil {
				t.Fatal(err)
			}
		}
		if phase == incident.PhaseRecovered && reviewFirst {
			review(t, inc, i.ID)
		}
		if _, err := inc.Advance(ctx, i.ID, "sec1"); err != nil {
			t.Fatal(err)
		}
	}
	return i.ID
}

func review(t *testing.T, inc *incident.Service, id string) {
	t.Helper()
	if err := inc.SaveReview(context.Background(), id, incident.Review{Summary: "What happened", Worked: "Paging", Failed: "Backups"}, "sec1"); err != nil {
		t.Fatal(err)
	}
}

// TestSignificantChange (CP-11.2): each significant change marks every
// document in force as due for review now, with the reason, audited as
// policydoc.review_requested, once: an edit of the policy profile (one
// request for the settings changed together), a new major version of
// Portico (not a minor one, nor the first version seen, nor a
// development build), and an incident closed with its post-incident
// review (not one without, nor a drill, nor a review rewritten). A
// review without change answers the request.
func TestSignificantChange(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s := setup(t, d)
		staff(t, d)
		al := audit.New(d)
		p, _ := policy.Builtin(policy.CustomerPortal)
		inc := incident.New(d, al, p)

		// A change before any document asks nothing of it.
		profileEdit := func(settings ...string) {
			t.Helper()
			err := d.Transact(ctx, func(tx *db.Tx) error {
				for _, k := range settings {
					if _, err := al.Append(ctx, tx, audit.Event{Actor: "adm1", Action: "policy.change", Target: "policy:" + k, Outcome: audit.Success,
						Details: map[string]any{"setting": k, "old": "1", "new": "2"}}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		profileEdit("password.min_length")
		doc := approved(t, s, "p")
		draftOnly, err := s.Import(ctx, governance.NewDocument{ID: "draft", Title: "Draft only", Owner: "sec1", Body: body1}, "adm1")
		if err != nil {
			t.Fatal(err)
		}
		observe := func(want int) governance.Document {
			t.Helper()
			clock.Add(time.Minute)
			if n, err := s.ObserveChanges(ctx); err != nil || n != want {
				t.Fatalf("observed %d changes, %v; want %d", n, err, want)
			}
			got, err := s.Document(ctx, doc.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		requests := func() int {
			t.Helper()
			return audited(t, d, "policydoc.review_requested", "policydoc:p")
		}
		if got := observe(0); got.ReviewRequested() {
			t.Fatalf("a change before the document marked it: %+v", got)
		}

		// (a) The policy profile.
		profileEdit("session.idle_timeout", "mfa.mode")
		editedAt := clock.Now()
		got := observe(1)
		if !got.ReviewRequested() || !strings.Contains(got.ReviewRequestedReason, "policy profile changed (session.idle_timeout, mfa.mode)") {
			t.Fatalf("after a profile edit: %+v", got)
		}
		if n := requests(); n != 1 {
			t.Fatalf("%d requests audited", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'policydoc.review_requested' AND details LIKE '%"source":"policy.change"%'`); n != 1 {
			t.Fatalf("the request does not name its source: %d", n)
		}
		if dd, _ := s.Document(ctx, draftOnly.ID); dd.ReviewRequested() {
			t.Error("a document with no version in force was marked")
		}
		observe(0)
		profileEdit("password.min_length")
		if got := observe(1); !got.ReviewRequestedAt.Equal(editedAt.Add(time.Minute)) || !strings.Contains(got.ReviewRequestedReason, "; The policy profile changed (password.min_length)") {
			t.Fatalf("a second request keeps the first time and adds its reason: %+v", got)
		}
		if _, err := s.RecordReview(ctx, doc.ID, governance.ReviewInput{Outcome: governance.OutcomeNoChange}, "adm1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Document(ctx, doc.ID); got.ReviewRequested() || got.ReviewRequestedReason != "" {
			t.Fatalf("the review did not answer the request: %+v", got)
		}

		// (b) A new major version of Portico.
		for _, v := range []string{"v1.2.0", "v1.3.1", "dev"} {
			s.SetVersion(v)
			observe(0)
		}
		s.SetVersion("v2.0.0")
		if got := observe(1); !strings.Contains(got.ReviewRequestedReason, "Portico was upgraded from v1 to v2") {
			t.Fatalf("after an upgrade: %+v", got)
		}
		observe(0)
		if n := requests(); n != 3 {
			t.Fatalf("%d requests audited", n)
		}
		if _, err := s.Approve(ctx, doc.ID, 1, "adm2"); err == nil {
			t.Fatal("approved twice")
		}
		if _, err := s.NewVersion(ctx, doc.ID, body2, "after the upgrade", "adm2"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Approve(ctx, doc.ID, 2, "adm1"); err != nil || got.ReviewRequested() {
			t.Fatalf("the approval of a new version did not answer the request: %+v, %v", got, err)
		}

		// (c) An incident closed with lessons.
		closeIncident(t, inc, "Closed without a review", false)
		observe(0)
		withReview := closeIncident(t, inc, "Closed with its review", true)
		if got := observe(1); !strings.Contains(got.ReviewRequestedReason, "Incident "+withReview+" closed with a post-incident review") {
			t.Fatalf("after an incident closed with lessons: %+v", got)
		}
		review(t, inc, withReview) // rewritten: not counted again
		observe(0)
		late := closeIncident(t, inc, "Reviewed after closing", false)
		observe(0)
		review(t, inc, late)
		observe(1)
		drill := closeIncident(t, inc, "A drill", false)
		if err := d.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE incidents SET exercise_id = 'x' WHERE id = $1`, drill)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		review(t, inc, drill)
		observe(0)
		if n := requests(); n != 5 {
			t.Fatalf("%d requests audited in all, want 5", n)
		}
	})
}

// TestRun (CP-11.2): only on the node holding the lease
// governance.policy_documents, the pass generates the default documents
// and alerts an overdue review once while Portico runs.
func TestRun(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		s := setup(t, d)
		staff(t, d)
		doc := approved(t, s, "p")
		clock.Set(doc.ReviewDue.Add(time.Hour))

		// Another node holds the lease: this one leaves the defaults and
		// the alerts to it.
		if ok, _, err := d.TakeLease(context.Background(), "governance.policy_documents", "another-node", time.Hour); err != nil || !ok {
			t.Fatalf("lease: %v, %v", ok, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); s.Run(ctx, 10*time.Millisecond, nil) }()
		time.Sleep(200 * time.Millisecond)
		cancel()
		<-done
		if n := audited(t, d, "governance.overdue", "policydoc:p"); n != 0 {
			t.Fatalf("%d overdue alerts from the node without the lease", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM policy_documents`); n != 1 {
			t.Fatalf("%d documents after a pass without the lease, want the one imported", n)
		}

		// The other node's lease expires: this one takes over.
		clock.Add(2 * time.Hour)
		ctx, cancel = context.WithCancel(context.Background())
		done = make(chan struct{})
		go func() { defer close(done); s.Run(ctx, 10*time.Millisecond, nil) }()
		deadline := time.Now().Add(10 * time.Second)
		for count(t, d, `SELECT COUNT(*) FROM policy_documents`) < 3 || audited(t, d, "governance.overdue", "policydoc:p") < 1 {
			if time.Now().After(deadline) {
				cancel()
				t.Fatal("the pass did not generate the defaults and alert the overdue review")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		if n := audited(t, d, "governance.overdue", "policydoc:p"); n != 1 {
			t.Errorf("%d overdue alerts for one due date", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM job_leases WHERE name = 'governance.policy_documents' AND holder <> 'another-node'`); n != 1 {
			t.Errorf("the pass ran without taking its lease: %d", n)
		}
	})
}
