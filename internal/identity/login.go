package identity

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// Step is what a signed-in session must do next.
type Step string

// The steps of signing in. A session is usable for everything only at
// StepDone; the others restrict it to one page (CP-12).
const (
	StepDone           Step = "done"
	StepSecondFactor   Step = "second-factor"   // password accepted; a second factor is due
	StepEmailCode      Step = "email-code"      // password accepted, sign-in challenged, no second factor: the emailed code is due
	StepEnrol          Step = "enrol"           // MFA is required and the account has no factor yet
	StepChangePassword Step = "change-password" // expired, or evidence of compromise
	StepTraining       Step = "training"        // staff whose security-awareness training is overdue (CP-12)
)

// Credentials are what the sign-in form sends, with where it came from.
type Credentials struct {
	Email, Password string
	IP, UserAgent   string
}

// SignIn is the result of a sign-in step: the new session's token (for
// the cookie) and what comes next.
type SignIn struct {
	Token   string
	Session session.Session
	Next    Step
}

// errSignInFailed is the one answer to every failed password step:
// unknown address, wrong password, locked, throttled or disabled account.
// The owner of a locked account learns of the lock by email and in the
// inbox, not here.
var errSignInFailed = apperr.New(apperr.Unauthorized,
	"That email address and password do not match an account that can sign in now. Check them and try again, or reset your password.")

// errCodeFailed is the answer to a wrong, replayed or throttled second
// factor.
var errCodeFailed = apperr.New(apperr.Unauthorized,
	"That code is not right, or it was already used. Enter the current code from your app, or one of your recovery codes.")

// Sign-in methods recorded on sessions and in the sign-in history.
const (
	MethodPassword = "password"
	MethodTOTP     = "totp"
	MethodRecovery = "recovery-code"
	MethodPasskey  = "passkey"
	// MethodEmailCode: the one-time code emailed for a challenged sign-in
	// of an account without a second factor (not a second factor itself).
	MethodEmailCode = "email-code"
)

// Login checks an email address and password (the first step of signing
// in) and starts a session whose next step says what is still due.
//
// Enforces CP-8.2: attempts are rate-limited per address and network, an
// account backs off exponentially after failures and locks after the
// profile's threshold; a locked or throttled attempt never passes the
// password step, even with the right password. Enforces CP-4.1: an account
// with a second factor (or one that must enrol one) gets a session that
// can do nothing but complete it. Enforces CP-8.2: a sign-in that detection
// challenges needs the second factor, or, for an account without one, a
// code emailed to the account's address (StepEmailCode).
func (s *Service) Login(ctx context.Context, c Credentials) (SignIn, error) {
	s.signingIn.Add(1)
	defer s.signingIn.Add(-1)
	res, err := s.login(ctx, c)
	if err == errSignInFailed {
		s.tarpit(ctx)
	}
	return res, err
}

// Tarpit: a failed sign-in answers only after a delay that grows with the
// number of sign-ins in progress on this node, from nothing (up to
// tarpitFree at once, which no real crowd of customers reaches) by
// tarpitStep for each one more, to tarpitMax: about 2.7 s with 100 in
// progress, 7 s with 200, 19 s with 500. A flood of guesses, which fails
// almost always, then waits instead of taking the processors and the
// database from the customers who sign in successfully, who never wait;
// the few who mistype during an attack wait in proportion to it. Known and
// unknown addresses get the same delay, so it tells nothing about
// accounts (CP-6.3). The connections a flood keeps open meanwhile are the
// reverse proxy's to limit.
const (
	tarpitFree = 32
	tarpitStep = 40 * time.Millisecond
	tarpitMax  = 20 * time.Second
)

// tarpitDelay is the delay of a failed sign-in while n are in progress.
func tarpitDelay(n int64) time.Duration {
	if n <= tarpitFree {
		return 0
	}
	return min(tarpitMax, time.Duration(n-tarpitFree)*tarpitStep)
}

