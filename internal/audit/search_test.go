package audit_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestSearch: auditors find events by actor, action prefix, target and
// time range, newest first, page by page; the export of a search holds
// the same events in chain order (CP-5.3, MTL-7.2).
func TestSearch(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	dbtest.EachWith(t, dbtest.Options{Now: clock}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		mu.Lock()
		now = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
		mu.Unlock()
		add := func(actor, action, target string) {
			t.Helper()
			if err := d.Transact(ctx, func(tx *db.Tx) error {
				_, err := l.Append(ctx, tx, audit.Event{Actor: actor, Action: action, Target: target, Outcome: audit.Success})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			now = now.Add(time.Minute)
			mu.Unlock()
		}
		for i := 0; i < 5; i++ {
			add("account:a", "account.role.change", "account:x")
		}
		add("account:b", "account.role.request", "account:y")
		add("account:b", "accountxrole.x", "account:y") // would match an unescaped LIKE pattern "account_role"
		add("system", "session.expire", "session:s")

		got, err := l.Search(ctx, audit.Filter{Action: "account.role"})
		if err != nil || len(got) != 6 || got[0].Action != "account.role.request" {
			t.Fatalf("action prefix: %d %v", len(got), err)
		}
		if got, _ := l.Search(ctx, audit.Filter{Action: "account_role"}); len(got) != 0 {
			t.Errorf("the _ of the input was a wildcard: %d", len(got))
		}
		if got, _ := l.Search(ctx, audit.Filter{Actor: "account:b", Target: "account:y"}); len(got) != 2 {
			t.Errorf("actor and target: %d", len(got))
		}
		from := time.Date(2026, 11, 25, 9, 1, 0, 0, time.UTC)
		to := time.Date(2026, 11, 25, 9, 3, 0, 0, time.UTC)
		if got, _ := l.Search(ctx, audit.Filter{From: from, To: to}); len(got) != 2 {
			t.Errorf("time range [from, to): %d", len(got))
		}
		// Stored times have microseconds: a bound between two is rounded
		// up, so an event at 09:01:00 is before 09:01:00.0000005.
		if got, _ := l.Search(ctx, audit.Filter{From: from.Add(500 * time.Nanosecond), To: to}); len(got) != 1 {
			t.Errorf("time range from a sub-microsecond bound: %d", len(got))
		}
		page1, _ := l.Search(ctx, audit.Filter{Limit: 3})
		page2, _ := l.Search(ctx, audit.Filter{Limit: 3, Before: page1[2].Seq})
		if len(page1) != 3 || len(page2) != 3 || page2[0].Seq != page1[2].Seq-1 {
			t.Errorf("pages: %v / %v", page1, page2)
		}
		var buf bytes.Buffer
		n, err := l.ExportFiltered(ctx, &buf, audit.Filter{Actor: "account:a"})
		if err != nil || n != 5 || strings.Count(buf.String(), "\n") != 5 {
			t.Errorf("export: %d %v", n, err)
		}

		// ExportScope counts up to the head; an export bounded by it
		// leaves out what was appended after, such as the record of the
		// export itself.
		count, head, err := l.ExportScope(ctx, audit.Filter{Actor: "account:a"})
		if err != nil || count != 5 || head != 8 {
			t.Fatalf("scope: %d events up to %d, %v", count, head, err)
		}
		add("account:a", "audit.export", "audit:trail")
		buf.Reset()
		if n, err := l.ExportFiltered(ctx, &buf, audit.Filter{Actor: "account:a", Before: head + 1}); err != nil || n != count {
			t.Errorf("bounded export: %d, want %d (%v)", n, count, err)
		}
		if count, head, err := l.ExportScope(ctx, audit.Filter{}); err != nil || count != 9 || head != 9 {
			t.Errorf("scope of everything: %d up to %d, %v", count, head, err)
		}
	})
}
