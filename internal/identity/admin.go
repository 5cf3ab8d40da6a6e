package identity

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/approval"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Administration of accounts. Every function takes the acting principal
// and checks its permission again below the handler (CP-4.2); each change
// is audited with its old and new value.

// AccountQuery narrows SearchAccounts.
type AccountQuery struct {
	Email  string      // exact address (found through the keyed lookup hash)
	Role   access.Role // "" for any
	Status string      // "" for any
	Limit  int         // default 50, at most 200
	Offset int
}

// AccountSummary is an account in an administrator's list: its email
// address is masked (MTL-3.2.1: staff see what they need), its name is
// shown, so that an administrator can tell accounts apart and act on the
// right one (the name is the holder's own contact name).
type AccountSummary struct {
	Account
	EmailMasked string
	Name        string
	// InvitedBy is the administrator who invited a member of staff (""
	// for accounts made otherwise).
	InvitedBy string
}

var errNotAllowed = apperr.New(apperr.NotFound, "No such account.")

// SearchAccounts lists accounts for administrators and auditors, newest
// first, with the total count for pagination.
func (s *Service) SearchAccounts(ctx context.Context, actor access.Principal, q AccountQuery) ([]AccountSummary, int, error) {
	if !access.Has(actor.Role, access.UserRead) {
		return nil, 0, errNotAllowed
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Email != "" {
		email, err := NormalizeEmail(q.Email)
		if err != nil {
			return nil, 0, err
		}
		lookup, err := s.emailLookup(ctx, email)
		if err != nil {
			return nil, 0, err
		}
		where = append(where, "email_lookup = "+arg(lookup))
	}
	if q.Role != "" {
		if _, err := access.ParseRole(string(q.Role)); err != nil {
			return nil, 0, apperr.New(apperr.Invalid, err.Error())
		}
		where = append(where, "role = "+arg(string(q.Role)))
	}
	switch q.Status {
	case "":
	case StatusActive, StatusDisabled, StatusUnverified, StatusInvited:
		where = append(where, "status = "+arg(q.Status))
	default:
		return nil, 0, apperr.New(apperr.Invalid, "Unknown status: choose active, disabled, unverified or invited.")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	rows, err := s.db.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts`+cond+
		` ORDER BY created_at DESC, id LIMIT `+arg(limit)+` OFFSET `+arg(max(q.Offset, 0)), args...)
	if err != nil {
		return nil, 0, err
	}
	var out []AccountSummary
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			rows.Close()
			return nil, 0, err
		}
		out = append(out, AccountSummary{Account: a})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	for i := range out {
		email, err := s.Email(ctx, out[i].ID)
		if err != nil {
			return nil, 0, err
		}
		out[i].EmailMasked = access.MaskEmail(email)
		if out[i].Name, err = s.Name(ctx, out[i].ID); err != nil {
			return nil, 0, err
		}
		if s.passkeys != nil {
			if out[i].PasskeyCount, err = s.passkeys.Count(ctx, out[i].ID); err != nil {
				return nil, 0, err
			}
		}
	}
	return out, total, nil
}

// AdminAccount returns one account for an administrator's page, with its
// masked address.
func (s *Service) AdminAccount(ctx context.Context, actor access.Principal, id string) (AccountSummary, error) {
	if !access.Has(actor.Role, access.UserRead) {
		return AccountSummary{}, errNotAllowed
	}
	a, err := s.Account(ctx, id)
	if err != nil {
		return AccountSummary{}, errNotAllowed
	}
	email, err := s.Email(ctx, id)
	if err != nil {
		return AccountSummary{}, err
	}
	name, err := s.Name(ctx, id)
	if err != nil {
		return AccountSummary{}, err
	}
	var invitedBy sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT invited_by FROM accounts WHERE id = $1`, id).Scan(&invitedBy); err != nil {
		return AccountSummary{}, err
	}
	return AccountSummary{Account: a, EmailMasked: access.MaskEmail(email), Name: name, InvitedBy: invitedBy.String}, nil
}

// manage checks that actor may manage target: the permission, and never
// oneself (an administrator does not disable, unlock or re-role their own
// account: separation of duties, CP-4.2).
func manage(actor access.Principal, perm access.Permission, target string) error {
	if !access.Has(actor.Role, perm) || actor.AccountID == "" {
		return errNotAllowed
	}
	if actor.AccountID == target {
		return apperr.New(apperr.Forbidden, "You cannot do this to your own account: ask another administrator.")
	}
	return nil
}

// Unlock lifts a sign-in lock and its back-off.
func (s *Service) Unlock(ctx context.Context, actor access.Principal, id string) error {
	if err := manage(actor, access.UserManage, id); err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		if err := lockAccountRow(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET locked_until = NULL, lock_count = 0, failures_reset_at = $1, updated_at = $1 WHERE id = $2`, tx.Now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errNotAllowed
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "account.unlock", Target: "account:" + id, Outcome: audit.Success})
		return err
	})
}

// EndAllSessions signs an account out everywhere: every session and API
// token of the account ends (endCredentials).
func (s *Service) EndAllSessions(ctx context.Context, actor access.Principal, id string) (int, error) {
	if err := manage(actor, access.UserManage, id); err != nil {
		return 0, err
	}
	if _, err := s.Account(ctx, id); err != nil {
		return 0, errNotAllowed
	}
	var e ended
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		var err error
		if e, err = s.endCredentials(ctx, tx, id, "", "admin"); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "account.sessions.end_all", Target: "account:" + id, Outcome: audit.Success,
			Details: map[string]any{"sessions_ended": e.Sessions, "tokens_revoked": e.Tokens}})
		return err
	})
	return e.Sessions, err
}

// AdminRequirePasswordChange makes an account change its password at its
// next sign-in (CP-4.3), for an administrator.
func (s *Service) AdminRequirePasswordChange(ctx context.Context, actor access.Principal, id string) error {
	if err := manage(actor, access.UserManage, id); err != nil {
		return err
	}
	return s.RequirePasswordChange(ctx, id, ChangeAdmin)
}

// AdminSetDisabled disables or enables an account, for an administrator.
// Disabling another administrator only files a request that a second
// administrator must approve (DecideAccountRequest); the returned request
// ID is then non-empty.
//
// Enforces CP-4.2: no single administrator locks the others out.
func (s *Service) AdminSetDisabled(ctx context.Context, actor access.Principal, id string, disabled bool) (string, error) {
	if err := manage(actor, access.UserManage, id); err != nil {
		return "", err
	}
	a, err := s.Account(ctx, id)
	if err != nil {
		return "", errNotAllowed
	}
	if disabled && a.Role == access.RoleAdmin {
		if a.Status != StatusActive {
			return "", apperr.Errorf(apperr.Conflict, "The account is not %s.", StatusActive)
		}
		var req approval.Request
		err := s.db.Transact(ctx, func(tx *db.Tx) error {
			var err error
			req, err = s.approvals.File(ctx, tx, approval.AccountDisable, id, actor.AccountID, map[string]string{})
			return err
		})
		return req.ID, err
	}
	return "", s.SetDisabled(ctx, id, disabled)
}

// RecordTraining records a staff member's security-awareness training.
//
// Enforces CP-12, MTL-8.1: the record lifts the restricted mode of overdue
// training; it is audited with the old and new date.
func (s *Service) RecordTraining(ctx context.Context, actor access.Principal, id string, at time.Time) error {
	if err := manage(actor, access.UserManage, id); err != nil {
		return err
	}
	return s.recordTraining(ctx, id, at, "")
}

// RecordTrainingFromCLI records training for `portico user
// record-training`: the operator's way out when the only administrator
// is the one whose training is overdue (nobody records their own), with
// the operator's note saying what the training was ("" for none).
func (s *Service) RecordTrainingFromCLI(ctx context.Context, id string, at time.Time, note string) error {
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > maxTrainingNote {
		return apperr.Errorf(apperr.Invalid, "Keep the note to %d characters.", maxTrainingNote)
	}
	return s.recordTraining(ctx, id, at, note)
}

// recordTraining records training done at, with the administrator's note
// (training_note; "" for none), which is kept with the record.
func (s *Service) recordTraining(ctx context.Context, id string, at time.Time, note string) error {
	a, err := s.Account(ctx, id)
	if err != nil {
		return errNotAllowed
	}
	if !a.Role.IsStaff() {
		return apperr.New(apperr.Invalid, "Training is recorded for staff accounts only.")
	}
	now := s.db.Now()
	if at.IsZero() || at.After(now) {
		return apperr.New(apperr.Invalid, "Give the date the training was completed: today or earlier.")
	}
	if now.Sub(at) > s.profile.Governance.TrainingInterval.Duration {
		return apperr.New(apperr.Invalid, "That training is older than the policy's interval: it would not count.")
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET training_completed_at = $1, training_note = $2, updated_at = $3 WHERE id = $4`, at, note, tx.Now(), id); err != nil {
			return err
		}
		// The note's words stay out of the audit trail (they may name
		// people); that one was kept is recorded.
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.training.record", Target: "account:" + id, Outcome: audit.Success,
			Details: map[string]any{"old": dateOrNone(a.TrainingCompletedAt), "new": dateOrNone(at), "note": note != ""}})
		return err
	})
}

func dateOrNone(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format("2006-01-02")
}

// SetContractor sets or clears (zero until) a staff member's contract end.
//
// Enforces MTL-1.2: contractors work under the same controls with an end
// date after which the account is disabled; administrators are employees.
func (s *Service) SetContractor(ctx context.Context, actor access.Principal, id string, until time.Time) error {
	if err := manage(actor, access.UserManage, id); err != nil {
		return err
	}
	a, err := s.Account(ctx, id)
	if err != nil {
		return errNotAllowed
	}
	if !until.IsZero() {
		if !a.Role.MayContract() {
			return apperr.Errorf(apperr.Invalid, "A %s account cannot be a contractor's: contractors may hold support, security or auditor roles.", a.Role)
		}
		if !until.After(s.db.Now()) {
			return apperr.New(apperr.Invalid, "The contract end date must be in the future; to end access now, disable the account.")
		}
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		var v any
		if !until.IsZero() {
			v = until
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET contractor_until = $1, updated_at = $2 WHERE id = $3`, v, tx.Now(), id); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.contractor.set", Target: "account:" + id, Outcome: audit.Success,
			Details: map[string]any{"old": dateOrNone(a.ContractorUntil), "new": dateOrNone(until)}})
		return err
	})
}

