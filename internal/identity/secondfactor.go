package identity

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/session"
)

// errWrongSession answers a second-factor step on a session that is not
// waiting for one.
var errWrongSession = apperr.New(apperr.Forbidden, "Sign in again: this sign-in is not waiting for a second factor.")

// VerifySecondFactor completes a sign-in that is waiting for a second
// factor with a TOTP code or a recovery code. A wrong code counts towards
// the account's lock exactly as a wrong password does, and is answered
// the same way whether it was wrong, replayed or throttled.
//
// Enforces CP-4.1: no session reaches the portal without the second
// factor; CP-8.2: second-factor guessing is rate-limited and locks too.
func (s *Service) VerifySecondFactor(ctx context.Context, pending session.Session, code, ip, ua string) (SignIn, error) {
	if pending.AAL >= 2 {
		return SignIn{}, errWrongSession
	}
	// Per address and per network: one IPv6 /64 holds more addresses
	// than anyone could exhaust (CP-8.2).
	if err := s.throttle(ctx, ip, limitMFAIP, limitLoginNetwork); err != nil {
		return SignIn{}, err
	}
	acct, err := s.Account(ctx, pending.AccountID)
	if err != nil {
		return SignIn{}, err
	}
	if !acct.HasSecondFactor() {
		return SignIn{}, errWrongSession
	}
	try := attempt{method: MethodTOTP, ip: ip, ua: ua}
	attemptID, refused, err := s.reserve(ctx, acct.ID, try)
	if err != nil {
		return SignIn{}, err
	}
	if refused != "" {
		return SignIn{}, errCodeFailed
	}
	var out SignIn
	method := ""
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		if err := lockAccountRow(ctx, tx, acct.ID); err != nil { // before the audit head: see settle
			return err
		}
		digits := strings.Join(strings.Fields(code), "")
		if len(digits) == 6 {
			ok, err := s.checkTOTP(ctx, tx, acct.ID, digits)
			if err != nil || !ok {
				return err
			}
			method = MethodTOTP
		} else {
			ok, err := s.useRecoveryCode(ctx, tx, acct.ID, code)
			if err != nil || !ok {
				return err
			}
			method = MethodRecovery
			left := 0
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL`, acct.ID).Scan(&left); err != nil {
				return err
			}
			email, err := s.emailIn(ctx, tx, acct.ID)
			if err != nil {
				return err
			}
			if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "mfa.recovery.use", Target: "account:" + acct.ID, Outcome: audit.Success,
				Details: map[string]any{"left": left}}); err != nil {
				return err
			}
			if err := s.notice(ctx, tx, acct.ID, email, noticeRecoveryUsed, "A recovery code was used to sign in",
				"One of your recovery codes was used to sign in to your Portico account at "+stamp(tx.Now())+" from "+where(session.Device(ua), ip, session.Country(ip))+". "+
					plural(left, "recovery code is", "recovery codes are")+" left; you can make a new set on your account's security page.\n\n"+ifNotYou); err != nil {
				return err
			}
		}
		return s.complete(ctx, tx, acct, &pending, []string{MethodPassword, method}, 2, ip, ua, &out)
	})
	if err != nil {
		return SignIn{}, err
	}
	try.reason = "bad_code"
	if err := s.settle(ctx, acct.ID, attemptID, method != "", try); err != nil {
		return SignIn{}, err
	}
	if method == "" {
		return SignIn{}, errCodeFailed
	}
	return out, nil
}

// PasskeySecondFactor completes a sign-in waiting for a second factor with
// a passkey that internal/passkey has verified for accountID.
func (s *Service) PasskeySecondFactor(ctx context.Context, pending session.Session, accountID, ip, ua string) (SignIn, error) {
	if pending.AAL >= 2 || pending.AccountID != accountID {
		return SignIn{}, errWrongSession
	}
	acct, err := s.Account(ctx, accountID)
	if err != nil {
		return SignIn{}, err
	}
	refused, err := s.admit(ctx, acct.ID, attempt{method: MethodPasskey, ip: ip, ua: ua})
	if err != nil {
		return SignIn{}, err
	}
	if refused != "" {
		return SignIn{}, errCodeFailed
	}
	var out SignIn
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		if err := lockAccountRow(ctx, tx, acct.ID); err != nil { // before the audit head: see settle
			return err
		}
		return s.complete(ctx, tx, acct, &pending, []string{MethodPassword, MethodPasskey}, 2, ip, ua, &out)
	})
	return out, err
}

// PasskeySignIn signs in without a password with a passkey that
// internal/passkey has verified (a discoverable credential with user
// verification: something the user has, unlocked by something they are or
// know, so it is multi-factor on its own).
func (s *Service) PasskeySignIn(ctx context.Context, accountID, ip, ua string) (SignIn, error) {
	if err := s.throttle(ctx, ip, limitLoginIP, limitLoginNetwork); err != nil {
		return SignIn{}, err
	}
	acct, err := s.Account(ctx, accountID)
	if err != nil {
		return SignIn{}, errSignInFailed
	}
	if acct.Status != StatusActive {
		return SignIn{}, errSignInFailed
	}
	refused, err := s.admit(ctx, acct.ID, attempt{method: MethodPasskey, ip: ip, ua: ua})
	if err != nil {
		return SignIn{}, err
	}
	if refused != "" {
		return SignIn{}, errSignInFailed
	}
	var out SignIn
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		if err := lockAccountRow(ctx, tx, acct.ID); err != nil { // before the audit head: see settle
			return err
		}
		if err := s.requireChangeIfDue(ctx, tx, &acct, false); err != nil {
			return err
		}
		return s.complete(ctx, tx, acct, nil, []string{MethodPasskey}, 2, ip, ua, &out)
	})
	return out, err
}

// FinishEnrolment upgrades a restricted session (MFA required, no factor
// yet) once the account has enrolled its first second factor: the
// enrolment proved the factor, so the session becomes a full sign-in.
func (s *Service) FinishEnrolment(ctx context.Context, pending session.Session, method, ip, ua string) (SignIn, error) {
	acct, err := s.Account(ctx, pending.AccountID)
	if err != nil {
		return SignIn{}, err
	}
	if !acct.HasSecondFactor() {
		return SignIn{}, errWrongSession
	}
	var out SignIn
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		if err := lockAccountRow(ctx, tx, acct.ID); err != nil { // before the audit head: see settle
			return err
		}
		return s.complete(ctx, tx, acct, &pending, []string{MethodPassword, method}, 2, ip, ua, &out)
	})
	return out, err
}

// FactorAdded notifies the owner that a passkey (or another factor) was
// added, in the transaction that stored it, and reports whether the
// account still needs recovery codes (its first second factor): the caller
// then offers to make them, shown once.
func (s *Service) FactorAdded(ctx context.Context, tx *db.Tx, accountID, what string) (needCodes bool, err error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL`, accountID).Scan(&n); err != nil {
		return false, err
	}
	email, err := s.emailIn(ctx, tx, accountID)
	if err != nil {
		return false, err
	}
	return n == 0, s.notice(ctx, tx, accountID, email, noticeFactorAdded, "A "+what+" was added to your account",
		"A "+what+" was added as a second factor to your Portico account at "+stamp(tx.Now())+".\n\n"+ifNotYou)
}

