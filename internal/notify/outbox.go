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

// Undelivered page sizes.
const (
	DefaultUndeliveredLimit = 100
	MaxUndeliveredLimit     = 1000
)

// SentSince reports whether a mail or an inbox notice of kind went to an
// account after since: for notices that must not repeat too often.
func (s *Service) SentSince(ctx context.Context, tx *db.Tx, accountID, kind string, since time.Time) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx,
		`SELECT (SELECT COUNT(*) FROM outbox WHERE account_id = $1 AND kind = $2 AND created_at > $3) +
		        (SELECT COUNT(*) FROM notices WHERE account_id = $1 AND kind = $2 AND created_at > $3)`,
		accountID, kind, since).Scan(&n)
	return n > 0, err
}

// QueueEmail writes m to the outbox inside the caller's transaction: the
// mail exists exactly when the change that causes it is committed, and is
// sent by the worker afterwards. Recipient, subject and text are encrypted
// under the account's data key.
//
// Enforces MTL-1.1 (nothing lost: the mail is durable before anyone tries
// to send it) and CP-5.1 (encrypted at rest).
func (s *Service) QueueEmail(ctx context.Context, tx *db.Tx, m Email) error {
	_, err := s.QueueEmailID(ctx, tx, m)
	return err
}

// QueueEmailID is QueueEmail returning the outbox message's ID, for a
// caller that tracks the message's delivery (incident notices).
func (s *Service) QueueEmailID(ctx context.Context, tx *db.Tx, m Email) (string, error) {
	if err := m.validate(); err != nil {
		return "", err
	}
	id := newID()
	var enc [3][]byte
	for i, f := range []struct{ column, value string }{
		{"recipient_enc", m.To}, {"subject_enc", m.Subject}, {"body_enc", m.Text},
	} {
		ct, err := s.encrypt(ctx, tx, m.AccountID, outboxField(f.column, id), f.value)
		if err != nil {
			return "", err
		}
		enc[i] = ct
	}
	now := tx.Now()
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO outbox (id, account_id, kind, recipient_enc, subject_enc, body_enc, status, attempts, next_attempt_at, created_at)
		 VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)`,
		id, m.AccountID, m.Kind, enc[0], enc[1], enc[2], now); err != nil {
		return "", fmt.Errorf("notify: queue email: %w", err)
	}
	return id, nil
}

// Undelivered lists up to limit messages that are not sent (pending or
// failed), oldest first, for the administrators' page: mail stuck for
// longest comes first. It holds no recipient, subject or body. limit <= 0
// means DefaultUndeliveredLimit; it is capped at MaxUndeliveredLimit.
//
// Enforces MTL-1.1: mail that could not be delivered is visible, not lost.
func (s *Service) Undelivered(ctx context.Context, limit int) ([]OutboxItem, error) {
	if limit <= 0 {
		limit = DefaultUndeliveredLimit
	}
	limit = min(limit, MaxUndeliveredLimit)
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, account_id, kind, status, attempts, last_error, created_at, next_attempt_at
		 FROM outbox WHERE status <> 'sent' ORDER BY created_at, id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("notify: list undelivered: %w", err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		var it OutboxItem
		if err := rows.Scan(&it.ID, &it.AccountID, &it.Kind, &it.Status, &it.Attempts, &it.LastError, &it.CreatedAt, &it.NextAttemptAt); err != nil {
			return nil, fmt.Errorf("notify: list undelivered: %w", err)
		}
		it.CreatedAt, it.NextAttemptAt = it.CreatedAt.UTC(), it.NextAttemptAt.UTC()
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notify: list undelivered: %w", err)
	}
	return out, nil
}

// Requeue puts a failed message back in the queue with a fresh set of
// attempts, after an administrator has fixed what stopped it (a mail
// server setting, a full mailbox), and records notice.email.requeue with
// the actor from ctx. A message that is not failed answers
// apperr.NotFound.
func (s *Service) Requeue(ctx context.Context, outboxID string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		var kind string
		err := tx.QueryRowContext(ctx,
			`UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, last_error = '', claimed_by = NULL
			 WHERE id = $2 AND status = 'failed' RETURNING kind`, tx.Now(), outboxID).Scan(&kind)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Wrap(apperr.NotFound, "No failed message with this ID.", err)
		}
		if err != nil {
			return fmt.Errorf("notify: requeue: %w", err)
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{
			Action:  "notice.email.requeue",
			Target:  "outbox:" + outboxID,
			Outcome: audit.Success,
			Details: map[string]any{"kind": kind},
		})
		return err
	})
}
