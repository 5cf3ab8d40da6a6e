package detect_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/detect"
)

// BenchmarkAssess measures the risk scoring a sign-in adds (CP-8.2; the
// target is under 1 ms at p99), on SQLite, for an account with a year of
// daily sign-ins. It reports the p99 of single assessments.
func BenchmarkAssess(b *testing.B) {
	d := dbtest.SQLite(b, dbtest.Options{})
	ctx := context.Background()
	s := newBenchService(b, d)
	const acct = "01BENCH"
	now := time.Now().UTC()
	err := d.Transact(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, email_lookup, email_enc, password_hash, role, status, created_at, updated_at)
			VALUES ($1, $2, $3, '', 'customer', 'active', $4, $4)`, acct, []byte("x"), []byte("x"), now); err != nil {
			return err
		}
		for i := range 365 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sign_in_events (id, account_id, at, outcome, reason, method, ip_enc, ua_enc, device, country)
				VALUES ($1, $2, $3, 'success', 'ok', 'password', $4, $4, 'Firefox on Linux', 'FR')`,
				fmt.Sprintf("s%d", i), acct, now.Add(-time.Duration(i)*24*time.Hour-time.Duration(i%9)*time.Hour), []byte("x")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	c := detect.SignInContext{AccountID: acct, IP: "133.242.0.1", Device: "Chrome on Windows", Country: "JP", Now: now}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := s.Assess(ctx, d, c); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func newBenchService(b *testing.B, d *db.DB) *detect.Service {
	b.Helper()
	p := profileB(b)
	l, err := geoB(b)
	if err != nil {
		b.Fatal(err)
	}
	return detect.New(detect.Deps{DB: d, Audit: audit.New(d), Profile: p, Geo: l})
}
