package detect_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/detect"
)

// TestReplayMatchesServer (CP-8.2): the replay and the server run the same
// rules. Each sign-in fixture, recorded as sign-in would record it in the
// audit trail and read by the server's detector, raises the same alerts
// (rule and subject) as `portico detect replay` over the fixture.
func TestReplayMatchesServer(t *testing.T) {
	cfg := profile(t)
	files, err := filepath.Glob(filepath.Join("testdata", "signin", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatal("no fixtures", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			var want []string
			for _, a := range replayFixture(t, cfg, name) {
				subject := a.Networks[0]
				if len(a.Emails) == 1 && a.Rule != detect.RuleCredentialStuffing && a.Rule != detect.RulePasswordSpraying {
					subject = a.Emails[0]
				}
				want = append(want, a.Rule+"|"+subject)
			}
			clock := dbtest.NewClock(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
			dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
				l := audit.New(d)
				f, err := os.Open(file)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					var a detect.Attempt
					if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
						t.Fatal(err)
					}
					clock.Set(a.Time)
					record(t, l, a)
				}
				// The detector reads the last day live on its first run.
				s := newService(t, d, l)
				step(t, s)
				var got []string
				alerts, err := s.Alerts(context.Background(), detect.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range alerts {
					got = append(got, a.Rule+"|"+a.Subject)
				}
				slices.Sort(got)
				w := slices.Clone(want)
				slices.Sort(w)
				if !slices.Equal(got, w) {
					t.Fatalf("server raised %v, replay %v", got, w)
				}
			})
		})
	}
}

// record writes an attempt as identity records it: login.failure with its
// reason (account:unknown for an unknown address), login.success.
func record(t *testing.T, l *audit.Log, a detect.Attempt) {
	t.Helper()
	ctx := audit.WithRequest(context.Background(), audit.Request{IP: a.IP, UserAgent: a.UserAgent})
	e := audit.Event{Action: "login.success", Target: "account:" + a.Email, Outcome: audit.Success,
		Details: map[string]any{"methods": []string{"password", "totp"}}}
	if a.Outcome == "failure" {
		reason := map[string]string{"": "bad_password", "bad_password": "bad_password", "unknown_account": "unknown_account",
			"bad_second_factor": "bad_code", "locked": "locked"}[a.Reason]
		e = audit.Event{Action: "login.failure", Target: "account:" + a.Email, Outcome: audit.Failure, Details: map[string]any{"reason": reason}}
		if reason == "unknown_account" {
			e.Target = "account:unknown"
		}
	}
	if _, err := l.Record(ctx, e); err != nil {
		t.Fatal(err)
	}
}
