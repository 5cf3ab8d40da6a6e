package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Reasons for ending a session that the package itself uses. Callers of End
// and EndAll name their own: "logout", "ended_by_user", "password_reset",
// "account_disabled", "role_changed".
const (
	ReasonRotated = "rotated"
	ReasonIdle    = "idle"
	ReasonExpired = "expired"
	// ReasonSuperseded: the account's credentials epoch moved past the
	// session's (a reset of every credential that the session escaped,
	// by racing it).
	ReasonSuperseded = "superseded"
)

// checkReason accepts a short code in lower case ("logout",
// "password.reset"): it goes into the table and the audit trail, and a
// caller's free text could carry personal data.
func checkReason(r string) error {
	if r == "" || len(r) > 48 {
		return fmt.Errorf("session: end reason %q: want a short code such as logout", r)
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("session: end reason %q: want lower case letters, digits, '_', '.' or '-'", r)
		}
	}
	return nil
}

// Rotate replaces old with a new session (new ID, new secret) for the same
// account, in the caller's transaction, and returns the new token. Use it
// when the second factor succeeds and when the account's privileges change,
// so that a token fixed or observed before cannot ride the upgrade.
//
// The new session takes the account's current role from the accounts
// table, the given assurance level and methods, and keeps old's absolute
// deadline, last fresh authentication and credentials epoch: rotating
// never extends a session's lifetime, nor carries a session issued before
// a reset of the account's credentials past it. If the rotation was itself a fresh authentication,
// call Reauthenticated on the new session in the same transaction. The
// encrypted IP address and user agent are carried over (re-encrypted for
// the new row). old is ended with reason "rotated"; rotating a session that
// is no longer live, or rotating it twice, fails with ErrNoSession.
//
// Enforces CP-6.3 and CP-4.1: privilege is raised only on a fresh
// session token, and the new assurance level is recorded.
func (s *Store) Rotate(ctx context.Context, tx *db.Tx, old Session, aal int, methods []string) (string, Session, error) {
	if err := checkAssurance(aal, methods); err != nil {
		return "", Session{}, err
	}
	now := tx.Now()
	oldID, account := old.ID, old.AccountID
	next := Session{ID: newPart(), AccountID: account, AAL: aal, Methods: append([]string(nil), methods...)}
	secret := newPart()
	var ipEnc, uaEnc []byte
	// Only a live session of this account is rotated; ending it first
	// makes a second, concurrent rotation of it find nothing.
	err := tx.QueryRowContext(ctx,
		`UPDATE sessions SET ended_at = $1, end_reason = $2
		 WHERE id = $3 AND account_id = $4 AND ended_at IS NULL AND expires_at > $1 AND last_seen_at > $5
		 RETURNING reauth_at, expires_at, ip_enc, user_agent_enc, device, country, credentials_epoch`,
		now, ReasonRotated, oldID, account, now.Add(-s.policy.IdleTimeout.Duration)).
		Scan(&next.ReauthAt, &next.ExpiresAt, &ipEnc, &uaEnc, &next.Device, &next.Country, &next.Epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return "", Session{}, ErrNoSession
	}
	if err != nil {
		return "", Session{}, fmt.Errorf("session: end rotated session: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT role FROM accounts WHERE id = $1`, account).Scan(&next.Role); err != nil {
		return "", Session{}, fmt.Errorf("session: read account role: %w", err)
	}
	ip, err := s.keys.Decrypt(ctx, tx, account, ipField(oldID), ipEnc)
	if err != nil {
		return "", Session{}, fmt.Errorf("session: decrypt IP address: %w", err)
	}
	ua, err := s.keys.Decrypt(ctx, tx, account, userAgentField(oldID), uaEnc)
	if err != nil {
		return "", Session{}, fmt.Errorf("session: decrypt user agent: %w", err)
	}
	next.CreatedAt, next.LastSeenAt = now, now
	next.UAHash = uaHash(string(ua))
	if err := s.insert(ctx, tx, next, secret, string(ip), string(ua)); err != nil {
		return "", Session{}, err
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{
		Actor:   "account:" + account,
		Action:  "session.rotate",
		Target:  "session:" + oldID,
		Outcome: audit.Success,
		Details: map[string]any{
			"account":     account,
			"replaced_by": next.ID,
			"role":        next.Role,
			"aal":         next.AAL,
			"methods":     strings.Join(next.Methods, ","),
			"reason":      ReasonRotated,
		},
	})
	if err != nil {
		return "", Session{}, err
	}
	return next.ID + "." + secret, next, nil
}

// Reauthenticated records that the session's owner has just authenticated
// again (step-up before a sensitive action), in the caller's transaction.
// It counts as activity too. A session that is not live answers
// ErrNoSession.
//
// Enforces CP-6.3 (and MTL-3.2.2 through the web layer): sensitive actions
// need a recent authentication, not just an open session.
func (s *Store) Reauthenticated(ctx context.Context, tx *db.Tx, sessionID string) error {
	now := tx.Now()
	var account string
	err := tx.QueryRowContext(ctx,
		`UPDATE sessions SET reauth_at = $1, last_seen_at = $1
		 WHERE id = $2 AND ended_at IS NULL AND expires_at > $1 AND last_seen_at > $3
		 RETURNING account_id`,
		now, sessionID, now.Add(-s.policy.IdleTimeout.Duration)).Scan(&account)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoSession
	}
	if err != nil {
		return fmt.Errorf("session: record re-authentication: %w", err)
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{
		Actor:   "account:" + account,
		Action:  "session.reauth",
		Target:  "session:" + sessionID,
		Outcome: audit.Success,
		Details: map[string]any{"account": account},
	})
	return err
}

