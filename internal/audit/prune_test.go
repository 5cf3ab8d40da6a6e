package audit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestPrune: events older than the retention period leave the start of the
// chain; the shortened chain verifies from its new start; rows past the
// latest prune still cannot be deleted; and a prune recorded by hand,
// without its event in the chain, is found (CP-5.2, CP-5.3).
func TestPrune(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	dbtest.EachWith(t, dbtest.Options{Now: clock}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		mu.Lock()
		now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		mu.Unlock()
		for i := 0; i < 10; i++ {
			if err := d.Transact(ctx, func(tx *db.Tx) error {
				_, err := l.Append(ctx, tx, audit.Event{Actor: "system", Action: "test.event", Target: "x:1", Outcome: audit.Success})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			now = now.Add(24 * time.Hour)
			mu.Unlock()
		}
		cutoff := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // events 1-4 are older
		n, err := l.Prune(ctx, cutoff, 2)
		if err != nil || n != 2 {
			t.Fatalf("bounded prune: %d %v", n, err)
		}
		if n, err = l.Prune(ctx, cutoff, 1000); err != nil || n != 2 {
			t.Fatalf("second prune: %d %v", n, err)
		}
		if n, _ = l.Prune(ctx, cutoff, 1000); n != 0 {
			t.Fatalf("nothing left to prune, pruned %d", n)
		}
		res, err := l.Verify(ctx, audit.VerifyOptions{BatchSize: 3})
		if err != nil || !res.OK {
			t.Fatalf("the pruned chain does not verify: %+v %v", res, err)
		}
		if countEvents(t, d) != 8 { // 6 kept + 2 prune events
			t.Errorf("events %d", countEvents(t, d))
		}
		// Rows past the prune are still protected.
		err = d.Transact(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE seq = 6`)
			return err
		})
		if err == nil {
			t.Fatal("an event past the prune was deleted")
		}
		// A prune faked by hand: recorded, rows deleted, no event.
		err = d.Transact(ctx, func(tx *db.Tx) error {
			var h []byte
			tx.QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE seq = 6`).Scan(&h)
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_prunes (through_seq, through_hash, pruned_at, events) VALUES (6, $1, $2, 2)`, h, tx.Now()); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE seq <= 6`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := l.Verify(ctx, audit.VerifyOptions{}); err != nil || res.OK || res.Break != audit.BreakMissing {
			t.Errorf("a prune without its event verified: %+v %v", res, err)
		}
	})
}
