package governance

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of the policy documents, for the
// compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-11.2", Name: "governance.policy-documents",
			Description: "Policy documents are versioned Markdown with a named owner among the staff; each edit is a new version with its author, time and summary; a version is in force only once approved by an administrator other than its author (four eyes); drafts, approvals and changes of owner are audited with the text's SHA-256. A new installation starts with a first version of each policy generated from the clause register, once.",
			Test:        "internal/governance: TestDocumentLifecycle"},
		{Clause: "CP-11.2", Name: "governance.policy-approval-four-eyes",
			Description: "The author of a version cannot approve it, nor can anyone but an active administrator; on the pages, auditors and the security team read the documents, versions, diffs and reviews but change nothing.",
			Test:        "internal/web: TestPolicyDocumentPages"},
		{Clause: "CP-11.2", Name: "governance.policy-reviews",
			Description: "A document's review falls due governance.policy_review_interval after its approval; reviews are recorded with reviewer, date, outcome (no change, changes needed, changed with the version it led to) and notes, and a review without change moves the due date to its date plus the interval.",
			Test:        "internal/governance: TestDocumentLifecycle"},
		{Clause: "CP-11.2", Name: "governance.significant-change",
			Description: "A significant change asks for a review of every document in force, with its reason, audited as policydoc.review_requested: an edit of the policy profile, a new major version of Portico, an incident closed with its post-incident review; the leased pass reads them from the audit trail after its mark, so each counts once.",
			Test:        "internal/governance: TestSignificantChange"},
		{Clause: "CP-11.2", Name: "governance.policy-review-overdue",
			Description: "Once a document's review date passes, the leased pass records governance.overdue once per document and due date, which detection raises as a governance_overdue alert.",
			Test:        "internal/governance: TestDocumentLifecycle"},
		{Clause: "MTL-5.2.1", Name: "governance.policy-documents",
			Description: "Beside the plan itself, the policies that frame incident response are maintained as versioned documents with an owner, approved by a second administrator, reviewed every governance.policy_review_interval and asked for review when an incident closes with its post-incident review.",
			Test:        "internal/governance: TestSignificantChange"},
	}
}
