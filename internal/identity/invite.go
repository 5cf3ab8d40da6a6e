package identity

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Invitations: an administrator invites a member of staff by email with a
// staff role. The invitation is an account in status "invited", with no
// password, that nobody can sign in to (it answers like an unknown
// address), and a single-use link mailed through the outbox. Opening the
// link lets the invitee choose a password under the policy; the account
// then becomes active and the normal sign-in asks for a second factor
// (staff always need one) and, after the training grace, the training.
//
// The administrator role is not given by invitation: granting it needs a
// second administrator (four eyes), so the invitation is refused and the
// role is granted afterwards through the account's page, which files the
// request (ChangeRole).

// StatusInvited is an account whose invitation is not accepted yet.
const StatusInvited = "invited"

// purposeInvite is the invitation link's token purpose.
const purposeInvite = "invite"

// InviteLinkTTL is how long an invitation link works: three days, so that
// a weekend does not lose it, and no longer, so that an old mail is
// useless (CP-4.3).
const InviteLinkTTL = 72 * time.Hour

// Invitation is a pending invitation, for the administrators' page.
type Invitation struct {
	AccountID   string
	EmailMasked string
	Role        access.Role
	InvitedBy   string
	CreatedAt   time.Time // when the newest link was sent
	ExpiresAt   time.Time // when the newest link stops working
}

// Expired reports whether the invitation's link no longer works at now.
func (i Invitation) Expired(now time.Time) bool { return !now.Before(i.ExpiresAt) }

// errAdminByInvite refuses the administrator role in an invitation.
var errAdminByInvite = apperr.New(apperr.Invalid,
	"Administrator needs a second administrator's approval, so it is not given by invitation: invite with another staff role, then grant administrator from the account's page once the invitation is accepted.")

