package support

import (
	"context"
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
)

// Fields that a reveal may unmask.
const (
	FieldEmail = "email"
	FieldName  = "name"
	FieldPhone = "phone"
)

// Fields lists the revealable fields in the order pages show them.
func Fields() []string { return []string{FieldEmail, FieldName, FieldPhone} }

// CustomerView is a customer as support sees them: masked, except the
// fields the viewing agent holds a live reveal grant for.
type CustomerView struct {
	AccountID    string
	EmailMasked  string
	NameMasked   string
	PhoneMasked  string
	Status       string
	CreatedAt    time.Time
	LastSignInAt time.Time
	MFA          bool
	// Revealed maps a field to its clear value while the viewer's grant
	// for it lasts.
	Revealed map[string]string
	// Grants are the viewer's live grants on this customer.
	Grants  []Grant
	Tickets []Ticket
}

// Grant is one reveal of a customer's field by a member of staff.
type Grant struct {
	ID         string
	StaffID    string
	StaffLabel string // for the customer: the role and a masked address, never the person's full address
	CustomerID string
	Field      string
	Reason     string
	GrantedAt  time.Time
	ExpiresAt  time.Time
}

// Live reports whether the grant still unmasks its field at now.
func (g Grant) Live(now time.Time) bool { return now.Before(g.ExpiresAt) }

// Lookup finds a customer by exact email address.
//
// Enforces MTL-3.2.1: support finds customers only by what the customer
// gives them, and sees them masked.
func (s *Service) Lookup(ctx context.Context, p access.Principal, email string) (CustomerView, error) {
	if !access.Has(p.Role, access.CustomerLookup) {
		return CustomerView{}, errNoCustomer
	}
	a, err := s.identity.FindByEmail(ctx, email)
	if err != nil || a.Role != access.RoleCustomer {
		return CustomerView{}, apperr.New(apperr.NotFound, "No customer has that email address.")
	}
	return s.Customer(ctx, p, a.ID)
}

// Customer returns the masked view of a customer and their tickets. The
// view is audited: who looked at whom.
func (s *Service) Customer(ctx context.Context, p access.Principal, accountID string) (CustomerView, error) {
	if !access.Has(p.Role, access.CustomerLookup) {
		return CustomerView{}, errNoCustomer
	}
	a, err := s.identity.Account(ctx, accountID)
	if err != nil || a.Role != access.RoleCustomer {
		return CustomerView{}, errNoCustomer
	}
	email, err := s.identity.Email(ctx, a.ID)
	if err != nil {
		return CustomerView{}, err
	}
	name, err := s.identity.Name(ctx, a.ID)
	if err != nil {
		return CustomerView{}, err
	}
	phone, err := s.identity.Phone(ctx, a.ID)
	if err != nil {
		return CustomerView{}, err
	}
	v := CustomerView{
		AccountID: a.ID, Status: a.Status, CreatedAt: a.CreatedAt, LastSignInAt: a.LastSignInAt, MFA: a.HasSecondFactor(),
		EmailMasked: access.MaskEmail(email), NameMasked: access.MaskName(name), PhoneMasked: access.MaskPhone(phone),
		Revealed: map[string]string{},
	}
	clear := map[string]string{FieldEmail: email, FieldName: name, FieldPhone: phone}
	grants, err := s.liveGrants(ctx, p, access.CustomerReveal, a.ID)
	if err != nil {
		return CustomerView{}, err
	}
	for _, g := range grants {
		v.Revealed[g.Field] = clear[g.Field]
	}
	v.Grants = grants
	if isAgent(p) {
		if v.Tickets, err = s.list(ctx, `WHERE account_id = $1 ORDER BY updated_at DESC, id LIMIT 50`, a.ID); err != nil {
			return CustomerView{}, err
		}
	}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: "customer.view", Target: "account:" + a.ID, Outcome: audit.Success,
			Details: map[string]any{"revealed": len(v.Revealed)}})
		return err
	})
	return v, err
}

