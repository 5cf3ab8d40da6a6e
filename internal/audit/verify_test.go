package audit_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestChainVerifies: an untouched chain verifies, across many batches, and
// each record links to the one before (CP-5.3, MTL-1.1).
func TestChainVerifies(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		recs := seed(t, l, 120)
		for i := 1; i < len(recs); i++ {
			if recs[i].Seq != recs[i-1].Seq+1 || !bytes.Equal(recs[i].PrevHash, recs[i-1].Hash) {
				t.Fatalf("record %d does not follow record %d", recs[i].Seq, recs[i-1].Seq)
			}
		}
		last := recs[len(recs)-1]
		for _, opts := range []audit.VerifyOptions{{}, {BatchSize: 1}, {BatchSize: 7, Workers: 1}, {BatchSize: 7, Workers: 5}, {BatchSize: 30}, {BatchSize: 1000}} {
			batch := opts.BatchSize
			res, err := l.Verify(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || res.Events != 120 || res.BrokenAt != 0 || res.Reason != "" {
				t.Fatalf("batch %d: verify = %+v, want OK with 120 events", batch, res)
			}
			if res.Head.Seq != last.Seq || !bytes.Equal(res.Head.Hash, last.Hash) {
				t.Fatalf("head = %v, want %d:%x", res.Head, last.Seq, last.Hash)
			}
		}
		anchor := audit.Anchor{Seq: 60, Hash: recs[59].Hash}
		if res, err := l.Verify(ctx, audit.VerifyOptions{Anchor: &anchor}); err != nil || !res.OK {
			t.Fatalf("verify with a matching anchor = %+v, %v", res, err)
		}
	})
}

