package incident_test

import (
	"context"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/findings"
	"github.com/portico/portico/internal/incident"
	"github.com/portico/portico/internal/policy"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func setup(t *testing.T, d *db.DB) (*incident.Service, *audit.Log) {
	t.Helper()
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	l := audit.New(d)
	s := incident.New(d, l, p)
	s.SetFindings(findings.New(d, l, p))
	return s, l
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

// TestPhasesFollowThePlan (CP-7.2): an incident moves on only when the
// plan's checklist for its phase is done; each move is audited; closing
// records the time.
func TestPhasesFollowThePlan(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0) // each dialect from the start
		ctx := context.Background()
		s, l := setup(t, d)
		if _, err := s.Open(ctx, incident.NewIncident{Title: " ", Severity: "high", Category: "takeover"}, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("untitled incident: %v", err)
		}
		// The data involved is named from the inventory's categories.
		s.SetDataCategories([]string{"Account identity", "Contact details"})
		if _, err := s.Open(ctx, incident.NewIncident{Title: "Leak", Severity: "high", Category: "takeover", DataCategories: []string{"Card numbers"}}, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a data category outside the inventory: %v", err)
		}
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Takeover of accounts", Severity: "high", Category: "account takeover"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Advance(ctx, inc.ID, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("advanced with the checklist undone: %v", err)
		}
		if err := s.Check(ctx, inc.ID, "not-an-item", "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("unknown item: %v", err)
		}
		for _, phase := range incident.Phases[:len(incident.Phases)-1] {
			for _, it := range incident.BuiltinPlan.Checklists[phase] {
				if err := s.Check(ctx, inc.ID, it.Code, "sec1"); err != nil {
					t.Fatal(err)
				}
			}
			clock.Add(time.Hour)
			if _, err := s.Advance(ctx, inc.ID, "sec1"); err != nil {
				t.Fatalf("leaving %s: %v", phase, err)
			}
		}
		got, err := s.Get(ctx, inc.ID)
		if err != nil || got.Phase != incident.PhaseClosed || !got.ClosedAt.Equal(t0.Add(5*time.Hour)) {
			t.Fatalf("closed incident %+v, %v", got, err)
		}
		if _, err := s.Advance(ctx, inc.ID, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("advanced past closed: %v", err)
		}
		recs, _ := l.After(ctx, 0, 1000)
		phases := 0
		for _, r := range recs {
			if r.Action == "incident.phase" {
				phases++
			}
		}
		if phases != 5 {
			t.Errorf("%d phase moves audited, want 5", phases)
		}
	})
}

