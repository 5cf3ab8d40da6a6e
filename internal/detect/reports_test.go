package detect_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// reportEnv is the detection service with what reports need: accounts to
// report from, the keyring and the customer's inbox.
type reportEnv struct {
	ctx     context.Context
	d       *db.DB
	clock   *dbtest.Clock
	log     *audit.Log
	id      *identity.Service
	notices *notify.Service
	s       *detect.Service
}

func eachReportEnv(t *testing.T, fn func(t *testing.T, e *reportEnv)) {
	clock := dbtest.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		keyset := filepath.Join(t.TempDir(), crypto.KeysetFileName)
		if err := crypto.CreateMasterKeyset(keyset); err != nil {
			t.Fatal(err)
		}
		keys, err := crypto.Open(d, keyset)
		if err != nil {
			t.Fatal(err)
		}
		p, err := policy.Builtin(policy.CustomerPortal)
		if err != nil {
			t.Fatal(err)
		}
		p.Password.Argon2 = policy.Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
		pwc, err := password.New(p.Password, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pwc.Close() })
		log := audit.New(d)
		notices, err := notify.New(d, keys, log, notify.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		id, err := identity.New(identity.Deps{DB: d, Keys: keys, Audit: log, Profile: p, Passwords: pwc,
			Sessions: session.NewStore(d, keys, log, p.Session), Notifier: notify.ForIdentity(notices), PublicURL: "https://portal.example"})
		if err != nil {
			t.Fatal(err)
		}
		s := detect.New(detect.Deps{DB: d, Audit: log, Profile: p, Geo: testGeo(t), Keys: keys, PublicURL: "https://portal.example",
			TellCustomer: func(ctx context.Context, tx *db.Tx, accountID, title, body string) error {
				return id.NotifyAccount(ctx, tx, accountID, "security-report", title, body)
			}})
		fn(t, &reportEnv{ctx: context.Background(), d: d, clock: clock, log: log, id: id, notices: notices, s: s})
	})
}

