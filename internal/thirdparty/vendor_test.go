package thirdparty_test

import (
	"context"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/privacy"
	"github.com/portico/portico/internal/thirdparty"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func setup(t *testing.T, d *db.DB, opts ...thirdparty.Option) (*thirdparty.Service, policy.Profile) {
	t.Helper()
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	s := thirdparty.New(d, audit.New(d), p, opts...)
	s.SetDataCategories(privacy.CategoryNames(p))
	return s, p
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

func goodAnswers() map[string]string {
	out := map[string]string{}
	for _, q := range thirdparty.Questions().Questions {
		switch {
		case q.Kind == thirdparty.KindYesNo:
			out[q.ID] = q.Good
		case q.Good == "max:72":
			out[q.ID] = "24"
		default:
			out[q.ID] = "Our answer"
		}
	}
	return out
}

// TestTier (CP-10.1): the tier follows from the data received and the
// assessment's outcome.
func TestTier(t *testing.T) {
	for _, c := range []struct {
		cats    []string
		outcome string
		want    string
	}{
		{nil, "", thirdparty.TierLow},
		{nil, thirdparty.OutcomeSatisfactory, thirdparty.TierLow},
		{nil, thirdparty.OutcomeUnsatisfactory, thirdparty.TierHigh},
		{[]string{"Contact details"}, "", thirdparty.TierHigh},
		{[]string{"Contact details"}, thirdparty.OutcomeSatisfactory, thirdparty.TierMedium},
		{[]string{"Contact details"}, thirdparty.OutcomeConcerns, thirdparty.TierHigh},
		{[]string{"Account identity", "Contact details"}, thirdparty.OutcomeSatisfactory, thirdparty.TierMedium},
		{[]string{"Account identity", "Contact details", "Consents and privacy notice", "Security notices"}, thirdparty.OutcomeSatisfactory, thirdparty.TierHigh},
		{[]string{"Second factors"}, thirdparty.OutcomeSatisfactory, thirdparty.TierHigh},
		{[]string{"Support tickets"}, thirdparty.OutcomeConcerns, thirdparty.TierCritical},
		{[]string{"Password and sign-in protection"}, thirdparty.OutcomeUnsatisfactory, thirdparty.TierCritical},
	} {
		if got := thirdparty.Tier(c.cats, c.outcome); got != c.want {
			t.Errorf("Tier(%v, %q) = %s, want %s", c.cats, c.outcome, got, c.want)
		}
	}
}

// TestScore (MTL-6.1): answers are judged against the good answers.
func TestScore(t *testing.T) {
	qs := thirdparty.Questions()
	if qs.Version == "" || len(qs.Questions) < 10 {
		t.Fatalf("question set %+v", qs)
	}
	a := goodAnswers()
	good, of, outcome := thirdparty.Score(qs, a)
	if good != of || outcome != thirdparty.OutcomeSatisfactory {
		t.Fatalf("all good: %d/%d %s", good, of, outcome)
	}
	a["incident-hours"] = "96"
	if _, _, outcome := thirdparty.Score(qs, a); outcome != thirdparty.OutcomeConcerns {
		t.Errorf("notification in 96 hours: %s", outcome)
	}
	for _, id := range []string{"access-mfa", "enc-rest", "cert-iso27001", "vuln-scan"} {
		a[id] = "no"
	}
	if _, _, outcome := thirdparty.Score(qs, a); outcome != thirdparty.OutcomeUnsatisfactory {
		t.Errorf("five bad answers: %s", outcome)
	}
}

// TestRegisterAndApprove (CP-10.1): a vendor is registered with
// inventory categories and https endpoints only, nothing written when
// refused; it is approved only by the security team after an approved
// assessment; the approval is audited; Recipients lists it then.
func TestRegisterAndApprove(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := setup(t, d)
		account(t, d, "sec1", "security")
		account(t, d, "sec2", "security")
		account(t, d, "adm1", "admin")
		account(t, d, "c1", "customer")
		ok := thirdparty.NewVendor{Name: "Mailer Ltd", Service: "Sends our email", DataCategories: []string{"Account identity", "Contact details"},
			Endpoints: []string{"https://api.mailer.example/v1"}, Owner: "sec1"}
		for name, tc := range map[string]func(n *thirdparty.NewVendor){
			"no name":               func(n *thirdparty.NewVendor) { n.Name = " " },
			"control character":     func(n *thirdparty.NewVendor) { n.Name = "Mailer\r\nBcc: x" },
			"no service":            func(n *thirdparty.NewVendor) { n.Service = "" },
			"unknown category":      func(n *thirdparty.NewVendor) { n.DataCategories = []string{"Card numbers"} },
			"http endpoint":         func(n *thirdparty.NewVendor) { n.Endpoints = []string{"http://api.mailer.example/"} },
			"endpoint without host": func(n *thirdparty.NewVendor) { n.Endpoints = []string{"https:///x"} },
			"credentials in URL":    func(n *thirdparty.NewVendor) { n.Endpoints = []string{"https://u:p@api.mailer.example/"} },
			"customer owner":        func(n *thirdparty.NewVendor) { n.Owner = "c1" },
			"unknown owner":         func(n *thirdparty.NewVendor) { n.Owner = "nobody" },
		} {
			n := ok
			tc(&n)
			if _, err := s.Register(ctx, n, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%s: %v, want refused", name, err)
			}
		}
		if n := count(t, d, `SELECT COUNT(*) FROM vendors`); n != 0 {
			t.Fatalf("%d vendors after refusals", n)
		}
		v, err := s.Register(ctx, ok, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != thirdparty.StatusProposed || v.Tier != thirdparty.TierHigh {
			t.Errorf("registered %+v", v)
		}
		// Editing checks the same, and the tier follows the categories.
		bad := ok
		bad.DataCategories = []string{"Card numbers"}
		if err := s.Update(ctx, v.ID, bad, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("update with an unknown category: %v", err)
		}
		more := ok
		more.DataCategories = []string{"Account identity", "Second factors"}
		if err := s.Update(ctx, v.ID, more, "sec1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, v.ID); got.Tier != thirdparty.TierCritical {
			t.Errorf("tier with second factors, never assessed: %s", got.Tier)
		}
		if err := s.Update(ctx, v.ID, ok, "sec1"); err != nil {
			t.Fatal(err)
		}
		// Approval waits for an approved assessment.
		if err := s.Approve(ctx, v.ID, "sec2"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("approved without assessment: %v", err)
		}
		a, err := s.StartAssessment(ctx, v.ID, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AnswerAssessment(ctx, a.ID, goodAnswers(), "sec1"); err != nil {
			t.Fatal(err)
		}
		if err := s.ApproveAssessment(ctx, a.ID, "sec2"); err != nil {
			t.Fatal(err)
		}
		if err := s.Approve(ctx, v.ID, "adm1"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("an administrator approved a vendor: %v", err)
		}
		if r, _ := s.Recipients(ctx); len(r) != 0 {
			t.Fatalf("recipients before approval: %+v", r)
		}
		if err := s.Approve(ctx, v.ID, "sec2"); err != nil {
			t.Fatal(err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'vendor.approve' AND target = $1 AND actor = 'sec2'`, "vendor:"+v.ID); n != 1 {
			t.Errorf("approval audited %d times", n)
		}
		got, err := s.Get(ctx, v.ID)
		if err != nil || got.Status != thirdparty.StatusApproved || got.Tier != thirdparty.TierMedium || got.ApprovedBy != "sec2" {
			t.Fatalf("after approval %+v, %v", got, err)
		}
		r, err := s.Recipients(ctx)
		if err != nil || len(r) != 1 || r[0].Name != "Mailer Ltd" || len(r[0].DataCategories) != 2 {
			t.Fatalf("recipients %+v, %v", r, err)
		}
		if err := s.Retire(ctx, v.ID, "sec1"); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.Recipients(ctx); len(r) != 0 {
			t.Errorf("a retired vendor is a recipient: %+v", r)
		}
		if err := s.Update(ctx, v.ID, ok, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("a retired vendor edited: %v", err)
		}
	})
}

// TestAssessmentLifecycle (MTL-6.1, CP-10.1): staff answer the questions
// (bad answers refused, nothing written), the one who answered cannot
// approve, another member of the security team can, and the reassessment
// is due governance.vendor_review_interval after the approval.
func TestAssessmentLifecycle(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, p := setup(t, d)
		account(t, d, "sec1", "security")
		account(t, d, "sec2", "security")
		account(t, d, "sup1", "support")
		v, err := s.Register(ctx, thirdparty.NewVendor{Name: "Desk", Service: "Help desk", DataCategories: []string{"Support tickets"}, Owner: "sup1"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.StartAssessment(ctx, v.ID, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ApproveAssessment(ctx, a.ID, "sec2"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("an unanswered assessment approved: %v", err)
		}
		bad := goodAnswers()
		bad["access-mfa"] = "maybe"
		if err := s.AnswerAssessment(ctx, a.ID, bad, "sup1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("yes/no answered otherwise: %v", err)
		}
		missing := goodAnswers()
		delete(missing, "incident-hours")
		if err := s.AnswerAssessment(ctx, a.ID, missing, "sup1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a scored question unanswered: %v", err)
		}
		if got, _ := s.Assessment(ctx, a.ID); got.State != thirdparty.AssessOpen || len(got.Answers) != 0 {
			t.Fatalf("a refused answer was kept: %+v", got)
		}
		answers := goodAnswers()
		answers["incident-hours"] = "96"
		clock.Set(t0.Add(time.Hour))
		if err := s.AnswerAssessment(ctx, a.ID, answers, "sec1"); err != nil {
			t.Fatal(err)
		}
		if err := s.AnswerAssessment(ctx, a.ID, answers, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("answered twice: %v", err)
		}
		got, _ := s.Assessment(ctx, a.ID)
		if got.State != thirdparty.AssessSubmitted || got.Outcome != thirdparty.OutcomeConcerns || got.SubmittedBy != "sec1" {
			t.Fatalf("submitted %+v", got)
		}
		// Four eyes, security team only.
		if err := s.ApproveAssessment(ctx, a.ID, "sec1"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("the one who answered approved: %v", err)
		}
		if err := s.ApproveAssessment(ctx, a.ID, "sup1"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("support approved: %v", err)
		}
		clock.Set(t0.Add(2 * time.Hour))
		if err := s.ApproveAssessment(ctx, a.ID, "sec2"); err != nil {
			t.Fatal(err)
		}
		v, _ = s.Get(ctx, v.ID)
		want := t0.Add(2*time.Hour + p.Governance.VendorReviewInterval.Duration)
		if !v.ReviewDue.Equal(want) || v.Outcome != thirdparty.OutcomeConcerns || v.Tier != thirdparty.TierCritical {
			t.Fatalf("vendor after approval: due %v (want %v), %s, %s", v.ReviewDue, want, v.Outcome, v.Tier)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'vendor.assessment_approve' AND actor = 'sec2'`); n != 1 {
			t.Errorf("approval audited %d", n)
		}
	})
}

// TestAssessmentLink (MTL-6.1): the vendor answers through a link whose
// token is stored only as a hash; it works once, not after 14 days, and
// the refusals are audited.
func TestAssessmentLink(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := setup(t, d)
		account(t, d, "sec1", "security")
		v, err := s.Register(ctx, thirdparty.NewVendor{Name: "Hosting", Service: "Servers", Owner: "sec1"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		a, _ := s.StartAssessment(ctx, v.ID, "sec1")
		token, exp, err := s.IssueLink(ctx, a.ID, "sec1")
		if err != nil || !exp.Equal(t0.Add(thirdparty.LinkTTL)) || len(token) < 26 {
			t.Fatalf("link %q %v %v", token, exp, err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE details LIKE $1`, "%"+token+"%"); n != 0 {
			t.Error("the token is in the audit trail")
		}
		var stored []byte
		if err := d.QueryRowContext(ctx, `SELECT link_hash FROM vendor_assessments WHERE id = $1`, a.ID).Scan(&stored); err != nil || len(stored) != 32 {
			t.Fatalf("stored %x %v", stored, err)
		}
		if _, err := s.ByLink(ctx, token+"x"); err != thirdparty.ErrLinkInvalid {
			t.Errorf("a wrong token: %v", err)
		}
		la, err := s.ByLink(ctx, token)
		if err != nil || la.VendorName != "Hosting" {
			t.Fatalf("by link %+v %v", la, err)
		}
		bad := goodAnswers()
		bad["enc-rest"] = ""
		if err := s.AnswerByLink(ctx, token, bad); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("incomplete answers: %v", err)
		}
		if err := s.AnswerByLink(ctx, token, goodAnswers()); err != nil {
			t.Fatal(err)
		}
		if err := s.AnswerByLink(ctx, token, goodAnswers()); err != thirdparty.ErrLinkUsed {
			t.Fatalf("a second answer: %v", err)
		}
		if _, err := s.ByLink(ctx, token); err != thirdparty.ErrLinkUsed {
			t.Fatalf("a used link opens: %v", err)
		}
		got, _ := s.Assessment(ctx, a.ID)
		if got.State != thirdparty.AssessSubmitted || got.SubmittedBy != thirdparty.ByVendorLink || got.Outcome != thirdparty.OutcomeSatisfactory {
			t.Fatalf("after the link %+v", got)
		}
		// The security team may approve what the vendor answered.
		if err := s.ApproveAssessment(ctx, a.ID, "sec1"); err != nil {
			t.Fatal(err)
		}

		// An expired link is refused.
		a2, _ := s.StartAssessment(ctx, v.ID, "sec1")
		token2, _, err := s.IssueLink(ctx, a2.ID, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		clock.Set(t0.Add(thirdparty.LinkTTL + time.Minute))
		if _, err := s.ByLink(ctx, token2); err != thirdparty.ErrLinkExpired {
			t.Fatalf("expired link opens: %v", err)
		}
		if err := s.AnswerByLink(ctx, token2, goodAnswers()); err != thirdparty.ErrLinkExpired {
			t.Fatalf("expired link answers: %v", err)
		}
		if got, _ := s.Assessment(ctx, a2.ID); got.State != thirdparty.AssessOpen {
			t.Fatalf("expired link wrote %+v", got)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'vendor.assessment_link_refused' AND outcome = 'denied'`); n != 2 {
			t.Errorf("refusals audited %d, want 2", n)
		}
	})
}
