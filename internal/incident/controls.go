package incident

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of incident response, for the compliance
// map.
func Controls() []policy.Control {
	out := []policy.Control{
		{Clause: "CP-7.2", Name: "incident.phases",
			Description: "Incidents move through detected, triaged, contained, eradicated, recovered and closed only when the response plan's checklist for the phase is ticked; each check and move is audited with who and when.",
			Test:        "internal/incident: TestPhasesFollowThePlan"},
		{Clause: "CP-7.2", Name: "incident.affected-from-records",
			Description: "The affected customers are found from the portal's records (an alert's customers, the accounts that signed in from a network in a window, the accounts with a session in use in a window, every customer) and kept as a snapshot with the query.",
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
		{Clause: "CP-9.1", Name: "incident.notice-complete",
			Description: "A breach notice cannot be sent while any part GDPR Art. 34(2) and the policy ask is missing (the nature of the breach, its likely consequences, the measures taken or proposed, what the customer should do, a contact point); the composer names each missing part and previews the notice as the customer reads it.",
			Test:        "internal/incident: TestNoticeRefusedWithoutEachPart"},
		{Clause: "CP-9.1", Name: "incident.notice-affected-only",
			Description: "A breach notice goes to the incident's affected customers, and a follow-up to the customers its breach notice reached, each in the portal and by email, and to nobody else; sending again never delivers twice.",
			Test:        "internal/incident: TestNoticeGoesOnlyToTheAffected"},
		{Clause: "CP-9.1", Name: "incident.notice-receipt",
			Description: "Each customer's copy of a notice is tracked as queued, sent, failed or read; the email is sent again to those it did not reach.",
			Test:        "internal/incident: TestDeliveryStates"},
		{Clause: "MTL-5.1.2", Name: "incident.notice-banner",
			Description: "An affected customer sees a banner on every page until they have read the incident notice; their notices page shows it first with what to do and the steps asked of them; a customer outside the affected set sees none of it, nor the incident.",
			Test:        "internal/web: TestIncidentToCustomerNotice"},
		{Clause: "CP-7.1", Name: "incident.late-notice-reason",
			Description: "A breach notice sent after the customers' deadline needs the reason for the delay, which is kept with it; the clock then says late.",
			Test:        "internal/incident: TestLateNoticeNeedsReason"},
		{Clause: "CP-9.2", Name: "incident.follow-up-steps",
			Description: "Follow-ups are linked to the breach notice and carry the corrective actions and the steps required of the customer (change the password, review devices, set up a second factor again, check contact details), each tracked per customer from the records or the customer's confirmation, counted on the incident, with one reminder to those with steps left.",
			Test:        "internal/incident: TestFollowUpSteps"},
		{Clause: "MTL-5.1.1", Name: "incident.awareness",
			Description: "Awareness of a personal-data breach later than detection is recorded with how it became clear; the regulator's clock runs from it, never from before detection or from the future, and not after the report is recorded.",
			Test:        "internal/incident: TestAwarenessMovesTheRegulatorClock"},
		{Clause: "MTL-5.2.2", Name: "incident.exercise-overdue",
			Description: "The next exercise is due one incident.exercise_interval after the last one held (or after the installation's first account); once it is overdue the leased warning pass records it once per due date, and detection raises an incident_overdue alert to the security team.",
			Test:        "internal/incident: TestExercisesAndFindings"},
		{Clause: "MTL-5.2.2", Name: "incident.drill-staff-only",
			Description: "A drill runs as a real incident marked as an exercise whose affected set is the active staff's own accounts; its notices reach staff accounts only (a customer in the set is skipped) and say they are an exercise; its containment is recorded, not carried out. A real incident cannot be aimed at the staff.",
			Test:        "internal/incident: TestDrillNoticesGoToStaffOnly"},
	}
	out = append(out, warnControls()...)
	out = append(out, regimeControls()...)
	out = append(out, regulatorControls()...)
	out = append(out, planControls()...)
	return out
}
