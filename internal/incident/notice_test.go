package incident_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/cryptotest"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/notify"
)

// noticeSetup is an incident service that delivers notices, an incident
// detected at t0 affecting cust1 and cust2 (not cust3), and the notify
// service to read inboxes with.
func noticeSetup(t *testing.T, d *db.DB) (*incident.Service, *notify.Service, incident.Incident) {
	t.Helper()
	ctx := context.Background()
	keys := cryptotest.Keyring(t, d)
	s, l := setup(t, d)
	n, err := notify.New(d, keys, l, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The real inbox and outbox, to an address made from the account ID.
	s.SetDeliverer(notify.Tracked{Notices: n, Address: func(_ context.Context, _ *db.Tx, acct string) (string, error) {
		return acct + "@example.test", nil
	}})
	for _, id := range []string{"cust1", "cust2", "cust3"} {
		account(t, d, id, "customer")
	}
	inc, err := s.Open(ctx, incident.NewIncident{Title: "Stolen passwords", Severity: "high", Category: "account takeover"}, "sec1")
	if err != nil {
		t.Fatal(err)
	}
	exec(t, d, `INSERT INTO incident_affected (incident_id, account_id) VALUES ($1, 'cust1'), ($1, 'cust2')`, inc.ID)
	return s, n, inc
}

func fullDraft() incident.Draft {
	return incident.Draft{Kind: incident.NoticeBreach, Title: "A security incident affecting your account",
		Nature: "Someone signed in to some accounts with passwords stolen elsewhere.", Consequences: "They could read your tickets.",
		Measures: "We ended every session and locked the accounts.", Advice: "Choose a new password you use nowhere else.",
		Contact: "security@example.test", Steps: []string{incident.StepChangePassword, incident.StepReviewSessions}}
}

// TestNoticeRefusedWithoutEachPart (CP-9.1, MTL-5.1.2): a breach notice
// is not sent while any part Art. 34(2) asks is missing, each named.
func TestNoticeRefusedWithoutEachPart(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _, inc := noticeSetup(t, d)
		parts := map[string]func(*incident.Draft){
			"nature of the breach":        func(d *incident.Draft) { d.Nature = " " },
			"likely consequences":         func(d *incident.Draft) { d.Consequences = "" },
			"measures taken":              func(d *incident.Draft) { d.Measures = "" },
			"what the customer should do": func(d *incident.Draft) { d.Advice = "" },
			"contact point":               func(d *incident.Draft) { d.Contact = "" },
		}
		for want, drop := range parts {
			dr := fullDraft()
			drop(&dr)
			id, err := s.SaveDraft(ctx, inc.ID, "", "", dr, "sec1")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Send(ctx, inc.ID, id, "", "sec1")
			if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(apperr.MessageOf(err), want) {
				t.Errorf("without the %s: %v", want, err)
			}
			if n, _ := s.NoticeByID(ctx, inc.ID, id); !n.SentAt.IsZero() {
				t.Errorf("without the %s the notice was marked sent", want)
			}
		}
		var deliveries int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM incident_deliveries`).Scan(&deliveries); err != nil || deliveries != 0 {
			t.Fatalf("%d deliveries of incomplete notices (%v)", deliveries, err)
		}
		fu := incident.Draft{Kind: incident.NoticeFollowUp, Title: "Update"}
		if _, err := s.SaveDraft(ctx, inc.ID, "", "", fu, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("a follow-up without a sent breach notice: %v", err)
		}
	})
}

// TestNoticeGoesOnlyToTheAffected (CP-9.1, MTL-5.1.2): the notice reaches
// the affected customers in the portal and by email, and nobody else;
// sending again delivers to nobody twice; a follow-up goes to the breach
// notice's recipients.
func TestNoticeGoesOnlyToTheAffected(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, n, inc := noticeSetup(t, d)
		id, err := s.SaveDraft(ctx, inc.ID, "", "", fullDraft(), "sec1")
		if err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Hour)
		if got, err := s.Send(ctx, inc.ID, id, "", "sec1"); err != nil || got != 2 {
			t.Fatalf("sent to %d, %v; want 2", got, err)
		}
		for acct, want := range map[string]int{"cust1": 1, "cust2": 1, "cust3": 0} {
			items, err := n.Inbox(ctx, acct, 0)
			if err != nil {
				t.Fatal(err)
			}
			var mail int
			if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE account_id = $1`, acct).Scan(&mail); err != nil {
				t.Fatal(err)
			}
			if len(items) != want || mail != want {
				t.Errorf("%s: %d inbox notices and %d emails, want %d", acct, len(items), mail, want)
			}
			if want == 1 && (!strings.Contains(items[0].Body, "What you should do") || items[0].Kind != "incident.breach") {
				t.Errorf("%s's notice: %+v", acct, items[0])
			}
		}
		if cn, err := s.ForCustomer(ctx, "cust3"); err != nil || len(cn) != 0 {
			t.Errorf("cust3 sees %d notices (%v)", len(cn), err)
		}
		if got, err := s.Send(ctx, inc.ID, id, "", "sec1"); err != nil || got != 0 {
			t.Errorf("sending again delivered %d, %v", got, err)
		}
		if told, _ := s.CustomersTold(ctx, inc.ID); !told.Equal(t0.Add(time.Hour)) {
			t.Errorf("customers told at %v", told)
		}
		// A customer added to the incident later is not a recipient of
		// the follow-up of a notice they never got.
		exec(t, d, `INSERT INTO incident_affected (incident_id, account_id) VALUES ($1, 'cust3')`, inc.ID)
		fu, err := s.SaveDraft(ctx, inc.ID, "", id, incident.Draft{Kind: incident.NoticeFollowUp, Title: "Update on the incident",
			Measures: "We reset every password.", Steps: []string{incident.StepChangePassword}}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Send(ctx, inc.ID, fu, "", "sec1"); err != nil || got != 2 {
			t.Fatalf("follow-up sent to %d, %v", got, err)
		}
		if _, err := s.SaveDraft(ctx, inc.ID, id, "", fullDraft(), "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("a sent notice was edited: %v", err)
		}
	})
}

