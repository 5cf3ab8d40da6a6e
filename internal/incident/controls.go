package incident

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of incident response built so far, for the
// compliance map (issue 12 is in progress).
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-7.2", Name: "incident.phases",
			Description: "Incidents move through detected, triaged, contained, eradicated, recovered and closed only when the response plan's checklist for the phase is ticked; each check and move is audited with who and when.",
			Test:        "internal/incident: TestPhasesFollowThePlan"},
		{Clause: "CP-7.2", Name: "incident.affected-from-records",
			Description: "The affected customers are found from the portal's records (an alert's customers, the accounts that signed in from a network in a window, every customer) and kept as a snapshot with the query.",
			Test:        "internal/incident: TestAffectedFromRecords"},
		{Clause: "CP-7.2", Name: "incident.containment",
			Description: "Containment acts in bulk on the affected customers and no one else (end every session and API token, force a password change, lock), in batches, each account's action and each batch audited.",
			Test:        "internal/incident: TestContainAffectedAccounts"},
		{Clause: "CP-7.1", Name: "incident.customer-clock",
			Description: "The customers' deadline runs from detection (the alert's, or an earlier time with a reason) for incident.customer_notification, warning at half time and in the last tenth, overdue after.",
			Test:        "internal/incident: TestClocks"},
		{Clause: "MTL-5.1.1", Name: "incident.regulator-clock",
			Description: "The regulator's deadline runs from awareness for incident.regulator_notification unless the recorded breach decision finds no risk to people; a submission after it needs the reasons for the delay (GDPR Art. 33(1)).",
			Test:        "internal/incident: TestClocks"},
	}
}
