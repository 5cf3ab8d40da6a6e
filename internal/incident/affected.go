package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Query says how the affected customers are found from the portal's own
// records.
type Query struct {
	Kind string // "alert" (the alert's accounts), "network" (signed in from a network in a window), "session" (a session in use in a window), "all" (every active customer), "staff" (a drill's: the active staff)
	// Alert for "alert"; Network ("203.0.113.0/24", as the audit trail
	// records clients) and From, To for "network"; From, To for
	// "session".
	Alert    string
	Network  string
	From, To time.Time
}

// SetAffected replaces the incident's affected customers with what the
// query finds now, stored as a snapshot with the query that produced it.
//
// Enforces CP-7.2: the customers an incident affects are found from the
// portal's records (an alert's accounts, the accounts that signed in from
// a network in a window, every customer) and kept as a snapshot.
func (s *Service) SetAffected(ctx context.Context, id string, q Query) (int, error) {
	var sel string
	var args []any
	// A drill's notices go only to staff test accounts (MTL-5.2.2): its
	// affected set is the active staff, and a real incident's never is.
	drill, err := s.IsExercise(ctx, id)
	if err != nil {
		return 0, err
	}
	if drill != (q.Kind == "staff") {
		if drill {
			return 0, apperr.New(apperr.Invalid, "A drill affects the staff's own test accounts only: choose the staff.")
		}
		return 0, apperr.New(apperr.Invalid, "Find the affected customers from an alert, a network in a window, or every customer.")
	}
	switch q.Kind {
	case "alert":
		var accounts string
		if err := s.db.QueryRowContext(ctx, `SELECT accounts FROM alerts WHERE id = $1`, q.Alert).Scan(&accounts); err != nil {
			return 0, apperr.New(apperr.NotFound, "There is no such alert.")
		}
		var ids []string
		if err := json.Unmarshal([]byte(accounts), &ids); err != nil {
			return 0, err
		}
		b, _ := json.Marshal(ids)
		sel = `SELECT id FROM accounts WHERE role = 'customer' AND id IN (SELECT value FROM json_each($1))`
		args = []any{string(b)}
	case "network":
		if q.Network == "" || q.From.IsZero() || !q.From.Before(q.To) {
			return 0, apperr.New(apperr.Invalid, "Give the network and a window whose start is before its end.")
		}
		first, err := s.audit.SeqAt(ctx, q.From)
		if err != nil {
			return 0, err
		}
		last, err := s.audit.SeqAt(ctx, q.To)
		if err != nil {
			return 0, err
		}
		sel = `SELECT DISTINCT a.id FROM audit_events e JOIN accounts a ON e.target = 'account:' || a.id
		       WHERE e.action IN ('login.success', 'login.password') AND e.seq >= $1 AND e.seq < $2 AND e.ip = $3 AND a.role = 'customer'`
		args = []any{first, last, q.Network}
	case "session":
		// A session in use during the window: opened before its end, and
		// last seen (or ended) after its start.
		if q.From.IsZero() || !q.From.Before(q.To) {
			return 0, apperr.New(apperr.Invalid, "Give a window whose start is before its end.")
		}
		sel = `SELECT DISTINCT a.id FROM sessions x JOIN accounts a ON a.id = x.account_id
		       WHERE a.role = 'customer' AND x.created_at < $1 AND COALESCE(x.ended_at, x.last_seen_at) >= $2`
		args = []any{db.Time(q.To), db.Time(q.From)}
	case "all":
		sel = `SELECT id FROM accounts WHERE role = 'customer' AND status = 'active'`
	case "staff":
		sel = `SELECT id FROM accounts WHERE role <> 'customer' AND status = 'active'`
	default:
		return 0, apperr.New(apperr.Invalid, "Find the affected customers from an alert, a network or the sessions in a window, or every customer.")
	}
	var n int
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		if _, err := s.lockPhase(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM incident_affected WHERE incident_id = $1`, id); err != nil {
			return err
		}
		if tx.Dialect() == db.Postgres && q.Kind == "alert" {
			sel = `SELECT id FROM accounts WHERE role = 'customer' AND id IN (SELECT jsonb_array_elements_text($1::jsonb))`
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO incident_affected (incident_id, account_id) SELECT $`+fmt.Sprint(len(args)+1)+`, id FROM (`+sel+`) found`,
			append(args, id)...)
		if err != nil {
			return err
		}
		c, _ := res.RowsAffected()
		n = int(c)
		qj, _ := json.Marshal(q)
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET affected_query = $1, affected_count = $2, updated_at = $3 WHERE id = $4`,
			string(qj), n, tx.Now(), id); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.affected", Target: "incident:" + id, Outcome: audit.Success,
			Details: map[string]any{"query": q.Kind, "count": n}})
		return err
	})
	return n, err
}

// Affected lists the incident's affected accounts.
func (s *Service) Affected(ctx context.Context, id string) ([]string, error) {
	return db.Strings(ctx, s.db, `SELECT account_id FROM incident_affected WHERE incident_id = $1 ORDER BY account_id`, id)
}

// AffectedBy says in words which query found the affected set.
func (inc Incident) AffectedBy() string {
	var q Query
	if inc.AffectedQuery == "" || json.Unmarshal([]byte(inc.AffectedQuery), &q) != nil {
		return ""
	}
	switch q.Kind {
	case "alert":
		return "the accounts of alert " + q.Alert
	case "network":
		return "the accounts that signed in from " + q.Network + " between " + q.From.UTC().Format("2 Jan 2006 15:04") +
			" and " + q.To.UTC().Format("2 Jan 2006 15:04 UTC")
	case "session":
		return "the accounts with a session in use between " + q.From.UTC().Format("2 Jan 2006 15:04") + " and " +
			q.To.UTC().Format("2 Jan 2006 15:04 UTC")
	case "all":
		return "every active customer"
	case "staff":
		return "the active staff's own accounts (a drill)"
	}
	return q.Kind
}