// Reveal unmasks one field of a customer for the agent p, for the
// profile's grant period, on a stated reason. The customer sees it in their
// access history.
//
// Enforces MTL-3.2.2: revealing sensitive data needs a reason, a fresh
// re-authentication and is time-bound; the reason is in the audit event.
func (s *Service) Reveal(ctx context.Context, p access.Principal, accountID, field, reason string) (Grant, error) {
	if !access.Has(p.Role, access.CustomerReveal) {
		return Grant{}, errNoCustomer
	}
	now := s.db.Now()
	if !p.Fresh(now, s.profile.Session.StepUpWindow.Duration) {
		return Grant{}, apperr.New(apperr.Forbidden, "Confirm your password first: revealing personal data needs a fresh sign-in.")
	}
	switch field {
	case FieldEmail, FieldName, FieldPhone:
	default:
		return Grant{}, apperr.New(apperr.Invalid, "Choose a field to reveal: email, name or phone.")
	}
	reason, err := cleanReason(reason)
	if err != nil {
		return Grant{}, err
	}
	a, err := s.identity.Account(ctx, accountID)
	if err != nil || a.Role != access.RoleCustomer {
		return Grant{}, errNoCustomer
	}
	value, err := s.fieldValue(ctx, a.ID, field)
	if err != nil {
		return Grant{}, err
	}
	if value == "" {
		return Grant{}, errNothingToReveal
	}
	return s.grant(ctx, p, a.ID, field, reason, identity.ActionReveal)
}

// errNothingToReveal refuses a reveal of a field the account left empty:
// there is nothing to unmask, and a reveal would only add a record.
var errNothingToReveal = apperr.New(apperr.Invalid, "That field is empty: there is nothing to reveal.")

// fieldValue is the clear value of a revealable field.
func (s *Service) fieldValue(ctx context.Context, accountID, field string) (string, error) {
	switch field {
	case FieldEmail:
		return s.identity.Email(ctx, accountID)
	case FieldName:
		return s.identity.Name(ctx, accountID)
	default:
		return s.identity.Phone(ctx, accountID)
	}
}

// cleanReason collapses a reveal reason's white space and checks its
// length.
func cleanReason(reason string) (string, error) {
	reason = strings.Join(strings.Fields(reason), " ")
	if n := utf8.RuneCountInString(reason); n < 10 || n > 500 {
		return "", apperr.New(apperr.Invalid, "Say why you need to see it, in 10 to 500 characters (for example, the ticket you are working on).")
	}
	return reason, nil
}

// grant records a reveal of one field of accountID for p: the grant with
// its reason encrypted under the account's key, and the audit event
// (action) with the reason sealed the same way. The account sees it in
// its access history.
func (s *Service) grant(ctx context.Context, p access.Principal, accountID, field, reason, action string) (Grant, error) {
	g := Grant{ID: newID(), StaffID: p.AccountID, CustomerID: accountID, Field: field, Reason: reason}
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		g.GrantedAt = tx.Now()
		g.ExpiresAt = g.GrantedAt.Add(s.profile.Access.RevealGrant.Duration)
		enc, err := s.keys.Encrypt(ctx, tx, accountID, reasonField(g.ID), []byte(reason))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO reveal_grants (id, staff_id, customer_id, field, reason_enc, granted_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			g.ID, g.StaffID, g.CustomerID, g.Field, enc, g.GrantedAt, g.ExpiresAt); err != nil {
			return err
		}
		// The trail keeps the reason sealed under the account's key, as
		// the grant does: an erasure shreds both (CP-5.2).
		sealed, err := s.identity.SealReason(ctx, tx, accountID, action, g.ID, reason)
		if err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: action, Target: "account:" + accountID, Outcome: audit.Success,
			Details: map[string]any{"field": field, "grant": g.ID, "expires_at": g.ExpiresAt.UTC().Format(time.RFC3339), identity.ReasonKey: sealed}})
		return err
	})
	if err != nil {
		return Grant{}, err
	}
	return g, nil
}

