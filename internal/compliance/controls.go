package compliance

import "github.com/portico/portico/internal/policy"

// Controls lists the live compliance report's controls, for the
// compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "MTL-7.2", Name: "compliance.evidence-status",
			Description: "Evidence checks query the running system on a schedule (leased, one node) and on demand; each run is stored with its results and audited; a clause's status is computed from its controls and its latest evidence, never typed, with the history and the periods in which it failed.",
			Test:        "internal/compliance: TestEvidenceDrivesClauseStatus"},
		{Clause: "MTL-7.2", Name: "compliance.report-page",
			Description: "/admin/compliance shows administrators, auditors and the security team every clause with its status and reasons, controls and tests, evidence and history, filtered by status; administrators and the security team take the evidence on demand (once a minute at most), auditors cannot; each download (JSON, HTML, PDF) is audited.",
			Test:        "internal/web: TestCompliancePage"},
		{Clause: "MTL-7.2", Name: "compliance.report-offline",
			Description: "The same report offline (`portico compliance report --format html|json|pdf`): a self-contained HTML page with no script and every value escaped, and a PDF whose text is read back in tests.",
			Test:        "internal/compliance: TestReportHTML"},
	}
}
