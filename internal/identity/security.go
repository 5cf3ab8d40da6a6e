package identity

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/session"
)

// SignInEvent is one entry of an account's sign-in history, as the
// account's owner sees it.
type SignInEvent struct {
	ID      string
	At      time.Time
	Success bool
	Reason  string // "ok", "bad_password", "bad_code", "locked", "throttled", "disabled"
	Method  string
	Device  string
	Country string
	IP      string
	// UserAgent is the browser's full user-agent string (AllSignIns only).
	UserAgent string
	// The sign-in's risk as detection scored it (CP-8.2): level (low,
	// medium, high; "" when not scored), the reasons' codes, and what
	// was done (allow, challenge, block).
	RiskLevel   string
	RiskReasons []string
	RiskAction  string
}

// RecentSignIns returns the account's last n sign-in attempts, newest
// first, with IP addresses decrypted for the owner.
func (s *Service) RecentSignIns(ctx context.Context, accountID string, n int) ([]SignInEvent, error) {
	return s.signIns(ctx, accountID, n, false)
}

// AllSignIns returns every sign-in attempt the account still has, newest
// first, with IP addresses and browsers decrypted (the data export).
func (s *Service) AllSignIns(ctx context.Context, accountID string) ([]SignInEvent, error) {
	return s.signIns(ctx, accountID, math.MaxInt32, true)
}