// tarpit holds a failed sign-in for tarpitDelay.
//
// Enforces MTL-1.1, CP-8.2: a flood of failing sign-ins, from however many
// networks, slows itself down instead of starving real sign-ins.
func (s *Service) tarpit(ctx context.Context) {
	d := tarpitDelay(s.signingIn.Load())
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (s *Service) login(ctx context.Context, c Credentials) (SignIn, error) {
	if err := s.throttle(ctx, c.IP, limitLoginIP, limitLoginNetwork); err != nil {
		return SignIn{}, err
	}
	if err := s.throttledByRule(ctx, c.IP); err != nil {
		return SignIn{}, err
	}
	// From here, an address without an account and a refused account
	// answer like a failed check of a known one, in time and in kind
	// (CP-6.3): see failedChecks.
	start := time.Now()
	acct, hash, err := s.accountForLogin(ctx, c.Email)
	if errors.Is(err, errNoAccount) {
		return SignIn{}, s.failLike(ctx, start, c.Password, func() error {
			s.audit.Record(ctx, audit.Event{Action: "login.failure", Target: "account:unknown", Outcome: audit.Failure,
				Details: map[string]any{"reason": "unknown_account"}})
			return nil
		})
	}
	if err != nil {
		return SignIn{}, err
	}
	try := attempt{method: MethodPassword, ip: c.IP, ua: c.UserAgent}
	attemptID, refused, err := s.reserve(ctx, acct.ID, try)
	if err != nil {
		return SignIn{}, err
	}
	if refused != "" {
		return SignIn{}, s.failLike(ctx, start, c.Password, nil)
	}
	ok, rehash, hashing, err := s.checkReserved(ctx, acct.ID, attemptID, try, c.Password, hash)
	if busy := apperr.CodeOf(err) == apperr.Unavailable; busy || err == nil && !ok {
		s.failed.record(time.Since(start), hashing, busy, true)
	}
	if err != nil {
		return SignIn{}, err
	}
	if !ok {
		return SignIn{}, errSignInFailed
	}
	if acct.Status == StatusUnverified {
		email, err := s.Email(ctx, acct.ID)
		if err != nil {
			return SignIn{}, err
		}
		if err := s.db.Transact(ctx, func(tx *db.Tx) error { return s.sendVerification(ctx, tx, acct.ID, email) }); err != nil {
			return SignIn{}, err
		}
		return SignIn{}, apperr.New(apperr.Forbidden, "Confirm your email address first: we have sent you a new link. Open it, then sign in.")
	}
	breached, err := s.passwords.Breached(c.Password)
	if err != nil {
		return SignIn{}, err
	}
	risk, err := s.assess(ctx, s.db, acct, c.IP, c.UserAgent, breached, false)
	if err != nil {
		return SignIn{}, err
	}
	if risk.Action == policy.RiskBlock {
		return SignIn{}, s.blockForRisk(ctx, acct, risk, c.IP, c.UserAgent)
	}
	var newHash string
	if rehash {
		// Under load the upgrade waits for a later sign-in.
		if newHash, err = s.hashPassword(ctx, c.Password); apperr.CodeOf(err) == apperr.Unavailable {
			newHash = ""
		} else if err != nil {
			return SignIn{}, err
		}
	}

	// A sign-in completed in this request keeps the score just taken.
	ctx = context.WithValue(ctx, scoredKey{}, risk)
	var out SignIn
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		if err := lockAccountRow(ctx, tx, acct.ID); err != nil { // before the audit head: see settle
			return err
		}
		if newHash != "" {
			// Enforces CP-4.3: a hash made with older parameters is
			// upgraded at the next successful sign-in.
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2`, newHash, acct.ID); err != nil {
				return err
			}
		}
		if err := s.requireChangeIfDue(ctx, tx, &acct, breached); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "login.password", Target: "account:" + acct.ID, Outcome: audit.Success,
			Details: map[string]any{"rehashed": newHash != "", "breached": breached}}); err != nil {
			return err
		}
		switch {
		case acct.HasSecondFactor():
			out.Next = StepSecondFactor
		case s.mfaRequired(acct):
			out.Next = StepEnrol
		case risk.Action == policy.RiskChallenge:
			// MFA encouraged and no factor: the challenge is a code
			// sent to the account's address.
			out.Next = StepEmailCode
		}
		if out.Next != "" {
			// Not signed in yet: the session can only finish signing in.
			var err error
			out.Token, out.Session, err = s.sessions.Create(ctx, tx, session.Start{
				AccountID: acct.ID, Role: string(acct.Role), AAL: 1, Methods: []string{MethodPassword}, IP: c.IP, UserAgent: c.UserAgent,
				Epoch: acct.CredentialsEpoch})
			if err != nil || out.Next != StepEmailCode {
				return err
			}
			return s.startEmailCode(ctx, tx, acct, out.Session, risk, c.IP, c.UserAgent)
		}
		// MFA encouraged, no factor, not challenged: the password completes
		// sign-in.
		return s.complete(ctx, tx, acct, nil, []string{MethodPassword}, 1, c.IP, c.UserAgent, &out)
	})
	return out, err
}

// accountForLogin finds the account and its password hash by email.
func (s *Service) accountForLogin(ctx context.Context, email string) (Account, string, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return Account{}, "", errNoAccount
	}
	lookup, err := s.emailLookup(ctx, email)
	if err != nil {
		return Account{}, "", err
	}
	var id, hash string
	var epoch int64
	err = s.db.QueryRowContext(ctx, `SELECT id, password_hash, credentials_epoch FROM accounts WHERE email_lookup = $1`, lookup).Scan(&id, &hash, &epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, "", errNoAccount
	}
	if err != nil {
		return Account{}, "", err
	}
	acct, err := s.Account(ctx, id)
	if err == nil && acct.Status == StatusInvited {
		// Enforces CP-4.3: an invitation not accepted yet has no password
		// and signs nobody in; it answers like an unknown address, and a
		// reset cannot stand in for the invitation's link.
		return Account{}, "", errNoAccount
	}
	// The epoch read with the hash, not after it: a session that a
	// now-replaced password opens is born behind the account's epoch.
	acct.CredentialsEpoch = epoch
	return acct, hash, err
}

// backoff is how long an account waits after n failures since its last
// success: nothing for the first two (typos), then 1 s, 2 s, 4 s, ... up
// to a minute, until the lock threshold locks it.
func backoff(n int) time.Duration {
	if n < 3 {
		return 0
	}
	return time.Duration(math.Min(math.Pow(2, float64(n-3)), 60)) * time.Second
}

// recentFailures counts the failed credential checks of an account that
// weigh on it now, and returns the time of the latest. Failures count
// within the lockout window and after the last successful sign-in. A
// password change (a reset, say) also wipes the earlier wrong passwords,
// which say nothing about the new one, but not the wrong second-factor
// codes: those were guesses at the factor, and a reset must not hand an
// attacker who holds the mailbox a fresh budget of them. Times are read as
// plain columns (not MAX(at)): SQLite returns an aggregate of a TIMESTAMP
// as text.
func (s *Service) recentFailures(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, acct Account, now time.Time) (int, time.Time, error) {
	from := now.Add(-s.profile.Lockout.Window.Duration)
	var lastOK time.Time
	err := q.QueryRowContext(ctx,
		`SELECT at FROM sign_in_events WHERE account_id = $1 AND outcome = 'success' AND at > $2 ORDER BY at DESC LIMIT 1`,
		acct.ID, from).Scan(&lastOK)
	switch {
	case err == nil:
		from = lastOK
	case !errors.Is(err, sql.ErrNoRows):
		return 0, time.Time{}, err
	}
	if acct.FailuresResetAt.After(from) {
		from = acct.FailuresResetAt
	}
	// The first password, set at creation, is no change.
	pwFrom := from
	if acct.PasswordChangedAt.After(acct.CreatedAt) && acct.PasswordChangedAt.After(pwFrom) {
		pwFrom = acct.PasswordChangedAt
	}
	const failures = `FROM sign_in_events WHERE account_id = $1 AND outcome = 'failure'
		AND (reason = 'bad_code' AND at > $2 OR reason IN ('bad_password', '` + reasonPending + `') AND at > $3)`
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) `+failures, acct.ID, from, pwFrom).Scan(&n); err != nil {
		return 0, time.Time{}, err
	}
	var last time.Time
	if n > 0 {
		if err := q.QueryRowContext(ctx, `SELECT at `+failures+` ORDER BY at DESC LIMIT 1`, acct.ID, from, pwFrom).Scan(&last); err != nil {
			return 0, time.Time{}, err
		}
	}
	return n, last, nil
}

// codeFailures counts the wrong second-factor codes that still count
// towards the lock: within the window, since the last success or reset of
// the count. A new password does not clear them.
func (s *Service) codeFailures(ctx context.Context, tx *db.Tx, acct Account, now time.Time) (int, error) {
	from := now.Add(-s.profile.Lockout.Window.Duration)
	if acct.FailuresResetAt.After(from) {
		from = acct.FailuresResetAt
	}
	var n int
	err := tx.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM sign_in_events WHERE account_id = $1 AND outcome = 'failure' AND reason = 'bad_code' AND at > $2
		   AND at > COALESCE((SELECT MAX(at) FROM sign_in_events WHERE account_id = $1 AND outcome = 'success'), $2)`,
		acct.ID, from).Scan(&n)
	return n, err
}

// Outcomes in the sign-in history.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
)

// attempt is one sign-in attempt to record.
type attempt struct {
	outcome, reason, method string
	ip, ua                  string
}

// lock locks an account for the profile's lock duration, doubled (by the
// back-off base) for each lock since the last successful sign-in, and
// tells the owner when, from where, and how to get back in.
//
// Enforces CP-8.2: brute force against one account is stopped by a
// temporary, growing lock, and the owner is told.
func (s *Service) lock(ctx context.Context, tx *db.Tx, acct Account, a attempt) error {
	l := s.profile.Lockout
	d := time.Duration(float64(l.LockDuration.Duration) * math.Pow(float64(l.BackoffBase), float64(acct.LockCount)))
	if d > l.MaxLockDuration.Duration || d <= 0 {
		d = l.MaxLockDuration.Duration
	}
	until := tx.Now().Add(d)
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET locked_until = $1, lock_count = lock_count + 1, updated_at = $2 WHERE id = $3`,
		until, tx.Now(), acct.ID); err != nil {
		return err
	}
	if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.lock", Target: "account:" + acct.ID, Outcome: audit.Success,
		Details: map[string]any{"until": until.Format(time.RFC3339), "lock": acct.LockCount + 1}}); err != nil {
		return err
	}
	email, err := s.emailIn(ctx, tx, acct.ID)
	if err != nil {
		return err
	}
	from := where(session.Device(a.ua), a.ip, session.Country(a.ip))
	return s.notice(ctx, tx, acct.ID, email, noticeLockout, "Your account was locked after failed sign-in attempts",
		"Your Portico account was locked at "+stamp(tx.Now())+" after repeated failed sign-in attempts; the last one came from "+from+".\n\n"+
			"You can sign in again after "+stamp(until)+", or at once by resetting your password at "+s.link("/reset")+".\n\n"+
			"If these attempts were not yours, someone may know your email address: use a password you use nowhere else, and keep your second factor on.")
}

