package access

// The permissions. Self-service permissions (the first group) belong to
// every account over itself and are gated by the stage of its sign-in; the
// others belong to roles through the matrix below.
const (
	// Public: anyone, signed in or not (landing, sign-in and sign-up
	// forms, static files, health checks, the API description).
	Public Permission = "public"
	// SignInSecondFactor: a session that passed the password step and
	// owes its second factor, or the emailed code of a challenged sign-in
	// (/login/mfa).
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
	// AccountSelf: one's own account, security page, sessions, notices,
	// reports and access history.
	AccountSelf Permission = "account.self"

	// Customers.
	TicketOwn Permission = "ticket.own" // open, read, reply to and close one's own tickets

	// Support desk (CP-3.3, MTL-3.2.1).
	TicketQueue       Permission = "ticket.queue"             // see every ticket, assign, reply, change status
	CustomerLookup    Permission = "customer.lookup"          // find a customer; personal data masked
	CustomerReveal    Permission = "customer.pii.reveal"      // unmask a field, with a reason, for a while
	ReportForCustomer Permission = "report.file-for-customer" // file a suspicious-activity report for a customer
	TokenOwn          Permission = "token.own"                // one's personal access tokens for the API: list, revoke
	// TokenCreate: make a personal access token. Sensitive: a token
	// outlives the session that makes it, so it takes a fresh sign-in.
	TokenCreate Permission = "token.create"

	// Security team (CP-3.2).
	IncidentManage Permission = "incident.manage" // incidents, alerts, risk signals
	// IncidentRead: read incidents, their timelines, notices and the
	// breach register, without changing them (auditors, MTL-7.2).
	IncidentRead Permission = "incident.read"

	// Administration (MTL-3.2.2: configuration and keys are admin-only).
	UserRead   Permission = "user.read"   // the staff and customer list, without personal data unmasked
	UserManage Permission = "user.manage" // disable, enable, unlock, force a password change, end sessions, training, contract end
	// UserReveal: unmask an account's email address, with a reason, for
	// a while (MTL-3.2.2). Sensitive: it takes a fresh sign-in.
	UserReveal Permission = "user.email.reveal"
	// UserInvite: invite a member of staff by email, with a staff role.
	// Sensitive: it hands out a role's permissions to a new person.
	UserInvite Permission = "user.invite"
	RoleGrant  Permission = "role.grant" // change roles; granting or removing admin needs a second admin
	// ApprovalDecide: approve or reject another administrator's four-eyes
	// request (a role to or from admin, disabling an administrator, a
	// policy edit that weakens a control), or cancel one's own.
	ApprovalDecide Permission = "approval.decide"
	MatrixRead     Permission = "access.matrix" // the permission matrix page
	PolicyRead     Permission = "policy.read"   // the effective policy profile
	PolicyEdit     Permission = "policy.edit"   // change the override file
	KeysRotate     Permission = "keys.rotate"   // rotate the master key
	OutboxRead     Permission = "outbox.read"   // undelivered mail
	AuditRead      Permission = "audit.read"    // search the audit trail
	AuditExport    Permission = "audit.export"  // export the audit trail

	// PrivacyRequests: the data inventory and every data-subject request
	// with its deadline (MTL-2.1.1, MTL-7.1).
	PrivacyRequests Permission = "privacy.requests"
	// AccountData: export or erase one's own data. A self-service
	// permission like AccountSelf, but sensitive: it needs a fresh
	// re-authentication (CP-11.1, CP-6.3).
	AccountData Permission = "account.data"

	// GovernanceRead: read the registers of governance (MTL-7.2): third
	// parties and their checks, policy documents and reviews, findings,
	// training status.
	GovernanceRead Permission = "governance.read"
	// VendorManage: the vendor register, assessments, agreements and
	// endpoint checks (CP-10.1, CP-10.2, MTL-6.1, MTL-6.2).
	VendorManage Permission = "vendor.manage"
	// FindingManage: security assessments and the findings register,
	// disclosure reports included (CP-6.2, MTL-4.3.1, MTL-4.3.2).
	FindingManage Permission = "finding.manage"
	// PolicyDocManage: policy documents, their versions, approvals and
	// reviews (CP-11.2).
	PolicyDocManage Permission = "policydoc.manage"
	// TrainingManage: training modules, assignments, and training done
	// elsewhere (MTL-8.1, CP-12).
	TrainingManage Permission = "training.manage"
	// TrainingTake: a member of staff takes their assigned training. A
	// self-service permission like AccountSelf: it stays while training
	// is overdue, so the way out of the restriction is open (CP-12).
	TrainingTake Permission = "training.take"

	// ComplianceRead: the live compliance report (MTL-7.2): every clause
	// with its status, controls, tests, evidence and history, and its
	// downloads (JSON, HTML, PDF).
	ComplianceRead Permission = "compliance.read"
	// ComplianceRun: take the evidence now, outside its schedule.
	ComplianceRun Permission = "compliance.run"
)