// StepUpFresh reports whether the session's last fresh authentication is
// less than window old at now. A zero window is never fresh.
func (s Session) StepUpFresh(now time.Time, window time.Duration) bool {
	return !s.ReauthAt.IsZero() && now.Sub(s.ReauthAt) < window
}

// StepUpFresh reports whether sess was authenticated within the profile's
// StepUpWindow, by the database's clock.
//
// Enforces CP-6.3: a step-up lasts one sensitive task, not a work session.
func (s *Store) StepUpFresh(sess Session) bool {
	return sess.StepUpFresh(s.db.Now(), s.policy.StepUpWindow.Duration)
}

// End ends one session of accountID, in the caller's transaction. A
// session ID that is unknown or belongs to another account answers
// apperr.NotFound, so that nobody can end, or learn of, another account's
// sessions; ending a session of the account that has already ended changes
// nothing. The actor is taken from ctx.
//
// Enforces CP-6.3: sessions are revoked on the server, at once.
func (s *Store) End(ctx context.Context, tx *db.Tx, accountID, sessionID, reason string) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx,
		`UPDATE sessions SET ended_at = $1, end_reason = $2
		 WHERE id = $3 AND account_id = $4 AND ended_at IS NULL`,
		tx.Now(), reason, sessionID, accountID)
	if err != nil {
		return fmt.Errorf("session: end: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("session: end: %w", err)
	}
	if n == 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id = $1 AND account_id = $2`, sessionID, accountID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "No such session.")
		}
		return err
	}
	return s.auditEnd(ctx, tx, sessionID, accountID, reason)
}

// EndAll ends every session of accountID that has not ended, except
// exceptID (the caller's own session, or "" for none), in the caller's
// transaction, and returns how many it ended. Each ended session gets its
// own audit event, so that the trail of any session shows how it ended.
//
// Enforces CP-6.3: "sign out everywhere", and the revocation that a
// password reset, a disabled account or a role change requires.
func (s *Store) EndAll(ctx context.Context, tx *db.Tx, accountID, exceptID, reason string) (int, error) {
	if err := checkReason(reason); err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx,
		`UPDATE sessions SET ended_at = $1, end_reason = $2
		 WHERE account_id = $3 AND ended_at IS NULL AND id <> $4
		 RETURNING id`,
		tx.Now(), reason, accountID, exceptID)
	if err != nil {
		return 0, fmt.Errorf("session: end all: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("session: end all: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("session: end all: %w", err)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("session: end all: %w", err)
	}
	for _, id := range ids {
		if err := s.auditEnd(ctx, tx, id, accountID, reason); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// Keep moves one live session of accountID to the credentials epoch
// epoch, in the caller's transaction: the session that asked for every
// other credential to end ("sign out everywhere else", a password change,
// a report of suspicious activity) survives the epoch it moved. A session
// that is not live, or not the account's, answers ErrNoSession.
func (s *Store) Keep(ctx context.Context, tx *db.Tx, accountID, sessionID string, epoch int64) error {
	res, err := tx.ExecContext(ctx,
		`UPDATE sessions SET credentials_epoch = $1 WHERE id = $2 AND account_id = $3 AND ended_at IS NULL`,
		epoch, sessionID, accountID)
	if err != nil {
		return fmt.Errorf("session: keep: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return ErrNoSession
	}
	return nil
}

func (s *Store) auditEnd(ctx context.Context, tx *db.Tx, id, accountID, reason string) error {
	_, err := s.audit.Append(ctx, tx, audit.Event{
		Action:  "session.end",
		Target:  "session:" + id,
		Outcome: audit.Success,
		Details: map[string]any{"account": accountID, "reason": reason},
	})
	return err
}

// sweepBatch bounds the sessions that one Sweep transaction ends, so that
// SQLite's writer lock is held briefly.
const sweepBatch = 200

// Sweep ends every session that went idle or passed its absolute deadline
// without being used again (Authenticate ends the others), each with its
// session.expire event, and returns how many it ended. Run it periodically:
// it keeps the table's live rows truthful for EndAll, detection and
// reports.
//
// Enforces CP-6.3: timeouts hold for sessions nobody presents again.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.sweepBatch(ctx)
		total += n
		if err != nil || n < sweepBatch {
			return total, err
		}
	}
}

func (s *Store) sweepBatch(ctx context.Context) (int, error) {
	n := 0
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		if err := sweepPending(ctx, tx); err != nil {
			return fmt.Errorf("session: sweep held actions: %w", err)
		}
		rows, err := tx.QueryContext(ctx,
			`UPDATE sessions
			 SET ended_at = $1, end_reason = CASE WHEN expires_at <= $1 THEN 'expired' ELSE 'idle' END
			 WHERE id IN (SELECT id FROM sessions
			              WHERE ended_at IS NULL AND (expires_at <= $1 OR last_seen_at <= $2)
			              ORDER BY id LIMIT $3)
			 RETURNING id, account_id, end_reason`,
			now, now.Add(-s.policy.IdleTimeout.Duration), sweepBatch)
		if err != nil {
			return fmt.Errorf("session: sweep: %w", err)
		}
		type ended struct{ id, account, reason string }
		var all []ended
		for rows.Next() {
			var e ended
			if err := rows.Scan(&e.id, &e.account, &e.reason); err != nil {
				rows.Close()
				return fmt.Errorf("session: sweep: %w", err)
			}
			all = append(all, e)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("session: sweep: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("session: sweep: %w", err)
		}
		for _, e := range all {
			if err := s.auditExpire(ctx, tx, e.id, e.account, e.reason); err != nil {
				return err
			}
		}
		n = len(all)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Purge deletes sessions that ended before endedBefore, with their
// encrypted IP addresses and user agents, and returns how many. The
// retention job chooses the cut-off; the audit trail keeps the fact of each
// session without its personal data.
//
// Enforces CP-5.2: a session's personal context is not kept past its
// retention period.
func (s *Store) Purge(ctx context.Context, endedBefore time.Time) (int, error) {
	var n int64
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < $1`, db.Time(endedBefore))
		if err != nil {
			return fmt.Errorf("session: purge: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{
			Actor:   audit.ActorSystem,
			Action:  "session.purge",
			Target:  "table:sessions",
			Outcome: audit.Success,
			Details: map[string]any{"count": n, "ended_before": db.Time(endedBefore).Format(time.RFC3339)},
		})
		return err
	})
	return int(n), err
}
