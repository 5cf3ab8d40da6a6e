package audit_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

func countEvents(t testing.TB, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.QueryRowContext(context.Background(), `SELECT count(*) FROM audit_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func insertAccount(ctx context.Context, tx *db.Tx, id string) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO accounts (id, email_lookup, email_enc, role, created_at, updated_at)
		 VALUES ($1, $2, $3, 'customer', $4, $4)`,
		id, []byte("lookup-"+id), []byte("enc"), tx.Now())
	return err
}

// TestAppendInCallersTransaction proves CP-5.3: an event is committed with
// the change it records, or not at all.
func TestAppendInCallersTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		seed(t, l, 3)
		before, err := l.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}

		t.Run("rollback leaves no event and the head unchanged", func(t *testing.T) {
			boom := errors.New("boom")
			err := d.Transact(ctx, func(tx *db.Tx) error {
				if err := insertAccount(ctx, tx, "rolled-back"); err != nil {
					return err
				}
				if _, err := l.Append(ctx, tx, event(99)); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want boom", err)
			}
			if n := countEvents(t, d); n != 3 {
				t.Fatalf("events = %d, want 3", n)
			}
			after, err := l.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if after.Seq != before.Seq || !bytes.Equal(after.Hash, before.Hash) {
				t.Fatalf("head moved on rollback: %v -> %v", before, after)
			}
		})

		t.Run("commit stores the change and its events together", func(t *testing.T) {
			var recs []audit.Record
			var now time.Time
			err := d.Transact(ctx, func(tx *db.Tx) error {
				now = tx.Now()
				if err := insertAccount(ctx, tx, "committed"); err != nil {
					return err
				}
				for i := range 2 {
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
			if recs[0].Seq != 4 || recs[1].Seq != 5 {
				t.Fatalf("seqs = %d, %d, want 4, 5 (no gap left by the rollback)", recs[0].Seq, recs[1].Seq)
			}
			if !bytes.Equal(recs[0].PrevHash, before.Hash) || !bytes.Equal(recs[1].PrevHash, recs[0].Hash) {
				t.Fatal("events in one transaction are not chained")
			}
			if !recs[0].At.Equal(now) || recs[0].At.Location() != time.UTC {
				t.Fatalf("at = %v, want the transaction's time %v in UTC", recs[0].At, now)
			}
			res, err := l.Verify(ctx, audit.VerifyOptions{})
			if err != nil || !res.OK || res.Events != 5 {
				t.Fatalf("verify = %+v, %v; want OK with 5 events", res, err)
			}
		})
	})
}

func TestGenesisHead(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		h, err := l.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if h.Seq != 0 || !bytes.Equal(h.Hash, make([]byte, 32)) {
			t.Fatalf("empty chain head = %v, want 0 and 32 zero bytes", h)
		}
		res, err := l.Verify(ctx, audit.VerifyOptions{})
		if err != nil || !res.OK || res.Events != 0 {
			t.Fatalf("verify of empty chain = %+v, %v", res, err)
		}
		r, err := l.Record(ctx, event(1))
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != 1 || !bytes.Equal(r.PrevHash, make([]byte, 32)) || len(r.Hash) != 32 {
			t.Fatalf("first record = seq %d prev %x hash %x", r.Seq, r.PrevHash, r.Hash)
		}
	})
}

// TestConcurrentAppends: appenders in many goroutines (connections, on
// PostgreSQL) still build one valid chain (CP-5.3, MTL-1.1).
func TestConcurrentAppends(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		const workers, each = 8, 40
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					var err error
					if i%4 == 0 {
						// Some transactions append several events and
						// change other rows.
						err = d.Transact(ctx, func(tx *db.Tx) error {
							for j := range 3 {
								if _, err := l.Append(ctx, tx, event(w*1000+i*10+j)); err != nil {
									return err
								}
							}
							return nil
						})
					} else {
						_, err = l.Record(ctx, event(w*1000+i))
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		want := int64(workers * (each/4*3 + each*3/4))
		res, err := l.Verify(ctx, audit.VerifyOptions{BatchSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK || res.Events != want || res.Head.Seq != want {
			t.Fatalf("verify = %+v, want OK with %d events", res, want)
		}
	})
}

func TestRequestAndActorFromContext(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d)
		reqCtx := audit.WithRequest(ctx, audit.Request{IP: "203.0.113.9", UserAgent: "Firefox/140", RequestID: "req-1"})
		reqCtx = audit.WithActor(reqCtx, "account:42")

		t.Run("empty fields come from the context", func(t *testing.T) {
			r, err := l.Record(reqCtx, audit.Event{Action: "session.create", Outcome: audit.Success})
			if err != nil {
				t.Fatal(err)
			}
			if r.Actor != "account:42" || r.IP != "203.0.113.9" || r.UserAgent != "Firefox/140" || r.RequestID != "req-1" {
				t.Fatalf("record = %+v", r)
			}
			if string(r.Details) != "{}" {
				t.Fatalf("details = %s, want {}", r.Details)
			}
		})
		t.Run("fields set on the event win", func(t *testing.T) {
			r, err := l.Record(reqCtx, audit.Event{Actor: audit.ActorSystem, Action: "x.y", Outcome: audit.Denied, IP: "198.51.100.1"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Actor != audit.ActorSystem || r.IP != "198.51.100.1" || r.RequestID != "req-1" {
				t.Fatalf("record = %+v", r)
			}
		})
		t.Run("no actor anywhere is anonymous", func(t *testing.T) {
			r, err := l.Record(ctx, audit.Event{Action: "login.attempt", Outcome: audit.Failure})
			if err != nil {
				t.Fatal(err)
			}
			if r.Actor != audit.ActorAnonymous || r.IP != "" {
				t.Fatalf("record = %+v", r)
			}
			if got := audit.RequestFrom(ctx); got != (audit.Request{}) {
				t.Fatalf("RequestFrom(empty) = %+v", got)
			}
			if got := audit.RequestFrom(reqCtx); got.RequestID != "req-1" {
				t.Fatalf("RequestFrom = %+v", got)
			}
		})
		t.Run("hostile request headers are cleaned, not refused", func(t *testing.T) {
			ua := "evil\n\x00agent\xff" + strings.Repeat("é", 400)
			c := audit.WithRequest(ctx, audit.Request{UserAgent: ua, RequestID: "r\r\n2"})
			r, err := l.Record(c, audit.Event{Action: "login.attempt", Outcome: audit.Failure})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(r.UserAgent, "evilagent\uFFFDé") || len(r.UserAgent) > 512 || r.RequestID != "r2" {
				t.Fatalf("user agent %q (%d bytes), request ID %q", r.UserAgent[:20], len(r.UserAgent), r.RequestID)
			}
			if res, err := l.Verify(ctx, audit.VerifyOptions{}); err != nil || !res.OK {
				t.Fatalf("verify = %+v, %v", res, err)
			}
		})
	})
}

