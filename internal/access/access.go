// Package access decides who may do what. Every route in the web route
// table names the Permission it needs; there is no route without one, and a
// test walks the table to prove it (CP-4.2, CP-6.3: deny by default).
//
// A request's Principal says who is asking and how far their sign-in has
// got; Allowed decides. Roles and their permission sets grow with the roles
// capability; the permissions here are the ones every account has over
// itself, gated by the stage of its sign-in.
package access

import (
	"context"
	"fmt"
)

// Permission names an action. Permissions are constants; the route table
// and the role matrix refer to them by name.
type Permission string

// The permissions.
const (
	// Public: anyone, signed in or not (landing, sign-in and sign-up
	// forms, static files, health checks).
	Public Permission = "public"
	// SignInSecondFactor: a session that passed the password step and
	// owes its second factor (/login/mfa).
	SignInSecondFactor Permission = "signin.second-factor"
	// MFAEnrol: set up a second factor. Allowed to fully signed-in
	// accounts and to accounts in restricted mode because MFA is required
	// and they have none yet (CP-12).
	MFAEnrol Permission = "mfa.enrol"
	// PasswordChange: change one's own password. Allowed to fully
	// signed-in accounts and to accounts that must change it first.
	PasswordChange Permission = "password.change"
	// SessionEnd: sign out. Any session may end itself.
	SessionEnd Permission = "session.end"
	// AccountSelf: one's own account, security page, sessions, notices
	// and reports. Only with a complete sign-in.
	AccountSelf Permission = "account.self"
)

// Role is the role of an account. Each role maps to a set of permissions.
type Role string

// The roles. Contractor variants and permission sets arrive with the roles
// issue (CP-4.2, MTL-1.2).
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
// than to a customer. Staff always need MFA (CP-4.1).
func (r Role) IsStaff() bool { return r != RoleCustomer }

// Stage is how far a session's sign-in has got (identity.Step).
type Stage string

// The stages of a session.
const (
	StageNone           Stage = ""                // no session: anonymous
	StageSecondFactor   Stage = "second-factor"   // password done, second factor owed
	StageEnrol          Stage = "enrol"           // MFA required, no factor yet: restricted (CP-12)
	StageChangePassword Stage = "change-password" // password expired or compromised: restricted (CP-12)
	StageDone           Stage = "done"            // fully signed in
)

// Principal is who is making a request.
type Principal struct {
	AccountID string
	Role      Role
	SessionID string
	Stage     Stage
}

// SignedIn reports whether the principal has a session at all.
func (p Principal) SignedIn() bool { return p.Stage != StageNone }

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
// Enforces CP-4.2, CP-6.3: deny by default; a permission not listed here
// is refused to everyone. Enforces CP-4.1, CP-12: a session short of its
// second factor, or in restricted mode, gets only the step it owes.
func Allowed(p Principal, perm Permission) bool {
	switch perm {
	case Public:
		return true
	case SessionEnd:
		return p.SignedIn()
	case SignInSecondFactor:
		return p.Stage == StageSecondFactor
	case MFAEnrol:
		return p.Stage == StageEnrol || p.Stage == StageDone
	case PasswordChange:
		return p.Stage == StageChangePassword || p.Stage == StageDone
	case AccountSelf:
		return p.Stage == StageDone
	}
	return false
}
