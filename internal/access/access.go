// Package access decides who may do what. Every route in the web route
// table, browser or API, names the Permission it needs; there is no route
// without one, and tests walk the table for every role to prove it (CP-4.2,
// CP-6.3: deny by default).
//
// A request's Principal says who is asking, in which role, how far their
// sign-in has got and, for an API token, which permissions the token was
// scoped to; Allowed decides, from the one role table in matrix.go.
package access

import (
	"context"
	"fmt"
	"time"
)

// Permission names an action. Permissions are constants; the route table
// and the role matrix refer to them by name.
type Permission string

// Role is the role of an account. Each role maps to a set of permissions
// in the matrix (matrix.go).
type Role string

// The roles. A staff role may be held as a contractor: the account then
// carries an end date after which it is disabled (MTL-1.2); the role's
// permissions are the same.
const (
	RoleCustomer Role = "customer"
	RoleSupport  Role = "support"
	RoleSecurity Role = "security"
	RoleAdmin    Role = "admin"
	RoleAuditor  Role = "auditor"
)

// Roles lists every role in the order they are shown.
func Roles() []Role {
	return []Role{RoleCustomer, RoleSupport, RoleSecurity, RoleAdmin, RoleAuditor}
}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want one of customer, support, security, admin, auditor)", s)
}

// IsStaff reports whether the role belongs to the operator's staff rather
// than to a customer. Staff always need MFA (CP-4.1) and a current
// security-awareness training record (CP-12).
func (r Role) IsStaff() bool { return r != RoleCustomer }

// MayContract reports whether the role may be held by a contractor with an
// end date (MTL-1.2). Administration is not contracted out: an admin can
// grant roles and rotate keys, so it stays with employees.
func (r Role) MayContract() bool { return r.IsStaff() && r != RoleAdmin }

// Stage is how far a session's sign-in has got (identity.Step).
type Stage string

// The stages of a session.
const (
	StageNone           Stage = ""                // no session: anonymous
	StageSecondFactor   Stage = "second-factor"   // password done, second factor owed
	StageEmailCode      Stage = "email-code"      // password done, sign-in challenged, no factor: the emailed code owed (CP-8.2)
	StageEnrol          Stage = "enrol"           // MFA required, no factor yet: restricted (CP-12)
	StageChangePassword Stage = "change-password" // password expired or compromised: restricted (CP-12)
	// StageTraining: a staff member whose security-awareness training is
	// overdue. They keep their own account pages but none of their role's
	// permissions until an administrator records the training (CP-12).
	StageTraining Stage = "training"
	StageDone     Stage = "done" // fully signed in
)

// Principal is who is making a request.
type Principal struct {
	AccountID string
	Role      Role
	SessionID string // "" for an API token
	Stage     Stage
	// TokenID is set when the request came with a personal access token
	// instead of a session; Scopes then lists the permissions the token
	// was given, a subset of the role's. A token principal never has the
	// account's own permissions nor any Sensitive one.
	TokenID string
	Scopes  []Permission
	// ReauthAt is the session's last fresh authentication, for step-up
	// (zero for a token, which can never step up).
	ReauthAt time.Time
	// Restricted: processing of the account's data is restricted (GDPR
	// Art. 18); the web layer lets it read but not change its data.
	Restricted bool
}

// SignedIn reports whether the principal has a session or token at all.
func (p Principal) SignedIn() bool { return p.Stage != StageNone }

// ViaToken reports whether the principal is an API token.
func (p Principal) ViaToken() bool { return p.TokenID != "" }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the request's principal (anonymous if none).
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// Allowed reports whether p may use a route that needs perm.
//
// Enforces CP-4.2, CP-6.3: deny by default; a permission that the matrix
// does not give the principal's role is refused, and so is any permission
// not in the table. Enforces CP-4.1, CP-12: a session short of its second
// factor (or of the emailed code of a challenged sign-in, CP-8.2), or in restricted mode (no factor, expired password, overdue
// training), gets only the step it owes and its own account pages. An API
// token gets only what it was scoped to.
func Allowed(p Principal, perm Permission) bool {
	if p.ViaToken() {
		if perm == Public {
			return true
		}
		return p.Stage == StageDone && !Sensitive(perm) && Has(p.Role, perm) && scoped(p.Scopes, perm)
	}
	switch perm {
	case Public:
		return true
	case SessionEnd:
		return p.SignedIn()
	case SignInSecondFactor:
		return p.Stage == StageSecondFactor || p.Stage == StageEmailCode
	case MFAEnrol:
		return p.Stage == StageEnrol || p.Stage == StageDone || p.Stage == StageTraining
	case PasswordChange:
		return p.Stage == StageChangePassword || p.Stage == StageDone || p.Stage == StageTraining
	case AccountSelf, AccountData:
		return p.Stage == StageDone || p.Stage == StageTraining
	case TrainingTake:
		// Enforces CP-12: the training that lifts the restriction stays
		// open to the staff member it restricts.
		return (p.Stage == StageDone || p.Stage == StageTraining) && p.Role.IsStaff()
	}
	return p.Stage == StageDone && Has(p.Role, perm)
}

func scoped(scopes []Permission, perm Permission) bool {
	for _, s := range scopes {
		if s == perm {
			return true
		}
	}
	return false
}

// Fresh reports whether the principal re-authenticated within window of
// now: the step-up that Sensitive permissions need (CP-6.3, MTL-3.2.2).
// A token is never fresh.
func (p Principal) Fresh(now time.Time, window time.Duration) bool {
	return !p.ViaToken() && !p.ReauthAt.IsZero() && now.Sub(p.ReauthAt) < window
}
