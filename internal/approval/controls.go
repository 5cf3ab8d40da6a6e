package approval

import "github.com/portico/portico/internal/policy"

// Controls lists the four-eyes controls, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-4.2", Name: "approval.four-eyes",
			Description: "Granting or removing the admin role, disabling an administrator and a policy edit that weakens a control are filed as requests that a second administrator (never the requester, never the account concerned) approves within 72 hours; the decision is one conditional update, so a racing approval and cancel cannot both stand on any database.",
			Test:        "internal/approval: TestDecisionIsOneConditionalUpdate"},
		{Clause: "CP-5.3", Name: "approval.four-eyes",
			Description: "Every request and decision is an audit event (approval.request, approval.decide) in the transaction that makes it; an approved change records who approved it.",
			Test:        "internal/approval: TestDecideRules"},
	}
}
