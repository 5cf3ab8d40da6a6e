package compliance

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// identityChecks are the evidence of identity and access: second factors,
// passwords, roles, reveals of masked data, sessions and API tokens, the
// restricted mode, contractors and the support desk.
func identityChecks(src Sources) []Check {
	return []Check{
		{
			Name:    "identity.second-factor",
			Clauses: []string{"CP-4.1", "MTL-3.1.2"},
			Description: "Counts the active customers and staff with a second factor (authenticator app or passkey) and " +
				"asks the sign-in gate (identity Stage) what each live session may do; fails when a session of an account " +
				"that must have a second factor (every account when the profile requires MFA, staff always) has full access " +
				"without one.",
			Run: func(ctx context.Context, now time.Time) (Result, error) { return secondFactorEvidence(ctx, src, now) },
		},
		{
			Name:    "identity.password-policy",
			Clauses: []string{"CP-4.3", "MTL-3.1.1", "CP-3.1"},
			Description: "States the password policy in effect (length, strength, history, expiry and its warning) and " +
				"fails when an active account signed in at or after its password expired without being made to change it, " +
				"or was not warned a tenth of the warning period after its password entered it.",
			Run: func(ctx context.Context, now time.Time) (Result, error) { return passwordEvidence(ctx, src, now) },
		},
		{
			Name:    "identity.restricted-mode",
			Clauses: []string{"CP-12"},
			Description: "Finds the active accounts out of compliance (no second factor where one is required, a password " +
				"change required or a password expired, staff training overdue, a contract ended) and asks the sign-in gate " +
				"and the API token gate what each of their live sessions and tokens may do; fails when one has full access.",
			Run: func(ctx context.Context, now time.Time) (Result, error) { return restrictedEvidence(ctx, src, now) },
		},
		{
			Name:    "access.roles",
			Clauses: []string{"CP-4.2", "MTL-3.2.1"},
			Description: "Reads every account's role and the role table in effect; fails on an account with a role the " +
				"table does not know, a live session or API token carrying another role than its account's, or a " +
				"permission of administration (configuration, keys, roles, accounts) held by a role other than admin.",
			Run: func(ctx context.Context, now time.Time) (Result, error) { return rolesEvidence(ctx, src, now) },
		},
		{
			Name:    "access.reveal-grants",
			Clauses: []string{"MTL-3.2.2", "MTL-3.2.1"},
			Description: "Reads the grants that unmask personal data; fails when a live grant lasts longer than the " +
				"profile's reveal period or is held by an active account whose role may not reveal (a role change leaves " +
				"the grant), or " +
				"when a grant within the audit trail's retention has no reason or no audit event.",
			Run: func(ctx context.Context, now time.Time) (Result, error) { return revealEvidence(ctx, src, now) },
		},
		{
			Name:    "session.timeouts",
			Clauses: []string{"CP-6.3"},
			Description: "Reads every session not ended; fails when one has an absolute deadline beyond the profile's " +
				"absolute timeout, or is past its idle or absolute timeout by more than a tenth of the idle timeout " +
				"(the sweep that ends them has stopped), or belongs to an account that is not active.",
			Run: func(ctx context.Context, now time.Time) (Result, error) { return sessionEvidence(ctx, src, now) },
		},
		{
			Name:    "session.api-tokens",
			Clauses: []string{"CP-6.3"},
			Description: "Reads every live API token; fails when one lasts longer than the profile's maximum lifetime, " +
				"carries a scope its role does not hold or a sensitive one, or belongs to an account that is not active " +
				"staff.",
			Run: func(ctx context.Context, now time.Time) (Result, error) { return tokenEvidence(ctx, src, now) },
		},
		{
			Name:    "staff.contractors",
			Clauses: []string{"MTL-1.2"},
			Description: "Counts the active staff and contractors with a second factor and current training; fails when a " +
				"contractor holds the admin role, or an ended contractor has a live API token or a session used after the " +
				"end date; warns while an ended contractor's account is not disabled yet.",
			Run: func(ctx context.Context, now time.Time) (Result, error) { return contractorEvidence(ctx, src, now) },
		},
		{
			Name:    "support.desk-staffed",
			Clauses: []string{"CP-3.3"},
			Description: "Counts the support team's active members who can work the ticket desk now (a second factor, " +
				"training current, contract not ended) and the open tickets; fails when nobody can.",
			Run: func(ctx context.Context, now time.Time) (Result, error) { return deskEvidence(ctx, src, now) },
		},
	}
}

// activeAccounts reads every active account of one role with its passkey
// count, in one query: for the small sets (a staff role).
func activeAccounts(ctx context.Context, src Sources, role access.Role) ([]identity.Account, error) {
	var out []identity.Account
	err := eachActiveAccount(ctx, src, role, func(a identity.Account) error {
		out = append(out, a)
		return nil
	})
	return out, err
}

