package session_test

import (
	"context"
	"testing"

	"github.com/portico/portico/internal/dbtest"
)

// BenchmarkAuthenticate measures the hot path of every request on SQLite:
// one read by primary key and a constant-time comparison (target: under
// 0.2 ms per call). The clock is real, so last_seen_at is written at most
// once a minute, as in production.
func BenchmarkAuthenticate(b *testing.B) {
	d := dbtest.SQLite(b, dbtest.Options{})
	st := newStore(b, d)
	token, _ := create(b, st, d, start(newAccount(b, d, "customer")))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.Authenticate(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateParallel is the same with concurrent requests, which
// share SQLite's pool of read connections.
func BenchmarkAuthenticateParallel(b *testing.B) {
	d := dbtest.SQLite(b, dbtest.Options{})
	st := newStore(b, d)
	token, _ := create(b, st, d, start(newAccount(b, d, "customer")))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.Authenticate(ctx, token); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
