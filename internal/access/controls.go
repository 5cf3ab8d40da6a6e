package access

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of the authorization point, for the
// compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-4.2", Name: "access.role-matrix",
			Description: "One role table maps each role (customer, support, security, admin, auditor) to named permissions; Allowed denies anything the table does not grant, and role permissions need a complete sign-in.",
			Test:        "internal/access: TestRolePermissions"},
		{Clause: "MTL-3.2.1", Name: "access.role-matrix",
			Description: "Support holds the ticket queue, masked customer lookup and the reveal permission, and nothing of administration, configuration or the audit trail.",
			Test:        "internal/access: TestRolePermissions"},
		{Clause: "MTL-3.2.2", Name: "access.role-matrix",
			Description: "Configuration (policy edit) and keys (rotation) are held by administrators only.",
			Test:        "internal/access: TestRolePermissions"},
		{Clause: "CP-3.2", Name: "access.role-matrix",
			Description: "The security team's role holds incident management, masked customer lookup, reports on a customer's behalf, the audit trail and the policy view.",
			Test:        "internal/access: TestRolePermissions"},
		{Clause: "CP-3.3", Name: "access.role-matrix",
			Description: "The support role works the ticket desk and may file a security report on a customer's behalf.",
			Test:        "internal/access: TestRolePermissions"},
		{Clause: "CP-12", Name: "access.training-stage",
			Description: "Staff whose security-awareness training is overdue keep their own account pages and lose every permission of their role until training is recorded.",
			Test:        "internal/access: TestAllowedRolesAndStages"},
		{Clause: "CP-6.3", Name: "access.token-scopes",
			Description: "An API token gets only the permissions it was scoped to, within its holder's role, never a sensitive permission (tokens cannot step up) and never the account's own pages.",
			Test:        "internal/access: TestTokenPrincipal"},
		{Clause: "MTL-3.2.1", Name: "access.masking",
			Description: "Staff see customers' personal data masked (j***@example.com, last two digits of a phone, initials).",
			Test:        "internal/access: TestMask"},
	}
}
