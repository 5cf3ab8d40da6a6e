package incident

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// stepDone is the SQL condition under which a step of the notice d.notice_id
// is done by the customer d.account_id (d is an incident_deliveries row;
// $1 is bound to the step code where the condition uses it).
func stepDone(code string) string {
	switch code {
	case StepChangePassword:
		return `EXISTS (SELECT 1 FROM accounts a WHERE a.id = d.account_id AND a.password_changed_at > d.created_at)`
	case StepReenrolFactor:
		return `(EXISTS (SELECT 1 FROM accounts a WHERE a.id = d.account_id AND a.totp_enabled_at > d.created_at)
			OR EXISTS (SELECT 1 FROM passkeys p WHERE p.account_id = d.account_id AND p.created_at > d.created_at))`
	}
	return `EXISTS (SELECT 1 FROM incident_steps f WHERE f.notice_id = d.notice_id AND f.account_id = d.account_id AND f.step = '` + code + `')`
}

// StepProgress is how many of a notice's recipients have done one step.
type StepProgress struct {
	StepInfo
	Done, Of int
}

// Progress returns, for each step the notice asks, how many of its
// recipients have done it.
//
// Enforces CP-9.2: the steps required of customers are tracked per
// customer, and the incident shows how many completed each.
func (s *Service) Progress(ctx context.Context, n Notice) ([]StepProgress, error) {
	var out []StepProgress
	for _, code := range n.Steps {
		st, ok := stepInfo(code)
		if !ok {
			continue
		}
		p := StepProgress{StepInfo: st}
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN `+stepDone(code)+` THEN 1 ELSE 0 END), 0)
			FROM incident_deliveries d WHERE d.notice_id = $1`, n.ID).Scan(&p.Of, &p.Done); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// CustomerStep is a step of a notice as its customer sees it.
type CustomerStep struct {
	StepInfo
	Done bool
}

// CustomerNotice is an incident notice as the customer it went to sees it:
// never the incident itself.
type CustomerNotice struct {
	ID, Kind, Title, Body string
	InboxID               string // the inbox notice, to mark it read
	SentAt, ReadAt        time.Time
	Steps                 []CustomerStep
}

// ForCustomer returns the incident notices delivered to the account,
// newest first, with their steps and which are done. It reads only the
// account's own deliveries.
//
// Enforces CP-9.1, CP-9.2: a customer sees the notices sent to them, with
// what is asked of them and what they have done, and nobody else's.
func (s *Service) ForCustomer(ctx context.Context, accountID string) ([]CustomerNotice, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+prefixed("i.", noticeColumns)+`, d.inbox_id, d.created_at, n.read_at
		FROM incident_deliveries d JOIN incident_notices i ON i.id = d.notice_id LEFT JOIN notices n ON n.id = d.inbox_id
		WHERE d.account_id = $1 ORDER BY d.created_at DESC, i.id`, accountID)
	if err != nil {
		return nil, err
	}
	var out []CustomerNotice
	for rows.Next() {
		var n Notice
		var cn CustomerNotice
		var inbox *string
		var read *time.Time
		err := rows.Scan(append(noticeDest(&n), &inbox, &cn.SentAt, &read)...)
		if err != nil {
			rows.Close()
			return nil, err
		}
		if err := n.finish(); err != nil {
			rows.Close()
			return nil, err
		}
		cn.ID, cn.Kind, cn.Title, cn.Body = n.ID, n.Kind, n.Title, n.Body()
		if inbox != nil {
			cn.InboxID = *inbox
		}
		if read != nil {
			cn.ReadAt = *read
		}
		for _, code := range n.Steps {
			if st, ok := stepInfo(code); ok {
				cn.Steps = append(cn.Steps, CustomerStep{StepInfo: st})
			}
		}
		out = append(out, cn)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		for j := range out[i].Steps {
			if err := s.db.QueryRowContext(ctx, `SELECT CASE WHEN `+stepDone(out[i].Steps[j].Code)+` THEN 1 ELSE 0 END
				FROM incident_deliveries d WHERE d.notice_id = $1 AND d.account_id = $2`, out[i].ID, accountID).Scan(&out[i].Steps[j].Done); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func prefixed(p, cols string) string {
	fields := strings.Split(cols, ",")
	for i, f := range fields {
		fields[i] = p + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}

// ConfirmStep records that the customer did a step they confirm
// themselves (reviewed their devices, checked their contact details), for
// a notice delivered to them. Anything else answers not found, the same
// for another customer's notice as for one that does not exist.
func (s *Service) ConfirmStep(ctx context.Context, accountID, noticeID, step string) error {
	st, ok := stepInfo(step)
	if !ok || !st.Confirmed {
		return apperr.New(apperr.Invalid, "That step is not one you confirm yourself: the portal sees it when it is done.")
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		var incidentID, steps string
		err := tx.QueryRowContext(ctx, `SELECT i.incident_id, i.steps FROM incident_deliveries d JOIN incident_notices i ON i.id = d.notice_id
			WHERE d.notice_id = $1 AND d.account_id = $2`, noticeID, accountID).Scan(&incidentID, &steps)
		if err != nil || !strings.Contains(steps, `"`+step+`"`) {
			return ErrNoNotice
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_steps (notice_id, account_id, step, done_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (notice_id, account_id, step) DO NOTHING`, noticeID, accountID, step, tx.Now()); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.step_done", Target: "incident:" + incidentID, Outcome: audit.Success,
			Details: map[string]any{"notice": noticeID, "step": step}})
		return err
	})
}