// ChangeRole changes an account's role. Granting admin, or taking it from
// an administrator, only files a request that a second administrator must
// approve (DecideAccountRequest); the returned request ID is then
// non-empty.
//
// Enforces CP-4.2: separation of duties: nobody changes their own role,
// and no single administrator makes, or unmakes, another administrator.
func (s *Service) ChangeRole(ctx context.Context, actor access.Principal, id string, role access.Role) (string, error) {
	if err := manage(actor, access.RoleGrant, id); err != nil {
		return "", err
	}
	if !actor.Fresh(s.db.Now(), s.profile.Session.StepUpWindow.Duration) {
		return "", apperr.New(apperr.Forbidden, "Confirm your password first: changing a role needs a fresh sign-in.")
	}
	if _, err := access.ParseRole(string(role)); err != nil {
		return "", apperr.New(apperr.Invalid, err.Error())
	}
	a, err := s.Account(ctx, id)
	if err != nil {
		return "", errNotAllowed
	}
	if a.Role == role {
		return "", apperr.Errorf(apperr.Conflict, "The account already has the %s role.", role)
	}
	if role == access.RoleAdmin && a.Contractor() {
		return "", apperr.New(apperr.Invalid, "A contractor cannot be made an administrator.")
	}
	if role == access.RoleAdmin || a.Role == access.RoleAdmin {
		var req approval.Request
		err := s.db.Transact(ctx, func(tx *db.Tx) error {
			var err error
			req, err = s.approvals.File(ctx, tx, approval.RoleChange, id, actor.AccountID, map[string]string{"role": string(role), "old_role": string(a.Role)})
			return err
		})
		return req.ID, err
	}
	return "", s.db.Transact(ctx, func(tx *db.Tx) error {
		return s.applyRole(ctx, tx, a, role, "")
	})
}

