package governance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/governance"
	"github.com/portico/portico/internal/policy"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const year = 365 * 24 * time.Hour

func setup(t *testing.T, d *db.DB) *governance.Service {
	t.Helper()
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	if p.Governance.PolicyReviewInterval.Duration != year {
		t.Fatalf("the built-in review interval is %v; the tests expect a year", p.Governance.PolicyReviewInterval.Duration)
	}
	s := governance.New(d, audit.New(d), p)
	s.SetVersion("dev")
	return s
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

func count(t *testing.T, d *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func audited(t *testing.T, d *db.DB, action, target string) int {
	t.Helper()
	return count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = $1 AND target = $2`, action, target)
}

// staff makes two administrators, a member of the security team and a
// customer.
func staff(t *testing.T, d *db.DB) {
	account(t, d, "adm1", "admin")
	account(t, d, "adm2", "admin")
	account(t, d, "sec1", "security")
	account(t, d, "cus1", "customer")
}

const body1 = "# Access policy\n\nStaff use a second factor.\n\nAccess is reviewed every quarter.\n"
const body2 = "# Access policy\n\nStaff use a second factor.\n\nAccess is reviewed every month.\n"

// approved imports a document and has it approved, at the clock's time.
func approved(t *testing.T, s *governance.Service, id string) governance.Document {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Import(ctx, governance.NewDocument{ID: id, Title: "Access policy " + id, Owner: "sec1", Body: body1}, "adm1"); err != nil {
		t.Fatal(err)
	}
	doc, err := s.Approve(ctx, id, 1, "adm2")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestDocumentLifecycle (CP-11.2, MTL-5.2.1): an imported document is a
// draft until a second administrator approves it; its review is then due
// a year on; each edit is a new version; the overdue review alerts once
// per due date; a review without change moves the date a year on from
// the review, and the next overdue date alerts again.
func TestDocumentLifecycle(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s := setup(t, d)
		staff(t, d)

		if _, err := s.Import(ctx, governance.NewDocument{Title: "Access policy", Owner: "cus1", Body: body1}, "adm1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a customer as owner: %v", err)
		}
		doc, err := s.Import(ctx, governance.NewDocument{Title: "Access policy", Owner: "sec1", Body: body1, Summary: "From the wiki"}, "adm1")
		if err != nil {
			t.Fatal(err)
		}
		if doc.ID != "access-policy" || doc.InForce != 0 || doc.Latest != 1 || !doc.HasDraft() || !doc.ReviewDue.IsZero() || doc.Owner != "sec1" {
			t.Fatalf("imported: %+v", doc)
		}
		if _, err := s.Import(ctx, governance.NewDocument{Title: "Access policy", Owner: "sec1", Body: body1}, "adm1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("the same short name twice: %v", err)
		}
		if n := audited(t, d, "policydoc.create", "policydoc:access-policy"); n != 1 {
			t.Fatalf("%d creations audited", n)
		}

		// Four eyes: not the author, and only an administrator.
		if _, err := s.Approve(ctx, doc.ID, 1, "adm1"); apperr.CodeOf(err) != apperr.Forbidden || !strings.Contains(apperr.MessageOf(err), "four eyes") {
			t.Fatalf("the author approves: %v", err)
		}
		if _, err := s.Approve(ctx, doc.ID, 1, "sec1"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a non-administrator approves: %v", err)
		}
		if n := audited(t, d, "policydoc.approve", "policydoc:access-policy"); n != 0 {
			t.Fatalf("%d refused approvals audited as approvals", n)
		}
		if _, err := s.Approve(ctx, doc.ID, 7, "adm2"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("no such version: %v", err)
		}
		clock.Add(time.Hour)
		approvedAt := clock.Now()
		doc, err = s.Approve(ctx, doc.ID, 1, "adm2")
		if err != nil {
			t.Fatal(err)
		}
		if doc.InForce != 1 || doc.ApprovedBy != "adm2" || !doc.ReviewDue.Equal(approvedAt.Add(year)) || doc.HasDraft() {
			t.Fatalf("approved: %+v", doc)
		}
		if _, err := s.Approve(ctx, doc.ID, 1, "adm2"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("approved twice: %v", err)
		}

		// Each edit is a version; the same text is refused.
		if _, err := s.NewVersion(ctx, doc.ID, body1, "nothing", "adm2"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("the same text again: %v", err)
		}
		if _, err := s.NewVersion(ctx, doc.ID, body2, " ", "adm2"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a version without a summary: %v", err)
		}
		v2, err := s.NewVersion(ctx, doc.ID, body2, "Monthly access reviews", "adm2")
		if err != nil || v2.Number != 2 || v2.Approved() {
			t.Fatalf("version 2: %+v, %v", v2, err)
		}
		if _, err := s.Approve(ctx, doc.ID, 2, "adm2"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("the author of version 2 approves it: %v", err)
		}
		versions, err := s.Versions(ctx, doc.ID)
		if err != nil || len(versions) != 2 || versions[0].Number != 2 || versions[0].InForce || !versions[1].InForce || versions[0].Summary != "Monthly access reviews" {
			t.Fatalf("versions: %+v, %v", versions, err)
		}

		// The review falls due: one alert per due date.
		if n, err := s.WarnOverdue(ctx); err != nil || n != 0 {
			t.Fatalf("alerts before the due date: %d, %v", n, err)
		}
		due := doc.ReviewDue
		clock.Set(due.Add(time.Hour))
		for i, want := range []int{1, 0} {
			if n, err := s.WarnOverdue(ctx); err != nil || n != want {
				t.Fatalf("pass %d after the due date: %d alerts, %v; want %d", i, n, err, want)
			}
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'governance.overdue' AND target = 'policydoc:access-policy'
			AND details LIKE '%"kind":"policy_review"%' AND details LIKE $1`, `%"due":"`+due.UTC().Format(time.RFC3339)+`"%`); n != 1 {
			t.Fatalf("%d overdue events for the due date", n)
		}

		// Reviews: bad ones refused, then one without change moves the date.
		for name, in := range map[string]governance.ReviewInput{
			"no outcome":                      {},
			"changes needed without notes":    {Outcome: governance.OutcomeChangesNeeded},
			"changed without a version":       {Outcome: governance.OutcomeChanged},
			"changed to a version not there":  {Outcome: governance.OutcomeChanged, Version: 9},
			"in the future":                   {Outcome: governance.OutcomeNoChange, ReviewedAt: clock.Now().Add(48 * time.Hour)},
			"before the document was created": {Outcome: governance.OutcomeNoChange, ReviewedAt: t0.Add(-time.Hour)},
		} {
			if _, err := s.RecordReview(ctx, doc.ID, in, "adm1"); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := s.RecordReview(ctx, doc.ID, governance.ReviewInput{Outcome: governance.OutcomeNoChange}, "cus1"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("a customer reviews: %v", err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM policy_reviews`); n != 0 {
			t.Fatalf("%d refused reviews stored", n)
		}
		if _, err := s.RecordReview(ctx, doc.ID, governance.ReviewInput{Outcome: governance.OutcomeChangesNeeded, Notes: "Name the quarterly reviewer."}, "adm1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Document(ctx, doc.ID); !got.ReviewDue.Equal(due) {
			t.Fatalf("changes needed moved the date: %v", got.ReviewDue)
		}
		clock.Add(time.Minute)
		reviewedAt := clock.Now()
		r, err := s.RecordReview(ctx, doc.ID, governance.ReviewInput{Outcome: governance.OutcomeNoChange, Notes: "Still right."}, "adm1")
		if err != nil {
			t.Fatal(err)
		}
		if !r.DueBefore.Equal(due) || !r.DueAfter.Equal(reviewedAt.Add(year)) {
			t.Fatalf("review moved the date from %v to %v", r.DueBefore, r.DueAfter)
		}
		doc, _ = s.Document(ctx, doc.ID)
		if !doc.ReviewDue.Equal(reviewedAt.Add(year)) || doc.Overdue(clock.Now()) {
			t.Fatalf("after the review: due %v", doc.ReviewDue)
		}
		if n, err := s.WarnOverdue(ctx); err != nil || n != 0 {
			t.Fatalf("alerts after the review: %d, %v", n, err)
		}
		reviews, err := s.Reviews(ctx, doc.ID)
		if err != nil || len(reviews) != 2 || reviews[0].Reviewer != "adm1" || reviews[0].Outcome != governance.OutcomeNoChange {
			t.Fatalf("reviews: %+v, %v", reviews, err)
		}
		if n := audited(t, d, "policydoc.review", "policydoc:access-policy"); n != 2 {
			t.Fatalf("%d reviews audited", n)
		}
		clock.Set(doc.ReviewDue.Add(time.Minute))
		if n, err := s.WarnOverdue(ctx); err != nil || n != 1 {
			t.Fatalf("the next due date: %d alerts, %v", n, err)
		}
		if n := audited(t, d, "governance.overdue", "policydoc:access-policy"); n != 2 {
			t.Fatalf("%d overdue events in all, want one per due date", n)
		}

		// A review that changed the document names the version; its
		// approval moves the date.
		if _, err := s.RecordReview(ctx, doc.ID, governance.ReviewInput{Outcome: governance.OutcomeChanged, Version: 2, Notes: "Monthly now."}, "sec1"); err != nil {
			t.Fatal(err)
		}
		doc, err = s.Approve(ctx, doc.ID, 2, "adm1")
		if err != nil || doc.InForce != 2 || !doc.ReviewDue.Equal(clock.Now().Add(year)) {
			t.Fatalf("version 2 approved: %+v, %v", doc, err)
		}
		if _, err := s.Approve(ctx, doc.ID, 1, "adm1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("an older version approved again: %v", err)
		}

		// The owner is a member of staff.
		if err := s.ChangeOwner(ctx, doc.ID, "cus1", "adm1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a customer as owner: %v", err)
		}
		if err := s.ChangeOwner(ctx, doc.ID, "adm2", "adm1"); err != nil {
			t.Fatal(err)
		}
		if doc, _ = s.Document(ctx, doc.ID); doc.Owner != "adm2" || audited(t, d, "policydoc.owner", "policydoc:access-policy") != 1 {
			t.Fatalf("owner changed: %+v", doc)
		}
		if _, err := s.Document(ctx, "nope"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("no such document: %v", err)
		}
	})
}

// TestBadInputRefused (CP-11.2): an empty document, an oversize one
// (pasted or uploaded), a binary file and a file that is not Markdown
// are refused, and nothing is written.
func TestBadInputRefused(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s := setup(t, d)
		staff(t, d)
		big := "# Big\n\n" + strings.Repeat("word ", governance.MaxBodyBytes/5)
		for name, body := range map[string]string{
			"empty":    " \n\t\n",
			"oversize": big,
			"binary":   "%PDF-1.7\n\x00\x01\x02 stream",
			"invalid":  "# Title\n\n\xff\xfe not UTF-8",
		} {
			if _, err := s.Import(ctx, governance.NewDocument{Title: "Doc " + name, Owner: "sec1", Body: body}, "adm1"); apperr.CodeOf(err) != apperr.Invalid || apperr.FieldsOf(err)["body"] == "" {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := s.Import(ctx, governance.NewDocument{Title: "  ", Owner: "sec1", Body: body1}, "adm1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("no title: %v", err)
		}
		if _, err := s.Import(ctx, governance.NewDocument{ID: "New", Title: "x", Owner: "sec1", Body: body1}, "adm1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("a bad short name: %v", err)
		}
		if _, err := s.Import(ctx, governance.NewDocument{ID: "new", Title: "x", Owner: "sec1", Body: body1}, "adm1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("a reserved short name: %v", err)
		}
		for name, f := range map[string]struct {
			file string
			data []byte
		}{
			"oversize upload": {"policy.md", []byte(big)},
			"binary upload":   {"policy.md", []byte("PK\x03\x04\x14\x00\x06\x00")},
			"a Word file":     {"policy.docx", []byte("# looks like text")},
			"no extension":    {"policy", []byte("# Policy")},
		} {
			if _, err := governance.UploadedBody(f.file, f.data); apperr.CodeOf(err) != apperr.Invalid || apperr.FieldsOf(err)["file"] == "" {
				t.Errorf("%s: %v", name, err)
			}
		}
		if body, err := governance.UploadedBody("Policy.MD", []byte("\ufeff# Policy\r\n\r\nText.\r\n")); err != nil || body != "# Policy\n\nText.\n" {
			t.Errorf("a Markdown file with a BOM and CRLF: %q, %v", body, err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM policy_documents`) + count(t, d, `SELECT COUNT(*) FROM policy_document_versions`); n != 0 {
			t.Fatalf("%d rows written by refused imports", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action LIKE 'policydoc.%'`); n != 0 {
			t.Fatalf("%d events audited by refused imports", n)
		}
		doc := approved(t, s, "p")
		for name, body := range map[string]string{"empty": "", "oversize": big, "binary": "a\x00b"} {
			if _, err := s.NewVersion(ctx, doc.ID, body, "edit", "adm1"); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("version %s: %v", name, err)
			}
		}
		if n := count(t, d, `SELECT COUNT(*) FROM policy_document_versions`); n != 1 {
			t.Fatalf("%d versions after refused edits", n)
		}
	})
}

// TestDefaultsGeneratedOnce (CP-11.2): a new installation gets a first
// version of each policy, with a section for every clause ID of that
// policy, generated once however often it starts and on however many
// nodes; a generated draft needs an owner before it is approved.
func TestDefaultsGeneratedOnce(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s := setup(t, d)
		staff(t, d)
		if n, err := s.EnsureDefaults(ctx); err != nil || n != 2 {
			t.Fatalf("first start: %d, %v", n, err)
		}
		other := setup(t, d) // a second node, or the next start
		for i := range 2 {
			if n, err := other.EnsureDefaults(ctx); err != nil || n != 0 {
				t.Fatalf("start %d again: %d, %v", i, n, err)
			}
		}
		docs, err := s.Documents(ctx)
		if err != nil || len(docs) != 2 {
			t.Fatalf("documents: %+v, %v", docs, err)
		}
		for _, doc := range docs {
			v, err := s.Version(ctx, doc.ID, 1)
			if err != nil {
				t.Fatal(err)
			}
			if doc.GeneratedFrom != doc.Title || v.CreatedBy != audit.ActorSystem || doc.InForce != 0 || doc.Owner != "" {
				t.Errorf("generated %+v, version by %q", doc, v.CreatedBy)
			}
			n := 0
			for _, c := range policy.Clauses() {
				has := strings.Contains(v.Body, "\n## "+c.ID+": "+c.Title+"\n")
				if c.Policy == doc.GeneratedFrom {
					n++
					if !has || !strings.Contains(v.Body, c.Requirement) {
						t.Errorf("%s lacks clause %s", doc.ID, c.ID)
					}
				} else if has {
					t.Errorf("%s has clause %s of the other policy", doc.ID, c.ID)
				}
			}
			if n == 0 {
				t.Errorf("%s: no clause belongs to %q", doc.ID, doc.GeneratedFrom)
			}
			if got := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'policydoc.generate' AND target = $1 AND actor = 'system'`, "policydoc:"+doc.ID); got != 1 {
				t.Errorf("%s: generation audited %d times", doc.ID, got)
			}
		}
		id := docs[0].ID
		if _, err := s.Approve(ctx, id, 1, "adm1"); apperr.CodeOf(err) != apperr.Conflict || !strings.Contains(apperr.MessageOf(err), "owner") {
			t.Fatalf("approved without an owner: %v", err)
		}
		if err := s.ChangeOwner(ctx, id, "adm2", "adm1"); err != nil {
			t.Fatal(err)
		}
		if doc, err := s.Approve(ctx, id, 1, "adm1"); err != nil || doc.InForce != 1 {
			t.Fatalf("generated draft approved: %+v, %v", doc, err)
		}
	})
}

// TestDiff (CP-11.2): the diff between two versions is a unified line
// diff with the added and removed lines marked; the default pair is the
// version in force and the draft after it.
func TestDiff(t *testing.T) {
	got := governance.UnifiedDiff("a", "b", body1, body2)
	var kinds []string
	for _, l := range got {
		kinds = append(kinds, l.Kind+" "+l.Text)
	}
	want := []string{"file --- a", "file +++ b", "hunk @@ -2,4 +2,4 @@", "context  ", "context  Staff use a second factor.", "context  ",
		"del -Access is reviewed every quarter.", "add +Access is reviewed every month."}
	if strings.Join(kinds, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diff:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
	if got := governance.UnifiedDiff("a", "b", body1, body1); got != nil {
		t.Fatalf("diff of the same text: %v", got)
	}
	for _, tc := range []struct {
		d        governance.Document
		from, to int
	}{
		{governance.Document{InForce: 1, Latest: 3}, 1, 3},
		{governance.Document{InForce: 3, Latest: 3}, 2, 3},
		{governance.Document{InForce: 0, Latest: 2}, 1, 2},
		{governance.Document{InForce: 1, Latest: 1}, 0, 0},
		{governance.Document{InForce: 0, Latest: 1}, 0, 0},
	} {
		if from, to := governance.DefaultDiff(tc.d); from != tc.from || to != tc.to {
			t.Errorf("DefaultDiff(%d in force, %d latest) = %d, %d; want %d, %d", tc.d.InForce, tc.d.Latest, from, to, tc.from, tc.to)
		}
	}
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s := setup(t, d)
		staff(t, d)
		doc := approved(t, s, "p")
		if _, err := s.NewVersion(ctx, doc.ID, body2, "monthly", "adm1"); err != nil {
			t.Fatal(err)
		}
		lines, err := s.Diff(ctx, doc.ID, 1, 2)
		if err != nil || len(lines) != 8 || lines[0].Text != "--- p version 1" {
			t.Fatalf("diff of versions: %+v, %v", lines, err)
		}
		if _, err := s.Diff(ctx, doc.ID, 1, 5); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("diff with no such version: %v", err)
		}
	})
}

