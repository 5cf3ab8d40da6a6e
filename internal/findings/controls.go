package findings

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of the findings register, for the
// compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "MTL-4.3.2", Name: "findings.remediation-deadline",
			Description: "Every finding is due governance.remediation for its severity after it is filed (critical, high, medium, low), or at an agreed earlier date (never later than that deadline, never in the past); a change of severity moves the due date and is audited with both. It closes only resolved with evidence of the fix, or accepted as a risk with a reason, by someone other than who filed it, until a date within a year (then it reopens); every transition is audited.",
			Test:        "internal/findings: TestFindingLifecycle"},
		{Clause: "MTL-4.3.2", Name: "findings.overdue-alert",
			Description: "A leased pass records each open finding past its due date once per due date (governance.overdue), which detection raises as a governance_overdue alert to the security team; closed findings never.",
			Test:        "internal/findings: TestOverdueAlerts"},
		{Clause: "MTL-4.3.1", Name: "findings.assessments",
			Description: "Penetration tests, vulnerability scans, code reviews and internal audits are recorded with their scope, who performed them and when, and their findings attached, each with a remediation due date.",
			Test:        "internal/findings: TestAssessments"},
		// Enforces MTL-7.2 (in part): internal audits are recorded and what
		// they find is tracked to closure.
		{Clause: "MTL-7.2", Name: "findings.internal-audits",
			Description: "Internal audits of compliance are recorded with their scope, the auditor and the date (not in the future); what they find goes into the findings register with the remediation deadline of its severity, listed under the audit, and the audit moves the next assessment's due date.",
			Test:        "internal/findings: TestInternalAuditRecords"},
		{Clause: "CP-6.2", Name: "findings.assessment-due",
			Description: "The next assessment is due governance.assessment_interval after the last one performed (or after the installation's first account); once overdue, the leased pass records it once per due date for a governance_overdue alert.",
			Test:        "internal/findings: TestOverdueAlerts"},
		{Clause: "CP-6.2", Name: "findings.disclosure",
			Description: "An outside report of a vulnerability becomes an open medium finding for triage; the reporter's contact is kept apart from the text, never audited, and cleared once the finding has been closed for retention.security_reports.",
			Test:        "internal/findings: TestDisclosure"},
		{Clause: "MTL-4.1.2", Name: "findings.vulncheck",
			Description: "portico vulncheck --file-findings files one finding per vulnerable module and OSV advisory, graded by the advisory's own severity (its database's, or its CVSS v3 base score) or high, never twice while one is not resolved; each run is recorded for the inventory page.",
			Test:        "internal/findings: TestVulncheckFilesFindings"},
		{Clause: "MTL-4.1.2", Name: "findings.outdated",
			Description: "portico vulncheck --updates --file-findings files a low finding per module behind its latest stable version by a major or minor version, and a medium one when Go is not the latest patch of a supported release line (or the line is unsupported), never a second one for the same module while one is not resolved; each run is recorded (vulncheck.updates) with the modules behind for the inventory page.",
			Test:        "internal/findings: TestCurrencyFilesFindings"},
		// The web layer's side of the same clauses (internal/web/findings.go).
		{Clause: "CP-6.2", Name: "findings.security-txt",
			Description: "/.well-known/security.txt (RFC 9116) names the public report form as Contact and Policy, Preferred-Languages en, its Canonical address, and Expires 180 days ahead.",
			Test:        "internal/web: TestSecurityTxt"},
		{Clause: "CP-6.2", Name: "findings.disclosure-form",
			Description: "The public form /security/report files a report as a finding and thanks the reporter, with bounded fields and the form token of every public form, and nothing of the reporter in the logs; a network (IPv4 /24, IPv6 /56) sending more than rate_limit.signup_per_ip reports in a window is refused with 429 and nothing is filed.",
			Test:        "internal/web: TestDisclosureForm"},
		{Clause: "MTL-4.1.2", Name: "findings.inventory-page",
			Description: "Security, administrators and auditors see the running binary's Go version and modules (from its build information) and the last OSV check's result at /admin/inventory.",
			Test:        "internal/web: TestFindingsPages"},
		{Clause: "MTL-4.1.2", Name: "findings.inventory-currency",
			Description: "The inventory page shows the last currency check: its date, how many modules were behind their latest stable version, whether Go was the latest patch of a supported line, and the modules behind with their latest versions then.",
			Test:        "internal/web: TestInventoryCurrency"},
	}
}