// signIns reads the last n sign-in attempts; the browser's string is
// decrypted only when asked for.
func (s *Service) signIns(ctx context.Context, accountID string, n int, browser bool) ([]SignInEvent, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, at, outcome, reason, method, device, country, ip_enc, ua_enc,
		   COALESCE(risk_level, ''), COALESCE(risk_reasons, ''), COALESCE(risk_action, '') FROM sign_in_events
		 WHERE account_id = $1 ORDER BY at DESC, id LIMIT $2`, accountID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type row struct {
		e          SignInEvent
		enc, uaEnc []byte
	}
	var all []row
	for rows.Next() {
		var r row
		var outcome, reasons string
		if err := rows.Scan(&r.e.ID, &r.e.At, &outcome, &r.e.Reason, &r.e.Method, &r.e.Device, &r.e.Country, &r.enc, &r.uaEnc,
			&r.e.RiskLevel, &reasons, &r.e.RiskAction); err != nil {
			return nil, err
		}
		if reasons != "" {
			if err := json.Unmarshal([]byte(reasons), &r.e.RiskReasons); err != nil {
				return nil, err
			}
		}
		r.e.Success = outcome == outcomeSuccess
		all = append(all, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	// One read of the account's key for every field (DecryptAll).
	var sealed []crypto.Sealed
	type slot struct {
		i  int
		ua bool
	}
	var slots []slot
	out := make([]SignInEvent, len(all))
	for i, r := range all {
		out[i] = r.e
		if r.enc != nil {
			sealed = append(sealed, crypto.Sealed{Field: crypto.Field{Table: "sign_in_events", Column: "ip_enc", Row: r.e.ID}, Ciphertext: r.enc})
			slots = append(slots, slot{i, false})
		}
		if browser && r.uaEnc != nil {
			sealed = append(sealed, crypto.Sealed{Field: crypto.Field{Table: "sign_in_events", Column: "ua_enc", Row: r.e.ID}, Ciphertext: r.uaEnc})
			slots = append(slots, slot{i, true})
		}
	}
	if len(sealed) == 0 {
		return out, nil
	}
	plain, err := s.keys.DecryptAll(ctx, s.db, accountID, sealed)
	if err != nil {
		return nil, err
	}
	for k, sl := range slots {
		if sl.ua {
			out[sl.i].UserAgent = string(plain[k])
		} else {
			out[sl.i].IP = string(plain[k])
		}
	}
	return out, nil
}

// ReportSuspicious records a customer's "this wasn't me" about one of
// their sign-in events (or their account in general when eventID is ""),
// for the security team's triage queue, and ends every credential of the
// account but the reporter's own session (when the owner reports from the
// portal; a report filed for them by support ends every one).
//
// Enforces CP-7.3, CP-3.1: customers report suspicious activity from the
// portal itself. Enforces CP-6.3: whoever was in the account is out of it
// the moment its owner says so, API tokens included.
func (s *Service) ReportSuspicious(ctx context.Context, accountID, eventID, note, source string) (string, error) {
	if len(note) > 2000 {
		return "", apperr.New(apperr.Invalid, "Please keep the description under 2,000 characters.")
	}
	id := newID()
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		riskLevel := ""
		if eventID != "" {
			var owner string
			err := tx.QueryRowContext(ctx, `SELECT account_id, COALESCE(risk_level, '') FROM sign_in_events WHERE id = $1`, eventID).Scan(&owner, &riskLevel)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if owner != accountID {
				return apperr.New(apperr.NotFound, "That sign-in is not in your history.")
			}
		}
		var details []byte
		if note != "" {
			var err error
			if details, err = s.keys.Encrypt(ctx, tx, accountID, crypto.Field{Table: "security_reports", Column: "details_enc", Row: id}, []byte(note)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO security_reports (id, account_id, created_at, source, sign_in_event_id, details_enc) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, accountID, tx.Now(), source, nullString(eventID), details); err != nil {
			return err
		}
		keep := ""
		if p := access.PrincipalFrom(ctx); p.AccountID == accountID && !p.ViaToken() {
			keep = p.SessionID
		}
		e, err := s.endCredentials(ctx, tx, accountID, keep, "reported")
		if err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "report.create", Target: "report:" + id, Outcome: audit.Success,
			Details: map[string]any{"account": accountID, "source": source, "sign_in_event": eventID, "risk_level": riskLevel,
				"sessions_ended": e.Sessions, "tokens_revoked": e.Tokens}})
		return err
	})
	return id, err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Sessions lists the account's active sessions (devices), newest first.
func (s *Service) Sessions(ctx context.Context, accountID string) ([]session.Session, error) {
	return s.sessions.List(ctx, accountID)
}

// AllSessions returns every stored session of the account, live or ended,
// decrypted, for the data export.
func (s *Service) AllSessions(ctx context.Context, accountID string) ([]session.Session, error) {
	return s.sessions.All(ctx, accountID)
}

// EndSession ends one of the account's own sessions.
func (s *Service) EndSession(ctx context.Context, accountID, sessionID string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		return s.sessions.End(ctx, tx, accountID, sessionID, "ended_by_user")
	})
}

// EndOtherSessions ends every session of the account but the current one,
// and every API token ("sign out everywhere else"), and tells the owner.
func (s *Service) EndOtherSessions(ctx context.Context, accountID, currentID string) (int, error) {
	var n int
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		e, err := s.endCredentials(ctx, tx, accountID, currentID, "ended_by_user")
		if err != nil {
			return err
		}
		n = e.Sessions
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.sessions.end_others", Target: "account:" + accountID, Outcome: audit.Success,
			Details: map[string]any{"sessions_ended": e.Sessions, "tokens_revoked": e.Tokens}}); err != nil {
			return err
		}
		if e.Sessions+e.Tokens == 0 {
			return nil
		}
		email, err := s.emailIn(ctx, tx, accountID)
		if err != nil {
			return err
		}
		return s.notice(ctx, tx, accountID, email, noticeSessionsEnded, "Your other sessions were signed out",
			endedText(e)+" at "+stamp(tx.Now())+", at your request.")
	})
	return n, err
}

// Logout ends the current session.
func (s *Service) Logout(ctx context.Context, sess session.Session) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		return s.sessions.End(ctx, tx, sess.AccountID, sess.ID, "logout")
	})
}

// Reauthenticate checks the password of a signed-in account again, for a
// step-up before a sensitive change, and marks the session fresh. A wrong
// password counts towards the lock like any other.
//
// Enforces CP-6.3, MTL-3.2.2: changing factors, email or password needs a
// re-authentication within the last few minutes.
func (s *Service) Reauthenticate(ctx context.Context, sess session.Session, pw, ip, ua string) error {
	acct, err := s.Account(ctx, sess.AccountID)
	if err != nil {
		return err
	}
	var hash string
	if err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM accounts WHERE id = $1`, acct.ID).Scan(&hash); err != nil {
		return err
	}
	try := attempt{method: MethodPassword, ip: ip, ua: ua}
	attemptID, refused, err := s.reserve(ctx, acct.ID, try)
	if err != nil {
		return err
	}
	if refused != "" {
		return errSignInFailed
	}
	ok, _, _, err := s.checkReserved(ctx, acct.ID, attemptID, try, pw, hash)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.New(apperr.Invalid, "That password is not right.")
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		return s.sessions.Reauthenticated(ctx, tx, sess.ID)
	})
}

