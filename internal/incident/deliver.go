package incident

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Delivery states of a notice to one customer.
const (
	DeliveryQueued = "queued" // in the inbox; the email waits in the outbox
	DeliverySent   = "sent"   // the email was accepted by the mail server
	DeliveryFailed = "failed" // the email could not be delivered: resend, or reach them another way
	DeliveryRead   = "read"   // the customer read it in the portal
)

// deliverBatch is how many customers one transaction delivers to.
const deliverBatch = 200

// Send delivers a notice to its recipients, each in the portal and by
// email: a breach notice to the incident's affected customers, a
// follow-up to those its breach notice went to. Nobody else receives it.
// It refuses a notice with any missing part, and a breach notice past the
// customers' deadline without the reason for the delay. Sending again
// delivers to the recipients not yet delivered to (after a failure half
// way), never twice to the same customer.
//
// Enforces CP-9.1, MTL-5.1.2: customers affected by a breach are told in
// the portal and by email, with every part the law asks, and only they.
func (s *Service) Send(ctx context.Context, incidentID, noticeID, lateReason, by string) (int, error) {
	if s.deliver == nil {
		return 0, errNoDeliverer
	}
	n, err := s.NoticeByID(ctx, incidentID, noticeID)
	if err != nil {
		return 0, err
	}
	if miss := n.Missing(); len(miss) > 0 {
		return 0, apperr.Errorf(apperr.Invalid, "The notice cannot be sent without %s.", joinWords(miss))
	}
	inc, err := s.Get(ctx, incidentID)
	if err != nil {
		return 0, err
	}
	if !inc.ClosedAt.IsZero() {
		return 0, apperr.New(apperr.Conflict, "The incident is closed.")
	}
	drill, err := s.IsExercise(ctx, incidentID)
	if err != nil {
		return 0, err
	}
	lateReason = strings.TrimSpace(lateReason)
	if len(lateReason) > maxPart {
		return 0, apperr.New(apperr.Invalid, "Please keep the reason under 4,000 characters.")
	}
	total := 0
	for first := true; ; first = false {
		sent := 0
		err := s.db.Transact(ctx, func(tx *db.Tx) error {
			now := tx.Now()
			ids, err := s.undelivered(ctx, tx, n, drill)
			if err != nil {
				return err
			}
			if first && n.SentAt.IsZero() {
				if len(ids) == 0 {
					return apperr.New(apperr.Conflict, "Nobody would receive the notice: the incident has no affected customers yet. Find them first.")
				}
				late := false
				if n.Kind == NoticeBreach {
					told, err := s.CustomersTold(ctx, incidentID)
					if err != nil {
						return err
					}
					late = told.IsZero() && now.After(inc.DetectedAt.Add(s.profile.Incident.CustomerNotification.Duration))
					if late && lateReason == "" {
						return apperr.New(apperr.Invalid, "The customers' deadline has passed: give the reason for the delay. It is kept with the notice.")
					}
				}
				res, err := tx.ExecContext(ctx, `UPDATE incident_notices SET sent_at = $1, sent_by = $2, late_reason = $3 WHERE id = $4 AND sent_at IS NULL`,
					now, by, lateReason, noticeID)
				if err != nil {
					return err
				}
				if k, _ := res.RowsAffected(); k != 1 {
					return apperr.New(apperr.Conflict, "Someone else sent this notice at the same moment: reload it.")
				}
				if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "incident.notice_send", Target: "incident:" + incidentID, Outcome: audit.Success,
					Details: map[string]any{"notice": noticeID, "kind": n.Kind, "late": late}}); err != nil {
					return err
				}
			}
			title, body := n.wording(drill)
			for _, acct := range ids {
				inbox, outbox, err := s.deliver.Deliver(ctx, tx, acct, "incident."+n.Kind, title, body)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx,
					`INSERT INTO incident_deliveries (notice_id, account_id, inbox_id, outbox_id, attempts, created_at, last_sent_at)
					 VALUES ($1, $2, $3, $4, 1, $5, $5)`, noticeID, acct, inbox, outbox, now); err != nil {
					return err
				}
			}
			sent = len(ids)
			if sent > 0 {
				_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.notice_deliver", Target: "incident:" + incidentID, Outcome: audit.Success,
					Details: map[string]any{"notice": noticeID, "count": sent}})
			}
			return err
		})
		if err != nil {
			return total, err
		}
		total += sent
		if sent < deliverBatch {
			break
		}
	}
	return total, nil
}