// ReminderAfter is how long after a notice a customer who has not done
// every step it asks gets one reminder.
const ReminderAfter = 72 * time.Hour

// Remind sends one reminder, in the portal and by email, to each
// recipient of a notice with steps who has not done them all
// ReminderAfter after it was delivered. It returns how many it sent.
//
// Enforces CP-9.2: customers are reminded of the steps still required of
// them.
func (s *Service) Remind(ctx context.Context) (int, error) {
	if s.deliver == nil {
		return 0, errNoDeliverer
	}
	type due struct{ notice, account string }
	var list []due
	rows, err := s.db.QueryContext(ctx, `SELECT d.notice_id, d.account_id FROM incident_deliveries d JOIN incident_notices i ON i.id = d.notice_id
		WHERE d.reminded_at IS NULL AND d.created_at < $1 AND i.steps <> '[]' ORDER BY d.created_at LIMIT 500`, s.db.Now().Add(-ReminderAfter))
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var x due
		if err := rows.Scan(&x.notice, &x.account); err != nil {
			rows.Close()
			return 0, err
		}
		list = append(list, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	sent := 0
	for _, x := range list {
		err := s.db.Transact(ctx, func(tx *db.Tx) error {
			var n Notice
			if err := tx.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM incident_notices WHERE id = $1`, x.notice).Scan(noticeDest(&n)...); err != nil {
				return err
			}
			if err := n.finish(); err != nil {
				return err
			}
			var left []string
			for _, code := range n.Steps {
				var done bool
				if err := tx.QueryRowContext(ctx, `SELECT CASE WHEN `+stepDone(code)+` THEN 1 ELSE 0 END FROM incident_deliveries d
					WHERE d.notice_id = $1 AND d.account_id = $2`, x.notice, x.account).Scan(&done); err != nil {
					return err
				}
				if st, ok := stepInfo(code); ok && !done {
					left = append(left, "- "+st.Text)
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE incident_deliveries SET reminded_at = $1 WHERE notice_id = $2 AND account_id = $3`,
				tx.Now(), x.notice, x.account); err != nil {
				return err
			}
			if len(left) == 0 {
				return nil
			}
			body := fmt.Sprintf("We wrote to you about a security incident (%q). These steps are still open in your account:\n%s\n\nThey protect your account. The notice is under Notices in your account.",
				n.Title, strings.Join(left, "\n"))
			if _, _, err := s.deliver.Deliver(ctx, tx, x.account, "incident.reminder", "Reminder: steps to protect your account", body); err != nil {
				return err
			}
			sent++
			_, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.step_reminder", Target: "incident:" + n.IncidentID, Outcome: audit.Success,
				Details: map[string]any{"notice": n.ID, "account": x.account, "open_steps": len(left)}})
			return err
		})
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}
