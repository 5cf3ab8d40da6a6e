package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// The emailed code of a challenged sign-in (an account without a second
// factor whose sign-in detection found risky enough to challenge): six
// digits, valid ten minutes, five wrong tries per pending sign-in, and up
// to three new codes after the first.
const (
	emailCodeTTL      = 10 * time.Minute
	emailCodeMaxTries = 5
	emailCodeMaxSends = 1 + 3
	noticeEmailCode   = "sign-in-code"
)

var (
	// errEmailCodeFailed answers a wrong code, and a code tried while the
	// account is locked or backing off.
	errEmailCodeFailed = apperr.New(apperr.Unauthorized,
		"That code is not right. Enter the 6 digits from the latest email we sent you.")
	// ErrEmailCodeEnded answers a code (or a request for a new one) once
	// the pending sign-in has ended: its code expired, or was entered wrong
	// too often. The web layer then drops the session cookie.
	ErrEmailCodeEnded = apperr.New(apperr.Unauthorized,
		"This sign-in has ended: the code expired or was entered wrong too many times. Sign in again to get a new code.")
	errEmailCodeSends = apperr.New(apperr.RateLimited,
		"We have already sent 3 new codes for this sign-in. Enter the latest one, or sign in again.")
	errNotWaitingForCode = apperr.New(apperr.Forbidden, "Sign in again: this sign-in is not waiting for a code.")
)

// newEmailCode returns six decimal digits, uniformly from crypto/rand.
func newEmailCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// emailCodeHash is the stored form of a code: an HMAC under a server
// secret, bound to the pending session, so that a copy of the table gives
// nobody the codes (a million candidates would not stand up to a plain
// hash) and a code only ever opens the sign-in it was sent for.
func (s *Service) emailCodeHash(sessionID, code string) []byte {
	m := hmac.New(sha256.New, s.emailCodeKey)
	m.Write([]byte(sessionID + "|" + code))
	return m.Sum(nil)
}

// normalizeEmailCode accepts a code as typed: spaces and dashes ignored.
func normalizeEmailCode(c string) string {
	return strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(c)
}

// startEmailCode makes the code of a pending sign-in that detection
// challenged, stores it and mails it to the account's address, in tx.
func (s *Service) startEmailCode(ctx context.Context, tx *db.Tx, acct Account, pending session.Session, risk detect.Assessment, ip, ua string) error {
	code, err := newEmailCode()
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO email_codes (session_id, account_id, code_hash, tries, sends, created_at, expires_at) VALUES ($1, $2, $3, 0, 1, $4, $5)`,
		pending.ID, acct.ID, s.emailCodeHash(pending.ID, code), tx.Now(), tx.Now().Add(emailCodeTTL)); err != nil {
		return err
	}
	if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "login.email_code.send", Target: "account:" + acct.ID, Outcome: audit.Success,
		Details: map[string]any{"session": pending.ID, "sends": 1, "level": risk.Level, "score": risk.Score, "reasons": risk.Reasons, "action": risk.Action}}); err != nil {
		return err
	}
	why := "it looked unusual: " + plainReasons(risk.Reasons)
	if len(risk.Reasons) == 0 {
		why = "this portal asks for one at sign-ins like it"
	}
	return s.mailEmailCode(ctx, tx, acct.ID, code,
		"Someone signed in to your Portico account with your password at "+stamp(tx.Now())+" from "+where(session.Device(ua), ip, session.Country(ip))+
			". We ask for this code before letting the sign-in through because "+why+".")
}

// mailEmailCode sends a code by email only: not to the inbox, since whoever
// is signing in may not be the owner, and the inbox is theirs to read once
// signed in.
func (s *Service) mailEmailCode(ctx context.Context, tx *db.Tx, accountID, code, about string) error {
	email, err := s.emailIn(ctx, tx, accountID)
	if err != nil {
		return err
	}
	return s.noticeTo(ctx, tx, Notice{AccountID: accountID, To: email, Kind: noticeEmailCode, Email: true,
		Title: "Your Portico sign-in code",
		Body: "Your sign-in code is " + code + ". It works once, for the next 10 minutes.\n\n" + about + "\n\n" +
			"If this was you, enter the code on the sign-in page. Never give it to anyone else: Portico staff never ask for it.\n\n" +
			"If this was not you, someone knows your password: do not use the code, and change your password now by resetting it at " + s.link("/reset") +
			". Then report it from your account's security page (\"This wasn't me\")."})
}

// endEmailCode ends a pending sign-in with its code, in tx. The row and
// the session go together: a session without its row would no longer be
// held at StepEmailCode (see Stage).
func (s *Service) endEmailCode(ctx context.Context, tx *db.Tx, accountID, sessionID, reason string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM email_codes WHERE session_id = $1`, sessionID); err != nil {
		return err
	}
	err := s.sessions.End(ctx, tx, accountID, sessionID, reason)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil
	}
	return err
}

