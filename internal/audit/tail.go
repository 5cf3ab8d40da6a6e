package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// After returns up to limit events with a sequence number above seq, in
// chain order: how a reader follows the trail as it grows (detection's
// rules read it so, CP-8.2). Hashes are left out.
func (l *Log) After(ctx context.Context, seq int64, limit int) ([]Record, error) {
	rows, err := l.db.QueryContext(ctx,
		`SELECT seq, at, actor, action, target, outcome, ip, user_agent, request_id, details
		 FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: read: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var at scanTime
		var details string
		if err := rows.Scan(&r.Seq, &at, &r.Actor, &r.Action, &r.Target, &r.Outcome, &r.IP, &r.UserAgent, &r.RequestID, &details); err != nil {
			return nil, fmt.Errorf("audit: read: %w", err)
		}
		if !at.ok {
			continue // a row altered by hand; Verify reports it
		}
		r.At, r.Details = at.t.UTC(), json.RawMessage(details)
		out = append(out, r)
	}
	return out, rows.Err()
}

// SeqAt returns the sequence number of the first event at or after t (the
// head plus one when there is none), by binary search over the sequence:
// times rise with it, and audit_events has no index on at.
func (l *Log) SeqAt(ctx context.Context, t time.Time) (int64, error) {
	var lo, hi sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT MIN(seq), MAX(seq) FROM audit_events`).Scan(&lo, &hi); err != nil {
		return 0, err
	}
	if !hi.Valid {
		return 1, nil
	}
	a, b := lo.Int64, hi.Int64+1 // the answer is in [a, b]
	for a < b {
		m := a + (b-a)/2
		var at scanTime
		err := l.db.QueryRowContext(ctx, `SELECT at FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT 1`, m).Scan(&at)
		if errors.Is(err, sql.ErrNoRows) {
			b = m
			continue
		}
		if err != nil {
			return 0, err
		}
		if at.ok && at.t.Before(t) {
			a = m + 1
		} else {
			b = m
		}
	}
	return a, nil
}
