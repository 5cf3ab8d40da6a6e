package privacy

import (
	"fmt"
	"strings"

	"github.com/portico/portico/internal/policy"
)

// Category is one category of personal data that Portico stores: the
// record of processing activities (GDPR Art. 30; MTL-2.1.1, MTL-2.1.2).
type Category struct {
	Name      string // what it is, in plain words
	Data      string // the fields
	Purpose   string
	Basis     string // lawful basis (GDPR Art. 6)
	Retention string // from the live profile
	Where     string // tables; "encrypted" where the fields are
	InExport  string // the file of the data export that holds it
	// Columns are the "table.column"s that hold it (TestEveryColumnIsClassified
	// holds them to the real schema).
	Columns []string
}

// CategoryNames are the names of the inventory's categories, which an
// incident names as involved.
func CategoryNames(p policy.Profile) []string {
	var out []string
	for _, c := range Inventory(p) {
		out = append(out, c.Name)
	}
	return out
}

// Inventory lists every category of personal data with its purpose,
// lawful basis, retention from the profile p, and where it lives. The
// privacy notice, the administrators' page and the export's README are
// made from it, so the three cannot disagree.
//
// Enforces MTL-2.1.1, MTL-2.1.2: processing is recorded with its purpose
// and lawful basis, and kept no longer than the profile says.
func Inventory(p policy.Profile) []Category {
	r := p.Retention
	return []Category{
		{"Account identity", "email address, name", "To run your account and sign you in.", "Contract",
			"While your account exists; inactive accounts are closed after " + r.InactiveAccounts.Human() + ", with a warning first.",
			"accounts (email and name encrypted; the address is found by a keyed hash)", "account.json",
			cols("accounts: email_enc, email_lookup, pending_email_enc, name_enc, role, status, created_at, updated_at, email_verified_at, last_sign_in_at, inactivity_warned_at")},
		{"Contact details", "phone number", "To reach you about your account, tickets and incidents.", "Contract",
			"While your account exists.", "accounts (encrypted)", "account.json", cols("accounts: phone_enc")},
		{"Sign-in history", "time, outcome, method, device, IP address, country", "To protect your account and show you recent activity.",
			"Legitimate interest (security)", r.SignInHistory.Human() + ".", "sign_in_events (IP address and browser encrypted)", "sign_ins.json",
			cols("sign_in_events: at, outcome, reason, method, ip_enc, ua_enc, device, country, risk_level, risk_reasons, risk_action")},
		{"Sessions and devices", "device, country, IP address and browser of each signed-in session", "To keep you signed in and let you sign out other devices.",
			"Contract; legitimate interest (security)", "Until the session ends, then with the sign-in history.", "sessions (IP address and browser encrypted)", "sessions.json",
			cols("sessions: ip_enc, user_agent_enc, ua_hash, device, country, created_at, last_seen_at, ended_at, end_reason")},
		{"Actions waiting for your password", "the form of a sensitive action you sent when your password had to be confirmed first, as you filled it in", "So that confirming your password completes what you started.",
			"Contract; legitimate interest (security)", "Until your password is confirmed, ten minutes at most.", "pending_actions (encrypted)", "not exported (kept ten minutes at most)",
			cols("pending_actions: form_enc")},
		{"Password and sign-in protection", "when your password last changed; your password and previous ones (hashes only, not exported: of no use outside Portico), locks after failed attempts, confirmation and reset links (hashes)", "To prove it is you and to stop guessing.",
			"Contract; legitimate interest (security)", "While your account exists; links until they expire.", "accounts, password_history, account_tokens (hashed)", "account.json",
			cols("accounts: password_hash, password_changed_at, password_change_required, expiry_warned_at, locked_until, lock_count, failures_reset_at",
				"password_history: hash, created_at", "account_tokens: token_hash, purpose, created_at, expires_at, used_at")},
		{"Second factors", "authenticator app (secret), passkeys (public keys and names), recovery codes (hashes)", "To prove it is you.",
			"Contract; legitimate interest (security)", "While your account exists.", "accounts, passkeys, recovery_codes (secrets encrypted or hashed)", "account.json",
			cols("accounts: totp_secret_enc, totp_pending_enc, totp_enabled_at, totp_last_step",
				"passkeys: name_enc, credential_id, public_key, aaguid, transports, backup_eligible, backup_state, user_verified, sign_count, created_at, last_used_at",
				"passkey_handles: user_handle", "recovery_codes: code_hash, created_at, used_at")},
		{"Support tickets", "subjects, messages, attachments", "To answer your requests.", "Contract",
			r.ClosedTickets.Human() + " after the ticket is closed.", "tickets, ticket_messages, ticket_attachments (encrypted)", "tickets.json",
			cols("tickets: subject_enc, status, created_at, updated_at, closed_at", "ticket_messages: body_enc, staff, created_at",
				"ticket_attachments: name_enc, data_enc, content_type, size, created_at")},
		{"Security reports", "your reports of suspicious activity and their notes; the security team's questions, your answers and the outcome you were told; the team's internal notes on them", "To investigate incidents.",
			"Legal obligation; legitimate interest (security)", r.SecurityReports.Human() + " after closing.", "security_reports, report_messages (texts encrypted; the team's internal notes are not exported)", "security_reports.json",
			cols("security_reports: details_enc, source, status, created_at, outcome, closed_at", "report_messages: kind, body_enc, created_at")},
		{"Risk signals", "sessions ended because their country or browser changed, or requests from a blocked network: the kind, the coarse values (countries, devices), the time", "To protect your account from a stolen session.",
			"Legitimate interest (security)", r.SignInHistory.Human() + ".", "risk_signals (no address or browser string)", "risk_signals.json",
			cols("risk_signals: kind, detail, created_at")},
		{"Security notices", "notices sent to your inbox and by email; for a notice about a security incident, when it reached you and which of the steps it asked you have done", "To keep you informed about your account's security.",
			"Legal obligation; legitimate interest (security)", r.Notices.Human() + ".", "notices, outbox (texts and addresses encrypted)", "notices.json",
			cols("notices: kind, title, body_enc, created_at, read_at", "outbox: kind, recipient_enc, subject_enc, body_enc, created_at, sent_at",
				"incident_deliveries: attempts, created_at, last_sent_at, reminded_at", "incident_steps: step, done_at")},
		{"Access to your data by staff", "who unmasked which of your details, when and why", "To show you, and our auditors, every look at your data.",
			"Legal obligation (accountability)", "While your account exists.", "reveal_grants (reasons encrypted)", "access_history.json",
			cols("reveal_grants: staff_id, field, reason_enc, granted_at, expires_at")},
		{"Your data-rights requests", "each export, erasure, restriction and correction you asked for: when, its legal deadline, what became of it", "To meet, and prove we met, the legal deadlines of your rights.",
			"Legal obligation (accountability)", "While your account exists; after an erasure they keep only an opaque account number and dates, as evidence that it was done.", "privacy_requests", "requests.json",
			cols("privacy_requests: kind, status, created_at, due_at, scheduled_for, completed_at")},
		{"Consents and privacy notice", "which optional purposes you agreed to and when; which version of this notice you accepted when you signed up, and each one you acknowledged since", "To do only what you agreed to, and to prove it.",
			"Legal obligation (accountability); consent for the optional purposes", "While your account exists.", "consents, notice_acks, accounts", "consents.json",
			cols("consents: purpose, granted, at, notice_version", "notice_acks: version, at, at_sign_up", "accounts: privacy_version, privacy_accepted_at")},
		{"Restriction of processing", "whether and since when you asked us to restrict the processing of your data", "To honour your restriction or objection.",
			"Legal obligation", "While your account exists.", "accounts", "account.json", cols("accounts: restricted_at")},
		{"API tokens (staff)", "each personal access token's name, permissions, dates, the IP address it was last used from, and the networks it was used from (as keyed hashes, to notice a new one)", "To let staff use the API, show them where their tokens are used, and alert the security team when a token is used from a new network.",
			"Contract; legitimate interest (security)", "While the account exists.", "api_tokens (last address encrypted; networks as keyed hashes; the secret hashed)", "api_tokens.json",
			cols("api_tokens: name, scopes, role, created_at, expires_at, last_used_at, last_used_ip_enc, networks, revoked_at")},
		{"Staff records", "a staff account's security training and contract end", "To give staff access only while they are trained and under contract.",
			"Contract; legal obligation", "While the account exists.", "accounts", "account.json", cols("accounts: training_completed_at, contractor_until, role_changed_at")},
		{"Staff training results", "a staff member's training quiz scores and outcomes, the reminders sent, the note kept with training recorded by hand",
			"To give staff access only while they are trained, and to remind them before it falls due (MTL-8.1).", "Contract; legal obligation", "While the account exists.",
			"training_attempts, training_reminders, accounts", "not exported: shown on the staff member's training page",
			cols("training_attempts: id, account_id, slug, version, score, passed, taken_at", "training_reminders: account_id, due, kind, sent_at", "accounts: training_note")},
		{"Unconfirmed sign-ups", "email address, name", "To finish creating your account.", "Contract (pre-contract steps)",
			r.UnverifiedSignups.Human() + ", then deleted.", "accounts (encrypted)", "account.json", nil},
		{"Vulnerability reports", "what you reported through the public vulnerability form, and the contact you chose to leave (kept apart from the report)", "To triage and fix the vulnerability, and to reach you about it.",
			"Legitimate interest (security)", "The contact: until " + r.SecurityReports.Human() + " after the finding is closed, then cleared; the report: as part of our security records.", "findings (the contact in its own column; the report is the finding's description)", "not exported (a report is not linked to an account)",
			cols("findings: reporter_contact, description")},
		{"Audit records", "what was done, when, by which account number, from which network and device", "To keep a tamper-evident record of security events, as our policy and the law require.",
			"Legal obligation", r.AuditEvents.Human() + "; after an erasure they keep only an opaque account number.", "audit_events", "not exported (the record of our own actions)",
			cols("audit_events: at, actor, action, target, outcome, ip, user_agent, details")},
	}
}