// TestDeliveryStates (CP-9.1): each customer's copy is queued, sent,
// failed or read; a resend goes to those not reached only.
func TestDeliveryStates(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, n, inc := noticeSetup(t, d)
		exec(t, d, `INSERT INTO incident_affected (incident_id, account_id) VALUES ($1, 'cust3')`, inc.ID)
		id, _ := s.SaveDraft(ctx, inc.ID, "", "", fullDraft(), "sec1")
		if _, err := s.Send(ctx, inc.ID, id, "", "sec1"); err != nil {
			t.Fatal(err)
		}
		exec(t, d, `UPDATE outbox SET status = 'failed' WHERE account_id IN ('cust1', 'cust2')`)
		items, _ := n.Inbox(ctx, "cust2", 0)
		if err := n.MarkRead(ctx, "cust2", items[0].ID); err != nil {
			t.Fatal(err)
		}
		list, counts, err := s.Deliveries(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"cust1": incident.DeliveryFailed, "cust2": incident.DeliveryRead, "cust3": incident.DeliveryQueued}
		for _, dl := range list {
			if want[dl.AccountID] != dl.State {
				t.Errorf("%s: %s, want %s", dl.AccountID, dl.State, want[dl.AccountID])
			}
		}
		if counts[incident.DeliveryFailed] != 1 || counts[incident.DeliveryRead] != 1 || counts[incident.DeliveryQueued] != 1 {
			t.Errorf("counts %v", counts)
		}
		if got, err := s.Resend(ctx, inc.ID, id, "sec1"); err != nil || got != 1 {
			t.Fatalf("resent to %d, %v; want 1 (cust1)", got, err)
		}
		var mail int
		d.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE account_id = 'cust1'`).Scan(&mail)
		if mail != 2 {
			t.Errorf("cust1 has %d emails after the resend, want 2", mail)
		}
		list, _, _ = s.Deliveries(ctx, id, 0)
		for _, dl := range list {
			if dl.AccountID == "cust1" && (dl.State != incident.DeliveryQueued || dl.Attempts != 2) {
				t.Errorf("cust1 after the resend: %+v", dl)
			}
		}
	})
}

// TestLateNoticeNeedsReason (CP-7.1): a breach notice after the
// customers' deadline is sent only with the reason for the delay, and the
// clock then says late.
func TestLateNoticeNeedsReason(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _, inc := noticeSetup(t, d)
		id, _ := s.SaveDraft(ctx, inc.ID, "", "", fullDraft(), "sec1")
		clock.Add(25 * time.Hour)
		if _, err := s.Send(ctx, inc.ID, id, "", "sec1"); apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(apperr.MessageOf(err), "reason for the delay") {
			t.Fatalf("late without a reason: %v", err)
		}
		if _, err := s.Send(ctx, inc.ID, id, "The affected accounts were found only today.", "sec1"); err != nil {
			t.Fatal(err)
		}
		inc, _ = s.Get(ctx, inc.ID)
		told, _ := s.CustomersTold(ctx, inc.ID)
		if c := s.Clocks(inc, told, clock.Now())[0]; c.State != incident.ClockLate {
			t.Errorf("customers' clock %s, want late", c.State)
		}
		n, _ := s.NoticeByID(ctx, inc.ID, id)
		if n.LateReason == "" {
			t.Error("the reason for the delay is not kept")
		}
	})
}

// TestFollowUpSteps (CP-9.2): the steps a notice asks are tracked per
// customer, from the records (a password change) or the customer's own
// confirmation; only a recipient can confirm; those with steps left get
// one reminder.
func TestFollowUpSteps(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, n, inc := noticeSetup(t, d)
		id, _ := s.SaveDraft(ctx, inc.ID, "", "", fullDraft(), "sec1")
		if _, err := s.Send(ctx, inc.ID, id, "", "sec1"); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Hour)
		exec(t, d, `UPDATE accounts SET password_changed_at = $1 WHERE id = 'cust1'`, clock.Now())
		if err := s.ConfirmStep(ctx, "cust1", id, incident.StepReviewSessions); err != nil {
			t.Fatal(err)
		}
		if err := s.ConfirmStep(ctx, "cust3", id, incident.StepReviewSessions); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("a customer the notice did not go to confirmed a step: %v", err)
		}
		if err := s.ConfirmStep(ctx, "cust2", id, incident.StepChangePassword); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("a password change confirmed by hand: %v", err)
		}
		nt, _ := s.NoticeByID(ctx, inc.ID, id)
		prog, err := s.Progress(ctx, nt)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range prog {
			if p.Done != 1 || p.Of != 2 {
				t.Errorf("%s: %d of %d done, want 1 of 2", p.Code, p.Done, p.Of)
			}
		}
		mine, err := s.ForCustomer(ctx, "cust2")
		if err != nil || len(mine) != 1 || len(mine[0].Steps) != 2 || mine[0].Steps[0].Done || mine[0].Steps[1].Done {
			t.Fatalf("cust2's view: %+v, %v", mine, err)
		}
		if sent, err := s.Remind(ctx); err != nil || sent != 0 {
			t.Fatalf("reminded %d before the delay, %v", sent, err)
		}
		clock.Add(incident.ReminderAfter)
		if sent, err := s.Remind(ctx); err != nil || sent != 1 {
			t.Fatalf("reminded %d, %v; want 1 (cust2)", sent, err)
		}
		if sent, _ := s.Remind(ctx); sent != 0 {
			t.Errorf("reminded again: %d", sent)
		}
		items, _ := n.Inbox(ctx, "cust2", 0)
		if len(items) != 2 || items[0].Kind != "incident.reminder" || !strings.Contains(items[0].Body, "Change your password") {
			t.Errorf("cust2's inbox: %+v", items)
		}
		if items, _ := n.Inbox(ctx, "cust1", 0); len(items) != 1 {
			t.Errorf("cust1, who did every step, has %d notices", len(items))
		}
		_ = audit.Success
	})
}

// TestDrillNoticesGoToStaffOnly (MTL-5.2.2, CP-9.1): a drill's affected
// set is the staff's own accounts; its notices reach staff only, even
// with a customer slipped into the set, and say they are an exercise; its
// containment is rehearsed, not done. A real incident cannot be aimed at
// the staff.
func TestDrillNoticesGoToStaffOnly(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, n, real := noticeSetup(t, d)
		account(t, d, "staff1", "security")
		if _, err := s.SetAffected(ctx, real.ID, incident.Query{Kind: "staff"}); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a real incident aimed at the staff: %v", err)
		}
		drill, err := s.StartDrill(ctx, "Stolen passwords, rehearsed", "staff1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetAffected(ctx, drill.ID, incident.Query{Kind: "all"}); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a drill aimed at the customers: %v", err)
		}
		if got, err := s.SetAffected(ctx, drill.ID, incident.Query{Kind: "staff"}); err != nil || got != 1 {
			t.Fatalf("drill's staff: %d, %v", got, err)
		}
		exec(t, d, `INSERT INTO incident_affected (incident_id, account_id) VALUES ($1, 'cust1')`, drill.ID)
		if _, err := s.Contain(ctx, nil, drill.ID, incident.ContainLock, "staff1"); err != nil {
			t.Fatalf("a drill's containment: %v", err)
		}
		id, err := s.SaveDraft(ctx, drill.ID, "", "", fullDraft(), "staff1")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Send(ctx, drill.ID, id, "", "staff1"); err != nil || got != 1 {
			t.Fatalf("drill notice sent to %d, %v; want 1 (staff1)", got, err)
		}
		if items, _ := n.Inbox(ctx, "cust1", 0); len(items) != 0 {
			t.Errorf("a customer received a drill's notice: %+v", items)
		}
		items, _ := n.Inbox(ctx, "staff1", 0)
		if len(items) != 1 || !strings.HasPrefix(items[0].Title, "Exercise: ") || !strings.Contains(items[0].Body, "This is an exercise") {
			t.Errorf("the staff's drill notice: %+v", items)
		}
	})
}
