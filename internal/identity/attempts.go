package identity

import (
	"context"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/session"
)

// reasonPending marks an attempt whose credential is being checked: it is
// recorded, and counted as a failure, before the check, so that attempts
// made at the same moment see each other (see reserve).
const reasonPending = "pending"

// reserve opens one credential check against an account. In a transaction
// that holds the account's row it decides whether the account may try now
// (disabled, locked, backing off), and if so records the attempt as a
// pending failure; the caller checks the credential outside any
// transaction (argon2 is slow) and then calls settle. Because the gate and
// the record are one serialised step, a burst of parallel guesses cannot
// all pass the gate before any of them is counted. It returns the
// attempt's ID, or the reason the account is refused (recorded and
// audited, but not counted).
//
// Enforces CP-8.2: back-off and lock hold under concurrent attempts.
func (s *Service) reserve(ctx context.Context, accountID string, a attempt) (id, refused string, err error) {
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		if refused, err = s.gate(ctx, tx, accountID, a); err != nil || refused != "" {
			return err
		}
		a.outcome, a.reason = outcomeFailure, reasonPending
		id, err = s.insertSignInEvent(ctx, tx, accountID, a)
		return err
	})
	return id, refused, err
}

// checkReserved checks pw against hash for an attempt opened by reserve,
// through the hashing gate (MTL-1.1), and settles the attempt with
// failReason "bad_password". hashing is how long the check took, its wait
// for the gate included. When the gate turns the check away nothing was
// checked: the pending attempt is removed, uncounted, and errBusy
// returned.
func (s *Service) checkReserved(ctx context.Context, accountID, attemptID string, a attempt, pw, hash string) (ok, rehash bool, hashing time.Duration, err error) {
	start := time.Now()
	ok, rehash, err = s.verifyPassword(ctx, pw, hash)
	hashing = time.Since(start)
	if apperr.CodeOf(err) == apperr.Unavailable {
		if err := s.settle(ctx, accountID, attemptID, true, a); err != nil {
			return false, false, hashing, err
		}
		return false, false, hashing, err
	}
	if err != nil {
		return false, false, hashing, err
	}
	a.reason = "bad_password"
	if err := s.settle(ctx, accountID, attemptID, ok, a); err != nil {
		return false, false, hashing, err
	}
	return ok, rehash, hashing, nil
}

// admit is the gate of reserve alone, for a credential already verified
// elsewhere (a passkey): it returns the reason the account may not sign in
// now, recorded and audited, or "".
func (s *Service) admit(ctx context.Context, accountID string, a attempt) (refused string, err error) {
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		refused, err = s.gate(ctx, tx, accountID, a)
		return err
	})
	return refused, err
}

// gate holds the account's row and decides whether it may try a
// credential now (disabled, locked, backing off). A refusal is recorded in
// the sign-in history and the audit trail (not counted towards the lock).
func (s *Service) gate(ctx context.Context, tx *db.Tx, accountID string, a attempt) (string, error) {
	if err := lockAccountRow(ctx, tx, accountID); err != nil {
		return "", err
	}
	acct, err := s.loadAccount(ctx, tx, accountID)
	if err != nil {
		return "", err
	}
	refused := s.gateIn(ctx, tx, acct)
	if refused == "" {
		return "", nil
	}
	a.outcome, a.reason = outcomeFailure, refused
	if _, err := s.insertSignInEvent(ctx, tx, accountID, a); err != nil {
		return "", err
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{Action: "login.failure", Target: "account:" + accountID, Outcome: audit.Failure,
		Details: map[string]any{"reason": refused, "method": a.method}})
	return refused, err
}

// settle closes an attempt opened by reserve. A right credential removes
// the pending record (a completed sign-in records its own success); a
// wrong one becomes a failure with failReason, is audited, and locks the
// account when the failures reach the profile's threshold.
func (s *Service) settle(ctx context.Context, accountID, id string, ok bool, a attempt) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		if ok {
			_, err := tx.ExecContext(ctx, `DELETE FROM sign_in_events WHERE id = $1 AND reason = $2`, id, reasonPending)
			return err
		}
		// The account row first, then the audit chain's head (in Append):
		// every transaction takes them in this order, so none deadlock.
		if err := lockAccountRow(ctx, tx, accountID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sign_in_events SET reason = $1 WHERE id = $2`, a.reason, id); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "login.failure", Target: "account:" + accountID, Outcome: audit.Failure,
			Details: map[string]any{"reason": a.reason, "method": a.method}}); err != nil {
			return err
		}
		acct, err := s.loadAccount(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if tx.Now().Before(acct.LockedUntil) {
			return nil // a concurrent attempt locked it already
		}
		n, _, err := s.recentFailures(ctx, tx, acct, tx.Now())
		if err != nil || n < s.profile.Lockout.Threshold {
			return err
		}
		return s.lock(ctx, tx, acct, a)
	})
}

// lockAccountRow serialises credential checks of one account. SQLite runs
// one write transaction at a time already; PostgreSQL locks the row.
func lockAccountRow(ctx context.Context, tx *db.Tx, accountID string) error {
	if tx.Dialect() != db.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT id FROM accounts WHERE id = $1 FOR UPDATE`, accountID)
	return err
}

// gateIn says why an account may not try a credential now ("" if it
// may): disabled, locked, or backing off after recent failures.
func (s *Service) gateIn(ctx context.Context, tx *db.Tx, acct Account) string {
	now := tx.Now()
	switch {
	case acct.Status == StatusDisabled:
		return "disabled"
	case acct.ContractEnded(now):
		// Enforces MTL-1.2: a contractor past their end date is refused
		// even before the maintenance job marks the account disabled.
		return "disabled"
	case now.Before(acct.LockedUntil):
		return "locked"
	}
	n, last, err := s.recentFailures(ctx, tx, acct, now)
	if err == nil && now.Before(last.Add(backoff(n))) {
		return "throttled"
	}
	return ""
}

// insertSignInEvent adds an attempt to the account's sign-in history, with
// the IP address and user agent encrypted under the account's key, and
// returns its ID.
func (s *Service) insertSignInEvent(ctx context.Context, tx *db.Tx, accountID string, a attempt) (string, error) {
	id := newID()
	ipEnc, err := s.keys.Encrypt(ctx, tx, accountID, crypto.Field{Table: "sign_in_events", Column: "ip_enc", Row: id}, []byte(a.ip))
	if err != nil {
		return "", err
	}
	uaEnc, err := s.keys.Encrypt(ctx, tx, accountID, crypto.Field{Table: "sign_in_events", Column: "ua_enc", Row: id}, []byte(a.ua))
	if err != nil {
		return "", err
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO sign_in_events (id, account_id, at, outcome, reason, method, ip_enc, ua_enc, device, country)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		id, accountID, tx.Now(), a.outcome, a.reason, a.method, ipEnc, uaEnc, session.Device(a.ua), session.Country(a.ip))
	return id, err
}