// complete finishes signing in: the session becomes usable (rotated from
// the pending one, or created), the success goes into the sign-in history
// and the audit trail, locks and back-off are reset, and a sign-in from a
// device or country the account has not used before is notified.
func (s *Service) complete(ctx context.Context, tx *db.Tx, acct Account, pending *session.Session, methods []string, aal int, ip, ua string, out *SignIn) error {
	return s.completeRisk(ctx, tx, acct, pending, methods, aal, ip, ua, out, "")
}

// completeRisk is complete with the risk action to record on the sign-in
// ("" for the profile's action at the sign-in's level): a sign-in that
// passed a challenge records "challenge" whatever its level is now.
func (s *Service) completeRisk(ctx context.Context, tx *db.Tx, acct Account, pending *session.Session, methods []string, aal int, ip, ua string, out *SignIn, riskAction string) error {
	var err error
	if pending != nil {
		out.Token, out.Session, err = s.sessions.Rotate(ctx, tx, *pending, aal, methods)
	} else {
		out.Token, out.Session, err = s.sessions.Create(ctx, tx, session.Start{
			AccountID: acct.ID, Role: string(acct.Role), AAL: aal, Methods: methods, IP: ip, UserAgent: ua,
			Epoch: acct.CredentialsEpoch})
	}
	if err != nil {
		return err
	}
	device, country := session.Device(ua), session.Country(ip)
	// Existence, not counts: the cost of a sign-in must not grow with the
	// account's history (13 months of it).
	seen, err := hasSuccess(ctx, tx, acct.ID, `AND device = $2 AND country = $3`, device, country)
	if err != nil {
		return err
	}
	before := seen
	if !seen {
		if before, err = hasSuccess(ctx, tx, acct.ID, ``); err != nil {
			return err
		}
	}
	newDevice := !seen && before
	method := methods[len(methods)-1]
	// The risk as the history stood before this sign-in, for the owner's
	// security page and the security team (CP-8.2).
	risk, scored := ctx.Value(scoredKey{}).(detect.Assessment)
	if !scored {
		if risk, err = s.assess(ctx, tx, acct, ip, ua, false, true); err != nil {
			return err
		}
	}
	if riskAction != "" {
		risk.Action = riskAction
	}
	signInID, err := s.insertSignInEvent(ctx, tx, acct.ID, attempt{outcome: outcomeSuccess, reason: "ok", method: method, ip: ip, ua: ua})
	if err != nil {
		return err
	}
	if err := s.recordSignInRisk(ctx, tx, signInID, risk); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE accounts SET last_sign_in_at = $1, locked_until = NULL, lock_count = 0 WHERE id = $2`, tx.Now(), acct.ID); err != nil {
		return err
	}
	if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "login.success", Target: "account:" + acct.ID, Outcome: audit.Success,
		Details: map[string]any{"methods": methods, "session": out.Session.ID, "new_device": newDevice}}); err != nil {
		return err
	}
	out.Next = StepDone
	if acct.PasswordChangeRequired != "" {
		out.Next = StepChangePassword
	}
	if newDevice {
		email, err := s.emailIn(ctx, tx, acct.ID)
		if err != nil {
			return err
		}
		return s.notice(ctx, tx, acct.ID, email, noticeNewSignIn, "New sign-in to your account",
			"Your Portico account was signed in to at "+stamp(tx.Now())+" from a device or country it has not used before: "+where(device, ip, country)+".\n\n"+
				"If this was you, there is nothing to do. "+ifNotYou)
	}
	return nil
}

// hasSuccess reports whether the account has a successful sign-in that
// also matches the extra condition cond (on $2, $3, ... from args).
func hasSuccess(ctx context.Context, tx *db.Tx, accountID, cond string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM sign_in_events WHERE account_id = $1 AND outcome = 'success' `+cond+` LIMIT 1`,
		append([]any{accountID}, args...)...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// emailIn decrypts an account's email address inside tx.
func (s *Service) emailIn(ctx context.Context, tx *db.Tx, id string) (string, error) {
	var enc []byte
	if err := tx.QueryRowContext(ctx, `SELECT email_enc FROM accounts WHERE id = $1`, id).Scan(&enc); err != nil {
		return "", err
	}
	b, err := s.keys.Decrypt(ctx, tx, id, emailField(id), enc)
	return string(b), err
}

// requireChangeIfDue marks a password change as required at sign-in when
// the password was found in a breach (evidence of compromise) or has
// expired under the profile.
//
// Enforces CP-4.3: passwords expire when the profile says so, and a change
// is forced at once on evidence of compromise.
func (s *Service) requireChangeIfDue(ctx context.Context, tx *db.Tx, acct *Account, breached bool) error {
	reason := ""
	switch {
	case breached:
		reason = ChangeCompromised
	case acct.PasswordChangeRequired != "":
		return nil
	case s.passwordExpired(*acct, tx.Now()):
		reason = ChangeExpired
	default:
		return nil
	}
	if acct.PasswordChangeRequired == reason {
		return nil
	}
	acct.PasswordChangeRequired = reason
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_change_required = $1 WHERE id = $2`, reason, acct.ID); err != nil {
		return err
	}
	_, err := s.audit.Append(ctx, tx, audit.Event{Action: "password.change_required", Target: "account:" + acct.ID, Outcome: audit.Success,
		Details: map[string]any{"reason": reason}})
	return err
}

// PasswordExpiresAt is when the account's password expires (zero when the
// profile sets no expiry).
func (s *Service) PasswordExpiresAt(a Account) time.Time {
	days := s.profile.Password.ExpiryDays
	if days <= 0 || a.PasswordChangedAt.IsZero() {
		return time.Time{}
	}
	return a.PasswordChangedAt.Add(time.Duration(days) * 24 * time.Hour)
}

func (s *Service) passwordExpired(a Account, now time.Time) bool {
	at := s.PasswordExpiresAt(a)
	return !at.IsZero() && !now.Before(at)
}

// ExpiryWarning reports whether the account's password expires within the
// profile's warning period, for the banner.
func (s *Service) ExpiryWarning(a Account, now time.Time) (time.Time, bool) {
	at := s.PasswordExpiresAt(a)
	if at.IsZero() {
		return at, false
	}
	return at, !now.Before(at.Add(-time.Duration(s.profile.Password.ExpiryWarningDays) * 24 * time.Hour))
}