// SetDisabled disables or re-enables an account. Disabling ends every
// session and API token of the account at once.
func (s *Service) SetDisabled(ctx context.Context, accountID string, disabled bool) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		return s.setDisabled(ctx, tx, accountID, disabled, "")
	})
}

// setDisabled is SetDisabled in tx; approvedBy names the second
// administrator when the change needed one.
func (s *Service) setDisabled(ctx context.Context, tx *db.Tx, accountID string, disabled bool, approvedBy string) error {
	from, to, action := StatusActive, StatusDisabled, "account.disable"
	if !disabled {
		from, to, action = StatusDisabled, StatusActive, "account.enable"
	}
	res, err := tx.ExecContext(ctx, `UPDATE accounts SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4`, to, tx.Now(), accountID, from)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.Errorf(apperr.Conflict, "The account is not %s.", from)
	}
	var e ended
	if disabled {
		if e, err = s.endCredentials(ctx, tx, accountID, "", "account_disabled"); err != nil {
			return err
		}
	}
	details := map[string]any{"sessions_ended": e.Sessions, "tokens_revoked": e.Tokens}
	if approvedBy != "" {
		details["approved_by"] = approvedBy
	}
	_, err = s.audit.Append(ctx, tx, audit.Event{Action: action, Target: "account:" + accountID, Outcome: audit.Success, Details: details})
	return err
}

// Stage says what a session may do, from its assurance level and the
// account's state now. Web middleware calls it on every request: a
// disabled account, or a role changed since the session began, ends the
// session (ErrSessionInvalid).
//
// Enforces CP-4.1 and CP-12: a session without its second factor, or of
// an account that must enrol one or change its password, is restricted to
// that step.
func (s *Service) Stage(ctx context.Context, sess session.Session) (Account, Step, error) {
	acct, err := s.loadAccountRow(ctx, s.db, sess.AccountID)
	if errors.Is(err, errNoAccount) {
		return Account{}, "", ErrSessionInvalid
	}
	if err != nil {
		// The account could not be read (the database is down, say): the
		// session is neither valid nor ended; the request fails instead.
		return Account{}, "", err
	}
	// The passkey count decides only for sessions short of two factors,
	// and for accounts whose second factor is not an authenticator app:
	// the hot path of a signed-in request skips the query.
	if sess.AAL < 2 || !acct.TOTPEnabled {
		if acct, err = s.countPasskeys(ctx, acct); err != nil {
			return Account{}, "", err
		}
	}
	if acct.Status != StatusActive || string(acct.Role) != sess.Role || acct.ContractEnded(s.db.Now()) {
		return Account{}, "", ErrSessionInvalid
	}
	switch {
	case sess.AAL >= 2:
	case acct.HasSecondFactor():
		return acct, StepSecondFactor, nil
	case s.mfaRequired(acct):
		return acct, StepEnrol, nil
	case !slices.Contains(sess.Methods, MethodEmailCode):
		// A sign-in that was challenged holds its session here until
		// the emailed code is entered (CP-8.2); the row goes only with
		// the session (endEmailCode) or its rotation.
		waiting, err := s.waitingForEmailCode(ctx, sess.ID)
		if err != nil {
			return Account{}, "", err
		}
		if waiting {
			return acct, StepEmailCode, nil
		}
	}
	if s.ChangeRequired(acct) != "" {
		return acct, StepChangePassword, nil
	}
	if s.TrainingOverdue(acct) {
		return acct, StepTraining, nil
	}
	return acct, StepDone, nil
}