// FactorRemoved notifies the owner that a passkey was removed.
func (s *Service) FactorRemoved(ctx context.Context, tx *db.Tx, accountID, what string) error {
	email, err := s.emailIn(ctx, tx, accountID)
	if err != nil {
		return err
	}
	return s.notice(ctx, tx, accountID, email, noticeFactorRemoved, "A "+what+" was removed from your account",
		"A "+what+" was removed from your Portico account at "+stamp(tx.Now())+".\n\n"+ifNotYou)
}

// TokenCreated tells the holder of a new personal access token, in the
// transaction that made it, as a new second factor is told: a token is a
// credential that outlives the session, so a token they did not make is a
// sign that someone else is in their account.
//
// Enforces CP-6.3: no credential is added to an account unseen.
func (s *Service) TokenCreated(ctx context.Context, tx *db.Tx, accountID, name string, expires time.Time) error {
	email, err := s.emailIn(ctx, tx, accountID)
	if err != nil {
		return err
	}
	return s.notice(ctx, tx, accountID, email, noticeTokenCreated, "An API token was created for your account",
		"An API token named \""+name+"\" was created for your Portico account at "+stamp(tx.Now())+"; it works until "+stamp(expires)+
			" unless you revoke it on your API tokens page ("+s.link("/account/tokens")+").\n\n"+ifNotYou)
}

// CheckRemovePasskey is called in the transaction that removes a passkey,
// before removing it: it holds the account's row (so that two removals at
// once cannot both see a factor left) and refuses to remove the last
// second factor of an account that must have one.
//
// Enforces CP-4.1: an account that must have a second factor keeps one.
func (s *Service) CheckRemovePasskey(ctx context.Context, tx *db.Tx, accountID string) error {
	if err := lockAccountRow(ctx, tx, accountID); err != nil {
		return err
	}
	acct, err := s.loadAccount(ctx, tx, accountID)
	if err != nil {
		return err
	}
	passkeys, err := countPasskeys(ctx, tx, accountID)
	if err != nil {
		return err
	}
	if s.mfaRequired(acct) && !acct.TOTPEnabled && passkeys <= 1 {
		return apperr.New(apperr.Conflict, "This is your only second factor and your account must have one. Add another passkey or an authenticator app first.")
	}
	return nil
}

// countPasskeys counts an account's passkeys inside tx (the passkeys table
// of internal/passkey), so that a removal sees the count as of its own
// transaction.
func countPasskeys(ctx context.Context, tx *db.Tx, accountID string) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM passkeys WHERE account_id = $1`, accountID).Scan(&n)
	return n, err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
