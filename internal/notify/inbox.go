package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Inbox page sizes.
const (
	DefaultInboxLimit = 50
	MaxInboxLimit     = 200
)

// Post adds n to its account's inbox inside the caller's transaction, so
// the notice exists exactly when the change it reports is committed, and
// records notice.post in the audit trail. It returns the notice's ID.
//
// Enforces CP-9.1 and MTL-5.1.2 (in-portal delivery) and CP-5.1 (the body
// is encrypted under the account's data key).
func (s *Service) Post(ctx context.Context, tx *db.Tx, n Notice) (string, error) {
	if err := n.validate(); err != nil {
		return "", err
	}
	id := newID()
	body, err := s.encrypt(ctx, tx, n.AccountID, noticeField(id), n.Body)
	if err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO notices (id, account_id, kind, title, body_enc, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, n.AccountID, n.Kind, n.Title, body, tx.Now()); err != nil {
		return "", fmt.Errorf("notify: insert notice: %w", err)
	}
	// Evidence that the customer was told in the portal (CP-9.1): which
	// kind of notice, to which account, when.
	if _, err := s.audit.Append(ctx, tx, audit.Event{
		Action:  "notice.post",
		Target:  "notice:" + id,
		Outcome: audit.Success,
		Details: map[string]any{"kind": n.Kind, "account": n.AccountID},
	}); err != nil {
		return "", err
	}
	return id, nil
}

// Notify delivers one security notice both ways, inside the caller's
// transaction: n is posted to the inbox and queued as email to the address
// to, with n.Title as the subject and n.Body as the text, so the customer
// reads the same words in the portal and in the mail. It returns the
// notice's ID.
//
// Enforces CP-9.1 and MTL-5.1.2: security notices are delivered in-portal
// and by email, committed together with the change that causes them.
func (s *Service) Notify(ctx context.Context, tx *db.Tx, n Notice, to string) (string, error) {
	id, _, err := s.NotifyTracked(ctx, tx, n, to)
	return id, err
}

// NotifyTracked is Notify returning the outbox message's ID too, for a
// caller that tracks each customer's receipt (incident notices).
func (s *Service) NotifyTracked(ctx context.Context, tx *db.Tx, n Notice, to string) (noticeID, outboxID string, err error) {
	email := Email{AccountID: n.AccountID, To: to, Kind: n.Kind, Subject: n.Title, Text: n.Body}
	// Validate both before writing either: a bad address must not leave
	// an inbox entry behind in a transaction that the caller might commit.
	if err := firstOf(n.validate(), email.validate()); err != nil {
		return "", "", err
	}
	if noticeID, err = s.Post(ctx, tx, n); err != nil {
		return "", "", err
	}
	if outboxID, err = s.QueueEmailID(ctx, tx, email); err != nil {
		return "", "", err
	}
	return noticeID, outboxID, nil
}

// Inbox returns up to limit notices of the account, newest first, with
// their bodies decrypted. limit <= 0 means DefaultInboxLimit; it is capped
// at MaxInboxLimit.
func (s *Service) Inbox(ctx context.Context, accountID string, limit int) ([]InboxItem, error) {
	if limit <= 0 {
		limit = DefaultInboxLimit
	}
	return s.inbox(ctx, accountID, ` LIMIT $2`, min(limit, MaxInboxLimit))
}

// AllNotices returns every notice of the account, newest first, with
// their bodies decrypted: for the account's data export, which holds them
// all, not the inbox's page (CP-11.1).
func (s *Service) AllNotices(ctx context.Context, accountID string) ([]InboxItem, error) {
	return s.inbox(ctx, accountID, "")
}