// matrix is the role table: the one place where roles get permissions
// (CP-4.2, least privilege). The permission matrix page shows it and
// TestRouteMatrix drives every route through it for every role.
var matrix = map[Role][]Permission{
	RoleCustomer: {TicketOwn},
	RoleSupport:  {TicketQueue, CustomerLookup, CustomerReveal, ReportForCustomer, TokenOwn, TokenCreate},
	RoleSecurity: {IncidentManage, IncidentRead, CustomerLookup, ReportForCustomer, UserRead, PolicyRead, AuditRead, GovernanceRead, VendorManage,
		FindingManage, ComplianceRead, ComplianceRun, TokenOwn, TokenCreate},
	RoleAdmin: {UserRead, UserManage, UserReveal, UserInvite, RoleGrant, ApprovalDecide, MatrixRead, PolicyRead, PolicyEdit, KeysRotate, OutboxRead,
		AuditRead, PrivacyRequests, GovernanceRead, PolicyDocManage, TrainingManage, ComplianceRead, ComplianceRun, TokenOwn, TokenCreate},
	RoleAuditor: {IncidentRead, UserRead, MatrixRead, PolicyRead, AuditRead, AuditExport, PrivacyRequests, GovernanceRead, ComplianceRead,
		TokenOwn, TokenCreate},
}

// sensitive are the permissions that need a step-up re-authentication
// within the profile's window, and that no API token can carry (CP-6.3,
// MTL-3.2.2).
var sensitive = map[Permission]bool{
	CustomerReveal: true,
	UserReveal:     true,
	UserInvite:     true,
	RoleGrant:      true,
	ApprovalDecide: true,
	PolicyEdit:     true,
	KeysRotate:     true,
	AuditExport:    true,
	AccountData:    true,
	TokenCreate:    true,
}

// sets is matrix as sets, for a constant-time decision per request.
var sets = func() map[Role]map[Permission]bool {
	out := make(map[Role]map[Permission]bool, len(matrix))
	for r, ps := range matrix {
		out[r] = make(map[Permission]bool, len(ps))
		for _, p := range ps {
			out[r][p] = true
		}
	}
	return out
}()

// Has reports whether role r holds permission p in the matrix.
func Has(r Role, p Permission) bool { return sets[r][p] }

// Sensitive reports whether p needs a fresh step-up and is barred from API
// tokens.
func Sensitive(p Permission) bool { return sensitive[p] }

// RolePermissions lists the permissions of r, in the order of Permissions.
func RolePermissions(r Role) []Permission {
	var out []Permission
	for _, p := range Permissions() {
		if Has(r, p) {
			out = append(out, p)
		}
	}
	return out
}

// Permissions lists the role permissions in the order the matrix page
// shows them.
func Permissions() []Permission {
	return []Permission{TicketOwn, TicketQueue, CustomerLookup, CustomerReveal, ReportForCustomer,
		IncidentManage, IncidentRead, UserRead, UserManage, UserReveal, UserInvite, RoleGrant, ApprovalDecide, MatrixRead, PolicyRead, PolicyEdit,
		KeysRotate, OutboxRead, AuditRead, AuditExport, PrivacyRequests, GovernanceRead, VendorManage, FindingManage, PolicyDocManage, TrainingManage,
		ComplianceRead, ComplianceRun, TokenOwn, TokenCreate}
}

// Describe says in words what a permission allows, for the matrix page and
// the token form.
func Describe(p Permission) string {
	return descriptions[p]
}

var descriptions = map[Permission]string{
	TicketOwn:         "Open, read, reply to and close their own support tickets",
	TicketQueue:       "Work the ticket queue: read every ticket, assign, reply, change status",
	CustomerLookup:    "Look up a customer, with personal data masked",
	CustomerReveal:    "Reveal a masked field, with a reason, for a limited time (step-up)",
	ReportForCustomer: "File a suspicious-activity report on a customer's behalf",
	IncidentManage:    "Manage incidents, alerts and risk signals",
	IncidentRead:      "Read incidents, their notices and the breach register",
	UserRead:          "List and search accounts",
	UserManage:        "Disable, enable, unlock, end sessions, force a password change, record training, revoke invitations",
	UserReveal:        "Reveal an account's masked email address, with a reason, for a limited time (step-up)",
	UserInvite:        "Invite a member of staff by email with a staff role (step-up)",
	RoleGrant:         "Change roles (granting or removing admin needs a second admin) (step-up)",
	ApprovalDecide:    "Approve or reject another administrator's request that needs four eyes (step-up)",
	MatrixRead:        "See this permission matrix",
	PolicyRead:        "See the effective security policy profile",
	PolicyEdit:        "Change the policy override file (step-up)",
	KeysRotate:        "Rotate the master encryption key (step-up)",
	OutboxRead:        "See undelivered mail",
	AuditRead:         "Search the audit trail",
	AuditExport:       "Export the audit trail (step-up)",
	PrivacyRequests:   "See the data inventory and every data-subject request with its deadline",
	GovernanceRead:    "Read the vendor register, policy documents and reviews, findings and training status",
	VendorManage:      "Manage third parties: register, assessments, agreements and endpoint checks",
	FindingManage:     "Record security assessments and work the findings register, disclosure reports included",
	PolicyDocManage:   "Manage policy documents: versions, approvals and reviews",
	TrainingManage:    "Manage training modules and assignments; record training done elsewhere",
	ComplianceRead:    "Read the compliance report: every clause's status, controls, tests, evidence and history; download it",
	ComplianceRun:     "Take the compliance evidence now, outside its schedule",
	TokenOwn:          "See and revoke their own API tokens",
	TokenCreate:       "Create an API token for themselves (step-up)",
}