// RevealAccountEmail unmasks the email address of any account (staff
// included) for an administrator, for the profile's grant period, on a
// stated reason: the same grant as the desk's reveal, listed in the
// account's access history.
//
// Enforces MTL-3.2.2: an administrator reveals an address only with a
// reason, a fresh re-authentication, for a limited time, audited with the
// reason sealed under the account's key.
func (s *Service) RevealAccountEmail(ctx context.Context, p access.Principal, accountID, reason string) (Grant, error) {
	if !access.Has(p.Role, access.UserReveal) || p.AccountID == "" {
		return Grant{}, errNoAccount
	}
	if !p.Fresh(s.db.Now(), s.profile.Session.StepUpWindow.Duration) {
		return Grant{}, apperr.New(apperr.Forbidden, "Confirm your password first: revealing an address needs a fresh sign-in.")
	}
	reason, err := cleanReason(reason)
	if err != nil {
		return Grant{}, err
	}
	a, err := s.identity.Account(ctx, accountID)
	if err != nil {
		return Grant{}, errNoAccount
	}
	if a.ID == p.AccountID {
		return Grant{}, apperr.New(apperr.Invalid, "This is your own account: your address is on your account page.")
	}
	return s.grant(ctx, p, a.ID, FieldEmail, reason, identity.ActionAccountReveal)
}

// liveGrants returns p's grants on the account that have not ended,
// newest first, and none when p's role no longer holds perm, the
// permission that reveals this kind of account (CustomerReveal for a
// customer, UserReveal for a member of staff).
//
// Enforces MTL-3.2.2, CP-6.3: a grant unmasks data only while its holder
// is still in a role that may reveal: a member of staff moved to another
// role sees masked data at once, not when the grant ends.
func (s *Service) liveGrants(ctx context.Context, p access.Principal, perm access.Permission, accountID string) ([]Grant, error) {
	if !access.Has(p.Role, perm) {
		return nil, nil
	}
	return s.grants(ctx, `WHERE staff_id = $1 AND customer_id = $2 AND expires_at > $3 ORDER BY granted_at DESC`, p.AccountID, accountID, s.db.Now())
}

// errNoAccount answers for an account the principal may not reach.
var errNoAccount = apperr.New(apperr.NotFound, "No such account.")

// RevealedFor returns the fields of accountID that p holds a live grant
// for, in clear, with each grant's end: what an administrator's account
// page shows unmasked.
func (s *Service) RevealedFor(ctx context.Context, p access.Principal, accountID string) (map[string]string, map[string]time.Time, error) {
	clear, until := map[string]string{}, map[string]time.Time{}
	if p.AccountID == "" {
		return clear, until, nil
	}
	grants, err := s.liveGrants(ctx, p, access.UserReveal, accountID)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range grants {
		if _, ok := clear[g.Field]; !ok {
			v, err := s.fieldValue(ctx, accountID, g.Field)
			if err != nil {
				return nil, nil, err
			}
			clear[g.Field] = v
		}
		if g.ExpiresAt.After(until[g.Field]) {
			until[g.Field] = g.ExpiresAt
		}
	}
	return clear, until, nil
}

// AccessHistory lists every reveal of the account's data, newest first,
// for the account itself.
//
// Enforces MTL-3.2.2, MTL-2.1.3: customers see who unmasked their data,
// when, and why.
func (s *Service) AccessHistory(ctx context.Context, p access.Principal, accountID string) ([]Grant, error) {
	if p.AccountID == "" || p.AccountID != accountID {
		return nil, errNoCustomer
	}
	gs, err := s.grants(ctx, `WHERE customer_id = $1 ORDER BY granted_at DESC`, accountID)
	if err != nil {
		return nil, err
	}
	for i := range gs {
		gs[i].StaffLabel = "A member of staff"
		if a, err := s.identity.Account(ctx, gs[i].StaffID); err == nil {
			gs[i].StaffLabel = "A member of our " + string(a.Role) + " team"
		}
	}
	return gs, nil
}

