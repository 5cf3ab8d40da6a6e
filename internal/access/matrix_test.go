package access

import (
	"testing"
	"time"
)

// TestRolePermissions: the role table gives each role only its own work
// (CP-4.2 least privilege, MTL-3.2.1, MTL-3.2.2); a few properties a
// reviewer would check by eye are checked here for good.
func TestRolePermissions(t *testing.T) {
	for _, tc := range []struct {
		name string
		role Role
		perm Permission
		want bool
	}{
		{"customers keep to their own tickets", RoleCustomer, TicketOwn, true},
		{"customers do not see the queue", RoleCustomer, TicketQueue, false},
		{"support works the queue", RoleSupport, TicketQueue, true},
		{"support may reveal with a reason", RoleSupport, CustomerReveal, true},
		{"support does not administer", RoleSupport, UserManage, false},
		{"support does not read the audit trail", RoleSupport, AuditRead, false},
		{"configuration is admin-only (MTL-3.2.2)", RoleSecurity, PolicyEdit, false},
		{"keys are admin-only (MTL-3.2.2)", RoleSupport, KeysRotate, false},
		{"admins rotate keys", RoleAdmin, KeysRotate, true},
		{"admins do not read tickets", RoleAdmin, TicketQueue, false},
		{"admins do not unmask customers", RoleAdmin, CustomerReveal, false},
		{"admins may reveal an account's email with a reason", RoleAdmin, UserReveal, true},
		{"auditors do not reveal addresses", RoleAuditor, UserReveal, false},
		{"admins invite staff", RoleAdmin, UserInvite, true},
		{"security does not invite staff", RoleSecurity, UserInvite, false},
		{"auditors are read-only", RoleAuditor, UserManage, false},
		{"auditors cannot edit policy", RoleAuditor, PolicyEdit, false},
		{"auditors export the trail", RoleAuditor, AuditExport, true},
		{"security manages incidents", RoleSecurity, IncidentManage, true},
		{"auditors read the compliance report", RoleAuditor, ComplianceRead, true},
		{"auditors do not take evidence", RoleAuditor, ComplianceRun, false},
		{"security takes evidence", RoleSecurity, ComplianceRun, true},
		{"admins take evidence", RoleAdmin, ComplianceRun, true},
		{"support does not read the compliance report", RoleSupport, ComplianceRead, false},
		{"customers do not read the compliance report", RoleCustomer, ComplianceRead, false},
		{"unknown roles get nothing", Role("root"), UserRead, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Has(tc.role, tc.perm); got != tc.want {
				t.Errorf("Has(%s, %s) = %v", tc.role, tc.perm, got)
			}
		})
	}
	for _, p := range Permissions() {
		if Describe(p) == "" {
			t.Errorf("permission %s has no description for the matrix page", p)
		}
	}
	for r, ps := range matrix {
		for _, p := range ps {
			if Describe(p) == "" {
				t.Errorf("role %s holds %s, which is not listed in Permissions", r, p)
			}
		}
	}
}

// TestAllowedRolesAndStages: role permissions need a complete sign-in;
// restricted stages keep only the account's own pages (CP-12), and a
// staff member with overdue training keeps them too.
func TestAllowedRolesAndStages(t *testing.T) {
	for _, st := range []Stage{StageSecondFactor, StageEmailCode, StageEnrol, StageChangePassword, StageTraining} {
		p := Principal{AccountID: "a", Role: RoleAdmin, Stage: st}
		if Allowed(p, UserRead) {
			t.Errorf("stage %s reached a role permission", st)
		}
	}
	tr := Principal{AccountID: "a", Role: RoleSupport, Stage: StageTraining}
	if !Allowed(tr, AccountSelf) || !Allowed(tr, PasswordChange) || Allowed(tr, TicketQueue) {
		t.Error("training stage: want own pages only")
	}
	if !Allowed(Principal{AccountID: "a", Role: RoleSupport, Stage: StageDone}, TicketQueue) {
		t.Error("a signed-in agent cannot work the queue")
	}
}

// TestTokenPrincipal: an API token gets only its scopes, never a sensitive
// permission, never the account's own pages (CP-6.3).
func TestTokenPrincipal(t *testing.T) {
	p := Principal{AccountID: "a", Role: RoleSupport, Stage: StageDone, TokenID: "t", Scopes: []Permission{TicketQueue, CustomerReveal, UserManage}}
	if !Allowed(p, TicketQueue) {
		t.Error("a scoped permission was refused")
	}
	if Allowed(p, CustomerLookup) {
		t.Error("an unscoped permission was allowed")
	}
	if Allowed(p, CustomerReveal) {
		t.Error("a sensitive permission was allowed to a token")
	}
	if Allowed(p, UserManage) {
		t.Error("a scope beyond the role was allowed")
	}
	if Allowed(p, AccountSelf) || Allowed(p, PasswordChange) {
		t.Error("a token reached the account's own pages")
	}
	if p.Fresh(time.Now(), time.Hour) {
		t.Error("a token counts as a fresh sign-in")
	}
}

// BenchmarkAllowed measures the authorization decision of one request
// (issue target: under 5 µs).
func BenchmarkAllowed(b *testing.B) {
	p := Principal{AccountID: "a", Role: RoleSupport, Stage: StageDone}
	for b.Loop() {
		if !Allowed(p, TicketQueue) || Allowed(p, PolicyEdit) {
			b.Fatal("wrong decision")
		}
	}
}
