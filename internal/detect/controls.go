package detect

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of behavioural analytics, for the compliance
// map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-8.2", Name: "detect.rules",
			Description: "Rules over the audit trail, with thresholds and responses in the profile ([detection]): brute force, credential stuffing, password spraying, a distributed attack on one account, impossible travel, session hijack, second-factor guessing, a recovery code after a sign-in from a new country, mass sign-up, an agent revealing many customers, a large audit export, staff acting at an hour they never work. Each is tested on recorded fixtures, and a higher threshold silences it.",
			Test:        "internal/detect: TestSignInRulesOnFixtures"},
		{Clause: "CP-8.2", Name: "detect.event-rules",
			Description: "The rules over staff and session events (session hijack, mass sign-up, an agent revealing many customers, a large audit export, an hour never worked, a recovery code after a new country) fire on recorded audit events, fed through the same mapping as the server's.",
			Test:        "internal/detect: TestEventRulesOnFixtures"},
		{Clause: "CP-8.2", Name: "detect.thresholds-from-profile",
			Description: "Every threshold comes from the policy profile: raised above an attack, the attack raises nothing.",
			Test:        "internal/detect: TestThresholdsComeFromTheProfile"},
		{Clause: "CP-5.3", Name: "detect.follows-audit-trail",
			Description: "The rules read the audit trail in chain order on one node at a time (a lease and a cursor); a node that takes over rebuilds the rules' windows from the trail without raising an alert twice. Each alert links the audit events behind it.",
			Test:        "internal/detect: TestDetectorResumesWithoutRepeating"},
		{Clause: "CP-8.2", Name: "detect.responses",
			Description: "A rule's responses are taken at once and audited with the rule and the evidence: a network caught stuffing or spraying is refused with 429 and Retry-After; accounts are challenged, locked, signed out or made to change their password; the security team can undo each.",
			Test:        "internal/detect: TestStuffingRaisesAlertAndThrottles"},
		{Clause: "CP-8.2", Name: "detect.sign-in-risk",
			Description: "Every sign-in is scored low, medium or high from its reasons (new device, new country, impossible travel, a network under suspicion, an account under attack, a breached password, a reset followed by a new country, an unusual hour); the profile maps each level to allow, challenge or block. A blocked sign-in answers like a wrong password and its owner is told why; the risk is kept on the sign-in's history row.",
			Test:        "internal/app: TestDetectionInBrowser"},
		{Clause: "CP-3.2", Name: "detect.triage",
			Description: "Alerts are grouped by rule and subject, and the security team acknowledges, dismisses (with a reason) or escalates each; every decision is audited. The team is told of each new alert in the portal and by email.",
			Test:        "internal/detect: TestStuffingRaisesAlertAndThrottles"},
		{Clause: "CP-7.3", Name: "detect.report-queue",
			Description: "Every suspicious-activity report a customer files from the portal, or support files for them, is in the security team's queue (/security/reports) until it is closed: assigned, worked with internal notes, questions to the customer and their answers, escalated to an incident, and closed with an outcome (confirmed compromise, no evidence, the customer's own activity, a duplicate). Closing sets closed_at, from which the retention period for closed reports counts.",
			Test:        "internal/detect: TestReportTriageFlow"},
		{Clause: "CP-3.2", Name: "detect.report-refusals",
			Description: "The report's state is kept honest: a report is closed once, only an open report is asked about or escalated, an answer needs a question waiting, and another customer's report is not found (neither read nor answered). Bad input is refused with a message that says what to fix.",
			Test:        "internal/detect: TestReportRefusals"},
		{Clause: "CP-3.2", Name: "detect.report-audit",
			Description: "Every action on a report (assign, note, ask, answer, escalate, close) is audited with the report as its target and no personal data in its details; the thread is encrypted at rest under the customer's key.",
			Test:        "internal/detect: TestReportThreadEncryptedAndAudited"},
		{Clause: "CP-3.1", Name: "detect.report-customer",
			Description: "The customer who reported follows the report in the portal (/account/reports/{id}): they see the security team's questions (never its internal notes), answer there, and are told the outcome in plain words, on the page and by a notice (inbox and email).",
			Test:        "internal/web: TestReportThroughTheQueue"},
		{Clause: "CP-8.1", Name: "detect.alert-queue",
			Description: "The security team's queue (/security/alerts) shows each alert as it is raised, with its evidence events and responses.",
			Test:        "internal/app: TestDetectionInBrowser"},
	}
}
