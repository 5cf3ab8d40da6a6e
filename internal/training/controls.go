package training

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of security-awareness training, for the
// compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "MTL-8.1", Name: "training.modules",
			Description: "Training is modules with a lesson, a quiz and a pass mark: a built-in set written for Portico's staff (phishing, customer data and reveals, reporting incidents, passwords and second factors) is installed once on first start, and administrators add, edit (a new version) and deactivate their own, audited; a quiz that does not parse is refused saying which line, with nothing written.",
			Test:        "internal/training: TestDefaultsInstalledOnce"},
		{Clause: "MTL-8.1", Name: "training.quiz-format",
			Description: "An administrator's quiz is written as \"? question\", \"- wrong\", \"* right\" lines; a question without exactly one right answer or without 3 or 4 answers, or a line of another kind, is refused with a message naming it, and nothing is written.",
			Test:        "internal/training: TestAdminModules"},
		{Clause: "CP-12", Name: "training.pass-records-training",
			Description: "Passing every module assigned to one's role within the training interval records the training date the sign-in gate checks (accounts.training_completed_at, through identity, audited, in the transaction of the attempt), which lifts the restricted mode at once; a failed attempt records nothing but the attempt. Every attempt is audited with the module, score and outcome, never the answers.",
			Test:        "internal/training: TestPassRecordsTraining"},
		{Clause: "CP-12", Name: "training.pass-lifts-restriction",
			Description: "A member of staff in restricted mode for overdue training can open /training, pass the quizzes and then reach their role's pages.",
			Test:        "internal/web: TestTrainingLiftsRestriction"},
		{Clause: "MTL-8.1", Name: "training.assignment-by-role",
			Description: "Modules are assigned by role (support, security, admin, auditor); contractors are staff accounts and take their role's modules; a module outside one's role, or inactive, cannot be taken; each member of staff sees their modules with their state and due date, and administrators see each module's completion and the overdue staff.",
			Test:        "internal/training: TestAssignmentByRole"},
		{Clause: "MTL-8.1", Name: "training.reminders",
			Description: "Each member of staff is reminded by email and in the portal 14 days (or a tenth of the interval, if shorter) before their training falls due and on the due date, once per due date, audited (training.reminder), by one node at a time under a lease.",
			Test:        "internal/training: TestReminders"},
		{Clause: "MTL-8.1", Name: "training.reminders-leased",
			Description: "The background pass that installs the built-in modules and sends the reminders runs hourly on the one node that holds the lease training.reminders.",
			Test:        "internal/training: TestRunIsLeased"},
		{Clause: "MTL-8.1", Name: "training.recorded-elsewhere",
			Description: "Training done outside Portico is recorded by an administrator on the member of staff's account page (or with portico user record-training) with a note saying what it was, kept with the record and shown there; the record is audited with whether a note was kept, not its words.",
			Test:        "internal/web: TestAdminTrainingPages"},
		{Clause: "CP-12", Name: "training.overdue-alert",
			Description: "Once a member of staff's training is overdue, governance.overdue (kind training) is appended once per account and due date, which detection raises as a governance_overdue alert to the security team; the summary names nobody.",
			Test:        "internal/training: TestReminders"},
		{Clause: "MTL-8.1", Name: "training.answers-stay-on-server",
			Description: "Which answer is right is kept on the server (an unexported field the templates cannot reach): a quiz page is the same whichever answer is right, and a failed attempt names the questions answered wrong, never the right answers.",
			Test:        "internal/web: TestTrainingAnswersNotSent"},
	}
}