// TestDefaultsOnManyNodes (CP-11.2): nodes starting at once generate
// each default document once between them, and a short name an imported
// document took first is left to it, start after start.
func TestDefaultsOnManyNodes(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		staff(t, d)
		if _, err := setup(t, d).Import(ctx, governance.NewDocument{ID: "customer-portal-policy", Title: "Our own portal policy", Owner: "sec1", Body: body1}, "adm1"); err != nil {
			t.Fatal(err)
		}
		made := make(chan int, 4)
		errs := make(chan error, 4)
		for range 4 {
			node := setup(t, d)
			go func() {
				n, err := node.EnsureDefaults(ctx)
				made <- n
				errs <- err
			}()
		}
		total := 0
		for range 4 {
			total += <-made
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if n, err := setup(t, d).EnsureDefaults(ctx); err != nil || n != 0 || total != 1 {
			t.Fatalf("generated %d between four nodes, then %d, %v; want 1 then 0", total, n, err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM policy_documents`); n != 2 {
			t.Fatalf("%d documents", n)
		}
		if doc, err := setup(t, d).Document(ctx, "customer-portal-policy"); err != nil || doc.Title != "Our own portal policy" || doc.GeneratedFrom != "" {
			t.Fatalf("the imported document: %+v, %v", doc, err)
		}
	})
}