func (e *reportEnv) customer(t *testing.T, email string) string {
	t.Helper()
	a, err := e.id.CreateAccount(e.ctx, identity.NewAccount{Email: email, Role: access.RoleCustomer, Password: "correct horse battery staple 42"})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// report files "this wasn't me" as the customer does from their security page.
func (e *reportEnv) report(t *testing.T, accountID, note string) string {
	t.Helper()
	id, err := e.id.ReportSuspicious(e.ctx, accountID, "", note, "customer")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *reportEnv) inbox(t *testing.T, accountID string) []notify.InboxItem {
	t.Helper()
	items, err := e.notices.Inbox(e.ctx, accountID, 50)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// staffCtx is a request by a member of the security team, as the web layer
// records it in the audit trail.
func staffCtx(ctx context.Context) context.Context { return audit.WithActor(ctx, "sec1") }

// TestReportTriageFlow (CP-7.3, CP-3.2, CP-3.1): a customer's report reaches
// the security team's queue with its details; the team assigns it, keeps an
// internal note the customer never sees, asks the customer a question (the
// report waits, the customer is told), the customer answers (the report is
// back with the team), and the team closes it with an outcome the customer
// sees in plain words and is told by a notice. Closing sets closed_at.
func TestReportTriageFlow(t *testing.T) {
	eachReportEnv(t, func(t *testing.T, e *reportEnv) {
		cust := e.customer(t, "dana@example.com")
		rid := e.report(t, cust, "A sign-in from Lisbon at 3am, I was asleep.")

		queue, err := e.s.Reports(e.ctx, detect.ReportFilter{})
		if err != nil || len(queue) != 1 || queue[0].ID != rid || queue[0].Status != detect.ReportOpen || queue[0].AccountID != cust {
			t.Fatalf("queue %+v, %v: want the customer's open report", queue, err)
		}
		r, err := e.s.Report(e.ctx, rid)
		if err != nil || r.Details != "A sign-in from Lisbon at 3am, I was asleep." {
			t.Fatalf("report %+v, %v: want the details decrypted", r, err)
		}

		sctx := staffCtx(e.ctx)
		if err := e.s.AssignReport(sctx, rid, "sec1"); err != nil {
			t.Fatal(err)
		}
		if err := e.s.NoteReport(sctx, rid, "Matches the stuffing alert on 203.0.113.0/24.", "sec1"); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Minute)
		if err := e.s.AskCustomer(sctx, rid, "Do you use a VPN that ends in Portugal?", "sec1"); err != nil {
			t.Fatal(err)
		}
		r, _ = e.s.Report(e.ctx, rid)
		if r.Status != detect.ReportWaiting || r.AssignedTo != "sec1" || len(r.Thread) != 2 {
			t.Fatalf("after asking: %+v", r)
		}
		inbox := e.inbox(t, cust)
		if len(inbox) == 0 || !strings.Contains(inbox[0].Title, "question about your report") ||
			!strings.Contains(inbox[0].Body, "https://portal.example/account/reports/"+rid) {
			t.Fatalf("the customer was not told of the question: %+v", inbox)
		}

		// The customer sees the question, never the internal note.
		mine, err := e.s.CustomerReport(e.ctx, cust, rid)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mine.Thread {
			if m.Kind == detect.MessageNote || strings.Contains(m.Body, "stuffing alert") {
				t.Fatalf("the customer sees an internal note: %+v", mine.Thread)
			}
		}
		if len(mine.Thread) != 1 || mine.Thread[0].Kind != detect.MessageQuestion || mine.Thread[0].Body != "Do you use a VPN that ends in Portugal?" {
			t.Fatalf("customer's thread %+v", mine.Thread)
		}

		e.clock.Add(time.Minute)
		if err := e.s.AnswerReport(e.ctx, cust, rid, "No, never."); err != nil {
			t.Fatal(err)
		}
		r, _ = e.s.Report(e.ctx, rid)
		if r.Status != detect.ReportOpen || len(r.Thread) != 3 || r.Thread[2].Kind != detect.MessageAnswer || r.Thread[2].Body != "No, never." {
			t.Fatalf("after the answer: %+v", r)
		}

		e.clock.Add(time.Minute)
		if err := e.s.CloseReport(sctx, rid, "confirmed_compromise", "We have ended every session.", "sec1"); err != nil {
			t.Fatal(err)
		}
		r, _ = e.s.Report(e.ctx, rid)
		if r.Status != detect.ReportClosed || r.Outcome != "confirmed_compromise" || !r.ClosedAt.Equal(e.clock.Now()) {
			t.Fatalf("after closing: status %q outcome %q closed_at %v (now %v)", r.Status, r.Outcome, r.ClosedAt, e.clock.Now())
		}
		mine, _ = e.s.CustomerReport(e.ctx, cust, rid)
		last := mine.Thread[len(mine.Thread)-1]
		if last.Kind != detect.MessageOutcome || !strings.Contains(last.Body, detect.Outcomes["confirmed_compromise"]) ||
			!strings.Contains(last.Body, "We have ended every session.") {
			t.Fatalf("the customer does not see the outcome: %+v", last)
		}
		inbox = e.inbox(t, cust)
		if !strings.Contains(inbox[0].Body, detect.Outcomes["confirmed_compromise"]) {
			t.Fatalf("the customer was not told the outcome: %+v", inbox[0])
		}
		if queue, _ := e.s.Reports(e.ctx, detect.ReportFilter{}); len(queue) != 0 {
			t.Fatalf("a closed report is still in the open queue: %+v", queue)
		}
		if closed, _ := e.s.Reports(e.ctx, detect.ReportFilter{States: []string{detect.ReportClosed}}); len(closed) != 1 {
			t.Fatalf("closed queue %+v", closed)
		}
	})
}

// TestReportRefusals (CP-7.3, CP-3.2): bad input, closing twice, answering
// another customer's report (not found, as if it did not exist), answering
// with no question waiting, asking or escalating a closed report.
func TestReportRefusals(t *testing.T) {
	eachReportEnv(t, func(t *testing.T, e *reportEnv) {
		cust := e.customer(t, "dana@example.com")
		other := e.customer(t, "eve@example.com")
		rid := e.report(t, cust, "Not me.")
		sctx := staffCtx(e.ctx)

		for _, c := range []struct {
			name string
			err  error
			want apperr.Code
		}{
			{"rejects an empty note", e.s.NoteReport(sctx, rid, "  ", "sec1"), apperr.Invalid},
			{"rejects an empty question", e.s.AskCustomer(sctx, rid, "", "sec1"), apperr.Invalid},
			{"rejects an overlong question", e.s.AskCustomer(sctx, rid, strings.Repeat("x", 4001), "sec1"), apperr.Invalid},
			{"rejects an unknown outcome", e.s.CloseReport(sctx, rid, "solved", "", "sec1"), apperr.Invalid},
			{"rejects a bad incident reference", e.s.EscalateReport(sctx, rid, "INC 1; DROP"), apperr.Invalid},
			{"rejects an assignment to nobody", e.s.AssignReport(sctx, rid, " "), apperr.Invalid},
			{"does not know a missing report", e.s.NoteReport(sctx, "nosuch", "x", "sec1"), apperr.NotFound},
			{"refuses an answer with no question waiting", e.s.AnswerReport(e.ctx, cust, rid, "Hello"), apperr.Conflict},
		} {
			t.Run(c.name, func(t *testing.T) {
				if apperr.CodeOf(c.err) != c.want {
					t.Fatalf("got %v, want %s", c.err, c.want)
				}
			})
		}

		if err := e.s.AskCustomer(sctx, rid, "Where were you?", "sec1"); err != nil {
			t.Fatal(err)
		}
		t.Run("hides another customer's report", func(t *testing.T) {
			if err := e.s.AnswerReport(e.ctx, other, rid, "I was in Lisbon."); apperr.CodeOf(err) != apperr.NotFound {
				t.Fatalf("answer by another customer: %v", err)
			}
			if _, err := e.s.CustomerReport(e.ctx, other, rid); apperr.CodeOf(err) != apperr.NotFound {
				t.Fatalf("another customer reads the report: %v", err)
			}
			r, _ := e.s.Report(e.ctx, rid)
			if r.Status != detect.ReportWaiting || len(r.Thread) != 1 {
				t.Fatalf("the other customer's answer changed the report: %+v", r)
			}
		})

		if err := e.s.EscalateReport(sctx, rid, "INC-2026-7"); err != nil {
			t.Fatal(err)
		}
		r, _ := e.s.Report(e.ctx, rid)
		if r.Status != detect.ReportEscalated || r.IncidentID != "INC-2026-7" {
			t.Fatalf("after escalating: %+v", r)
		}
		if err := e.s.CloseReport(sctx, rid, "no_evidence", "", "sec1"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			err  error
		}{
			{"refuses closing twice", e.s.CloseReport(sctx, rid, "duplicate", "", "sec1")},
			{"refuses a question on a closed report", e.s.AskCustomer(sctx, rid, "One more thing?", "sec1")},
			{"refuses escalating a closed report", e.s.EscalateReport(sctx, rid, "")},
			{"refuses assigning a closed report", e.s.AssignReport(sctx, rid, "sec2")},
			{"refuses an answer to a closed report", e.s.AnswerReport(e.ctx, cust, rid, "Late answer")},
		} {
			t.Run(c.name, func(t *testing.T) {
				if apperr.CodeOf(c.err) != apperr.Conflict {
					t.Fatalf("got %v, want conflict", c.err)
				}
			})
		}
		r, _ = e.s.Report(e.ctx, rid)
		if r.Outcome != "no_evidence" {
			t.Fatalf("closing twice changed the outcome to %q", r.Outcome)
		}
	})
}

// TestReportThreadEncryptedAndAudited (CP-5.1, CP-5.3, CP-3.2): the
// thread is encrypted at rest under the customer's key (no message's text
// is in its raw row), and every action on a report is in the audit trail
// with the report as its target and no message text in its details.
func TestReportThreadEncryptedAndAudited(t *testing.T) {
	eachReportEnv(t, func(t *testing.T, e *reportEnv) {
		cust := e.customer(t, "dana@example.com")
		rid := e.report(t, cust, "Not me.")
		sctx := staffCtx(e.ctx)
		texts := []string{"Internal: the VPN exit node matches", "Which country were you in yesterday?", "Home, in Norway", "Closing words for Dana"}
		steps := []func() error{
			func() error { return e.s.AssignReport(sctx, rid, "sec1") },
			func() error { return e.s.NoteReport(sctx, rid, texts[0], "sec1") },
			func() error { return e.s.AskCustomer(sctx, rid, texts[1], "sec1") },
			func() error { return e.s.AnswerReport(e.ctx, cust, rid, texts[2]) },
			func() error { return e.s.EscalateReport(sctx, rid, "") },
			func() error { return e.s.CloseReport(sctx, rid, "customer_activity", texts[3], "sec1") },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}

		rows, err := e.d.QueryContext(e.ctx, `SELECT body_enc FROM report_messages WHERE report_id = $1`, rid)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var body []byte
			if err := rows.Scan(&body); err != nil {
				t.Fatal(err)
			}
			n++
			for _, text := range texts {
				if bytes.Contains(body, []byte(text)) || bytes.Contains(body, []byte(text[:12])) {
					t.Errorf("a message's text is in its raw row: %q", text)
				}
			}
		}
		rows.Close()
		if n != 4 {
			t.Fatalf("%d messages stored, want 4", n)
		}
		r, err := e.s.Report(e.ctx, rid)
		if err != nil || len(r.Thread) != 4 || r.Thread[0].Body != texts[0] {
			t.Fatalf("the thread does not decrypt: %+v, %v", r.Thread, err)
		}

		recs, err := e.log.After(e.ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]audit.Record{}
		for _, rec := range recs {
			if strings.HasPrefix(rec.Action, "report.") {
				seen[rec.Action] = rec
				for _, text := range append(texts, "dana@example.com") {
					if strings.Contains(string(rec.Details), text) {
						t.Errorf("%s holds personal data in its details: %s", rec.Action, rec.Details)
					}
				}
			}
		}
		for _, want := range []string{"report.assign", "report.note", "report.ask", "report.answer", "report.escalate", "report.close"} {
			rec, ok := seen[want]
			if !ok {
				t.Errorf("no %s event in the audit trail", want)
				continue
			}
			if rec.Target != "report:"+rid || rec.Outcome != audit.Success {
				t.Errorf("%s: target %q outcome %q", want, rec.Target, rec.Outcome)
			}
		}
		if seen["report.note"].Actor != "sec1" || seen["report.answer"].Actor == "sec1" {
			t.Errorf("actors: note by %q, answer by %q", seen["report.note"].Actor, seen["report.answer"].Actor)
		}
		if !strings.Contains(string(seen["report.close"].Details), "customer_activity") {
			t.Errorf("report.close does not record the outcome: %s", seen["report.close"].Details)
		}
	})
}
