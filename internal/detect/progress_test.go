package detect_test

import (
	"context"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestProgress (CP-8.1): the rules' cursor, the trail's head, the oldest
// event not read yet and the lease are read from the database, as any
// process sees them.
func TestProgress(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		l := audit.New(d)
		s := newService(t, d, l)
		p, err := s.Progress(ctx)
		if err != nil || p.Cursor != 0 || p.Head != 0 || !p.LeaseUntil.IsZero() || !p.OldestUnread.IsZero() {
			t.Fatalf("before any run: %+v, %v", p, err)
		}
		stuff(t, l, clock, 2) // two events, 5 s apart
		step(t, s)
		if p, err = s.Progress(ctx); err != nil || p.Cursor != 2 || p.Head != 2 || !p.OldestUnread.IsZero() || !p.LeaseUntil.After(d.Now()) {
			t.Fatalf("after a step: %+v, %v", p, err)
		}
		at := d.Now()
		stuff(t, l, clock, 1)
		if p, err = s.Progress(ctx); err != nil || p.Cursor != 2 || p.Head != 3 || !p.OldestUnread.Equal(at) {
			t.Fatalf("an event unread since %s: %+v, %v", at, p, err)
		}
	})
}
