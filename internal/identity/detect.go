package identity

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/session"
)

// Detector is what sign-in asks behavioural analytics (internal/detect):
// whether a network is throttled, and how risky an attempt is.
type Detector interface {
	ThrottledFor(ctx context.Context, ip string) (time.Duration, error)
	Assess(ctx context.Context, q detect.Querier, c detect.SignInContext) (detect.Assessment, error)
}

const noticeRiskBlocked = "risk-blocked"

// scoredKey carries a sign-in's risk, scored at its password step, to its
// completion in the same request, so that it is scored once.
type scoredKey struct{}

// throttledByRule refuses a sign-in from a network that a detection rule
// throttled (credential stuffing, password spraying, mass sign-up), with
// Retry-After, and audits the refusal.
//
// Enforces CP-8.2: a network caught attacking many accounts is refused,
// whatever account it tries next, until the throttle ends or the security
// team lifts it.
func (s *Service) throttledByRule(ctx context.Context, ip string) error {
	if s.detector == nil || ip == "" {
		return nil
	}
	d, err := s.detector.ThrottledFor(ctx, ip)
	if err != nil || d <= 0 {
		return err
	}
	s.audit.Record(ctx, audit.Event{Action: "login.failure", Target: "account:unknown", Outcome: audit.Denied,
		Details: map[string]any{"reason": "network_throttled"}})
	e := apperr.New(apperr.RateLimited, "Too many sign-in attempts have come from your network. Please try again later.")
	e.RetryAfter = d
	return e
}

// assess scores a sign-in whose credential was right (nil detector:
// everything is low risk).
func (s *Service) assess(ctx context.Context, q detect.Querier, acct Account, ip, ua string, breached, review bool) (detect.Assessment, error) {
	if s.detector == nil {
		return detect.Assessment{Level: detect.LevelLow, Action: "allow", Reasons: []string{}}, nil
	}
	return s.detector.Assess(ctx, q, detect.SignInContext{AccountID: acct.ID, IP: ip, Device: session.Device(ua),
		Country: session.Country(ip), Breached: breached, PasswordChangedAt: acct.PasswordChangedAt, Now: s.db.Now(), Review: review})
}

// blockForRisk refuses a high-risk sign-in as the profile says: the
// attempt is recorded with its risk, audited, and the owner told what was
// stopped and why. The one who tried is told only that sign-in failed, as
// for a wrong password: a block must not confirm a stolen password.
//
// Enforces CP-8.2: a high-risk sign-in is blocked and the owner notified.
func (s *Service) blockForRisk(ctx context.Context, acct Account, a detect.Assessment, ip, ua string) error {
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		id, err := s.insertSignInEvent(ctx, tx, acct.ID, attempt{outcome: outcomeFailure, reason: "risk_blocked", method: MethodPassword, ip: ip, ua: ua})
		if err != nil {
			return err
		}
		if err := setRisk(ctx, tx, id, a); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "login.risk", Target: "account:" + acct.ID, Outcome: audit.Denied,
			Details: map[string]any{"level": a.Level, "score": a.Score, "reasons": a.Reasons, "action": a.Action}}); err != nil {
			return err
		}
		email, err := s.emailIn(ctx, tx, acct.ID)
		if err != nil {
			return err
		}
		return s.notice(ctx, tx, acct.ID, email, noticeRiskBlocked, "We stopped a sign-in to your account",
			"At "+stamp(tx.Now())+" someone signed in to your Portico account with your password from "+
				where(session.Device(ua), ip, session.Country(ip))+", and we stopped it because it looked unusual: "+plainReasons(a.Reasons)+".\n\n"+
				"If this was you, sign in again from a device you have used before, or wait a few hours and try again.\n\n"+
				"If this was not you, someone knows your password: reset it now at "+s.link("/reset")+", and report it from your account's security page (\"This wasn't me\").")
	})
	if err != nil {
		return err
	}
	return errSignInFailed
}

// recordSignInRisk stores a completed sign-in's risk on its row of the history.
func (s *Service) recordSignInRisk(ctx context.Context, tx *db.Tx, signInID string, a detect.Assessment) error {
	if err := setRisk(ctx, tx, signInID, a); err != nil {
		return err
	}
	if a.Level == detect.LevelLow {
		return nil
	}
	_, err := s.audit.Append(ctx, tx, audit.Event{Action: "login.risk", Target: "sign-in:" + signInID, Outcome: audit.Success,
		Details: map[string]any{"level": a.Level, "score": a.Score, "reasons": a.Reasons, "action": a.Action}})
	return err
}

