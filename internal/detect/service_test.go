package detect_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// stuff records n unknown-address sign-in failures from one network, as
// identity records them.
func stuff(t *testing.T, l *audit.Log, clock *dbtest.Clock, n int) {
	t.Helper()
	for i := range n {
		ctx := audit.WithRequest(context.Background(), audit.Request{IP: fmt.Sprintf("203.0.113.%d", 10+i%5)})
		if _, err := l.Record(ctx, audit.Event{Action: "login.failure", Target: "account:unknown", Outcome: audit.Failure,
			Details: map[string]any{"reason": "unknown_account"}}); err != nil {
			t.Fatal(err)
		}
		clock.Add(5 * time.Second)
	}
}

func newService(t *testing.T, d *db.DB, l *audit.Log) *detect.Service {
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	return detect.New(detect.Deps{DB: d, Audit: l, Profile: p, Geo: testGeo(t)})
}

func step(t *testing.T, s *detect.Service) {
	t.Helper()
	for {
		n, err := s.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// TestStuffingRaisesAlertAndThrottles (CP-8.2, CP-3.2): credential stuffing
// recorded in the audit trail raises one alert with its evidence, throttles
// the network until the security team undoes it, and a repeat after the
// rule's cool-down is grouped into the same open alert.
func TestStuffingRaisesAlertAndThrottles(t *testing.T) {
	clock := dbtest.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		s := newService(t, d, l)
		m := detect.NewMetrics(prometheus.NewRegistry())
		s.SetMetrics(m)
		stuff(t, l, clock, 25)
		step(t, s)
		if n := testutil.ToFloat64(m.RuleHits.WithLabelValues(detect.RuleCredentialStuffing)); n != 1 {
			t.Errorf("rule hits metric %v, want 1 (CP-8.1)", n)
		}
		alerts, err := s.Alerts(ctx, detect.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts) != 1 || alerts[0].Rule != detect.RuleCredentialStuffing || alerts[0].Subject != "203.0.113.0/24" || len(alerts[0].Evidence) < 20 {
			t.Fatalf("alerts %+v, want one credential_stuffing on 203.0.113.0/24 with its evidence", alerts)
		}
		a := alerts[0]
		if d, err := s.ThrottledFor(ctx, "203.0.113.99"); err != nil || d <= 0 {
			t.Fatalf("network not throttled after stuffing: %v, %v", d, err)
		}
		if d, _ := s.ThrottledFor(ctx, "198.51.100.1"); d != 0 {
			t.Fatalf("another network throttled: %v", d)
		}

		// The same attack after the cool-down: grouped, not duplicated.
		clock.Add(15 * time.Minute)
		stuff(t, l, clock, 25)
		step(t, s)
		alerts, _ = s.Alerts(ctx, detect.Filter{})
		if len(alerts) != 1 || alerts[0].ID != a.ID || alerts[0].Occurrences != 2 {
			t.Fatalf("repeat not grouped: %+v", alerts)
		}

		// Undo the throttle: the network may sign in again.
		rs, err := s.Responses(ctx, a.ID)
		if err != nil || len(rs) != 1 || rs[0].Action != policy.RespondThrottle {
			t.Fatalf("responses %+v, %v", rs, err)
		}
		if err := s.Undo(ctx, rs[0].ID, "sec1"); err != nil {
			t.Fatal(err)
		}
		if d, _ := s.ThrottledFor(ctx, "203.0.113.99"); d != 0 {
			t.Fatalf("throttle still on after undo: %v", d)
		}
		if err := s.Undo(ctx, rs[0].ID, "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("undo twice: %v", err)
		}

		// Triage: a dismissal needs its reason; a dismissed alert is not
		// reopened by the next attack, which raises a new one.
		if err := s.SetState(ctx, a.ID, detect.StateDismissed, " ", "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("dismissed without a reason: %v", err)
		}
		if err := s.SetState(ctx, a.ID, detect.StateDismissed, "pen test", "sec1"); err != nil {
			t.Fatal(err)
		}
		clock.Add(15 * time.Minute)
		stuff(t, l, clock, 25)
		step(t, s)
		open, _ := s.Alerts(ctx, detect.Filter{})
		if len(open) != 1 || open[0].ID == a.ID {
			t.Fatalf("after dismissal: %+v", open)
		}
		// Every decision is in the audit trail.
		found := map[string]bool{}
		recs, _ := l.After(ctx, 0, 10000)
		for _, r := range recs {
			found[r.Action] = true
		}
		for _, want := range []string{"alert.raise", "alert.repeat", "detect.respond", "detect.undo", "alert.dismiss"} {
			if !found[want] {
				t.Errorf("no %s event in the audit trail", want)
			}
		}
	})
}

// TestDetectorResumesWithoutRepeating (CP-8.2): a node that takes over the
// rules (or restarts) rebuilds their windows from the trail and neither
// raises again what was raised nor misses what comes next.
func TestDetectorResumesWithoutRepeating(t *testing.T) {
	clock := dbtest.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		first := newService(t, d, l)
		stuff(t, l, clock, 25)
		step(t, first)
		// The first node dies; its lease runs out; another takes over.
		clock.Add(time.Minute)
		second := newService(t, d, l)
		step(t, second)
		if alerts, _ := second.Alerts(ctx, detect.Filter{}); len(alerts) != 1 || alerts[0].Occurrences != 1 {
			t.Fatalf("takeover raised again: %+v", alerts)
		}
		// Within the first node's lease, the second does nothing.
		if n, err := first.Step(ctx); n != 0 || err != nil {
			t.Fatalf("two nodes ran the rules: %d, %v", n, err)
		}
	})
}

// TestRunReleasesLeaseOnStop (MTL-1.1, CP-8.2): a node whose detection
// stops gives the rules' lease back, so that another node runs the rules
// at once instead of after the lease's 30 s, in which nothing would be
// watched.
func TestRunReleasesLeaseOnStop(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := audit.New(d)
		first := newService(t, d, l)
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			first.Run(ctx, time.Hour)
		}()
		// Wait until the first node holds the lease: a second is refused.
		second := newService(t, d, l)
		deadline := time.Now().Add(10 * time.Second)
		for {
			p, err := second.Progress(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !p.LeaseUntil.IsZero() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the first node never took the lease")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := l.Record(context.Background(), audit.Event{Action: "login.failure", Target: "account:unknown", Outcome: audit.Failure}); err != nil {
			t.Fatal(err)
		}
		if n, err := second.Step(context.Background()); n != 0 || err != nil {
			t.Fatalf("a second node ran the rules while the first held them: %d, %v", n, err)
		}
		stop()
		<-done
		if n, err := second.Step(context.Background()); n == 0 || err != nil {
			t.Fatalf("the stopped node kept the rules' lease: the second read %d events (%v)", n, err)
		}
	})
}