// TestVerifyFindsTampering edits the database directly, as an attacker with
// database access would (dropping the triggers first), and checks that
// Verify names the first broken event and why (CP-5.3, MTL-1.1).
func TestVerifyFindsTampering(t *testing.T) {
	const n = 30
	type tamper struct {
		name   string
		do     func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record)
		anchor bool // verify with the head read before tampering
		at     int64
		brk    audit.Break
	}
	update := func(set string, args ...any) func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
		return func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			execSQL(t, d, "UPDATE audit_events SET "+set+" WHERE seq = 12", args...)
		}
	}
	cases := []tamper{
		{name: "altered actor", do: update("actor = 'account:0000'"), at: 12, brk: audit.BreakAltered},
		{name: "altered action", do: update("action = 'test.other'"), at: 12, brk: audit.BreakAltered},
		{name: "altered target", do: update("target = 'ticket:999'"), at: 12, brk: audit.BreakAltered},
		{name: "altered outcome", do: update("outcome = 'denied'"), at: 12, brk: audit.BreakAltered},
		{name: "altered ip", do: update("ip = '192.0.2.1'"), at: 12, brk: audit.BreakAltered},
		{name: "altered user agent", do: update("user_agent = 'curl'"), at: 12, brk: audit.BreakAltered},
		{name: "altered request id", do: update("request_id = 'r'"), at: 12, brk: audit.BreakAltered},
		{name: "altered details", do: update(`details = '{"n":12,"reason":"other"}'`), at: 12, brk: audit.BreakAltered},
		{name: "altered time", do: update("at = $1", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), at: 12, brk: audit.BreakAltered},
		{name: "altered time by one microsecond", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			execSQL(t, d, "UPDATE audit_events SET at = $1 WHERE seq = 12", recs[11].At.Add(time.Microsecond))
		}, at: 12, brk: audit.BreakAltered},
		{name: "altered stored hash", do: update("hash = $1", make([]byte, 32)), at: 12, brk: audit.BreakAltered},
		{name: "altered prev hash", do: update("prev_hash = $1", make([]byte, 32)), at: 12, brk: audit.BreakLink},
		{name: "altered and rehashed", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			// The attacker recomputes the altered event's hash: the next
			// event's prev_hash gives it away.
			e := exportAll(t, l)[11]
			e.Target = "ticket:999"
			h, _ := hex.DecodeString(canonicalHash(t, e))
			execSQL(t, d, "UPDATE audit_events SET target = $1, hash = $2 WHERE seq = 12", e.Target, h)
		}, at: 13, brk: audit.BreakLink},
		{name: "deleted middle event", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			execSQL(t, d, "DELETE FROM audit_events WHERE seq = 12")
		}, at: 12, brk: audit.BreakMissing},
		{name: "deleted several middle events", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			execSQL(t, d, "DELETE FROM audit_events WHERE seq BETWEEN 12 AND 14")
		}, at: 12, brk: audit.BreakMissing},
		{name: "deleted first event", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			execSQL(t, d, "DELETE FROM audit_events WHERE seq = 1")
		}, at: 1, brk: audit.BreakMissing},
		{name: "renumbered event", do: update("seq = 1000"), at: 12, brk: audit.BreakMissing},
		{name: "truncated tail", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			execSQL(t, d, "DELETE FROM audit_events WHERE seq > 27")
		}, at: 28, brk: audit.BreakTruncated},
		{name: "emptied table", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			execSQL(t, d, "DELETE FROM audit_events")
		}, at: 1, brk: audit.BreakTruncated},
		{name: "truncated tail and head moved back, caught by the anchor", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			execSQL(t, d, "DELETE FROM audit_events WHERE seq > 27")
			execSQL(t, d, "UPDATE audit_head SET seq = 27, hash = $1", recs[26].Hash)
		}, anchor: true, at: 28, brk: audit.BreakTruncated},
		{name: "chain rewritten from the middle, caught by the anchor", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			// The attacker alters event 12 and rehashes everything after
			// it, head included: only an external anchor can tell.
			lines := exportAll(t, l)
			prev := lines[10].Hash
			for i := 11; i < len(lines); i++ {
				e := lines[i]
				if i == 11 {
					e.Target = "ticket:999"
				}
				e.PrevHash = prev
				e.Hash = canonicalHash(t, e)
				ph, _ := hex.DecodeString(e.PrevHash)
				h, _ := hex.DecodeString(e.Hash)
				execSQL(t, d, "UPDATE audit_events SET target = $1, prev_hash = $2, hash = $3 WHERE seq = $4", e.Target, ph, h, e.Seq)
				prev = e.Hash
			}
			h, _ := hex.DecodeString(prev)
			execSQL(t, d, "UPDATE audit_head SET hash = $1", h)
		}, anchor: true, at: n, brk: audit.BreakAnchor},
		{name: "head moved far past the table", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			// A head seq that the walk must not size itself by.
			execSQL(t, d, "UPDATE audit_head SET seq = $1", int64(1)<<62)
		}, at: n + 1, brk: audit.BreakTruncated},
		{name: "head hash changed", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			execSQL(t, d, "UPDATE audit_head SET hash = $1", recs[0].Hash)
		}, at: n, brk: audit.BreakHead},
		{name: "event inserted past the head", do: func(t *testing.T, d *db.DB, l *audit.Log, recs []audit.Record) {
			execSQL(t, d, `INSERT INTO audit_events (seq, at, actor, action, target, outcome, ip, user_agent, request_id, details, prev_hash, hash)
				VALUES ($1, $2, 'x', 'x', 'x', 'success', '', '', '', '{}', $3, $3)`, n+1, time.Now().UTC(), recs[n-1].Hash)
		}, at: n + 1, brk: audit.BreakBeyondHead},
	}
	sqliteOnly := map[string]bool{}
	// SQLite keeps whatever text is written to a column; the walk must
	// report it as an altered row, not stop with a scan error.
	cases = append(cases, tamper{name: "time replaced by text", do: update("at = 'yesterday'"), at: 12, brk: audit.BreakAltered})
	sqliteOnly["time replaced by text"] = true
	dbtest.Each(t, func(t *testing.T, d0 *db.DB) {
		for _, tc := range cases {
			if sqliteOnly[tc.name] && d0.Dialect() != db.SQLite {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				// Each case gets a fresh database of the same dialect.
				var d *db.DB
				if d0.Dialect() == db.Postgres {
					d = dbtest.Postgres(t, dbtest.Options{})
				} else {
					d = dbtest.SQLite(t, dbtest.Options{})
				}
				ctx := context.Background()
				l := audit.New(d)
				recs := seed(t, l, n)
				anchor, err := l.Head(ctx)
				if err != nil {
					t.Fatal(err)
				}
				dropTriggers(t, d)
				tc.do(t, d, l, recs)

				var res audit.VerifyResult
				// Small batches cut the chain into many stretches checked
				// in parallel: the break must be found the same way wherever
				// it falls (inside a stretch, or where two are joined).
				for _, opts := range []audit.VerifyOptions{{}, {BatchSize: 1, Workers: 3}, {BatchSize: 2, Workers: 1}, {BatchSize: 3, Workers: 8}} {
					if tc.anchor {
						// Without the anchor the chain looks intact: that
						// is the limit of a chain alone, and why anchors
						// exist.
						res, err := l.Verify(ctx, opts)
						if err != nil || !res.OK {
							t.Fatalf("verify without anchor = %+v, %v; want OK (undetectable without one)", res, err)
						}
						opts.Anchor = &audit.Anchor{Seq: anchor.Seq, Hash: anchor.Hash}
					}
					res, err = l.Verify(ctx, opts)
					if err != nil {
						t.Fatal(err)
					}
					if res.OK || res.BrokenAt != tc.at || res.Break != tc.brk {
						t.Fatalf("verify(batch %d, workers %d) = %+v, want broken at %d (%s)", opts.BatchSize, opts.Workers, res, tc.at, tc.brk)
					}
					want := tc.at - 1 // every event before the break is intact
					if tc.brk == audit.BreakHead {
						want = n
					}
					if res.Events != want {
						t.Fatalf("verify(batch %d) counted %d intact events, want %d", opts.BatchSize, res.Events, want)
					}
					if !strings.Contains(res.Reason, "event") {
						t.Fatalf("reason %q does not say which event", res.Reason)
					}
				}
				t.Logf("reported: %s", res.Reason)
			})
		}
	})
}

// TestEventsCannotBeChangedThroughTheDatabase proves the triggers: the
// application cannot update or delete events, even by mistake (CP-5.3).
func TestEventsCannotBeChangedThroughTheDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		seed(t, l, 3)
		stmts := []string{
			"UPDATE audit_events SET target = 'x' WHERE seq = 2",
			"DELETE FROM audit_events WHERE seq = 3",
			"DELETE FROM audit_events",
			"DELETE FROM audit_head",
		}
		if d.Dialect() == db.Postgres {
			stmts = append(stmts, "TRUNCATE audit_events", "TRUNCATE audit_head")
		}
		for _, q := range stmts {
			err := d.Transact(ctx, func(tx *db.Tx) error {
				_, err := tx.ExecContext(ctx, q)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want it rejected as append-only", q, err)
			}
		}
		res, err := l.Verify(ctx, audit.VerifyOptions{})
		if err != nil || !res.OK || res.Events != 3 {
			t.Fatalf("verify = %+v, %v", res, err)
		}
	})
}
