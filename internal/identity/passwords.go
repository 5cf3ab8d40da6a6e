package identity

import (
	"context"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// errReused is the answer to a password from the account's history.
var errReused = apperr.New(apperr.Invalid, "You have used this password recently. Choose one you have not used on this account before.")

// ChangePassword changes the password of a signed-in account. The current
// password is asked again (it proves the person at the keyboard, and a
// forced change right after sign-in costs one more line). Every other
// session and every API token of the account ends: whoever knew the old
// password may have used it to open them.
//
// Enforces CP-4.3, MTL-3.1.1: the new password passes the policy and is
// none of the last N. Enforces CP-6.3: a new password ends every
// credential that the old one opened.
func (s *Service) ChangePassword(ctx context.Context, accountID, sessionID, current, next string) error {
	acct, err := s.Account(ctx, accountID)
	if err != nil {
		return err
	}
	var hash string
	if err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM accounts WHERE id = $1`, accountID).Scan(&hash); err != nil {
		return err
	}
	// Enforces CP-8.2: the current password is a credential check like
	// any other. A locked or backing-off account is refused without it
	// being checked, and a wrong one counts towards the lock, so that a
	// session left open is no unlimited password oracle.
	req := audit.RequestFrom(ctx)
	try := attempt{method: MethodPassword, ip: req.IP, ua: req.UserAgent}
	attemptID, refused, err := s.reserve(ctx, acct.ID, try)
	if err != nil {
		return err
	}
	if refused != "" {
		return errSignInFailed
	}
	ok, _, _, err := s.checkReserved(ctx, acct.ID, attemptID, try, current, hash)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.InField("current_password", apperr.New(apperr.Invalid, "Your current password is not right."))
	}
	if current == next {
		return apperr.InField("password", apperr.New(apperr.Invalid, "Choose a new password that differs from the current one."))
	}
	return s.setPassword(ctx, acct, next, "password.change", sessionID)
}

// setPassword checks and stores a new password, clears any required
// change, the expiry warning and the lock, ends every credential of the
// account but the session keep ("" for none: a reset), and notifies.
func (s *Service) setPassword(ctx context.Context, acct Account, next, action, keep string, before ...func(tx *db.Tx) error) error {
	email, err := s.Email(ctx, acct.ID)
	if err != nil {
		return err
	}
	name, err := s.Name(ctx, acct.ID)
	if err != nil {
		return err
	}
	if err := s.CheckPassword(next, email, name); err != nil {
		return apperr.InField("password", err)
	}
	hash, err := s.hashPassword(ctx, next)
	if err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		for _, fn := range before {
			if err := fn(tx); err != nil {
				return err
			}
		}
		reused, err := s.reusedPassword(ctx, tx, acct.ID, next)
		if err != nil {
			return err
		}
		if reused {
			return apperr.InField("password", errReused)
		}
		// Enforces CP-8.2: a new password lifts a lock that wrong
		// passwords caused, not one that wrong second-factor codes caused:
		// whoever guesses codes already has a password, and may hold the
		// mailbox that resets it, so a reset must not buy more guesses.
		codes, err := s.codeFailures(ctx, tx, acct, tx.Now())
		if err != nil {
			return err
		}
		keepLock := codes >= s.profile.Lockout.Threshold
		if _, err := tx.ExecContext(ctx,
			`UPDATE accounts SET password_hash = $1, password_changed_at = $2, password_change_required = '',
			        expiry_warned_at = NULL, locked_until = CASE WHEN $4 THEN locked_until END, updated_at = $2 WHERE id = $3`,
			hash, tx.Now(), acct.ID, keepLock); err != nil {
			return err
		}
		if err := s.rememberPassword(ctx, tx, acct.ID, hash); err != nil {
			return err
		}
		// Links already sent stop working: a reset link, and a pending
		// change of email address, which whoever requested it (maybe with
		// the old password) could otherwise still confirm.
		if _, err := tx.ExecContext(ctx,
			`UPDATE account_tokens SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL AND purpose IN ($3, $4)`,
			tx.Now(), acct.ID, purposeResetPassword, purposeChangeEmail); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET pending_email_enc = NULL WHERE id = $1`, acct.ID); err != nil {
			return err
		}
		e, err := s.endCredentials(ctx, tx, acct.ID, keep, action)
		if err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: action, Target: "account:" + acct.ID, Outcome: audit.Success,
			Details: map[string]any{"sessions_ended": e.Sessions, "tokens_revoked": e.Tokens, "was_required": acct.PasswordChangeRequired}}); err != nil {
			return err
		}
		body := "The password of your Portico account was changed at " + stamp(tx.Now()) + "."
		if e.Sessions+e.Tokens > 0 {
			body += " " + endedText(e) + "."
		}
		return s.notice(ctx, tx, acct.ID, email, noticePasswordChanged, "Your password was changed", body+"\n\n"+
			"If you did not do this, reset your password at "+s.link("/reset")+" at once and contact support.")
	})
}