// undelivered returns up to deliverBatch recipients of n without a
// delivery yet: for a breach notice the incident's affected customers, for
// a follow-up the customers its breach notice went to.
func (s *Service) undelivered(ctx context.Context, tx *db.Tx, n Notice, drill bool) ([]string, error) {
	// A drill's notice reaches staff accounts only, whatever the set
	// holds (MTL-5.2.2).
	staff := ""
	if drill {
		staff = ` AND EXISTS (SELECT 1 FROM accounts x WHERE x.id = a.account_id AND x.role <> 'customer')`
	}
	q := `SELECT a.account_id FROM incident_affected a WHERE a.incident_id = $1` + staff + `
		AND NOT EXISTS (SELECT 1 FROM incident_deliveries d WHERE d.notice_id = $2 AND d.account_id = a.account_id)
		ORDER BY a.account_id LIMIT $3`
	arg := n.IncidentID
	if n.Kind == NoticeFollowUp {
		staff = strings.ReplaceAll(staff, "a.account_id", "p.account_id")
		q = `SELECT p.account_id FROM incident_deliveries p WHERE p.notice_id = $1` + staff + `
			AND NOT EXISTS (SELECT 1 FROM incident_deliveries d WHERE d.notice_id = $2 AND d.account_id = p.account_id)
			ORDER BY p.account_id LIMIT $3`
		arg = n.ParentID
	}
	return db.Strings(ctx, tx, q, arg, n.ID, deliverBatch)
}

// Delivery is a notice's delivery to one customer.
type Delivery struct {
	AccountID string
	State     string
	Attempts  int
	SentAt    time.Time // first delivery
	ReadAt    time.Time
}

// deliveryState is the SQL for a delivery's state: read in the portal,
// else the email's fate.
const deliveryState = `CASE WHEN n.read_at IS NOT NULL THEN 'read' WHEN o.status = 'sent' THEN 'sent'
	WHEN o.status = 'failed' THEN 'failed' ELSE 'queued' END`

// Deliveries returns the notice's delivery to each customer with its
// state (queued, sent, failed, read) and the count in each state.
//
// Enforces CP-9.1: each customer's receipt of the notice is tracked.
func (s *Service) Deliveries(ctx context.Context, noticeID string, limit int) ([]Delivery, map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.account_id, `+deliveryState+`, d.attempts, d.created_at, n.read_at
		FROM incident_deliveries d LEFT JOIN notices n ON n.id = d.inbox_id LEFT JOIN outbox o ON o.id = d.outbox_id
		WHERE d.notice_id = $1 ORDER BY d.account_id`, noticeID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []Delivery
	counts := map[string]int{}
	for rows.Next() {
		var dl Delivery
		var read sql.NullTime
		if err := rows.Scan(&dl.AccountID, &dl.State, &dl.Attempts, &dl.SentAt, &read); err != nil {
			return nil, nil, err
		}
		dl.ReadAt = read.Time
		counts[dl.State]++
		if limit <= 0 || len(out) < limit {
			out = append(out, dl)
		}
	}
	return out, counts, rows.Err()
}

// Resend queues the email again to each recipient the notice has not
// reached: not read in the portal, and the email failed. It returns how
// many were queued.
//
// Enforces CP-9.1: a customer the notice did not reach is tried again.
func (s *Service) Resend(ctx context.Context, incidentID, noticeID, by string) (int, error) {
	if s.deliver == nil {
		return 0, errNoDeliverer
	}
	n, err := s.NoticeByID(ctx, incidentID, noticeID)
	if err != nil {
		return 0, err
	}
	if n.SentAt.IsZero() {
		return 0, apperr.New(apperr.Conflict, "The notice has not been sent yet.")
	}
	drill, err := s.IsExercise(ctx, incidentID)
	if err != nil {
		return 0, err
	}
	title, body := n.wording(drill)
	count := 0
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		ids, err := db.Strings(ctx, tx, `SELECT d.account_id FROM incident_deliveries d
			LEFT JOIN notices n ON n.id = d.inbox_id LEFT JOIN outbox o ON o.id = d.outbox_id
			WHERE d.notice_id = $1 AND n.read_at IS NULL AND o.status = 'failed' ORDER BY d.account_id`, noticeID)
		if err != nil {
			return err
		}
		now := tx.Now()
		for _, acct := range ids {
			outbox, err := s.deliver.Email(ctx, tx, acct, "incident."+n.Kind, title, body)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE incident_deliveries SET outbox_id = $1, attempts = attempts + 1, last_sent_at = $2
				WHERE notice_id = $3 AND account_id = $4`, outbox, now, noticeID, acct); err != nil {
				return err
			}
		}
		count = len(ids)
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "incident.notice_resend", Target: "incident:" + incidentID, Outcome: audit.Success,
			Details: map[string]any{"notice": noticeID, "count": count}})
		return err
	})
	return count, err
}

// wording is the notice's title and text as each recipient gets them; a
// drill's say so first.
func (n Notice) wording(drill bool) (title, body string) {
	if drill {
		return "Exercise: " + n.Title, "This is an exercise of our incident response: nothing happened to your account.\n\n" + n.Body()
	}
	return n.Title, n.Body()
}

// joinWords joins a list as English: "a, b and c".
func joinWords(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

var errNoDeliverer = errors.New("incident: no notice delivery configured (SetDeliverer)")