// eachActiveAccount calls fn with every active account (or those of one
// role) and its passkey count, one row at a time: the checks over every
// customer hold one account in memory, not all of them (an evidence run
// on 10,000 customers held about 10 MB when they were read into slices).
func eachActiveAccount(ctx context.Context, src Sources, role access.Role, fn func(identity.Account) error) error {
	q := `SELECT a.id, a.role, a.created_at, a.password_changed_at, a.password_change_required, a.totp_enabled_at,
	             a.last_sign_in_at, a.training_completed_at, a.contractor_until,
	             (SELECT COUNT(*) FROM passkeys p WHERE p.account_id = a.id)
	      FROM accounts a WHERE a.status = $1`
	args := []any{identity.StatusActive}
	if role != "" {
		q += ` AND a.role = $2`
		args = append(args, string(role))
	}
	rows, err := src.DB.QueryContext(ctx, q+` ORDER BY a.id`, args...)
	if err != nil {
		return fmt.Errorf("read accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a                                        identity.Account
			r                                        string
			changed, totp, last, trained, contractor sql.NullTime
		)
		if err := rows.Scan(&a.ID, &r, &a.CreatedAt, &changed, &a.PasswordChangeRequired, &totp, &last, &trained, &contractor,
			&a.PasskeyCount); err != nil {
			return err
		}
		a.Role, a.Status, a.TOTPEnabled = access.Role(r), identity.StatusActive, totp.Valid
		a.CreatedAt, a.PasswordChangedAt, a.LastSignInAt = utc(a.CreatedAt), utc(changed.Time), utc(last.Time)
		a.TrainingCompletedAt, a.ContractorUntil = utc(trained.Time), utc(contractor.Time)
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// utc normalises a time read from either database (UTC), keeping zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// liveSession is a session not ended, and whether its account's
// credentials were reset since it began (Authenticate refuses it).
type liveSession struct {
	session.Session
	Superseded bool
}

// liveSessions reads every session not ended, usable or not.
func liveSessions(ctx context.Context, src Sources) ([]liveSession, error) {
	rows, err := src.DB.QueryContext(ctx,
		`SELECT s.id, s.account_id, s.role, s.aal, s.methods, s.created_at, s.last_seen_at, s.reauth_at, s.expires_at,
		        s.credentials_epoch, a.credentials_epoch
		 FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.ended_at IS NULL ORDER BY s.id`)
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	defer rows.Close()
	var out []liveSession
	for rows.Next() {
		var s liveSession
		var methods string
		var current int64
		if err := rows.Scan(&s.ID, &s.AccountID, &s.Role, &s.AAL, &methods, &s.CreatedAt, &s.LastSeenAt, &s.ReauthAt, &s.ExpiresAt,
			&s.Epoch, &current); err != nil {
			return nil, err
		}
		if methods != "" {
			s.Methods = strings.Split(methods, ",")
		}
		s.CreatedAt, s.LastSeenAt, s.ReauthAt, s.ExpiresAt = utc(s.CreatedAt), utc(s.LastSeenAt), utc(s.ReauthAt), utc(s.ExpiresAt)
		s.Superseded = s.Epoch < current
		out = append(out, s)
	}
	return out, rows.Err()
}

// usable reports whether a session not ended would still open at now:
// within its idle and absolute timeouts, and not superseded by a reset of
// its account's credentials (what Authenticate accepts).
func usable(src Sources, s liveSession, now time.Time) bool {
	return !s.Superseded && now.Before(s.ExpiresAt) && now.Before(s.LastSeenAt.Add(src.Profile.Session.IdleTimeout.Duration))
}

// liveToken is a live API token as the checks read it.
type liveToken struct {
	ID, AccountID, Role      string
	Scopes                   []access.Permission
	CreatedAt, ExpiresAt     time.Time
	LastUsedAt               time.Time
	HolderRole, HolderStatus string
}

// liveTokens reads every API token neither revoked nor expired at now,
// with its holder's current role and status.
func liveTokens(ctx context.Context, src Sources, now time.Time) ([]liveToken, error) {
	rows, err := src.DB.QueryContext(ctx,
		`SELECT t.id, t.account_id, t.role, t.scopes, t.created_at, t.expires_at, t.last_used_at, a.role, a.status
		 FROM api_tokens t JOIN accounts a ON a.id = t.account_id
		 WHERE t.revoked_at IS NULL AND t.expires_at > $1 ORDER BY t.id`, now)
	if err != nil {
		return nil, fmt.Errorf("read API tokens: %w", err)
	}
	defer rows.Close()
	var out []liveToken
	for rows.Next() {
		var t liveToken
		var scopes string
		var last sql.NullTime
		if err := rows.Scan(&t.ID, &t.AccountID, &t.Role, &scopes, &t.CreatedAt, &t.ExpiresAt, &last, &t.HolderRole, &t.HolderStatus); err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(scopes) {
			t.Scopes = append(t.Scopes, access.Permission(f))
		}
		t.CreatedAt, t.ExpiresAt, t.LastUsedAt = utc(t.CreatedAt), utc(t.ExpiresAt), utc(last.Time)
		out = append(out, t)
	}
	return out, rows.Err()
}

// activeStaff reads every active staff account (every role but customer).
func activeStaff(ctx context.Context, src Sources) ([]identity.Account, error) {
	var staff []identity.Account
	err := eachActiveAccount(ctx, src, "", func(a identity.Account) error {
		if a.Role.IsStaff() {
			staff = append(staff, a)
		}
		return nil
	})
	return staff, err
}

// fullAccess asks the sign-in gate what a usable session may do, with the
// account's state now: true when it is past every step (StepDone).
func fullAccess(ctx context.Context, src Sources, s liveSession) (identity.Account, bool, error) {
	acct, step, err := src.Identity.Stage(ctx, s.Session)
	if errors.Is(err, identity.ErrSessionInvalid) {
		return identity.Account{}, false, nil
	}
	if err != nil {
		return identity.Account{}, false, err
	}
	return acct, step == identity.StepDone, nil
}

// Enforces MTL-7.2 (evidence of CP-4.1, MTL-3.1.2): who has a second
// factor, and no session with full access without one where it is
// required.
func secondFactorEvidence(ctx context.Context, src Sources, now time.Time) (Result, error) {
	if src.DB == nil || src.Identity == nil {
		return Result{}, errUnavailable("the identity service")
	}
	// Active customers and staff, and those of each with a second factor.
	var customers, staff, cf, sf int
	if err := eachActiveAccount(ctx, src, "", func(a identity.Account) error {
		n, f := &customers, &cf
		if a.Role.IsStaff() {
			n, f = &staff, &sf
		}
		*n++
		if a.HasSecondFactor() {
			*f++
		}
		return nil
	}); err != nil {
		return Result{}, err
	}
	sessions, err := liveSessions(ctx, src)
	if err != nil {
		return Result{}, err
	}
	var bad []string
	full := 0
	for _, s := range sessions {
		if !usable(src, s, now) {
			continue
		}
		acct, ok, err := fullAccess(ctx, src, s)
		if err != nil {
			return Result{}, err
		}
		if !ok {
			continue
		}
		full++
		if src.Identity.MFARequired(acct) && (s.AAL < session.AAL2 || !acct.HasSecondFactor()) {
			bad = append(bad, s.ID)
		}
	}
	mode := src.Profile.MFA.Mode
	figs := []Figure{
		{"MFA mode", string(mode)},
		{"active customers with a second factor", fmt.Sprintf("%d of %d", cf, customers)},
		{"active staff with a second factor", fmt.Sprintf("%d of %d", sf, staff)},
		{"live sessions with full access", fmt.Sprint(full)},
		{"full sessions without a required second factor", fmt.Sprint(len(bad))},
	}
	if len(bad) > 0 {
		figs = append(figs, Figure{"sessions", strings.Join(firstIDs(bad), ", ")})
		return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
			"%d live session(s) have full access although their account has no second factor or the session did not use it", len(bad))}, nil
	}
	verb := "encouraged"
	if mode == policy.MFARequired {
		verb = "required (those without one can only enrol)"
	}
	return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
		"MFA is %s: %d of %d active customers and %d of %d staff have a second factor; no full session lacks a required one",
		verb, cf, customers, sf, staff)}, nil
}