func (s *Service) inbox(ctx context.Context, accountID, limit string, args ...any) ([]InboxItem, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, kind, title, body_enc, created_at, read_at FROM notices
		 WHERE account_id = $1 ORDER BY created_at DESC, id DESC`+limit, append([]any{accountID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("notify: read inbox: %w", err)
	}
	type row struct {
		item InboxItem
		body []byte
	}
	var raw []row
	for rows.Next() {
		var r row
		var readAt sql.Null[time.Time]
		if err := rows.Scan(&r.item.ID, &r.item.Kind, &r.item.Title, &r.body, &r.item.CreatedAt, &readAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("notify: read inbox: %w", err)
		}
		r.item.CreatedAt = r.item.CreatedAt.UTC()
		if readAt.Valid {
			r.item.ReadAt = readAt.V.UTC()
		}
		raw = append(raw, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notify: read inbox: %w", err)
	}
	// Decrypt after the rows are closed: each Decrypt reads the subject
	// key, and SQLite's read pool is small.
	out := make([]InboxItem, 0, len(raw))
	for _, r := range raw {
		pt, err := s.keys.Decrypt(ctx, s.db, accountID, noticeField(r.item.ID), r.body)
		if err != nil {
			return nil, fmt.Errorf("notify: notice %s: %w", r.item.ID, err)
		}
		r.item.Body = string(pt)
		out = append(out, r.item)
	}
	return out, nil
}

// UnreadCounts returns how many of the account's notices are unread, and
// how many of those are about a security incident (kinds "incident.*"),
// which the portal shows as a banner until read (CP-9.1): one query for
// both.
func (s *Service) UnreadCounts(ctx context.Context, accountID string) (all, incident int, err error) {
	if err := s.db.QueryRowContext(ctx,
		`SELECT count(*), COALESCE(SUM(CASE WHEN kind LIKE 'incident.%' THEN 1 ELSE 0 END), 0) FROM notices
		 WHERE account_id = $1 AND read_at IS NULL`, accountID).Scan(&all, &incident); err != nil {
		return 0, 0, fmt.Errorf("notify: count unread: %w", err)
	}
	return all, incident, nil
}

// UnreadCount returns how many of the account's notices are unread, for
// the badge in the portal's navigation.
func (s *Service) UnreadCount(ctx context.Context, accountID string) (int, error) {
	n, _, err := s.UnreadCounts(ctx, accountID)
	return n, err
}

// errNoNotice is the answer for a notice that does not exist and for one
// of another account alike, so that IDs cannot be probed.
func errNoNotice(err error) error { return apperr.Wrap(apperr.NotFound, "No such notice.", err) }

// MarkRead marks one of the account's notices read. The query is scoped
// to the account: another account's notice answers apperr.NotFound, the
// same as an ID that does not exist. Marking a read notice again is a
// no-op.
func (s *Service) MarkRead(ctx context.Context, accountID, noticeID string) error {
	if accountID == "" || noticeID == "" {
		return errNoNotice(nil)
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE notices SET read_at = $1 WHERE id = $2 AND account_id = $3 AND read_at IS NULL`,
			tx.Now(), noticeID, accountID)
		if err != nil {
			return fmt.Errorf("notify: mark read: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx,
			`SELECT 1 FROM notices WHERE id = $1 AND account_id = $2`, noticeID, accountID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoNotice(err)
		}
		return err
	})
}

// Tracked delivers notices whose receipt the caller tracks (incident
// notices, internal/incident's Deliverer): to the inbox and as email to the
// address Address gives, returning the inbox notice's and the outbox
// message's IDs.
type Tracked struct {
	Notices *Service
	Address func(ctx context.Context, tx *db.Tx, accountID string) (string, error)
}

// Deliver posts the notice and queues its email, inside tx.
func (t Tracked) Deliver(ctx context.Context, tx *db.Tx, accountID, kind, title, body string) (string, string, error) {
	to, err := t.Address(ctx, tx, accountID)
	if err != nil {
		return "", "", err
	}
	return t.Notices.NotifyTracked(ctx, tx, Notice{AccountID: accountID, Kind: kind, Title: title, Body: body}, to)
}

// Email queues the email again, inside tx.
func (t Tracked) Email(ctx context.Context, tx *db.Tx, accountID, kind, title, body string) (string, error) {
	to, err := t.Address(ctx, tx, accountID)
	if err != nil {
		return "", err
	}
	return t.Notices.QueueEmailID(ctx, tx, Email{AccountID: accountID, To: to, Kind: kind, Subject: title, Text: body})
}
