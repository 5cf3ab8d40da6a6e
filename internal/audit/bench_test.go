package audit_test

import (
	"context"
	"testing"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// BenchmarkRecord appends one event per transaction through the public API
// on SQLite. Target: at least 5,000 events/s sustained.
func BenchmarkRecord(b *testing.B) {
	d := dbtest.SQLite(b, dbtest.Options{})
	l := audit.New(d)
	ctx := audit.WithRequest(context.Background(), audit.Request{IP: "203.0.113.9", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", RequestID: "TZ3V5QKXG2B6N7YH"})
	e := event(1)
	events := 0
	for b.Loop() {
		if _, err := l.Record(ctx, e); err != nil {
			b.Fatal(err)
		}
		events++
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppendBatch appends 100 events in one transaction on SQLite.
func BenchmarkAppendBatch(b *testing.B) {
	d := dbtest.SQLite(b, dbtest.Options{})
	l := audit.New(d)
	ctx := context.Background()
	e := event(1)
	events := 0
	for b.Loop() {
		err := d.Transact(ctx, func(tx *db.Tx) error {
			for range 100 {
				if _, err := l.Append(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		events += 100
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkVerify verifies a chain of 200,000 events on SQLite. Target: at
// least 200,000 events/s.
func BenchmarkVerify(b *testing.B) {
	const n = 200_000
	d := dbtest.SQLite(b, dbtest.Options{})
	l := audit.New(d)
	ctx := audit.WithRequest(context.Background(), audit.Request{IP: "203.0.113.9", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", RequestID: "TZ3V5QKXG2B6N7YH"})
	for i := 0; i < n; i += 1000 {
		err := d.Transact(ctx, func(tx *db.Tx) error {
			for j := range 1000 {
				if _, err := l.Append(ctx, tx, event(i+j)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	var events int64
	for b.Loop() {
		res, err := l.Verify(context.Background(), audit.VerifyOptions{})
		if err != nil || !res.OK || res.Events != n {
			b.Fatalf("verify = %+v, %v", res, err)
		}
		events += res.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