func (s *Service) grants(ctx context.Context, rest string, args ...any) ([]Grant, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, staff_id, customer_id, field, reason_enc, granted_at, expires_at FROM reveal_grants `+rest, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Grant
	var encs [][]byte
	for rows.Next() {
		var g Grant
		var enc []byte
		if err := rows.Scan(&g.ID, &g.StaffID, &g.CustomerID, &g.Field, &enc, &g.GrantedAt, &g.ExpiresAt); err != nil {
			return nil, err
		}
		out = append(out, g)
		encs = append(encs, enc)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i := range out {
		b, err := s.keys.Decrypt(ctx, s.db, out[i].CustomerID, reasonField(out[i].ID), encs[i])
		if err != nil {
			return nil, err
		}
		out[i].Reason = string(b)
	}
	return out, nil
}

// ReportForCustomer files a suspicious-activity report on a customer's
// behalf, as a support agent or the security team would after a call.
//
// Enforces CP-3.3: support facilitates incident reporting.
func (s *Service) ReportForCustomer(ctx context.Context, p access.Principal, accountID, note string) (string, error) {
	if !access.Has(p.Role, access.ReportForCustomer) {
		return "", errNoCustomer
	}
	a, err := s.identity.Account(ctx, accountID)
	if err != nil || a.Role != access.RoleCustomer {
		return "", errNoCustomer
	}
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) < 10 {
		return "", apperr.New(apperr.Invalid, "Describe what the customer reported, in at least 10 characters.")
	}
	return s.identity.ReportSuspicious(ctx, a.ID, "", note, "support:"+p.AccountID)
}

// Rectify corrects a customer's name or phone on their behalf (they called
// support: GDPR Art. 16), with a reason and a fresh re-authentication. The
// change is audited with the old and new values encrypted under the
// customer's key, so that the trail proves what changed without holding
// personal data in clear, and an erasure shreds them with the rest.
//
// Enforces CP-11.1 (rectification), MTL-3.2.2 (sensitive data changed only
// by authorised staff, now, for a stated reason).
func (s *Service) Rectify(ctx context.Context, p access.Principal, accountID, field, value, reason string) error {
	if !access.Has(p.Role, access.CustomerReveal) {
		return errNoCustomer
	}
	if !p.Fresh(s.db.Now(), s.profile.Session.StepUpWindow.Duration) {
		return apperr.New(apperr.Forbidden, "Confirm your password first: changing personal data needs a fresh sign-in.")
	}
	a, err := s.identity.Account(ctx, accountID)
	if err != nil || a.Role != access.RoleCustomer {
		return errNoCustomer
	}
	reason = strings.Join(strings.Fields(reason), " ")
	if n := utf8.RuneCountInString(reason); n < 10 || n > 500 {
		return apperr.New(apperr.Invalid, "Say why you change it, in 10 to 500 characters (for example, the customer's call).")
	}
	name, err := s.identity.Name(ctx, accountID)
	if err != nil {
		return err
	}
	phone, err := s.identity.Phone(ctx, accountID)
	if err != nil {
		return err
	}
	old := ""
	switch field {
	case FieldName:
		old, name = name, value
	case FieldPhone:
		old, phone = phone, value
	default:
		return apperr.New(apperr.Invalid, "Support corrects the name or the phone; the customer changes their email address themselves, with a confirmation link.")
	}
	if err := s.identity.SetContact(ctx, accountID, name, phone); err != nil {
		return err
	}
	newName, _ := s.identity.Name(ctx, accountID)
	newPhone, _ := s.identity.Phone(ctx, accountID)
	now := map[string]string{FieldName: newName, FieldPhone: newPhone}[field]
	id := newID()
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		oldEnc, err := s.keys.Encrypt(ctx, tx, accountID, crypto.Field{Table: "audit_events", Column: "rectify.old", Row: id}, []byte(old))
		if err != nil {
			return err
		}
		newEnc, err := s.keys.Encrypt(ctx, tx, accountID, crypto.Field{Table: "audit_events", Column: "rectify.new", Row: id}, []byte(now))
		if err != nil {
			return err
		}
		// Tracked with the other data-subject requests (MTL-7.1).
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO privacy_requests (id, account_id, kind, status, created_at, due_at, completed_at)
			 VALUES ($1, $2, 'rectification', 'done', $3, $4, $3)`,
			id, accountID, tx.Now(), tx.Now().Add(s.profile.Privacy.RequestDeadline.Duration)); err != nil {
			return err
		}
		sealed, err := s.identity.SealReason(ctx, tx, accountID, identity.ActionRectify, id, reason)
		if err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: identity.ActionRectify, Target: "account:" + accountID, Outcome: audit.Success,
			Details: map[string]any{"field": field, identity.ReasonKey: sealed, "change": id,
				"old_enc": base64.StdEncoding.EncodeToString(oldEnc), "new_enc": base64.StdEncoding.EncodeToString(newEnc)}})
		return err
	})
}
