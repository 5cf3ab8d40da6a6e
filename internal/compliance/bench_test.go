package compliance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// BenchmarkReport90Days measures the report (the page, each download, the
// bundle) over a full history: 90 days of hourly runs of every evidence
// check of the program, stored as the schedule stores them. The checks
// themselves are not run: their results are seeded.
func BenchmarkReport90Days(b *testing.B) {
	d := dbtest.SQLite(b, dbtest.Options{})
	ctx := context.Background()
	svc, err := compliance.New(d, nil, profile(b), nil, compliance.Checks(compliance.Sources{}))
	if err != nil {
		b.Fatal(err)
	}
	checks := svc.Checks()
	now := d.Now()
	const runs = 90 * 24
	err = d.Transact(ctx, func(tx *db.Tx) error {
		for i := range runs {
			at := now.Add(-time.Duration(runs-i) * time.Hour)
			id := fmt.Sprintf("run%05d", i)
			if _, err := tx.ExecContext(ctx, `INSERT INTO compliance_runs (id, started_at, finished_at, kind, actor, chain_seq, chain_hash, passed, warned, failed)
				VALUES ($1, $2, $2, 'schedule', 'system', $3, $4, $5, 0, 0)`, id, at, i, make([]byte, 32), len(checks)); err != nil {
				return err
			}
			for _, c := range checks {
				st := "pass"
				if i%97 == 0 {
					st = "fail"
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO compliance_results (run_id, check_name, status, summary, figures, taken_at)
					VALUES ($1, $2, $3, 'a summary of what the check found, about this long', '[{"label":"count","value":"12"}]', $4)`, id, c.Name, st, at); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := svc.Report(ctx, 0)
		if err != nil || len(rep.Policies) != 2 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(runs*len(checks)), "stored-results")
}
