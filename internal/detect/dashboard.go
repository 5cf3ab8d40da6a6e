package detect

import (
	"context"
	"database/sql"
	"time"
)

// Stats are the security dashboard's figures, all taken now.
type Stats struct {
	Hours       []time.Time // the start of each of the last 24 hours, oldest first
	SignIns     []float64   // successful sign-ins per hour
	Failures    []float64   // failed sign-in attempts per hour
	Locks       []float64   // accounts locked per hour
	LockedNow   int         // accounts locked at this moment
	Rules       []string    // rules with alerts in the last 7 days
	RuleAlerts  []float64   // their alerts
	Customers   int         // active customers
	WithFactor  int         // of them, with a second factor
	Alerts      map[string]int
	OpenReports int
	OldestNew   time.Duration // age of the oldest alert nobody has looked at
}

// Stats reads the dashboard's figures. Each query uses an index: the
// sign-in history by time, the audit trail by action and sequence.
//
// Enforces CP-8.1: the security team sees sign-ins, failures, locks,
// alerts, MFA coverage and open reports as they stand.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	d := s.d.DB
	now := d.Now()
	start := now.Truncate(time.Hour).Add(-23 * time.Hour)
	st := Stats{}
	for h := range 24 {
		from := start.Add(time.Duration(h) * time.Hour)
		var ok, bad sql.NullInt64
		if err := d.QueryRowContext(ctx,
			`SELECT SUM(CASE WHEN outcome = 'success' THEN 1 ELSE 0 END), SUM(CASE WHEN outcome = 'failure' AND reason <> 'pending' THEN 1 ELSE 0 END)
			 FROM sign_in_events WHERE at >= $1 AND at < $2`, from, from.Add(time.Hour)).Scan(&ok, &bad); err != nil {
			return st, err
		}
		st.Hours = append(st.Hours, from)
		st.SignIns = append(st.SignIns, float64(ok.Int64))
		st.Failures = append(st.Failures, float64(bad.Int64))
	}
	st.Locks = make([]float64, 24)
	first, err := s.d.Audit.SeqAt(ctx, start)
	if err != nil {
		return st, err
	}
	rows, err := d.QueryContext(ctx, `SELECT at FROM audit_events WHERE action = 'account.lock' AND seq >= $1`, first)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var at time.Time
		if err := rows.Scan(&at); err != nil {
			rows.Close()
			return st, err
		}
		if i := int(at.Sub(start) / time.Hour); i >= 0 && i < 24 {
			st.Locks[i]++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE locked_until > $1`, now).Scan(&st.LockedNow); err != nil {
		return st, err
	}
	rows, err = d.QueryContext(ctx, `SELECT rule, COUNT(*) FROM alerts WHERE last_at > $1 GROUP BY rule ORDER BY rule`, now.Add(-7*24*time.Hour))
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var rule string
		var n int
		if err := rows.Scan(&rule, &n); err != nil {
			rows.Close()
			return st, err
		}
		st.Rules, st.RuleAlerts = append(st.Rules, rule), append(st.RuleAlerts, float64(n))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	var with sql.NullInt64
	if err := d.QueryRowContext(ctx,
		`SELECT COUNT(*), SUM(CASE WHEN a.totp_enabled_at IS NOT NULL OR EXISTS (SELECT 1 FROM passkeys p WHERE p.account_id = a.id) THEN 1 ELSE 0 END)
		 FROM accounts a WHERE a.role = 'customer' AND a.status = 'active'`).Scan(&st.Customers, &with); err != nil {
		return st, err
	}
	st.WithFactor = int(with.Int64)
	if st.Alerts, err = s.Counts(ctx); err != nil {
		return st, err
	}
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM security_reports WHERE status <> 'closed'`).Scan(&st.OpenReports); err != nil {
		return st, err
	}
	if st.OldestNew, err = s.OldestNew(ctx); err != nil {
		return st, err
	}
	return st, nil
}

// OldestNew is the age of the oldest alert still new (0 when none).
func (s *Service) OldestNew(ctx context.Context) (time.Duration, error) {
	var first time.Time
	err := s.d.DB.QueryRowContext(ctx, `SELECT first_at FROM alerts WHERE state = 'new' ORDER BY first_at LIMIT 1`).Scan(&first)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return s.d.DB.Now().Sub(first), nil
}