// RequestReset mails a password-reset link if the address belongs to an
// active account. It answers the same way, and in about the same time,
// whether or not it does (no user enumeration).
//
// Enforces CP-4.3: reset links are single-use and valid 30 minutes, and
// only their hash is stored.
func (s *Service) RequestReset(ctx context.Context, email, ip string) error {
	if err := s.throttle(ctx, ip, limitResetIP); err != nil {
		return err
	}
	// A known address costs a few database writes that an unknown one
	// does not: every answer waits until the floor, so the time taken
	// says nothing about the address.
	start := time.Now()
	defer func() {
		if d := s.resetFloor - time.Since(start); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
	}()
	acct, _, err := s.accountForLogin(ctx, email)
	if err != nil {
		if err == errNoAccount {
			return nil
		}
		return err
	}
	if acct.Status != StatusActive {
		return nil
	}
	addr, err := s.Email(ctx, acct.ID)
	if err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		token, err := issueToken(ctx, tx, acct.ID, purposeResetPassword, ResetLinkTTL)
		if err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "password.reset_request", Target: "account:" + acct.ID, Outcome: audit.Success}); err != nil {
			return err
		}
		return s.noticeTo(ctx, tx, Notice{AccountID: acct.ID, To: addr, Kind: noticeResetPassword, Email: true,
			Title: "Reset your Portico password",
			Body: "Someone (we hope you) asked to reset the password of your Portico account at " + stamp(tx.Now()) + ". Open this link within 30 minutes to choose a new one:\n\n" +
				s.link("/reset/"+token) + "\n\nThe link works once. If you did not ask for it, ignore this message: your password stays as it is."})
	})
}

// ResetLinkValid reports whether a reset link can still be used, for the
// page it opens.
func (s *Service) ResetLinkValid(ctx context.Context, token string) bool {
	return peekToken(ctx, s.db, token, purposeResetPassword, s.db.Now())
}

// ResetPassword sets a new password with a reset link's token. Every
// session of the account ends and its lock is lifted. It does not sign
// anyone in: the second factor is still asked at the next sign-in, so a
// reset never bypasses MFA (CP-4.1). A password the policy refuses leaves
// the link usable for another try; the token is spent in the same
// transaction that stores the new password.
func (s *Service) ResetPassword(ctx context.Context, token, next string) error {
	accountID, ok := tokenAccount(ctx, s.db, token, purposeResetPassword, s.db.Now())
	if !ok {
		return errBadLink
	}
	acct, err := s.Account(ctx, accountID)
	if err != nil {
		return err
	}
	return s.setPassword(ctx, acct, next, "password.reset", "", func(tx *db.Tx) error {
		id, err := consumeToken(ctx, tx, token, purposeResetPassword)
		if err == nil && id != accountID {
			err = errBadLink
		}
		return err
	})
}

// RequirePasswordChange makes an account change its password before it
// can do anything else (an administrator's flag, or an incident), and ends
// its sessions so the change happens at the next sign-in.
func (s *Service) RequirePasswordChange(ctx context.Context, accountID, reason string) error {
	if reason != ChangeAdmin && reason != ChangeIncident && reason != ChangeCompromised {
		return apperr.New(apperr.Invalid, "Unknown reason for a password change.")
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET password_change_required = $1, updated_at = $2 WHERE id = $3`, reason, tx.Now(), accountID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errNoAccount
		}
		e, err := s.endCredentials(ctx, tx, accountID, "", "password_change_required")
		if err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "password.change_required", Target: "account:" + accountID, Outcome: audit.Success,
			Details: map[string]any{"reason": reason, "sessions_ended": e.Sessions, "tokens_revoked": e.Tokens}})
		return err
	})
}
