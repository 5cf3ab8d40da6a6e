package incident_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/incident"
)

// TestWarnClocks (CP-7.1, MTL-5.1.1): an open incident's clocks warn at
// half time, in the last tenth and once overdue, once each, audited with
// the delivery in one transaction; a met clock, a regulator clock the
// breach decision found not due and a closed incident never warn; a
// failed delivery records nothing and is tried again; the pass runs on
// the node that holds the lease.
func TestWarnClocks(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, l := setup(t, d)
		var got []string // "title clock state"
		var fail error
		s.SetWarned(func(ctx context.Context, tx *db.Tx, w incident.Warning) error {
			if fail != nil {
				return fail
			}
			got = append(got, w.Title+" "+w.Clock+" "+w.State)
			return nil
		})
		open := func(title string) incident.Incident {
			t.Helper()
			inc, err := s.Open(ctx, incident.NewIncident{Title: title, Severity: "high", Category: "exposure"}, "sec1")
			if err != nil {
				t.Fatal(err)
			}
			return inc
		}
		plain := open("plain")
		told := open("told")       // customers told after an hour: met
		noRisk := open("no risk")  // the regulator's clock is not due
		closed := open("closed")   // closed before half time
		submitted := open("filed") // the regulator's report went in at once: met
		// The breach notice of "told" went out after an hour.
		exec(t, d, `INSERT INTO incident_notices (id, incident_id, kind, title, created_at, created_by, updated_at, sent_at, sent_by)
			VALUES ('n-told', $1, 'breach', 'Notice', $2, 'sec1', $2, $3, 'sec1')`, told.ID, t0, t0.Add(time.Hour))
		clock.Add(time.Hour)
		if err := s.Decide(ctx, noRisk.ID, incident.Decision{PersonalData: true, Reasoning: "Hashed e-mail addresses, no risk."}, "sec1"); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordSubmission(ctx, submitted.ID, incident.Submission{Authority: "ICO", Reference: "R-1"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		exec(t, d, `UPDATE incidents SET phase = 'closed', closed_at = $1 WHERE id = $2`, clock.Now(), closed.ID)

		pass := func(t *testing.T, at time.Duration, want ...string) {
			t.Helper()
			clock.Set(t0.Add(at))
			got = nil
			n, err := s.WarnClocks(ctx)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			slices.Sort(want)
			if n != len(want) || !slices.Equal(got, want) {
				t.Fatalf("at +%s: %d warnings %q, want %q", at, n, got, want)
			}
		}
		t.Run("nothing before half time", func(t *testing.T) {
			pass(t, 12*time.Hour-time.Second)
		})
		t.Run("half time, once", func(t *testing.T) {
			pass(t, 12*time.Hour, "plain customers half", "no risk customers half", "filed customers half")
			pass(t, 13*time.Hour) // a second pass adds nothing
		})
		t.Run("a failed delivery records nothing and is tried again", func(t *testing.T) {
			clock.Set(t0.Add(22 * time.Hour))
			fail = errors.New("mail down")
			if n, err := s.WarnClocks(ctx); !errors.Is(err, fail) || n != 0 {
				t.Fatalf("failing delivery: %d, %v", n, err)
			}
			fail = nil
			pass(t, 22*time.Hour, "plain customers near", "no risk customers near", "filed customers near")
		})
		t.Run("overdue, once", func(t *testing.T) {
			pass(t, 24*time.Hour+time.Second, "plain customers overdue", "no risk customers overdue", "filed customers overdue")
			pass(t, 25*time.Hour)
		})
		t.Run("the regulator's clock, unless not due or met", func(t *testing.T) {
			pass(t, 36*time.Hour, "plain regulator half", "told regulator half")
			pass(t, 66*time.Hour, "plain regulator near", "told regulator near")
			pass(t, 72*time.Hour+time.Second, "plain regulator overdue", "told regulator overdue")
			pass(t, 100*time.Hour)
		})
		t.Run("audited with the clock, state and due time", func(t *testing.T) {
			recs, err := l.After(ctx, 0, 10000)
			if err != nil {
				t.Fatal(err)
			}
			var warnings []string
			for _, r := range recs {
				if r.Action != "incident.clock_warning" {
					continue
				}
				var det struct{ Clock, State, Due string }
				if err := json.Unmarshal(r.Details, &det); err != nil {
					t.Fatal(err)
				}
				warnings = append(warnings, fmt.Sprintf("%s %s %s %s", r.Target, det.Clock, det.State, det.Due))
			}
			if len(warnings) != 15 {
				t.Fatalf("%d warnings audited, want 15: %q", len(warnings), warnings)
			}
			due := t0.Add(24 * time.Hour).Format(time.RFC3339)
			if want := "incident:" + plain.ID + " customers half " + due; !slices.Contains(warnings, want) {
				t.Errorf("no %q in %q", want, warnings)
			}
		})
	})
}

// TestWarnClocksRunHoldsTheLease (CP-7.1, MTL-1.1): the warnings go out
// only from the node holding the lease incident.warnings.
func TestWarnClocksRunHoldsTheLease(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := setup(t, d)
		if _, err := s.Open(ctx, incident.NewIncident{Title: "leased", Severity: "low", Category: "exposure"}, "sec1"); err != nil {
			t.Fatal(err)
		}
		clock.Add(13 * time.Hour)
		if ok, _, err := d.TakeLease(ctx, "incident.warnings", "another-node", time.Hour); err != nil || !ok {
			t.Fatalf("lease: %v %v", ok, err)
		}
		warned := func() int {
			var n int
			if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM incident_clock_warnings`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		run := func() {
			ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			s.Run(ctx, 20*time.Millisecond, nil)
		}
		run()
		if n := warned(); n != 0 {
			t.Fatalf("%d warnings while another node held the lease", n)
		}
		clock.Add(time.Hour + time.Second) // the other node's lease ran out
		run()
		if n := warned(); n != 1 {
			t.Fatalf("%d warnings once the lease was free, want 1", n)
		}
	})
}