// applyRole changes the role in tx, ends every session, token and live
// reveal grant of the account and notifies it.
func (s *Service) applyRole(ctx context.Context, tx *db.Tx, a Account, role access.Role, approvedBy string) error {
	if err := lockAccountRow(ctx, tx, a.ID); err != nil {
		return err
	}
	now := tx.Now()
	var until any
	if !role.MayContract() || !a.Contractor() {
		until = nil
	} else {
		until = a.ContractorUntil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET role = $1, role_changed_at = $2, updated_at = $2, contractor_until = $3 WHERE id = $4`,
		string(role), now, until, a.ID); err != nil {
		return err
	}
	e, err := s.endCredentials(ctx, tx, a.ID, "", "role_changed")
	if err != nil {
		return err
	}
	// Enforces MTL-3.2.2: the reveals the old role made end with it.
	res, err := tx.ExecContext(ctx, `UPDATE reveal_grants SET expires_at = $1 WHERE staff_id = $2 AND expires_at > $1`, now, a.ID)
	if err != nil {
		return err
	}
	grants, _ := res.RowsAffected()
	details := map[string]any{"old": string(a.Role), "new": string(role), "sessions_ended": e.Sessions, "tokens_revoked": e.Tokens,
		"reveals_ended": grants}
	if approvedBy != "" {
		details["approved_by"] = approvedBy
	}
	if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.role.change", Target: "account:" + a.ID, Outcome: audit.Success, Details: details}); err != nil {
		return err
	}
	email, err := s.Email(ctx, a.ID)
	if err != nil {
		return err
	}
	return s.notice(ctx, tx, a.ID, email, "role-changed", "Your role in Portico changed",
		"On "+stamp(now)+" an administrator changed your role from "+string(a.Role)+" to "+string(role)+
			". You were signed out everywhere; sign in again to continue. "+ifNotYou)
}

// Approvals lists the changes waiting for a second administrator, of
// every kind (role changes, disabling an administrator, policy edits).
func (s *Service) Approvals(ctx context.Context, actor access.Principal) ([]approval.Request, error) {
	if !access.Has(actor.Role, access.UserRead) {
		return nil, errNotAllowed
	}
	return s.approvals.Open(ctx)
}

// Approval returns one request, for the page that decides it.
func (s *Service) Approval(ctx context.Context, actor access.Principal, id string) (approval.Request, error) {
	if !access.Has(actor.Role, access.UserRead) {
		return approval.Request{}, errNotAllowed
	}
	return s.approvals.Get(ctx, id)
}

// DecideAccountRequest approves or rejects a pending change to an account
// (a role change to or from admin, disabling an administrator) and, on
// approval, carries it out in the same transaction. The approver must be
// an administrator other than the requester and the account concerned;
// the requester may cancel (reject) their own request.
//
// Enforces CP-4.2: four eyes on administrators' power. The decision is
// one conditional update (internal/approval), so a concurrent approval
// and cancellation cannot both stand.
func (s *Service) DecideAccountRequest(ctx context.Context, actor access.Principal, requestID string, approve bool) error {
	r, err := s.approvals.Get(ctx, requestID)
	if err != nil {
		return err
	}
	perm := access.RoleGrant
	if r.Kind == approval.AccountDisable {
		perm = access.UserManage
	}
	if r.Kind == approval.PolicyEdit || !access.Has(actor.Role, perm) || actor.AccountID == "" {
		return errNotAllowed
	}
	if !actor.Fresh(s.db.Now(), s.profile.Session.StepUpWindow.Duration) {
		return apperr.New(apperr.Forbidden, "Confirm your password first: deciding a change to an administrator needs a fresh sign-in.")
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		r, err := s.approvals.Decide(ctx, tx, r.Kind, requestID, actor.AccountID, approve)
		if err != nil || r.Outcome != approval.Approved {
			return err
		}
		a, err := s.loadAccount(ctx, tx, r.Target)
		if err != nil {
			return errNotAllowed
		}
		switch r.Kind {
		case approval.AccountDisable:
			return s.setDisabled(ctx, tx, r.Target, true, actor.AccountID)
		default:
			role, err := access.ParseRole(r.Payload["role"])
			if err != nil {
				return err
			}
			if a.Contractor() && role == access.RoleAdmin {
				return apperr.New(apperr.Invalid, "A contractor cannot be made an administrator.")
			}
			if a.Role == role {
				return apperr.Errorf(apperr.Conflict, "The account already has the %s role.", role)
			}
			return s.applyRole(ctx, tx, a, role, actor.AccountID)
		}
	})
}

// DisableEndedContracts disables every active account whose contract has
// ended, ending its sessions. The maintenance job runs it every minute.
//
// Enforces MTL-1.2: a contractor's access ends on their end date.
func (s *Service) DisableEndedContracts(ctx context.Context) (int, error) {
	ids, err := s.accountIDs(ctx,
		`SELECT id FROM accounts WHERE status = $1 AND contractor_until IS NOT NULL AND contractor_until <= $2 LIMIT 100`,
		StatusActive, s.db.Now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := s.db.Transact(audit.WithActor(ctx, audit.ActorSystem), func(tx *db.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE accounts SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4`,
				StatusDisabled, tx.Now(), id, StatusActive)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k != 1 {
				return nil
			}
			e, err := s.endCredentials(ctx, tx, id, "", "contract_ended")
			if err != nil {
				return err
			}
			n++
			_, err = s.audit.Append(ctx, tx, audit.Event{Actor: audit.ActorSystem, Action: "account.disable", Target: "account:" + id,
				Outcome: audit.Success, Details: map[string]any{"reason": "contract_ended", "sessions_ended": e.Sessions, "tokens_revoked": e.Tokens}})
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// revokeTokens marks every live API token of an account revoked, for the
// holder's list; the credentials epoch that endCredentials moves with it
// is what refuses them (CP-6.3: no credential outlives the trust it was
// issued under).
func revokeTokens(ctx context.Context, tx *db.Tx, accountID string) (int, error) {
	res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL`, tx.Now(), accountID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// SetRestricted restricts (or lifts the restriction of) the processing of
// a customer's data, on their request or objection: while restricted the
// account is read-only for everyone, its owner keeps their data rights and
// security settings, and it gets no notices but the legally required ones.
// The customer is told; the change is audited.
//
// Enforces CP-11.1 (GDPR Art. 18 and 21): restriction and objection.
func (s *Service) SetRestricted(ctx context.Context, actor access.Principal, id string, restricted bool, reason string) error {
	if err := manage(actor, access.UserManage, id); err != nil {
		return err
	}
	a, err := s.Account(ctx, id)
	if err != nil || a.Role != access.RoleCustomer {
		return errNotAllowed
	}
	if a.Restricted() == restricted {
		return nil
	}
	reason = strings.TrimSpace(reason)
	if restricted && (len(reason) < 10 || len(reason) > 500) {
		return apperr.New(apperr.Invalid, "Record why (the customer's request or objection), in 10 to 500 characters.")
	}
	email, err := s.Email(ctx, id)
	if err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		var v any
		action, title, body := "account.restriction.lift", "We process your data again", "The restriction on processing your Portico data has been lifted."
		if restricted {
			v = tx.Now()
			action, title, body = "account.restriction.set", "We have restricted the processing of your data",
				"As you asked, we now keep your Portico data but do not otherwise use it: your account is read-only. You can still sign in, download your data, ask for its deletion and change your security settings."
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET restricted_at = $1, updated_at = $2 WHERE id = $3`, v, tx.Now(), id); err != nil {
			return err
		}
		details := map[string]any{}
		if restricted {
			req := newID()
			// The reason is the customer's words as the administrator
			// took them: sealed under their key (CP-5.2).
			sealed, err := s.SealReason(ctx, tx, id, ActionRestrict, req, reason)
			if err != nil {
				return err
			}
			details["request"], details[ReasonKey] = req, sealed
			// Tracked with the other data-subject requests (MTL-7.1).
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO privacy_requests (id, account_id, kind, status, created_at, due_at, completed_at)
				 VALUES ($1, $2, 'restriction', 'done', $3, $4, $3)`,
				req, id, tx.Now(), tx.Now().Add(s.profile.Privacy.RequestDeadline.Duration)); err != nil {
				return err
			}
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: action, Target: "account:" + id, Outcome: audit.Success, Details: details}); err != nil {
			return err
		}
		return s.notice(ctx, tx, id, email, "processing-restriction", title, body)
	})
}
