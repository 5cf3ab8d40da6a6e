package alertout

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestPrune (CP-8.1, CP-5.2): delivered alerts leave the outbox once sent
// longer ago than the sent period, alerts that failed for good once queued
// longer ago than the failed period (never with 0), and pending alerts
// never, however old.
func TestPrune(t *testing.T) {
	eachWithClock(t, func(t *testing.T, d *db.DB, c *dbtest.Clock) {
		ctx := context.Background()
		s, _ := newTestService(t, d, Config{WebhookURL: "http://127.0.0.1:9/alerts", WebhookSecret: testSecret})
		// mark queues an alert now and gives it status.
		mark := func(id, status string) {
			t.Helper()
			queue(t, s, alert{ID: id, Rule: "r", Severity: "low"})
			if err := d.Transact(ctx, func(tx *db.Tx) error {
				q := `UPDATE alert_outbox SET status = $1, sent_at = NULL WHERE payload LIKE $2`
				if status == "sent" {
					q = `UPDATE alert_outbox SET status = $1, sent_at = created_at WHERE payload LIKE $2`
				}
				_, err := tx.ExecContext(ctx, q, status, `%"id":"`+id+`"%`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		left := func() []string {
			t.Helper()
			var out []string
			for _, r := range rows(t, d) {
				out = append(out, r.status+":"+payloadFields([]byte(r.payload), "id")["id"])
			}
			slices.Sort(out)
			return out
		}
		prune := func(sent, failed time.Duration, want int) {
			t.Helper()
			n, err := s.Prune(ctx, sent, failed)
			if err != nil || n != want {
				t.Fatalf("Prune = %d, %v; want %d", n, err, want)
			}
		}

		mark("old-sent", "sent")
		mark("old-pending", "pending")
		mark("old-failed", "failed")
		c.Add(20 * 24 * time.Hour)
		mark("new-sent", "sent")
		mark("new-failed", "failed")
		c.Add(15 * 24 * time.Hour)

		prune(DefaultKeepSent, 365*24*time.Hour, 1)
		if got, want := left(), []string{"failed:new-failed", "failed:old-failed", "pending:old-pending", "sent:new-sent"}; !slices.Equal(got, want) {
			t.Fatalf("after the first prune: %v, want %v", got, want)
		}
		c.Add(400 * 24 * time.Hour)
		prune(DefaultKeepSent, 0, 1) // failed alerts kept
		prune(DefaultKeepSent, 365*24*time.Hour, 2)
		if got, want := left(), []string{"pending:old-pending"}; !slices.Equal(got, want) {
			t.Fatalf("after the second prune: %v, want %v", got, want)
		}
		if _, err := s.Prune(ctx, 0, 0); err == nil {
			t.Fatal("Prune kept nothing for a zero sent period")
		}
	})
}