// cols expands "table: a, b, c" groups into "table.a", "table.b", ...
func cols(groups ...string) []string {
	var out []string
	for _, g := range groups {
		table, names, _ := strings.Cut(g, ": ")
		for _, n := range strings.Split(names, ", ") {
			out = append(out, table+"."+n)
		}
	}
	return out
}

// Classification maps every column of the schema that Portico knows to
// the inventory category whose data it holds, or to "not personal: " and
// the reason it holds none (notPersonal). A column claimed twice is an
// error.
//
// Enforces MTL-2.1.1: no table or column escapes the record of
// processing (TestEveryColumnIsClassified compares it with the schema).
func Classification(p policy.Profile) (map[string]string, error) {
	out := map[string]string{}
	add := func(col, what string) error {
		if prev, ok := out[col]; ok {
			return fmt.Errorf("privacy: %s is classified twice: %q and %q", col, prev, what)
		}
		out[col] = what
		return nil
	}
	for _, c := range Inventory(p) {
		for _, col := range c.Columns {
			if err := add(col, c.Name); err != nil {
				return nil, err
			}
		}
	}
	for _, n := range notPersonal {
		table, cols, ok := strings.Cut(n.cols, ": ")
		if !ok || n.why == "" {
			return nil, fmt.Errorf("privacy: notPersonal entry %q needs \"table: columns\" and a reason", n.cols)
		}
		for _, col := range strings.Split(cols, ", ") {
			if err := add(table+"."+col, "not personal: "+n.why); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// notPersonal are the columns that hold no personal data, table by table,
// each group with the reason. Identifiers that only link a row to an
// account (account_id) are listed here when the row's personal content is
// classified in its category.
var notPersonal = []struct{ cols, why string }{
	{"accounts: id, credentials_epoch", "an opaque account number and a counter"},
	{"accounts: invited_by", "the opaque account number of the administrator who invited a member of staff"},
	{"account_tokens: id, account_id", "opaque identifiers"},
	{"alert_outbox: id, channel, payload, status, attempts, next_attempt_at, last_error, claimed_by, created_at, sent_at", "security alerts on their way to the SIEM: opaque IDs, rule names, severities and counts, and delivery state; errors are fixed texts, never the receiver's"},
	{"api_tokens: id, account_id, secret_hash, credentials_epoch", "opaque identifiers, a hash of a random secret, a counter"},
	{"approvals: id, kind, target, payload, requested_by, decided_by, created_at, expires_at, decided_at, outcome", "four-eyes requests between administrators: opaque account numbers and policy values"},
	{"alerts: id, rule, severity, group_key, subject_kind, subject, summary, accounts, networks, evidence, state, state_reason, assigned_to, occurrences, first_at, last_at, updated_at, updated_by",
		"security alerts: opaque account numbers, client networks (an IPv4 /24 or IPv6 /56, never one address), rule names, counts, audit sequence numbers and the security team's triage; summaries are generated from counts"},
	{"audit_events: seq, request_id, prev_hash, hash", "the chain's order and hashes, a random request number"},
	{"audit_head: id, seq, hash", "the head of the audit chain"},
	{"audit_prunes: events, pruned_at, through_hash, through_seq", "where the audit chain was cut at retention"},
	{"consents: id, account_id", "opaque identifiers"},
	{"detect_cursor: name, seq", "where the detection rules are in the audit trail"},
	{"email_codes: session_id, account_id, code_hash, tries, sends, created_at, expires_at", "a challenged sign-in's emailed code, ten minutes long: opaque identifiers, a keyed hash of a random code (not reversible without the server secret), counters and its deadline"},
	{"detect_responses: id, alert_id, action, subject, until, created_at, undone_at, undone_by", "automatic responses to alerts: an opaque account number or a client network, and when"},
	{"incidents: id, title, severity, category, source, phase, plan_version, detected_at, detected_reason, aware_at, data_categories, affected_query, affected_count, breach_personal, breach_risk, breach_high_risk, breach_reasoning, breach_decided_at, breach_decided_by, regulator_submitted_at, regulator_authority, regulator_reference, regulator_late_reason, created_at, created_by, updated_at, closed_at, aware_reason, nature, consequences, measures, records_approx, contact_point",
		"security incidents as the security team records them: about an event, not a person (the affected customers are opaque account numbers in incident_affected; the contact point is a role and its office's address)"},
	{"incident_submissions: id, incident_id, kind, authority, reference, submitted_at, late_reason, content, created_at, created_by",
		"the regulator's report of an incident as submitted, with a snapshot of it: about an event, with counts, never naming a customer"},
	{"incident_affected: incident_id, account_id", "opaque identifiers"},
	{"incident_checks: incident_id, phase, item, checked_at, checked_by", "the response plan's checklist, ticked by staff"},
	{"incident_notices: id, incident_id, parent_id, kind, title, nature, consequences, measures, advice, steps, contact, late_reason, created_at, created_by, updated_at, sent_at, sent_by",
		"breach notices and follow-ups as the security team writes them, the same text for every recipient: they name no customer"},
	{"incident_deliveries: notice_id, account_id, inbox_id, outbox_id", "opaque identifiers"},
	{"incident_steps: notice_id, account_id", "opaque identifiers"},
	{"training_modules: slug, version, title, lesson, quiz, pass_mark, audience, active, builtin, created_at, created_by",
		"security-awareness training modules: lessons and quizzes about procedures, not people; authors are opaque staff account numbers"},
	{"incident_clock_warnings: incident_id, clock, state, warned_at", "which deadline warnings went to the security team, and when: codes only"},
	{"incidents: exercise_id", "an opaque identifier: the drill an incident belongs to"},
	{"incident_plans: version, body, owner, created_at, created_by, approved_at, approved_by, review_due",
		"the response plan's versions as the security team writes them: about procedures, not people; staff appear as opaque account numbers"},
	{"incident_exercises: id, kind, scenario, held_at, participants, plan_version, incident_id, created_at, created_by",
		"exercises of the response plan: a scenario, not a person; participants are opaque staff account numbers"},
	{"incident_reviews: incident_id, summary, worked, failed, created_at, created_by, updated_at, updated_by",
		"post-incident reviews: about an event and the team's response, not a person (the affected customers are opaque account numbers in incident_affected)"},
	{"incident_review_actions: incident_id, seq, body, owner, due_at, done", "a review's actions, owned by opaque staff account numbers"},
	{"vendors: id, name, service, data_categories, endpoints, owner, status, created_at, created_by, approved_at, approved_by, retired_at, review_due",
		"the register of third parties: organisations, the inventory's category names and their endpoints; staff appear as opaque account numbers"},
	{"vendor_assessments: id, vendor_id, questions_version, state, answers, score, outcome, link_hash, link_expires_at, link_used_at, created_at, created_by, submitted_at, submitted_by, approved_at, approved_by, review_due",
		"a vendor's answers about its security practices, a hash of a random link token and opaque staff account numbers"},
	{"vendor_agreements: id, vendor_id, kind, filename, content_type, size, sha256, body, clauses, starts_on, expires_on, created_at, created_by",
		"contracts and DPAs between organisations, with their security clauses and dates"},
	{"vendor_checks: id, vendor_id, endpoint, checked_at, reachable, tls_version, cipher, cert_expiry, hsts, security_txt, status, findings, items",
		"checks of vendors' public endpoints: TLS and HTTP facts about servers"},
	{"vendor_people: vendor_id, account_id, added_at, added_by", "opaque identifiers: which staff accounts work for a vendor"},
	{"compliance_runs: id, started_at, finished_at, kind, actor, chain_seq, chain_hash, passed, warned, failed",
		"each taking of the compliance evidence: when, why, the audit chain head and counts; the actor is an opaque account number or system"},
	{"compliance_results: run_id, check_name, status, summary, figures, taken_at",
		"what each evidence check found: statuses, counts, dates and digests about the system, never a person's data"},
	{"compliance_signing_keys: id, public_key, fingerprint, created_at, retired_at",
		"the public halves of the evidence bundles' signing keys and their fingerprints; the private keys are server secrets, wrapped"},
	{"job_leases: name, holder, expires_at", "which node runs a background job"},
	{"key_rotations: key_id, previous_key_id, started_at, finished_at, outcome", "master key rotations"},
	{"notice_acks: account_id", "an opaque identifier"},
	{"notices: id, account_id", "opaque identifiers"},
	{"pending_actions: id, session_id, account_id, path, created_at, expires_at", "opaque identifiers, the page the action was sent to, its deadline"},
	{"outbox: id, account_id, status, attempts, next_attempt_at, last_error, claimed_by", "delivery state; errors name the mail server, never the recipient"},
	{"passkey_handles: account_id, created_at", "an opaque identifier and when it was made"},
	{"passkeys: id, account_id, rp_id, attestation_type, attestation_format", "opaque identifiers, the site's own name, the attestation's kind"},
	{"findings: id, source_kind, source_id, assessment_id, title, severity, component, owner, status, created_at, created_by, due_at, updated_at, closed_at, closed_by, closing_note, accepted_until",
		"the findings register: weaknesses of systems, with opaque staff account numbers (the description, which an outside reporter may write, and the reporter's contact are classified apart); a disclosure's title is made from the page or component reported"},
	{"assessments: id, kind, scope, performed_by, performed_at, summary, created_at, created_by",
		"vulnerability assessments and penetration tests: about systems; the performer is a firm or a staff role, and staff appear as opaque account numbers"},
	{"password_history: account_id", "an opaque identifier"},
	{"privacy_notices: version, published_at, published_by, changes", "the privacy notice's versions, published by staff"},
	{"policy_documents: id, title, owner, generated_from, created_at, created_by, review_due, review_requested_at, review_requested_reason, overdue_alerted",
		"the organisation's policy documents and their review dates: about policies, not people; staff appear as opaque account numbers"},
	{"policy_document_versions: document_id, version, body, summary, created_at, created_by, approved_at, approved_by",
		"the policies' versions as administrators write them: about rules, not people; staff appear as opaque account numbers"},
	{"policy_reviews: id, document_id, reviewed_at, reviewer, outcome, version, notes, due_before, due_after, created_at",
		"reviews of the policy documents with their outcome and notes, by opaque staff account numbers"},
	{"policydoc_state: name, value", "where the policy documents' pass is in the audit trail, the last major version of Portico seen and the incidents already counted: opaque identifiers"},
	{"privacy_requests: id, account_id, token_hash, token_expires_at", "opaque identifiers, the hash of a download link and its expiry"},
	{"rate_limits: key_hash, window_start, hits", "keyed hashes of addresses, for the rate window only; not reversible without the server secret"},
	{"recovery_codes: account_id", "an opaque identifier"},
	{"retention_runs: id, started_at, finished_at, dry_run, counts, error", "the purge job's runs and counts"},
	{"reveal_grants: id, customer_id", "opaque identifiers"},
	{"risk_signals: id, account_id, session_id", "opaque identifiers"},
	{"security_reports: id, account_id, sign_in_event_id, assigned_to, incident_id", "opaque identifiers"},
	{"report_messages: id, report_id, author, seq", "opaque identifiers and order"},
	{"server_secrets: name, wrapped, wrapped_by, created_at, rewrapped_at", "the server's own keys, wrapped"},
	{"sessions: id, account_id, secret_hash, role, aal, methods, reauth_at, expires_at, credentials_epoch", "session mechanics: identifiers, a hash of a random secret, assurance level, deadlines"},
	{"sign_in_events: id, account_id", "opaque identifiers"},
	{"subject_keys: subject_id, wrapped_key, wrapped_by, created_at, rewrapped_at, destroyed_at", "data keys, wrapped by the master keyset, and their tombstones"},
	{"ticket_attachments: id, ticket_id, message_id", "opaque identifiers"},
	{"ticket_messages: id, ticket_id, author_id, seq", "opaque identifiers and order"},
	{"tickets: id, account_id, assignee_id", "opaque identifiers"},
	{"webauthn_challenges: id, account_id, kind, session_data, created_at, expires_at, used_at", "a passkey ceremony's random challenge, minutes long"},
}