// waitingForEmailCode reports whether a session is a pending sign-in that
// owes its emailed code.
func (s *Service) waitingForEmailCode(ctx context.Context, sessionID string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM email_codes WHERE session_id = $1`, sessionID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// emailCodeOutcome is what a check of an emailed code found.
type emailCodeOutcome int

const (
	codeNone    emailCodeOutcome = iota // the session is not waiting for a code
	codeRight                           // signed in
	codeWrong                           // a wrong code, tries left
	codeEnded                           // a wrong code, the last try: the sign-in ended
	codeExpired                         // too late: the sign-in ended
)

// VerifyEmailCode completes a sign-in that is waiting for its emailed
// code. A wrong code counts towards the account's lock as a wrong second
// factor does (sign_in_events "bad_code", audited login.failure), so
// detection's mfa_guessing rule sees it too; the fifth wrong code, or any
// code after ten minutes, ends the pending sign-in. The result is a
// session at AAL 1 with methods password and email-code.
//
// Enforces CP-8.2: a sign-in that detection challenges is not let through
// on the password alone when the account has no second factor; the code
// proves control of the account's mailbox, it is single use, short-lived,
// stored only as a keyed hash, and its guessing is rate-limited per
// address and network, limited per sign-in and counted towards the lock.
func (s *Service) VerifyEmailCode(ctx context.Context, pending session.Session, code, ip, ua string) (SignIn, error) {
	if pending.AAL >= 2 {
		return SignIn{}, errNotWaitingForCode
	}
	if err := s.throttle(ctx, ip, limitMFAIP, limitLoginNetwork); err != nil {
		return SignIn{}, err
	}
	acct, err := s.Account(ctx, pending.AccountID)
	if err != nil {
		return SignIn{}, err
	}
	try := attempt{method: MethodEmailCode, ip: ip, ua: ua}
	attemptID, refused, err := s.reserve(ctx, acct.ID, try)
	if err != nil {
		return SignIn{}, err
	}
	if refused != "" {
		return SignIn{}, errEmailCodeFailed
	}
	var out SignIn
	outcome := codeNone
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		if err := lockAccountRow(ctx, tx, acct.ID); err != nil { // before the audit head: see settle
			return err
		}
		var stored []byte
		var tries int
		var expires time.Time
		err := tx.QueryRowContext(ctx, `SELECT code_hash, tries, expires_at FROM email_codes WHERE session_id = $1 AND account_id = $2`,
			pending.ID, acct.ID).Scan(&stored, &tries, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if !tx.Now().Before(expires) {
			outcome = codeExpired
			return s.endEmailCode(ctx, tx, acct.ID, pending.ID, "email_code_expired")
		}
		if subtle.ConstantTimeCompare(stored, s.emailCodeHash(pending.ID, normalizeEmailCode(code))) == 1 {
			outcome = codeRight
			// Single use: the row goes in the transaction that rotates
			// the pending session away.
			if _, err := tx.ExecContext(ctx, `DELETE FROM email_codes WHERE session_id = $1`, pending.ID); err != nil {
				return err
			}
			// Enforces CP-4.1: an emailed code is not a second factor
			// (the mailbox is often opened with the same password, and
			// mail is no authenticator), so the session stays at AAL 1:
			// it proves the owner's mailbox against a risky sign-in, and
			// nothing that needs two factors opens with it.
			return s.completeRisk(ctx, tx, acct, &pending, []string{MethodPassword, MethodEmailCode}, session.AAL1, ip, ua, &out, policy.RiskChallenge)
		}
		if tries+1 >= emailCodeMaxTries {
			outcome = codeEnded
			return s.endEmailCode(ctx, tx, acct.ID, pending.ID, "email_code_tries")
		}
		outcome = codeWrong
		_, err = tx.ExecContext(ctx, `UPDATE email_codes SET tries = tries + 1 WHERE session_id = $1`, pending.ID)
		return err
	})
	if err != nil {
		return SignIn{}, err
	}
	// Only a guess counts: a code sent to a sign-in that is over, or not
	// waiting for one, guessed nothing.
	guess := outcome == codeWrong || outcome == codeEnded
	try.reason = "bad_code"
	if err := s.settle(ctx, acct.ID, attemptID, !guess, try); err != nil {
		return SignIn{}, err
	}
	switch outcome {
	case codeRight:
		return out, nil
	case codeWrong:
		return SignIn{}, errEmailCodeFailed
	case codeEnded, codeExpired:
		return SignIn{}, ErrEmailCodeEnded
	}
	return SignIn{}, errNotWaitingForCode
}

// ResendEmailCode mails a new code for a pending sign-in (the old one
// stops working), at most three times per sign-in, rate-limited per
// address and network. The count of wrong tries carries over: a new code
// is no new budget of guesses.
func (s *Service) ResendEmailCode(ctx context.Context, pending session.Session, ip, ua string) error {
	if pending.AAL >= 2 {
		return errNotWaitingForCode
	}
	if err := s.throttle(ctx, ip, limitMFAIP, limitLoginNetwork); err != nil {
		return err
	}
	outcome := codeNone
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		if err := lockAccountRow(ctx, tx, pending.AccountID); err != nil {
			return err
		}
		var sends int
		var expires time.Time
		err := tx.QueryRowContext(ctx, `SELECT sends, expires_at FROM email_codes WHERE session_id = $1 AND account_id = $2`,
			pending.ID, pending.AccountID).Scan(&sends, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return errNotWaitingForCode
		}
		if err != nil {
			return err
		}
		if !tx.Now().Before(expires) {
			outcome = codeExpired
			return s.endEmailCode(ctx, tx, pending.AccountID, pending.ID, "email_code_expired")
		}
		if sends >= emailCodeMaxSends {
			return errEmailCodeSends
		}
		code, err := newEmailCode()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE email_codes SET code_hash = $1, sends = sends + 1, expires_at = $2 WHERE session_id = $3`,
			s.emailCodeHash(pending.ID, code), tx.Now().Add(emailCodeTTL), pending.ID); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "login.email_code.send", Target: "account:" + pending.AccountID, Outcome: audit.Success,
			Details: map[string]any{"session": pending.ID, "sends": sends + 1}}); err != nil {
			return err
		}
		return s.mailEmailCode(ctx, tx, pending.AccountID, code,
			"A new code was asked for at "+stamp(tx.Now())+" for the sign-in to your Portico account from "+where(session.Device(ua), ip, session.Country(ip))+
				"; the codes sent before it no longer work.")
	})
	if err != nil {
		return err
	}
	if outcome == codeExpired {
		return ErrEmailCodeEnded
	}
	return nil
}

// SweepEmailCodes ends the pending sign-ins whose code has expired, with
// their sessions, and returns how many. It is part of the periodic
// maintenance.
func (s *Service) SweepEmailCodes(ctx context.Context) (int, error) {
	n := 0
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT session_id, account_id FROM email_codes WHERE expires_at <= $1 ORDER BY expires_at LIMIT 500`, tx.Now())
		if err != nil {
			return err
		}
		type pendingCode struct{ session, account string }
		var due []pendingCode
		for rows.Next() {
			var p pendingCode
			if err := rows.Scan(&p.session, &p.account); err != nil {
				rows.Close()
				return err
			}
			due = append(due, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, p := range due {
			if err := s.endEmailCode(ctx, tx, p.account, p.session, "email_code_expired"); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	return n, err
}
