package privacy

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/notify"
)

// RequestErasure schedules the erasure of the customer's account after the
// profile's grace period (privacy.erasure_grace, 7 days by default), during
// which the customer may cancel it. The customer is told by notice and
// email. The web layer asks for a fresh re-authentication first.
//
// Enforces CP-11.1: the right to erasure, from the account itself, with a
// grace period against mistakes and hijacked sessions.
func (s *Service) RequestErasure(ctx context.Context, p access.Principal) (Request, error) {
	if err := customerOnly(p); err != nil {
		return Request{}, err
	}
	if r, ok, err := s.PendingErasure(ctx, p.AccountID); err != nil {
		return Request{}, err
	} else if ok {
		return r, apperr.New(apperr.Conflict, "Your account is already scheduled for deletion.")
	}
	email, err := s.d.Identity.Email(ctx, p.AccountID)
	if err != nil {
		return Request{}, err
	}
	r := Request{ID: newID(), AccountID: p.AccountID, Kind: KindErasure, Status: StatusPending}
	err = s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		r.CreatedAt = now
		r.DueAt = now.Add(s.d.Profile.Privacy.RequestDeadline.Duration)
		r.ScheduledFor = now.Add(s.d.Profile.Privacy.ErasureGrace.Duration)
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO privacy_requests (id, account_id, kind, status, created_at, due_at, scheduled_for)
			 VALUES ($1, $2, 'erasure', 'pending', $3, $4, $5)`,
			r.ID, r.AccountID, r.CreatedAt, r.DueAt, r.ScheduledFor); err != nil {
			return err
		}
		if _, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "privacy.erasure.request", Target: "account:" + p.AccountID,
			Outcome: audit.Success, Details: map[string]any{"request": r.ID, "scheduled_for": r.ScheduledFor.UTC().Format(time.RFC3339)}}); err != nil {
			return err
		}
		return s.tell(ctx, tx, p.AccountID, email, "Your account is scheduled for deletion",
			"You asked us to delete your Portico account and your data. We will do it on "+r.ScheduledFor.UTC().Format("2 January 2006 at 15:04 UTC")+
				". Until then you can change your mind: sign in and cancel it under Account > Your data. If you did not ask for this, sign in, cancel it and change your password now.")
	})
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

// tell sends a privacy notice to the inbox and by email, when notices are
// configured.
func (s *Service) tell(ctx context.Context, tx *db.Tx, accountID, email, title, body string) error {
	if s.d.Notices == nil {
		return nil
	}
	_, err := s.d.Notices.Notify(ctx, tx, noticeOf(accountID, title, body), email)
	return err
}

// PendingErasure returns the account's scheduled erasure, if any.
func (s *Service) PendingErasure(ctx context.Context, accountID string) (Request, bool, error) {
	rs, err := s.requests(ctx, `WHERE account_id = $1 AND kind = 'erasure' AND status = 'pending' ORDER BY created_at DESC LIMIT 1`, accountID)
	if err != nil || len(rs) == 0 {
		return Request{}, false, err
	}
	return rs[0], true, nil
}

// CancelErasure withdraws the customer's scheduled erasure.
func (s *Service) CancelErasure(ctx context.Context, p access.Principal) error {
	if err := customerOnly(p); err != nil {
		return err
	}
	email, err := s.d.Identity.Email(ctx, p.AccountID)
	if err != nil {
		return err
	}
	return s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx,
			`UPDATE privacy_requests SET status = 'cancelled', completed_at = $1
			 WHERE account_id = $2 AND kind = 'erasure' AND status = 'pending' RETURNING id`, tx.Now(), p.AccountID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.Conflict, "Your account is not scheduled for deletion.")
		}
		if err != nil {
			return err
		}
		if _, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "privacy.erasure.cancel", Target: "account:" + p.AccountID,
			Outcome: audit.Success, Details: map[string]any{"request": id}}); err != nil {
			return err
		}
		return s.tell(ctx, tx, p.AccountID, email, "Your account will not be deleted",
			"The deletion of your Portico account was cancelled. If you did not cancel it, sign in and change your password.")
	})
}

// RunDueErasures carries out the erasures whose grace period has passed,
// one account per transaction, and returns how many it erased. The
// maintenance job runs it every minute on every node; a request is taken
// by one of them only (the conditional update).
func (s *Service) RunDueErasures(ctx context.Context) (int, error) {
	rs, err := s.requests(ctx, `WHERE kind = 'erasure' AND status = 'pending' AND scheduled_for <= $1 ORDER BY scheduled_for LIMIT 50`, s.d.DB.Now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rs {
		done, err := s.erase(audit.WithActor(ctx, audit.ActorSystem), r)
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// erase destroys the account's data key, which makes every encrypted
// field of it unreadable wherever a copy lies in this database, then
// deletes the account and, by cascade, every row that belongs to it. What
// remains is pseudonymous: audit events naming the opaque account ID, the
// key's tombstone and this request.
//
// Enforces CP-11.1, CP-5.2: erasure by crypto-shredding and deletion.
func (s *Service) erase(ctx context.Context, r Request) (bool, error) {
	done := false
	err := s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE privacy_requests SET status = 'done', completed_at = $1 WHERE id = $2 AND status = 'pending'`, tx.Now(), r.ID)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return nil // another node took it, or it was cancelled
		}
		if err := s.d.Keys.DestroySubjectKey(ctx, tx, r.AccountID); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = $1`, r.AccountID)
		if err != nil {
			return err
		}
		rows, _ := res.RowsAffected()
		done = true
		_, err = s.d.Audit.Append(ctx, tx, audit.Event{Actor: audit.ActorSystem, Action: "privacy.erasure.done", Target: "account:" + r.AccountID,
			Outcome: audit.Success, Details: map[string]any{"request": r.ID, "account_rows": rows}})
		return err
	})
	if err != nil || !done {
		return done, err
	}
	// Enforces CP-5.2: the SQLite log still holds the pages the erasure
	// replaced, the wrapped key among them; fold it into the database
	// file (where secure_delete zeroed them) and truncate it.
	return done, s.d.DB.Checkpoint(ctx)
}

func noticeOf(accountID, title, body string) notify.Notice {
	return notify.Notice{AccountID: accountID, Kind: "privacy.erasure", Title: title, Body: body}
}
