package audit_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestExport: the SIEM export (CP-5.3, CP-8.1) is JSON Lines in seq order,
// holds every hashed field, and respects --since.
func TestExport(t *testing.T) {
	base := time.Date(2026, 3, 1, 8, 0, 0, 123456789, time.UTC)
	var tick atomic.Int64
	// Every transaction (and every head read) is one minute after the last.
	clock := func() time.Time { return base.Add(time.Duration(tick.Add(1)) * time.Minute) }
	dbtest.EachWith(t, dbtest.Options{Now: clock}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		const n = 1100 // more than one export batch
		recs := make([]audit.Record, 0, n)
		err := d.Transact(ctx, func(tx *db.Tx) error {
			for i := range n - 10 {
				r, err := l.Append(ctx, tx, event(i))
				if err != nil {
					return err
				}
				recs = append(recs, r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rctx := audit.WithRequest(ctx, audit.Request{IP: "2001:db8::1", UserAgent: `Agent "quoted" <b>`, RequestID: "req-7"})
		for i := range 10 {
			r, err := l.Record(rctx, event(i))
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}

		t.Run("all events, each line complete and in order", func(t *testing.T) {
			var buf bytes.Buffer
			got, err := l.Export(ctx, &buf, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			lines := parseLines(t, buf.Bytes())
			if got != n || len(lines) != n {
				t.Fatalf("exported %d, parsed %d lines, want %d", got, len(lines), n)
			}
			for i, e := range lines {
				r := recs[i]
				if e.Seq != r.Seq || e.Hash != hex.EncodeToString(r.Hash) || e.PrevHash != hex.EncodeToString(r.PrevHash) ||
					e.Actor != r.Actor || e.Action != r.Action || e.Target != r.Target || e.Outcome != r.Outcome ||
					e.IP != r.IP || e.UserAgent != r.UserAgent || e.RequestID != r.RequestID ||
					e.At != r.At.Format("2006-01-02T15:04:05.000000Z") || !bytes.Equal(e.Details, r.Details) {
					t.Fatalf("line %d = %+v, want record %+v", i+1, e, r)
				}
				// Anyone can check the chain from the export alone.
				if h := canonicalHash(t, e); h != e.Hash {
					t.Fatalf("line %d: recomputed hash %s, exported %s", i+1, h, e.Hash)
				}
				var details map[string]any
				if err := json.Unmarshal(e.Details, &details); err != nil || details["reason"] != "because" {
					t.Fatalf("line %d details %s: %v", i+1, e.Details, err)
				}
			}
			last := lines[n-1]
			if last.IP != "2001:db8::1" || last.UserAgent != `Agent "quoted" <b>` || last.RequestID != "req-7" {
				t.Fatalf("request fields = %+v", last)
			}
		})

		t.Run("since skips older events", func(t *testing.T) {
			since := recs[n-4].At // the fourth-last Record
			for _, s := range []time.Time{since, since.Add(-time.Nanosecond), since.In(time.FixedZone("X", -5*3600))} {
				var buf bytes.Buffer
				got, err := l.Export(ctx, &buf, s)
				if err != nil {
					t.Fatal(err)
				}
				lines := parseLines(t, buf.Bytes())
				if got != 4 || len(lines) != 4 || lines[0].Seq != recs[n-4].Seq {
					t.Fatalf("since %v: exported %d events from %v, want the last 4", s, got, lines)
				}
			}
			// Rounded up: an event a fraction of a microsecond earlier is out.
			var buf bytes.Buffer
			if got, err := l.Export(ctx, &buf, since.Add(time.Nanosecond)); err != nil || got != 3 {
				t.Fatalf("since just after = %d, %v; want 3", got, err)
			}
		})

		t.Run("since in the future exports nothing", func(t *testing.T) {
			var buf bytes.Buffer
			got, err := l.Export(ctx, &buf, base.Add(1000*time.Hour))
			if err != nil || got != 0 || buf.Len() != 0 {
				t.Fatalf("exported %d (%q), %v; want nothing", got, buf.String(), err)
			}
		})
	})
}

// TestExportOfAlteredRow: a row whose time was replaced by text by hand is
// still exported (as that text), so the SIEM sees the tampering instead of
// an export that stops (CP-5.3).
func TestExportOfAlteredRow(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	l := audit.New(d)
	seed(t, l, 5)
	dropTriggers(t, d)
	execSQL(t, d, "UPDATE audit_events SET at = 'yesterday' WHERE seq = 3")
	lines := exportAll(t, l)
	if len(lines) != 5 || lines[2].At != "yesterday" {
		t.Fatalf("export = %d lines, line 3 at %q", len(lines), lines[min(2, len(lines)-1)].At)
	}
}