// TestClocks (CP-7.1, MTL-5.1.1): the customers' clock starts at the
// alert's detection, warns at half time and in the last tenth, and is
// overdue after 24 hours; the regulator's is not due without a risk to
// people, and a late submission needs the reason for the delay.
func TestClocks(t *testing.T) {
	clock := dbtest.NewClock(t0.Add(2 * time.Hour))
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0.Add(2 * time.Hour))
		ctx := context.Background()
		s, _ := setup(t, d)
		exec(t, d, `INSERT INTO alerts (id, rule, severity, group_key, subject_kind, subject, summary, accounts, networks, evidence,
			state, occurrences, first_at, last_at, updated_at) VALUES ('al1', 'credential_stuffing', 'high', 'k', 'network', 'n', 's', '[]', '[]', '[]',
			'escalated', 1, $1, $1, $1)`, t0)
		// Not later than the alert, and earlier only with a reason.
		if _, err := s.Open(ctx, incident.NewIncident{Title: "Stuffing", Severity: "high", Category: "stuffing", Source: "alert:al1",
			DetectedAt: t0.Add(time.Hour)}, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("detection after the alert: %v", err)
		}
		if _, err := s.Open(ctx, incident.NewIncident{Title: "Stuffing", Severity: "high", Category: "stuffing", Source: "alert:al1",
			DetectedAt: t0.Add(-time.Hour)}, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("earlier detection without a reason: %v", err)
		}
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Stuffing", Severity: "high", Category: "stuffing", Source: "alert:al1"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if !inc.DetectedAt.Equal(t0) {
			t.Fatalf("detected at %v, want the alert's %v", inc.DetectedAt, t0)
		}
		state := func(at time.Duration) (string, string) {
			inc, err := s.Get(ctx, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			c := s.Clocks(inc, time.Time{}, t0.Add(at))
			return c[0].State, c[1].State
		}
		for _, tc := range []struct {
			at        time.Duration
			customers string
		}{{2 * time.Hour, incident.ClockRunning}, {12 * time.Hour, incident.ClockHalf}, {22 * time.Hour, incident.ClockNear}, {25 * time.Hour, incident.ClockOverdue}} {
			if got, _ := state(tc.at); got != tc.customers {
				t.Errorf("customers' clock at +%v: %s, want %s", tc.at, got, tc.customers)
			}
		}
		if _, reg := state(80 * time.Hour); reg != incident.ClockOverdue {
			t.Errorf("regulator's clock at +80h: %s", reg)
		}
		if err := s.Decide(ctx, inc.ID, incident.Decision{PersonalData: true, Reasoning: "addresses tried, none signed in"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		if _, reg := state(80 * time.Hour); reg != incident.ClockNotDue {
			t.Errorf("regulator's clock without a risk: %s", reg)
		}
		if err := s.Decide(ctx, inc.ID, incident.Decision{PersonalData: true, Risk: true, HighRisk: true, Reasoning: " "}, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("decision without reasoning: %v", err)
		}
		if err := s.Decide(ctx, inc.ID, incident.Decision{PersonalData: true, Risk: true, Reasoning: "some passwords were right"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		clock.Set(t0.Add(80 * time.Hour))
		if err := s.RecordSubmission(ctx, inc.ID, incident.Submission{Authority: "CNIL", Reference: "2026-123"}, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("late submission without the reason: %v", err)
		}
		if err := s.RecordSubmission(ctx, inc.ID, incident.Submission{Authority: "CNIL", Reference: "2026-123", LateReason: "the scope took 3 days to establish"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		if _, reg := state(80 * time.Hour); reg != incident.ClockLate {
			t.Errorf("regulator's clock after a late submission: %s", reg)
		}
	})
}

// TestAffectedFromRecords (CP-7.2): the affected customers are found from
// the portal's records and kept as a snapshot: the accounts that signed
// in from a network in a window, an alert's customers, every customer.
func TestAffectedFromRecords(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l := setup(t, d)
		for _, a := range []string{"c1", "c2", "c3"} {
			account(t, d, a, "customer")
		}
		account(t, d, "staff1", "support")
		signIn := func(acct, network string) {
			ctx := audit.WithRequest(ctx, audit.Request{IP: network})
			if _, err := l.Record(ctx, audit.Event{Action: "login.success", Target: "account:" + acct, Outcome: audit.Success}); err != nil {
				t.Fatal(err)
			}
		}
		signIn("c3", "203.0.113.0/24") // before the window
		clock.Add(time.Hour)
		signIn("c1", "203.0.113.0/24")
		signIn("c2", "203.0.113.0/24")
		signIn("c3", "198.51.100.0/24") // another network
		signIn("staff1", "203.0.113.0/24")
		clock.Add(time.Hour)
		exec(t, d, `INSERT INTO alerts (id, rule, severity, group_key, subject_kind, subject, summary, accounts, networks, evidence,
			state, occurrences, first_at, last_at, updated_at) VALUES ('al2', 'brute_force', 'medium', 'k2', 'account', 'c2', 's', '["c2","staff1"]', '[]', '[]',
			'escalated', 1, $1, $1, $1)`, clock.Now())
		// Sessions: c1's in use across the window, c2's ended before it,
		// c3's opened inside it and ended inside it, staff1's (not a
		// customer) across it.
		session := func(id, acct string, from, seen time.Duration, ended bool) {
			var end any
			var reason any
			if ended {
				end, reason = t0.Add(seen), "logout"
			}
			exec(t, d, `INSERT INTO sessions (id, secret_hash, account_id, role, aal, methods, created_at, last_seen_at, reauth_at, expires_at,
				ip_enc, user_agent_enc, device, country, ended_at, end_reason) VALUES ($1, $2, $3, 'customer', 2, 'password', $4, $5, $4, $6, $7, $7, 'd', 'FR', $8, $9)`,
				id, make([]byte, 32), acct, t0.Add(from), t0.Add(seen), t0.Add(12*time.Hour), []byte("x"), end, reason)
		}
		session("s1", "c1", 0, 3*time.Hour, false)
		session("s2", "c2", 0, 80*time.Minute, true)
		session("s3", "c3", 100*time.Minute, 120*time.Minute, true)
		session("s4", "staff1", 0, 3*time.Hour, false)
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Stolen passwords", Severity: "high", Category: "takeover"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			q    incident.Query
			want int
		}{
			{incident.Query{Kind: "network", Network: "203.0.113.0/24", From: t0.Add(30 * time.Minute), To: t0.Add(90 * time.Minute)}, 2},
			{incident.Query{Kind: "alert", Alert: "al2"}, 1},
			{incident.Query{Kind: "session", From: t0.Add(90 * time.Minute), To: t0.Add(150 * time.Minute)}, 2},
			{incident.Query{Kind: "all"}, 3},
		} {
			n, err := s.SetAffected(ctx, inc.ID, tc.q)
			if err != nil || n != tc.want {
				t.Fatalf("%s: %d affected, %v; want %d", tc.q.Kind, n, err, tc.want)
			}
			got, _ := s.Get(ctx, inc.ID)
			if got.Affected != tc.want || got.AffectedQuery == "" {
				t.Errorf("%s: snapshot %d, query %q", tc.q.Kind, got.Affected, got.AffectedQuery)
			}
		}
		if _, err := s.SetAffected(ctx, inc.ID, incident.Query{Kind: "network", Network: "203.0.113.0/24"}); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("a network without a window: %v", err)
		}
	})
}