func TestValidation(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	l := audit.New(d)
	ok := audit.Event{Action: "account.create", Outcome: audit.Success}
	with := func(f func(e *audit.Event)) audit.Event { e := ok; f(&e); return e }
	for _, tc := range []struct {
		name  string
		event audit.Event
		want  string
	}{
		{"rejects a missing action", with(func(e *audit.Event) { e.Action = "" }), "action is required"},
		{"rejects an action that is not dotted lower case", with(func(e *audit.Event) { e.Action = "Account Create" }), "dotted lower case"},
		{"rejects an action with an empty part", with(func(e *audit.Event) { e.Action = "account..create" }), "dotted lower case"},
		{"rejects a long action", with(func(e *audit.Event) { e.Action = strings.Repeat("a", 65) }), "longer than 64"},
		{"rejects a missing outcome", with(func(e *audit.Event) { e.Outcome = "" }), "outcome is required"},
		{"rejects an unknown outcome", with(func(e *audit.Event) { e.Outcome = "ok" }), `outcome "ok"`},
		{"rejects a long target", with(func(e *audit.Event) { e.Target = strings.Repeat("t", 257) }), "target is longer"},
		{"rejects a long actor", with(func(e *audit.Event) { e.Actor = strings.Repeat("a", 129) }), "actor is longer"},
		{"rejects a control character in the target", with(func(e *audit.Event) { e.Target = "a\nb" }), "control character"},
		{"rejects invalid UTF-8 in the actor", with(func(e *audit.Event) { e.Actor = "\xff" }), "not valid UTF-8"},
		{"rejects details that do not marshal", with(func(e *audit.Event) { e.Details = map[string]any{"f": math.Inf(1)} }), "do not marshal"},
		{"rejects huge details", with(func(e *audit.Event) { e.Details = map[string]any{"x": strings.Repeat("x", 9000)} }), "more than 8192"},
		{"rejects a password in details", with(func(e *audit.Event) { e.Details = map[string]any{"new_password": "hunter2"} }), `"new_password"`},
		{"rejects a nested token in details", with(func(e *audit.Event) {
			e.Details = map[string]any{"req": []any{map[string]any{"Access-Token": "abc"}}}
		}), `"Access-Token"`},
		{"rejects an email in details", with(func(e *audit.Event) { e.Details = map[string]any{"email": "a@example.com"} }), `"email"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Record(context.Background(), tc.event)
			if !errors.Is(err, audit.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tc.want)
			}
			err = d.Transact(context.Background(), func(tx *db.Tx) error {
				_, err := l.Append(context.Background(), tx, tc.event)
				return err
			})
			if !errors.Is(err, audit.ErrInvalid) {
				t.Fatalf("Append err = %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("accepts ordinary details", func(t *testing.T) {
		r, err := l.Record(context.Background(), with(func(e *audit.Event) {
			e.Details = map[string]any{"z": 1, "a": map[string]any{"y": "<b>", "b": true}, "secrets": 3, "token_id": "pat_1"}
		}))
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"a":{"b":true,"y":"<b>"},"secrets":3,"token_id":"pat_1","z":1}`; string(r.Details) != want {
			t.Fatalf("details = %s, want canonical %s", r.Details, want)
		}
	})
	if n := countEvents(t, d); n != 1 {
		t.Fatalf("events = %d, want only the valid one", n)
	}
}
