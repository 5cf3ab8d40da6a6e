package audit

import "github.com/portico/portico/internal/policy"

// Controls lists the audit trail's controls, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-5.3", Name: "audit.hash-chain",
			Description: "Every security-relevant event is appended, in the same transaction as its change, to a SHA-256 hash chain; `portico audit verify` reports the first broken link.",
			Test:        "internal/audit: TestVerifyFindsTampering"},
		{Clause: "CP-5.3", Name: "audit.append-only",
			Description: "The application never updates or deletes an event, and database triggers refuse UPDATE and DELETE on the trail.",
			Test:        "internal/audit: TestEventsCannotBeChangedThroughTheDatabase"},
		{Clause: "CP-8.1", Name: "audit.anchoring",
			Description: "The chain head is written periodically to the log and to metrics, so truncation is detectable against an external copy (`audit verify --anchor`).",
			Test:        "internal/audit: TestRunAnchoring"},
		{Clause: "CP-8.1", Name: "audit.export",
			Description: "`portico audit export --since` writes JSON Lines for a SIEM.",
			Test:        "internal/audit: TestExport"},
		{Clause: "MTL-1.1", Name: "audit.hash-chain",
			Description: "Integrity of the record: killing the process at any moment loses no committed event and the chain still verifies.",
			Test:        "internal/audit: TestKillLosesNoCommittedEvent"},
		{Clause: "MTL-7.2", Name: "audit.search",
			Description: "Auditors search the trail by actor, action prefix, target and time range (read-only) and export the result as JSON Lines with its hashes; the export is itself audited.",
			Test:        "internal/audit: TestSearch"},
		{Clause: "CP-5.3", Name: "audit.search",
			Description: "The trail is searchable by actor, action, target and time through indexes, newest first.",
			Test:        "internal/audit: TestSearch"},
		{Clause: "CP-5.2", Name: "audit.prune",
			Description: "Events past the profile's audit retention leave the start of the chain with a recorded anchor (the last removed event's hash) and a prune event in the chain; the shortened chain verifies, rows past the anchor stay undeletable, and a prune faked by hand is found.",
			Test:        "internal/audit: TestPrune"},
	}
}