// TestAwarenessMovesTheRegulatorClock (MTL-5.1.1): awareness of a
// personal-data breach later than detection, with its reason, moves the
// regulator's clock and not the customers'; it cannot precede detection,
// be in the future, or come without a reason.
func TestAwarenessMovesTheRegulatorClock(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := setup(t, d)
		inc, err := s.Open(ctx, incident.NewIncident{Title: "Exposed bucket", Severity: "high", Category: "data exposure"}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		clock.Add(6 * time.Hour)
		for name, c := range map[string]struct {
			at     time.Time
			reason string
		}{
			"no reason":        {t0.Add(5 * time.Hour), " "},
			"before detection": {t0.Add(-time.Hour), "logs"},
			"in the future":    {t0.Add(7 * time.Hour), "logs"},
		} {
			if err := s.SetAwareness(ctx, inc.ID, c.at, c.reason, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := s.SetAwareness(ctx, inc.ID, t0.Add(5*time.Hour), "The bucket's contents were listed at 14:00: customer exports.", "sec1"); err != nil {
			t.Fatal(err)
		}
		inc, _ = s.Get(ctx, inc.ID)
		cl := s.Clocks(inc, time.Time{}, clock.Now())
		if !cl[0].Due.Equal(t0.Add(24*time.Hour)) || !cl[1].Due.Equal(t0.Add(77*time.Hour)) || inc.AwareReason == "" {
			t.Errorf("customers due %v, regulator due %v, reason %q", cl[0].Due, cl[1].Due, inc.AwareReason)
		}
	})
}
