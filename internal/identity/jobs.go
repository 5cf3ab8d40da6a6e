package identity

import (
	"context"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// SendExpiryWarnings tells every active account whose password expires
// within the profile's warning period, once per password, by email and in
// the inbox. It returns how many were told.
//
// Enforces CP-4.3: expiry comes with a warning before it.
func (s *Service) SendExpiryWarnings(ctx context.Context) (int, error) {
	p := s.profile.Password
	if p.ExpiryDays <= 0 {
		return 0, nil
	}
	now := s.db.Now()
	// Changed before this, the password expires within the warning period.
	cutoff := now.Add(-time.Duration(p.ExpiryDays-p.ExpiryWarningDays) * 24 * time.Hour)
	// Changed before this, it has expired already: the next sign-in
	// forces the change, and a warning would quote a date in the past.
	expired := now.Add(-time.Duration(p.ExpiryDays) * 24 * time.Hour)
	ids, err := s.accountIDs(ctx,
		`SELECT id FROM accounts WHERE status = $1 AND expiry_warned_at IS NULL AND password_changed_at IS NOT NULL
		   AND password_changed_at <= $2 AND password_changed_at > $3 AND password_change_required = '' LIMIT 500`, StatusActive, cutoff, expired)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := s.db.Transact(ctx, func(tx *db.Tx) error {
			acct, err := s.loadAccount(ctx, tx, id)
			if err != nil {
				return err
			}
			email, err := s.emailIn(ctx, tx, id)
			if err != nil {
				return err
			}
			at := s.PasswordExpiresAt(acct)
			res, err := tx.ExecContext(ctx, `UPDATE accounts SET expiry_warned_at = $1 WHERE id = $2 AND expiry_warned_at IS NULL`, tx.Now(), id)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k != 1 {
				return nil // another node warned it
			}
			if _, err := s.audit.Append(ctx, tx, audit.Event{Actor: audit.ActorSystem, Action: "password.expiry_warning", Target: "account:" + id,
				Outcome: audit.Success, Details: map[string]any{"expires": at.Format(time.RFC3339)}}); err != nil {
				return err
			}
			n++
			return s.notice(ctx, tx, id, email, noticePasswordExpiry, "Your password expires soon",
				"The password of your Portico account expires on "+stamp(at)+". Change it before then at "+s.link("/account/password")+
					"; after that date you will have to choose a new one when you sign in.")
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Prune deletes rate-limit windows that have ended.
func (s *Service) Prune(ctx context.Context) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error { return s.pruneRateLimits(ctx, tx) })
}