// firstIDs returns at most the first ten IDs, for a figure.
func firstIDs(ids []string) []string {
	if len(ids) > 10 {
		return append(slices.Clone(ids[:10]), fmt.Sprintf("and %d more", len(ids)-10))
	}
	return ids
}

// Enforces MTL-7.2 (evidence of CP-4.3, MTL-3.1.1, CP-3.1): the password
// policy in effect, and expired passwords forced to change at sign-in.
func passwordEvidence(ctx context.Context, src Sources, now time.Time) (Result, error) {
	if src.DB == nil || src.Identity == nil {
		return Result{}, errUnavailable("the identity service")
	}
	p := src.Profile.Password
	var bad []string
	active, expired, warned := 0, 0, 0
	if err := eachActiveAccount(ctx, src, "", func(a identity.Account) error {
		active++
		exp := src.Identity.PasswordExpiresAt(a)
		if exp.IsZero() {
			return nil
		}
		if !now.Before(exp) {
			expired++
			if a.PasswordChangeRequired == "" && !a.LastSignInAt.Before(exp) {
				bad = append(bad, a.ID)
			}
		} else if _, soon := src.Identity.ExpiryWarning(a, now); soon {
			warned++
		}
		return nil
	}); err != nil {
		return Result{}, err
	}
	// Warnings: the job tells each account once its password enters the
	// warning period; one still untold a tenth of that period later means
	// the job has stopped (CP-4.3: expiry with warnings).
	var unwarned int
	if p.ExpiryDays > 0 && p.ExpiryWarningDays > 0 {
		day := 24 * time.Hour
		warnFor := time.Duration(p.ExpiryWarningDays) * day
		if err := src.DB.QueryRowContext(ctx,
			`SELECT COUNT(*) FROM accounts WHERE status = $1 AND expiry_warned_at IS NULL AND password_change_required = ''
			   AND password_changed_at IS NOT NULL AND password_changed_at <= $2 AND password_changed_at > $3`,
			identity.StatusActive, now.Add(-time.Duration(p.ExpiryDays)*day+warnFor-warnFor/10),
			now.Add(-time.Duration(p.ExpiryDays)*day)).Scan(&unwarned); err != nil {
			return Result{}, fmt.Errorf("read expiry warnings: %w", err)
		}
	}
	expiry := "never"
	if p.ExpiryDays > 0 {
		expiry = fmt.Sprintf("%d days, warned %d days before", p.ExpiryDays, p.ExpiryWarningDays)
	}
	figs := []Figure{
		{"minimum length", fmt.Sprint(p.MinLength)},
		{"maximum length accepted", fmt.Sprint(p.MaxLength)},
		{"minimum strength (zxcvbn 0-4)", fmt.Sprint(p.MinStrength)},
		{"previous passwords refused", fmt.Sprint(p.History)},
		{"expiry", expiry},
		{"active accounts", fmt.Sprint(active)},
		{"expired, change forced at the next sign-in", fmt.Sprint(expired - len(bad))},
		{"expiring within the warning period", fmt.Sprint(warned)},
	}
	figs = append(figs, Figure{"in the warning period for over a tenth of it, not warned", fmt.Sprint(unwarned)})
	var problems []string
	if len(bad) > 0 {
		figs = append(figs, Figure{"signed in past expiry without a forced change", strings.Join(firstIDs(bad), ", ")})
		problems = append(problems, fmt.Sprintf("%d active account(s) signed in after their password expired without being made to change it", len(bad)))
	}
	if unwarned > 0 {
		problems = append(problems, fmt.Sprintf("%d active account(s) whose password expires soon were not warned", unwarned))
	}
	if len(problems) > 0 {
		return Result{Status: Fail, Figures: figs, Summary: strings.Join(problems, "; ")}, nil
	}
	return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
		"passwords of at least %d characters and strength %d, the last %d refused, expiry %s; every expired password is changed at its next sign-in (%d waiting)",
		p.MinLength, p.MinStrength, p.History, expiry, expired)}, nil
}