func setRisk(ctx context.Context, tx *db.Tx, signInID string, a detect.Assessment) error {
	reasons, err := json.Marshal(a.Reasons)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE sign_in_events SET risk_level = $1, risk_reasons = $2, risk_action = $3 WHERE id = $4`,
		a.Level, string(reasons), a.Action, signInID)
	return err
}

// plainReasons lists risk reasons in words, for the owner.
func plainReasons(reasons []string) string {
	var out []string
	for _, r := range reasons {
		if t, ok := detect.Explain[r]; ok {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return "it did not match how this account is used"
	}
	return strings.Join(out, "; ")
}

// Responder is the detection rules' hands on accounts: each response runs
// in the alert's transaction and audits itself.
type Responder struct{ s *Service }

// Responder returns the responses detection may take on accounts.
func (s *Service) Responder() Responder { return Responder{s} }

// Lock locks the account for the profile's lock duration.
func (r Responder) Lock(ctx context.Context, tx *db.Tx, accountID, reason string) error {
	s := r.s
	if err := lockAccountRow(ctx, tx, accountID); err != nil {
		return err
	}
	until := tx.Now().Add(s.profile.Lockout.LockDuration.Duration)
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET locked_until = $1, updated_at = $2 WHERE id = $3`, until, tx.Now(), accountID); err != nil {
		return err
	}
	_, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.lock", Target: "account:" + accountID, Outcome: audit.Success,
		Details: map[string]any{"until": until.Format(time.RFC3339), "reason": reason}})
	return err
}

// Unlock lifts a lock.
func (r Responder) Unlock(ctx context.Context, tx *db.Tx, accountID, reason string) error {
	s := r.s
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET locked_until = NULL, failures_reset_at = $1, updated_at = $1 WHERE id = $2`,
		tx.Now(), accountID); err != nil {
		return err
	}
	_, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.unlock", Target: "account:" + accountID, Outcome: audit.Success,
		Details: map[string]any{"reason": reason}})
	return err
}

// EndCredentials ends every session and API token of the account.
func (r Responder) EndCredentials(ctx context.Context, tx *db.Tx, accountID, reason string) error {
	e, err := r.s.endCredentials(ctx, tx, accountID, "", reason)
	if err != nil {
		return err
	}
	_, err = r.s.audit.Append(ctx, tx, audit.Event{Action: "account.sessions.end_all", Target: "account:" + accountID, Outcome: audit.Success,
		Details: map[string]any{"sessions_ended": e.Sessions, "tokens_revoked": e.Tokens, "reason": reason}})
	return err
}

// RequirePasswordChange makes the account change its password at its
// next sign-in (evidence of compromise), ending its sessions; or, undone,
// clears that.
func (r Responder) RequirePasswordChange(ctx context.Context, tx *db.Tx, accountID string, on bool) error {
	s := r.s
	if !on {
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_change_required = '' WHERE id = $1 AND password_change_required = $2`,
			accountID, ChangeCompromised); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "password.change_required", Target: "account:" + accountID, Outcome: audit.Success,
			Details: map[string]any{"reason": "", "undone": true}})
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_change_required = $1, updated_at = $2 WHERE id = $3`,
		ChangeCompromised, tx.Now(), accountID); err != nil {
		return err
	}
	e, err := s.endCredentials(ctx, tx, accountID, "", "password_change_required")
	if err != nil {
		return err
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{Action: "password.change_required", Target: "account:" + accountID, Outcome: audit.Success,
		Details: map[string]any{"reason": ChangeCompromised, "sessions_ended": e.Sessions, "tokens_revoked": e.Tokens}})
	return err
}

// NotifyStaff sends a notice (inbox and email) to every active member of
// staff with role, inside tx: the security team hears of a new alert in
// the same transaction that stores it.
//
// Enforces CP-3.2, CP-8.1: alerts reach the security team by email.
func (s *Service) NotifyStaff(ctx context.Context, tx *db.Tx, role, kind, title, body string) error {
	ids, err := db.Strings(ctx, tx, `SELECT id FROM accounts WHERE role = $1 AND status = $2`, role, string(StatusActive))
	if err != nil {
		return err
	}
	for _, id := range ids {
		email, err := s.emailIn(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.notice(ctx, tx, id, email, kind, title, body); err != nil {
			return err
		}
	}
	return nil
}