// Invite creates (or renews) the invitation of a member of staff and mails
// its link. Renewing an invitation to the same address voids its earlier
// links: only the newest works.
//
// Enforces CP-4.2, CP-4.3: only an administrator with a fresh step-up
// invites; only staff roles other than administrator are given this way
// (administrator keeps its four eyes); the link is single use, stored as
// a hash, and expires after InviteLinkTTL; the invitation is audited.
func (s *Service) Invite(ctx context.Context, actor access.Principal, email string, role access.Role) (Invitation, error) {
	if !access.Has(actor.Role, access.UserInvite) || actor.AccountID == "" {
		return Invitation{}, errNotAllowed
	}
	if !actor.Fresh(s.db.Now(), s.profile.Session.StepUpWindow.Duration) {
		return Invitation{}, apperr.New(apperr.Forbidden, "Confirm your password first: inviting a member of staff needs a fresh sign-in.")
	}
	if s.notifier == nil {
		return Invitation{}, errors.New("identity: invitations need a notifier to mail the link")
	}
	if _, err := access.ParseRole(string(role)); err != nil || !role.IsStaff() {
		return Invitation{}, apperr.New(apperr.Invalid, "Choose one of the staff roles: invitations are for staff; customers sign up themselves.")
	}
	if role == access.RoleAdmin {
		return Invitation{}, errAdminByInvite
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return Invitation{}, err
	}
	lookup, err := s.emailLookup(ctx, email)
	if err != nil {
		return Invitation{}, err
	}
	inv := Invitation{Role: role, InvitedBy: actor.AccountID, EmailMasked: access.MaskEmail(email)}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		var existing, status string
		err := tx.QueryRowContext(ctx, `SELECT id, status FROM accounts WHERE email_lookup = $1`, lookup).Scan(&existing, &status)
		renewed := false
		switch {
		case errors.Is(err, sql.ErrNoRows):
			inv.AccountID = newID()
			enc, err := s.keys.Encrypt(ctx, tx, inv.AccountID, emailField(inv.AccountID), []byte(email))
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx,
				`INSERT INTO accounts (id, email_lookup, email_enc, role, status, password_hash, created_at, updated_at, invited_by)
				 VALUES ($1, $2, $3, $4, $5, '', $6, $6, $7)`,
				inv.AccountID, lookup, enc, string(role), StatusInvited, now, actor.AccountID)
			if db.IsUniqueViolation(err) {
				return apperr.Wrap(apperr.Conflict, "An account with this email address already exists.", err)
			}
			if err != nil {
				return err
			}
		case err != nil:
			return err
		case status == StatusInvited:
			inv.AccountID, renewed = existing, true
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET role = $1, invited_by = $2, updated_at = $3 WHERE id = $4 AND status = $5`,
				string(role), actor.AccountID, now, existing, StatusInvited); err != nil {
				return err
			}
		default:
			// Administrators can find any account by its exact address
			// already: saying so here tells them nothing new.
			return apperr.New(apperr.Conflict, "An account with this email address already exists: find it in the account list and change its role there.")
		}
		token, err := issueToken(ctx, tx, inv.AccountID, purposeInvite, InviteLinkTTL)
		if err != nil {
			return err
		}
		inv.CreatedAt, inv.ExpiresAt = now, now.Add(InviteLinkTTL)
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "account.invite.create", Target: "account:" + inv.AccountID, Outcome: audit.Success,
			Details: map[string]any{"role": string(role), "renewed": renewed, "expires_at": inv.ExpiresAt.UTC().Format(time.RFC3339)}}); err != nil {
			return err
		}
		return s.noticeTo(ctx, tx, Notice{AccountID: inv.AccountID, To: email, Kind: noticeInvitation, Email: true,
			Title: "You are invited to Portico",
			Body: "An administrator of Portico invited you to join its staff with the " + string(role) + " role. Open this link before " + stamp(inv.ExpiresAt) +
				" to choose your password:\n\n" + s.link("/invite/"+token) +
				"\n\nThe link works once. After choosing your password you sign in with this email address and set up a second factor (an authenticator app or a passkey), which every member of staff needs." +
				"\n\nIf you did not expect this, ignore this message: without your password nobody can use the account, and the invitation lapses."})
	})
	if err != nil {
		return Invitation{}, err
	}
	return inv, nil
}

// noticeInvitation is the kind of the invitation mail.
const noticeInvitation = "staff-invitation"

// InvitationFor returns the pending invitation behind a valid link, with
// the invitee's address (they hold the mail it came in), for the page the
// link opens. ok is false for an unknown, used, expired or revoked link.
func (s *Service) InvitationFor(ctx context.Context, token string) (inv Invitation, email string, ok bool) {
	id, ok := tokenAccount(ctx, s.db, token, purposeInvite, s.db.Now())
	if !ok {
		return Invitation{}, "", false
	}
	a, err := s.Account(ctx, id)
	if err != nil || a.Status != StatusInvited {
		return Invitation{}, "", false
	}
	if email, err = s.Email(ctx, id); err != nil {
		return Invitation{}, "", false
	}
	return Invitation{AccountID: id, Role: a.Role, EmailMasked: access.MaskEmail(email)}, email, true
}

// AcceptInvitation sets the invitee's password (and optional name) with
// the invitation link's token, and activates the account. It signs nobody
// in: the invitee signs in as everyone does, where the second factor is
// set up first (staff always need one). The account counts as created
// now, so that the training grace starts on the invitee's first day.
//
// Enforces CP-4.3: the link works once, only the newest of an address's
// links works, and not after it expires; the password passes the policy.
func (s *Service) AcceptInvitation(ctx context.Context, token, name, password string) (string, error) {
	inv, email, ok := s.InvitationFor(ctx, token)
	if !ok {
		return "", errBadLink
	}
	name, err := normalizeName(name)
	if err != nil {
		return "", err
	}
	if err := s.CheckPassword(password, email, name); err != nil {
		return "", err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return "", err
	}
	id := inv.AccountID
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		got, err := consumeToken(ctx, tx, token, purposeInvite)
		if err != nil {
			return err
		}
		if got != id {
			return errBadLink
		}
		var nameEnc []byte
		if name != "" {
			if nameEnc, err = s.keys.Encrypt(ctx, tx, id, nameField(id), []byte(name)); err != nil {
				return err
			}
		}
		now := tx.Now()
		res, err := tx.ExecContext(ctx,
			`UPDATE accounts SET password_hash = $1, name_enc = $2, status = $3, email_verified_at = $4, password_changed_at = $4,
			        created_at = $4, updated_at = $4 WHERE id = $5 AND status = $6`,
			hash, nameEnc, StatusActive, now, id, StatusInvited)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errBadLink // revoked meanwhile
		}
		if err := s.rememberPassword(ctx, tx, id, hash); err != nil {
			return err
		}
		_, err = s.audit.Append(audit.WithActor(ctx, "account:"+id), tx, audit.Event{Action: "account.invite.accept", Target: "account:" + id,
			Outcome: audit.Success, Details: map[string]any{"role": string(inv.Role)}})
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// Invitations lists the pending invitations, newest first, with the
// expiry of each one's newest link, for administrators and auditors.
func (s *Service) Invitations(ctx context.Context, actor access.Principal) ([]Invitation, error) {
	if !access.Has(actor.Role, access.UserRead) {
		return nil, errNotAllowed
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT a.id, a.role, COALESCE(a.invited_by, ''), t.created_at, t.expires_at
		 FROM accounts a JOIN account_tokens t ON t.account_id = a.id AND t.purpose = $1 AND t.used_at IS NULL
		 WHERE a.status = $2 ORDER BY t.created_at DESC, a.id LIMIT 200`, purposeInvite, StatusInvited)
	if err != nil {
		return nil, err
	}
	var out []Invitation
	for rows.Next() {
		var inv Invitation
		var role string
		if err := rows.Scan(&inv.AccountID, &role, &inv.InvitedBy, &inv.CreatedAt, &inv.ExpiresAt); err != nil {
			rows.Close()
			return nil, err
		}
		inv.Role = access.Role(role)
		out = append(out, inv)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		email, err := s.Email(ctx, out[i].AccountID)
		if err != nil {
			return nil, err
		}
		out[i].EmailMasked = access.MaskEmail(email)
	}
	return out, nil
}