// outOfCompliance says why an active account must work in restricted
// mode (CP-12), "" when it need not.
func outOfCompliance(src Sources, a identity.Account, now time.Time) string {
	switch {
	case a.ContractEnded(now):
		return "contract ended"
	case src.Identity.MFARequired(a) && !a.HasSecondFactor():
		return "no second factor"
	case a.PasswordChangeRequired != "":
		return "password change required (" + a.PasswordChangeRequired + ")"
	case !src.Identity.PasswordExpiresAt(a).IsZero() && !now.Before(src.Identity.PasswordExpiresAt(a)):
		return "password expired"
	case src.Identity.TrainingOverdue(a):
		return "training overdue"
	}
	return ""
}

// Enforces MTL-7.2 (evidence of CP-12): every account out of compliance
// is in restricted mode, for its sessions and its API tokens alike.
func restrictedEvidence(ctx context.Context, src Sources, now time.Time) (Result, error) {
	if src.DB == nil || src.Identity == nil {
		return Result{}, errUnavailable("the identity service")
	}
	why := map[string]string{}
	byReason := map[string]int{}
	active := 0
	if err := eachActiveAccount(ctx, src, "", func(a identity.Account) error {
		active++
		if r := outOfCompliance(src, a, now); r != "" {
			why[a.ID] = r
			byReason[r]++
		}
		return nil
	}); err != nil {
		return Result{}, err
	}
	sessions, err := liveSessions(ctx, src)
	if err != nil {
		return Result{}, err
	}
	var bad []string
	for _, s := range sessions {
		if why[s.AccountID] == "" || !usable(src, s, now) {
			continue
		}
		_, ok, err := fullAccess(ctx, src, s)
		if err != nil {
			return Result{}, err
		}
		if ok {
			bad = append(bad, fmt.Sprintf("session %s (%s)", s.ID, why[s.AccountID]))
		}
	}
	tokens, err := liveTokens(ctx, src, now)
	if err != nil {
		return Result{}, err
	}
	for _, t := range tokens {
		if why[t.AccountID] == "" {
			continue
		}
		if _, err := src.Identity.TokenStage(ctx, t.AccountID, access.Role(t.Role)); err == nil {
			bad = append(bad, fmt.Sprintf("token %s (%s)", t.ID, why[t.AccountID]))
		} else if !errors.Is(err, identity.ErrTokenHolder) {
			return Result{}, err
		}
	}
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	figs := []Figure{{"active accounts", fmt.Sprint(active)}, {"in restricted mode", fmt.Sprint(len(why))}}
	for _, r := range reasons {
		figs = append(figs, Figure{"restricted: " + r, fmt.Sprint(byReason[r])})
	}
	if len(bad) > 0 {
		figs = append(figs, Figure{"full access while out of compliance", strings.Join(firstIDs(bad), ", ")})
		return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
			"%d live session(s) or API token(s) of accounts out of compliance still have full access", len(bad))}, nil
	}
	return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
		"%d of %d active accounts are out of compliance and every one is in restricted mode", len(why), active)}, nil
}

