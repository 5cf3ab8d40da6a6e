package identity

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

const purposeChangeEmail = "change_email"

func pendingEmailField(id string) crypto.Field {
	return crypto.Field{Table: "accounts", Column: "pending_email_enc", Row: id}
}

// RequestEmailChange starts changing an account's email address: a link
// goes to the new address, and the account's current address is told. The
// change happens only when the link is opened, so a typo or a hijacked
// session cannot move the account to an address its owner does not hold.
// An address that already has an account gets a notice instead, and the
// caller the same answer (no enumeration). The caller requires a fresh
// re-authentication (step-up, CP-6.3).
func (s *Service) RequestEmailChange(ctx context.Context, accountID, newEmail string) error {
	email, err := NormalizeEmail(newEmail)
	if err != nil {
		return err
	}
	current, err := s.Email(ctx, accountID)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(email), []byte(current)) == 1 {
		return apperr.New(apperr.Invalid, "That is already your email address.")
	}
	lookup, err := s.emailLookup(ctx, email)
	if err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT id FROM accounts WHERE email_lookup = $1`, lookup).Scan(&other)
		switch {
		case err == nil:
			notify, err := s.mayTellOwner(ctx, tx, other)
			if err != nil {
				return err
			}
			if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "email.change_request", Target: "account:" + accountID,
				Outcome: audit.Failure, Details: map[string]any{"reason": "address_in_use", "owner_notified": notify}}); err != nil {
				return err
			}
			if !notify {
				return nil
			}
			return s.noticeTo(ctx, tx, Notice{AccountID: other, To: email, Kind: noticeSignupAttempt, Email: true,
				Title: "Someone tried to use your address for another Portico account",
				Body:  "At " + stamp(tx.Now()) + " someone asked to move another Portico account to your email address. Your address already has an account, so nothing changed. You can ignore this message."})
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		enc, err := s.keys.Encrypt(ctx, tx, accountID, pendingEmailField(accountID), []byte(email))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET pending_email_enc = $1, updated_at = $2 WHERE id = $3`, enc, tx.Now(), accountID); err != nil {
			return err
		}
		token, err := issueToken(ctx, tx, accountID, purposeChangeEmail, VerifyLinkTTL)
		if err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "email.change_request", Target: "account:" + accountID, Outcome: audit.Success}); err != nil {
			return err
		}
		if err := s.noticeTo(ctx, tx, Notice{AccountID: accountID, To: email, Kind: noticeVerifyEmail, Email: true,
			Title: "Confirm your new email address for Portico",
			Body: "To make this the email address of your Portico account, open this link within 24 hours:\n\n" + s.link("/email/"+token) +
				"\n\nIf you did not ask for this, ignore this message: nothing changes unless the link is opened."}); err != nil {
			return err
		}
		return s.notice(ctx, tx, accountID, current, noticeEmailChange, "A change of your email address was requested",
			"At "+stamp(tx.Now())+" someone signed in to your Portico account asked to change its email address to "+maskEmail(email)+
				". It changes only when the link we sent to that address is opened.\n\n"+ifNotYou)
	})
}

// addressInUseNoticeEvery is how often the owner of an address is told at
// most that someone tried to sign up with it or move another account to
// it.
const addressInUseNoticeEvery = 24 * time.Hour

// mayTellOwner reports whether the owner of an address someone else tried
// to use may be told now: at most once a day, so that repeating the
// attempt cannot flood their mailbox in Portico's name. The attempts are
// all in the audit trail.
//
// Enforces CP-6.3: "address in use" notices are throttled per recipient.
func (s *Service) mayTellOwner(ctx context.Context, tx *db.Tx, owner string) (bool, error) {
	if s.notifier == nil {
		return true, nil
	}
	sent, err := s.notifier.SentSince(ctx, tx, owner, noticeSignupAttempt, tx.Now().Add(-addressInUseNoticeEvery))
	return !sent, err
}

// EmailLinkValid reports whether an email-change link can still be used.
func (s *Service) EmailLinkValid(ctx context.Context, token string) bool {
	return peekToken(ctx, s.db, token, purposeChangeEmail, s.db.Now())
}

// ConfirmEmailChange makes the pending address the account's email, with
// the link's token. The old address is told.
func (s *Service) ConfirmEmailChange(ctx context.Context, token string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		id, err := consumeToken(ctx, tx, token, purposeChangeEmail)
		if err != nil {
			return err
		}
		var pending []byte
		if err := tx.QueryRowContext(ctx, `SELECT pending_email_enc FROM accounts WHERE id = $1`, id).Scan(&pending); err != nil {
			return err
		}
		if pending == nil {
			return errBadLink
		}
		b, err := s.keys.Decrypt(ctx, tx, id, pendingEmailField(id), pending)
		if err != nil {
			return err
		}
		email := string(b)
		old, err := s.emailIn(ctx, tx, id)
		if err != nil {
			return err
		}
		lookup, err := s.emailLookup(ctx, email)
		if err != nil {
			return err
		}
		enc, err := s.keys.Encrypt(ctx, tx, id, emailField(id), []byte(email))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE accounts SET email_enc = $1, email_lookup = $2, pending_email_enc = NULL, email_verified_at = $3, updated_at = $3 WHERE id = $4`,
			enc, lookup, tx.Now(), id)
		if db.IsUniqueViolation(err) {
			return apperr.Wrap(apperr.Conflict, "That address now belongs to another account, so it cannot be yours too.", err)
		}
		if err != nil {
			return err
		}
		// A reset link sent to the old address stops working.
		if _, err := tx.ExecContext(ctx, `UPDATE account_tokens SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL AND purpose = $3`,
			tx.Now(), id, purposeResetPassword); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "email.change", Target: "account:" + id, Outcome: audit.Success}); err != nil {
			return err
		}
		body := "The email address of your Portico account was changed to " + maskEmail(email) + " at " + stamp(tx.Now()) + ". We will write to the new address from now on.\n\n" + ifNotYou
		// The old address hears of it by mail (it is no longer the
		// account's); the inbox gets it too.
		if err := s.noticeTo(ctx, tx, Notice{AccountID: id, To: old, Kind: noticeEmailChange, Email: true,
			Title: "Your email address was changed", Body: body}); err != nil {
			return err
		}
		return s.noticeTo(ctx, tx, Notice{AccountID: id, Kind: noticeEmailChange, Inbox: true, Title: "Your email address was changed", Body: body})
	})
}

// maskEmail shows enough of an address for its owner to recognise it:
// "j***@example.com".
func maskEmail(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" {
		return "***"
	}
	r := []rune(local)
	return string(r[0]) + "***@" + domain
}