// RevokeInvitation withdraws a pending invitation: the invited account is
// deleted with its link and any mail not sent yet, and its data key is
// destroyed, so the address is gone too.
func (s *Service) RevokeInvitation(ctx context.Context, actor access.Principal, id string) error {
	if err := manage(actor, access.UserManage, id); err != nil {
		return err
	}
	return s.dropInvitation(ctx, id, "account.invite.revoke")
}

// ExpireInvitations deletes the invited accounts whose links have all
// expired (or been used up without an acceptance), as the maintenance job
// does every minute, and records each.
func (s *Service) ExpireInvitations(ctx context.Context) (int, error) {
	ids, err := s.accountIDs(ctx,
		`SELECT a.id FROM accounts a WHERE a.status = $1 AND NOT EXISTS (
		   SELECT 1 FROM account_tokens t WHERE t.account_id = a.id AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > $3)
		 LIMIT 100`, StatusInvited, purposeInvite, s.db.Now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if err := s.dropInvitation(audit.WithActor(ctx, audit.ActorSystem), id, "account.invite.expire"); err != nil {
			if errors.Is(err, errNoInvitation) {
				continue // accepted or revoked meanwhile
			}
			return n, err
		}
		n++
	}
	return n, nil
}

var errNoInvitation = apperr.New(apperr.NotFound, "No such invitation.")

// dropInvitation deletes an invited account and shreds its address.
func (s *Service) dropInvitation(ctx context.Context, id, action string) error {
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		if err := lockAccountRow(ctx, tx, id); err != nil {
			return err
		}
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM accounts WHERE id = $1`, id).Scan(&status); err != nil || status != StatusInvited {
			return errNoInvitation
		}
		if err := s.keys.DestroySubjectKey(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = $1 AND status = $2`, id, StatusInvited); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: action, Target: "account:" + id, Outcome: audit.Success})
		return err
	})
	if err != nil {
		return err
	}
	// Enforces CP-5.2: the SQLite log keeps the shredded key's old page
	// until a checkpoint truncates it.
	return s.db.Checkpoint(ctx)
}
