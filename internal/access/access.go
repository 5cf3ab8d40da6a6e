// Package access decides who may do what. Every route in the web route
// table names the Permission it needs; there is no route without one, and a
// test walks the table to prove it (CP-4.2, CP-6.3: deny by default).
//
// The foundation knows only public routes. Roles, permission sets and the
// decision for signed-in actors arrive with the roles issue; until then any
// permission other than Public is denied.
package access

import "fmt"

// Permission names an action. Permissions are constants; the route table
// and the role matrix refer to them by name.
type Permission string

// Public marks a route that anyone may call without signing in: the landing
// page, the sign-in and sign-up forms, static files and health checks.
const Public Permission = "public"

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

// Allowed reports whether an anonymous request may use a route that needs
// perm. Enforces CP-4.2: deny by default; only Public is open.
func Allowed(perm Permission) bool { return perm == Public }