// ChangeRequired says why the account must change its password before
// anything else ("" when it need not): the reason recorded on it, or
// ChangeExpired once the password has expired under the profile, even in
// a session that began before it expired.
//
// Enforces CP-4.3, CP-12: an expired password restricts the account at
// once, in its live sessions and on its API tokens, not only at its next
// sign-in.
func (s *Service) ChangeRequired(a Account) string {
	if a.PasswordChangeRequired != "" {
		return a.PasswordChangeRequired
	}
	if s.passwordExpired(a, s.db.Now()) {
		return ChangeExpired
	}
	return ""
}

// TrainingDue is when a staff member's next security-awareness training is
// due: the profile's interval after the last one, or the grace period after
// the account was created if none is recorded. Zero for customers.
func (s *Service) TrainingDue(a Account) time.Time {
	if !a.Role.IsStaff() {
		return time.Time{}
	}
	if a.TrainingCompletedAt.IsZero() {
		return a.CreatedAt.Add(s.profile.Governance.TrainingGrace.Duration)
	}
	return a.TrainingCompletedAt.Add(s.profile.Governance.TrainingInterval.Duration)
}

// TrainingOverdue reports whether a staff member works in restricted mode
// because their training is overdue.
//
// Enforces CP-12, MTL-8.1: staff past the profile's training interval (or
// new staff past the grace period without a record) keep their own account
// pages but lose every permission of their role until training is recorded.
func (s *Service) TrainingOverdue(a Account) bool {
	due := s.TrainingDue(a)
	return !due.IsZero() && !s.db.Now().Before(due)
}

// ErrSessionInvalid means the session's account can no longer use it.
var ErrSessionInvalid = apperr.New(apperr.Unauthorized, "Your session has ended. Please sign in again.")

// ErrTokenHolder refuses an API token whose holder may not use it now.
var ErrTokenHolder = apperr.New(apperr.Unauthorized, "The API token's holder may not use the API now.")

// TokenStage checks, on every API request, that the holder of a personal
// access token may still act: the account is active, still in the role the
// token was made for, not a contractor past their end date, a member of
// staff with a second factor, with no password change and no training
// outstanding. The token itself is checked by internal/apitoken.
//
// Enforces CP-6.3 (zero trust: tokens are re-evaluated per request), CP-4.2
// (a role change voids the token) and CP-12 (restricted staff cannot use
// the API either).
func (s *Service) TokenStage(ctx context.Context, accountID string, role access.Role) (Account, error) {
	acct, err := s.Account(ctx, accountID)
	if err != nil {
		return Account{}, ErrTokenHolder
	}
	switch {
	case acct.Status != StatusActive, acct.Role != role, !acct.Role.IsStaff(),
		acct.ContractEnded(s.db.Now()), !acct.HasSecondFactor(),
		s.ChangeRequired(acct) != "", s.TrainingOverdue(acct):
		return Account{}, ErrTokenHolder
	}
	return acct, nil
}

// Report is a suspicious-activity report as its subject sees it.
type Report struct {
	ID          string
	CreatedAt   time.Time
	Source      string // "customer", or "support:<id>" when filed for them
	SignInEvent string
	Details     string
	Status      string
}

// Reports returns the account's suspicious-activity reports, newest first,
// with their details decrypted: for the account's own data export.
func (s *Service) Reports(ctx context.Context, accountID string) ([]Report, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, created_at, source, COALESCE(sign_in_event_id, ''), details_enc, status FROM security_reports
		 WHERE account_id = $1 ORDER BY created_at DESC, id`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Report
	var encs [][]byte
	for rows.Next() {
		var r Report
		var enc []byte
		if err := rows.Scan(&r.ID, &r.CreatedAt, &r.Source, &r.SignInEvent, &enc, &r.Status); err != nil {
			return nil, err
		}
		out = append(out, r)
		encs = append(encs, enc)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i := range out {
		if encs[i] == nil {
			continue
		}
		b, err := s.keys.Decrypt(ctx, s.db, accountID, crypto.Field{Table: "security_reports", Column: "details_enc", Row: out[i].ID}, encs[i])
		if err != nil {
			return nil, err
		}
		out[i].Details = string(b)
	}
	return out, nil
}