// adminOnly are the permissions of configuration, keys, roles and
// accounts, which MTL-3.2.2 keeps to administrators.
var adminOnly = []access.Permission{access.UserManage, access.UserReveal, access.UserInvite, access.RoleGrant,
	access.ApprovalDecide, access.PolicyEdit, access.KeysRotate}

// matrixDigest is the SHA-256 of the role table in effect, one line per
// role with its permissions, so that a reader can compare it with the
// reviewed table.
func matrixDigest() string {
	h := sha256.New()
	for _, r := range access.Roles() {
		ps := access.RolePermissions(r)
		names := make([]string, len(ps))
		for i, p := range ps {
			names[i] = string(p)
		}
		fmt.Fprintf(h, "%s: %s\n", r, strings.Join(names, " "))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Enforces MTL-7.2 (evidence of CP-4.2, MTL-3.2.1): every account holds one
// known role, sessions and tokens carry their account's current role, and
// administration stays with administrators.
func rolesEvidence(ctx context.Context, src Sources, now time.Time) (Result, error) {
	if src.DB == nil {
		return Result{}, errUnavailable("the database")
	}
	counts := map[string]int{}  // active accounts by role
	unknown := map[string]int{} // accounts of any status by unknown role
	known := map[string]bool{}
	for _, r := range access.Roles() {
		known[string(r)] = true
	}
	if err := queryEach(ctx, src, `SELECT role, status, COUNT(*) FROM accounts GROUP BY role, status`, func(scan func(...any) error) error {
		var r, st string
		var n int
		if err := scan(&r, &st, &n); err != nil {
			return err
		}
		if !known[r] {
			unknown[r] += n
		} else if st == identity.StatusActive {
			counts[r] += n
		}
		return nil
	}); err != nil {
		return Result{}, fmt.Errorf("read roles: %w", err)
	}
	var problems []string
	for _, r := range slices.Sorted(maps.Keys(unknown)) {
		problems = append(problems, fmt.Sprintf("%d account(s) with the unknown role %q", unknown[r], r))
	}
	for _, r := range access.Roles() {
		if r == access.RoleAdmin {
			continue
		}
		for _, p := range adminOnly {
			if access.Has(r, p) {
				problems = append(problems, fmt.Sprintf("the %s role holds %s, which is for administrators only", r, p))
			}
		}
	}
	// A role change ends or rotates the account's sessions: a usable one
	// with the old role means it did not.
	var stale int
	if err := src.DB.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM sessions s JOIN accounts a ON a.id = s.account_id
		 WHERE s.ended_at IS NULL AND s.role <> a.role AND s.expires_at > $1 AND s.last_seen_at > $2`,
		now, now.Add(-src.Profile.Session.IdleTimeout.Duration)).Scan(&stale); err != nil {
		return Result{}, fmt.Errorf("read sessions: %w", err)
	}
	tokens, err := liveTokens(ctx, src, now)
	if err != nil {
		return Result{}, err
	}
	for _, t := range tokens {
		if t.Role != t.HolderRole {
			stale++
		}
	}
	if stale > 0 {
		problems = append(problems, fmt.Sprintf("%d live session(s) or API token(s) carry another role than their account's", stale))
	}
	figs := []Figure{{"role table (SHA-256)", matrixDigest()}}
	for _, r := range access.Roles() {
		figs = append(figs, Figure{"active " + string(r) + " accounts", fmt.Sprint(counts[string(r)])})
	}
	figs = append(figs, Figure{"support permissions", joinPerms(access.RolePermissions(access.RoleSupport))})
	if len(problems) > 0 {
		return Result{Status: Fail, Figures: figs, Summary: strings.Join(problems, "; ")}, nil
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
		"every one of %d active accounts holds a known role, live sessions and tokens carry their account's role, and administration stays with %d administrator(s)",
		total, counts[string(access.RoleAdmin)])}, nil
}

func joinPerms(ps []access.Permission) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return strings.Join(out, " ")
}

// queryEach runs a read-only query and calls fn for each row.
func queryEach(ctx context.Context, src Sources, query string, fn func(scan func(...any) error) error, args ...any) error {
	rows, err := src.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Enforces MTL-7.2 (evidence of MTL-3.2.2, MTL-3.2.1): reveals of masked
// data are time-bound by the profile, held only by active staff whose
// role may reveal, with a reason and an audit event each.
func revealEvidence(ctx context.Context, src Sources, now time.Time) (Result, error) {
	if src.DB == nil {
		return Result{}, errUnavailable("the database")
	}
	maxLife := src.Profile.Access.RevealGrant.Duration
	since := now.Add(-src.Profile.Retention.AuditEvents.Duration)
	audited := map[string]bool{}
	if err := queryEach(ctx, src, `SELECT details FROM audit_events WHERE action IN ($1, $2) AND at >= $3`, func(scan func(...any) error) error {
		var details string
		if err := scan(&details); err != nil {
			return err
		}
		var d struct {
			Grant string `json:"grant"`
		}
		if json.Unmarshal([]byte(details), &d) == nil && d.Grant != "" {
			audited[d.Grant] = true
		}
		return nil
	}, identity.ActionReveal, identity.ActionAccountReveal, since); err != nil {
		return Result{}, fmt.Errorf("read reveal events: %w", err)
	}
	var (
		total, live                 int
		tooLong, notAllowed, silent []string
	)
	err := queryEach(ctx, src,
		`SELECT g.id, g.granted_at, g.expires_at, LENGTH(g.reason_enc), a.role, a.status
		 FROM reveal_grants g JOIN accounts a ON a.id = g.staff_id WHERE g.granted_at >= $1 OR g.expires_at > $2 ORDER BY g.id`,
		func(scan func(...any) error) error {
			var (
				id, role, status string
				granted, expires time.Time
				reasonLen        sql.NullInt64
			)
			if err := scan(&id, &granted, &expires, &reasonLen, &role, &status); err != nil {
				return err
			}
			granted, expires = utc(granted), utc(expires)
			total++
			if !audited[id] || reasonLen.Int64 == 0 {
				silent = append(silent, id)
			}
			if !now.Before(expires) {
				return nil
			}
			live++
			if expires.Sub(granted) > maxLife {
				tooLong = append(tooLong, id)
			}
			r := access.Role(role)
			// A disabled holder cannot sign in to use the grant; a holder
			// moved to a role that may not reveal still could.
			if status == identity.StatusActive && !access.Has(r, access.CustomerReveal) && !access.Has(r, access.UserReveal) {
				notAllowed = append(notAllowed, id)
			}
			return nil
		}, since, now)
	if err != nil {
		return Result{}, fmt.Errorf("read reveal grants: %w", err)
	}
	figs := []Figure{
		{"reveal period", src.Profile.Access.RevealGrant.String()},
		{"grants within the audit retention", fmt.Sprint(total)},
		{"live grants", fmt.Sprint(live)},
	}
	var problems []string
	if len(tooLong) > 0 {
		problems = append(problems, fmt.Sprintf("%d live grant(s) last longer than the reveal period", len(tooLong)))
		figs = append(figs, Figure{"grants too long", strings.Join(firstIDs(tooLong), ", ")})
	}
	if len(notAllowed) > 0 {
		problems = append(problems, fmt.Sprintf("%d live grant(s) held by someone whose role may not reveal", len(notAllowed)))
		figs = append(figs, Figure{"grants of holders not allowed", strings.Join(firstIDs(notAllowed), ", ")})
	}
	if len(silent) > 0 {
		problems = append(problems, fmt.Sprintf("%d grant(s) without a reason or an audit event", len(silent)))
		figs = append(figs, Figure{"grants without reason or event", strings.Join(firstIDs(silent), ", ")})
	}
	if len(problems) > 0 {
		return Result{Status: Fail, Figures: figs, Summary: strings.Join(problems, "; ")}, nil
	}
	return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
		"%d reveal(s) within the audit retention, each with a reason and an audit event; %d live, none longer than %s or held by someone not allowed",
		total, live, src.Profile.Access.RevealGrant.String())}, nil
}

// Enforces MTL-7.2 (evidence of CP-6.3): sessions end at the profile's
// idle and absolute timeouts, and only active accounts hold one.
func sessionEvidence(ctx context.Context, src Sources, now time.Time) (Result, error) {
	if src.DB == nil {
		return Result{}, errUnavailable("the database")
	}
	ps := src.Profile.Session
	// The sweep ends a session that goes stale within a minute or so;
	// a tenth of the idle timeout is its allowance.
	grace := ps.IdleTimeout.Duration / 10
	sessions, err := liveSessions(ctx, src)
	if err != nil {
		return Result{}, err
	}
	status := map[string]string{}
	if err := queryEach(ctx, src, `SELECT a.id, a.status FROM accounts a WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.account_id = a.id AND s.ended_at IS NULL)`,
		func(scan func(...any) error) error {
			var id, st string
			if err := scan(&id, &st); err != nil {
				return err
			}
			status[id] = st
			return nil
		}); err != nil {
		return Result{}, err
	}
	var long, unswept, inactive []string
	live, waiting, superseded := 0, 0, 0
	for _, s := range sessions {
		if s.ExpiresAt.Sub(s.CreatedAt) > ps.AbsoluteTimeout.Duration {
			long = append(long, s.ID)
		}
		staleSince := s.ExpiresAt
		if idle := s.LastSeenAt.Add(ps.IdleTimeout.Duration); idle.Before(staleSince) {
			staleSince = idle
		}
		switch {
		case now.Before(staleSince) && s.Superseded:
			superseded++ // refused on its next request; the sweep ends it when it goes idle
		case now.Before(staleSince):
			live++
			if status[s.AccountID] != identity.StatusActive {
				inactive = append(inactive, s.ID)
			}
		case now.Sub(staleSince) > grace:
			unswept = append(unswept, s.ID)
		default:
			waiting++
		}
	}
	figs := []Figure{
		{"idle timeout", ps.IdleTimeout.String()},
		{"absolute timeout", ps.AbsoluteTimeout.String()},
		{"live sessions", fmt.Sprint(live)},
		{"stale, awaiting the sweep", fmt.Sprint(waiting)},
		{"superseded by a credentials reset (refused)", fmt.Sprint(superseded)},
	}
	var problems []string
	if len(long) > 0 {
		problems = append(problems, fmt.Sprintf("%d session(s) with a deadline beyond the absolute timeout", len(long)))
		figs = append(figs, Figure{"sessions beyond the absolute timeout", strings.Join(firstIDs(long), ", ")})
	}
	if len(unswept) > 0 {
		problems = append(problems, fmt.Sprintf("%d session(s) past their timeout and not ended", len(unswept)))
		figs = append(figs, Figure{"sessions past their timeout", strings.Join(firstIDs(unswept), ", ")})
	}
	if len(inactive) > 0 {
		problems = append(problems, fmt.Sprintf("%d live session(s) of accounts that are not active", len(inactive)))
		figs = append(figs, Figure{"sessions of inactive accounts", strings.Join(firstIDs(inactive), ", ")})
	}
	if len(problems) > 0 {
		return Result{Status: Fail, Figures: figs, Summary: strings.Join(problems, "; ")}, nil
	}
	return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
		"%d live session(s), each within its idle timeout (%s) and absolute timeout (%s), all of active accounts",
		live, ps.IdleTimeout.String(), ps.AbsoluteTimeout.String())}, nil
}

// Enforces MTL-7.2 (evidence of CP-6.3): API tokens expire within the
// profile's maximum lifetime, carry only their role's non-sensitive
// permissions and belong to active staff.
func tokenEvidence(ctx context.Context, src Sources, now time.Time) (Result, error) {
	if src.DB == nil {
		return Result{}, errUnavailable("the database")
	}
	maxLife := src.Profile.Access.APITokenMaxLifetime.Duration
	tokens, err := liveTokens(ctx, src, now)
	if err != nil {
		return Result{}, err
	}
	var long, scoped, holders []string
	var latest time.Time
	for _, t := range tokens {
		if t.ExpiresAt.Sub(t.CreatedAt) > maxLife {
			long = append(long, t.ID)
		}
		if t.ExpiresAt.After(latest) {
			latest = t.ExpiresAt
		}
		for _, p := range t.Scopes {
			if access.Sensitive(p) || !access.Has(access.Role(t.Role), p) {
				scoped = append(scoped, t.ID)
				break
			}
		}
		if t.HolderStatus != identity.StatusActive || !access.Role(t.HolderRole).IsStaff() {
			holders = append(holders, t.ID)
		}
	}
	figs := []Figure{
		{"maximum lifetime", src.Profile.Access.APITokenMaxLifetime.String()},
		{"live tokens", fmt.Sprint(len(tokens))},
	}
	if !latest.IsZero() {
		figs = append(figs, Figure{"latest expiry", latest.Format(time.DateOnly)})
	}
	var problems []string
	if len(long) > 0 {
		problems = append(problems, fmt.Sprintf("%d live token(s) last longer than the maximum lifetime", len(long)))
		figs = append(figs, Figure{"tokens too long", strings.Join(firstIDs(long), ", ")})
	}
	if len(scoped) > 0 {
		problems = append(problems, fmt.Sprintf("%d live token(s) carry a sensitive scope or one their role does not hold", len(scoped)))
		figs = append(figs, Figure{"tokens with a scope not allowed", strings.Join(firstIDs(scoped), ", ")})
	}
	if len(holders) > 0 {
		problems = append(problems, fmt.Sprintf("%d live token(s) of accounts that are not active staff", len(holders)))
		figs = append(figs, Figure{"tokens of inactive or non-staff accounts", strings.Join(firstIDs(holders), ", ")})
	}
	if len(problems) > 0 {
		return Result{Status: Fail, Figures: figs, Summary: strings.Join(problems, "; ")}, nil
	}
	return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
		"%d live API token(s), each expiring within %s with scopes its role holds, all of active staff",
		len(tokens), src.Profile.Access.APITokenMaxLifetime.String())}, nil
}

// Enforces MTL-7.2 (evidence of MTL-1.2): contractors are staff under the
// same controls, never administrators, and their access ends with their
// contract.
func contractorEvidence(ctx context.Context, src Sources, now time.Time) (Result, error) {
	if src.DB == nil || src.Identity == nil {
		return Result{}, errUnavailable("the identity service")
	}
	staff, err := activeStaff(ctx, src)
	if err != nil {
		return Result{}, err
	}
	var contractors []identity.Account
	staffFactor, staffTrained, cFactor, cTrained := 0, 0, 0, 0
	ended := map[string]time.Time{}
	var admins []string
	for _, a := range staff {
		trained := !src.Identity.TrainingOverdue(a)
		if a.HasSecondFactor() {
			staffFactor++
		}
		if trained {
			staffTrained++
		}
		if !a.Contractor() {
			continue
		}
		contractors = append(contractors, a)
		if a.HasSecondFactor() {
			cFactor++
		}
		if trained {
			cTrained++
		}
		if !a.Role.MayContract() {
			admins = append(admins, a.ID)
		}
		if a.ContractEnded(now) {
			ended[a.ID] = a.ContractorUntil
		}
	}
	var used []string
	if len(ended) > 0 {
		sessions, err := liveSessions(ctx, src)
		if err != nil {
			return Result{}, err
		}
		for _, s := range sessions {
			if end, ok := ended[s.AccountID]; ok && usable(src, s, now) && s.LastSeenAt.After(end) {
				used = append(used, "session "+s.ID)
			}
		}
		tokens, err := liveTokens(ctx, src, now)
		if err != nil {
			return Result{}, err
		}
		for _, t := range tokens {
			if _, ok := ended[t.AccountID]; ok {
				used = append(used, "token "+t.ID)
			}
		}
	}
	figs := []Figure{
		{"active staff", fmt.Sprint(len(staff))},
		{"staff with a second factor", fmt.Sprintf("%d of %d", staffFactor, len(staff))},
		{"staff with training current", fmt.Sprintf("%d of %d", staffTrained, len(staff))},
		{"active contractors", fmt.Sprint(len(contractors))},
		{"contractors with a second factor", fmt.Sprintf("%d of %d", cFactor, len(contractors))},
		{"contractors with training current", fmt.Sprintf("%d of %d", cTrained, len(contractors))},
		{"ended contracts not disabled yet", fmt.Sprint(len(ended))},
	}
	var problems []string
	if len(admins) > 0 {
		problems = append(problems, fmt.Sprintf("%d contractor(s) hold the admin role", len(admins)))
		figs = append(figs, Figure{"contractors holding admin", strings.Join(firstIDs(admins), ", ")})
	}
	if len(used) > 0 {
		problems = append(problems, fmt.Sprintf("%d live session(s) or token(s) of contractors past their end date", len(used)))
		figs = append(figs, Figure{"access past the contract's end", strings.Join(firstIDs(used), ", ")})
	}
	switch {
	case len(problems) > 0:
		return Result{Status: Fail, Figures: figs, Summary: strings.Join(problems, "; ")}, nil
	case len(ended) > 0:
		return Result{Status: Warn, Figures: figs, Summary: fmt.Sprintf(
			"%d contractor account(s) past their end date are not disabled yet (they can no longer sign in or use a token)", len(ended))}, nil
	}
	return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
		"%d active contractor(s) among %d staff, none an administrator, none past their end date; %d of %d contractors have a second factor and %d current training",
		len(contractors), len(staff), cFactor, len(contractors), cTrained)}, nil
}

// Enforces MTL-7.2 (evidence of CP-3.3): the support team can assist
// customers now.
func deskEvidence(ctx context.Context, src Sources, now time.Time) (Result, error) {
	if src.DB == nil || src.Identity == nil {
		return Result{}, errUnavailable("the identity service")
	}
	support, err := activeAccounts(ctx, src, access.RoleSupport)
	if err != nil {
		return Result{}, err
	}
	able := 0
	for _, a := range support {
		if outOfCompliance(src, a, now) == "" {
			able++
		}
	}
	var open int
	if err := src.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM tickets WHERE status <> 'closed'`).Scan(&open); err != nil {
		return Result{}, fmt.Errorf("read tickets: %w", err)
	}
	var oldest sql.NullTime
	err = src.DB.QueryRowContext(ctx, `SELECT created_at FROM tickets WHERE status <> 'closed' ORDER BY created_at LIMIT 1`).Scan(&oldest.Time)
	switch {
	case err == nil:
		oldest.Valid = true
	case !errors.Is(err, sql.ErrNoRows):
		return Result{}, fmt.Errorf("read tickets: %w", err)
	}
	figs := []Figure{
		{"active support staff", fmt.Sprint(len(support))},
		{"able to work the desk now", fmt.Sprint(able)},
		{"tickets not closed", fmt.Sprint(open)},
	}
	if oldest.Valid {
		figs = append(figs, Figure{"oldest ticket not closed", utc(oldest.Time).Format(time.DateOnly)})
	}
	if able == 0 {
		return Result{Status: Fail, Figures: figs, Summary: fmt.Sprintf(
			"no member of the support team can work the ticket desk now (%d active, all restricted or none)", len(support))}, nil
	}
	return Result{Status: Pass, Figures: figs, Summary: fmt.Sprintf(
		"%d of %d support staff can work the ticket desk now; %d ticket(s) not closed", able, len(support), open)}, nil
}
