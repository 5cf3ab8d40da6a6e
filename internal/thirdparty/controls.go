package thirdparty

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of the vendor register, for the compliance
// map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-10.1", Name: "vendor.register",
			Description: "Every third party is registered with the service it provides, the data inventory's categories it receives (no other name is accepted), the https endpoints it exposes and an owner from staff; it starts as proposed and is approved only by a member of the security team once an assessment of it is approved, the approval audited.",
			Test:        "internal/thirdparty: TestRegisterAndApprove"},
		{Clause: "CP-10.1", Name: "vendor.risk-tier",
			Description: "Each vendor's risk tier (low, medium, high, critical) is derived from the categories it receives (sensitive ones such as credentials, sessions or support tickets make it high) and its latest approved assessment's outcome (concerns raise it one step, unsatisfactory two, none at all one), never typed in.",
			Test:        "internal/thirdparty: TestTier"},
		{Clause: "MTL-6.1", Name: "vendor.assessment",
			Description: "Vendors answer a versioned question set (access control, encryption in transit and at rest, incident notification within a number of hours, sub-processors, ISO 27001 or SOC 2, vulnerability management, data location and deletion), each answer scored against its good answer; a member of the security team other than the one who answered approves it, and the reassessment falls due governance.vendor_review_interval later.",
			Test:        "internal/thirdparty: TestAssessmentLifecycle"},
		{Clause: "MTL-6.1", Name: "vendor.assessment-link",
			Description: "A vendor answers without an account through a single-use link: a random token of which only the SHA-256 is kept, expiring after 14 days; a second answer and an expired link are refused and the refusal audited.",
			Test:        "internal/thirdparty: TestAssessmentLink"},
		{Clause: "CP-10.2", Name: "vendor.monitoring",
			Description: "Every governance.vendor_check_interval, on one node under a lease, each endpoint of each vendor not retired is checked against the live server (reachability, TLS version and suite, certificate chain and expiry, HSTS, security.txt), the result kept as history, and a check worse than the previous one for the endpoint is recorded as vendor.check_degraded, which detection raises as a vendor_degraded alert.",
			Test:        "internal/thirdparty: TestMonitorEndpoints"},
		{Clause: "CP-10.2", Name: "vendor.due",
			Description: "The same pass records a reassessment past due and an expired agreement as governance.overdue, once per vendor or agreement and due date (detection raises governance_overdue), and warns the security team by email of each.",
			Test:        "internal/thirdparty: TestDueWarnings"},
		{Clause: "MTL-6.2", Name: "vendor.agreements",
			Description: "Contracts and DPAs are kept per vendor with their file (PDF or text up to 5 MB, its type read from the content) and SHA-256, the security clauses they hold (breach notification, audit rights, sub-processor approval, deletion at the end, confidentiality; the missing ones shown), their start and expiry; governance.contract_expiry_warning ahead of expiry the security team is warned by email and in the audit trail.",
			Test:        "internal/thirdparty: TestAgreements"},
		{Clause: "MTL-1.2", Name: "vendor.people",
			Description: "Staff and contractor accounts that work for a third party are linked to the vendor (staff accounts only), shown on its page, and each link and unlink audited.",
			Test:        "internal/thirdparty: TestPeopleLinked"},
	}
}
