package privacy

import "github.com/portico/portico/internal/policy"

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
			"accounts (email and name encrypted; the address is found by a keyed hash)", "account.json"},
		{"Contact details", "phone number", "To reach you about your account, tickets and incidents.", "Contract",
			"While your account exists.", "accounts (encrypted)", "account.json"},
		{"Sign-in history", "time, outcome, method, device, IP address, country", "To protect your account and show you recent activity.",
			"Legitimate interest (security)", r.SignInHistory.Human() + ".", "sign_in_events (IP address and browser encrypted)", "sign_ins.json"},
		{"Sessions and devices", "device, country, IP address and browser of each signed-in session", "To keep you signed in and let you sign out other devices.",
			"Contract; legitimate interest (security)", "Until the session ends, then with the sign-in history.", "sessions (IP address and browser encrypted)", "sessions.json"},
		{"Second factors", "authenticator app (secret), passkeys (public keys and names), recovery codes (hashes)", "To prove it is you.",
			"Contract; legitimate interest (security)", "While your account exists.", "accounts, passkeys, recovery_codes (secrets encrypted or hashed)", "account.json"},
		{"Support tickets", "subjects, messages, attachments", "To answer your requests.", "Contract",
			r.ClosedTickets.Human() + " after the ticket is closed.", "tickets, ticket_messages, ticket_attachments (encrypted)", "tickets.json"},
		{"Security reports", "your reports of suspicious activity and their notes", "To investigate incidents.",
			"Legal obligation; legitimate interest (security)", r.SecurityReports.Human() + " after closing.", "security_reports (notes encrypted)", "security_reports.json"},
		{"Security notices", "notices sent to your inbox and by email", "To keep you informed about your account's security.",
			"Legal obligation; legitimate interest (security)", r.Notices.Human() + ".", "notices, outbox (texts and addresses encrypted)", "notices.json"},
		{"Access to your data by staff", "who unmasked which of your details, when and why", "To show you, and our auditors, every look at your data.",
			"Legal obligation (accountability)", "While your account exists.", "reveal_grants (reasons encrypted)", "access_history.json"},
		{"Consents and privacy notice", "which optional purposes you agreed to and when; which version of this notice you acknowledged", "To do only what you agreed to, and to prove it.",
			"Legal obligation (accountability); consent for the optional purposes", "While your account exists.", "consents, notice_acks, accounts", "consents.json"},
		{"Unconfirmed sign-ups", "email address, name", "To finish creating your account.", "Contract (pre-contract steps)",
			r.UnverifiedSignups.Human() + ", then deleted.", "accounts (encrypted)", "account.json"},
		{"Audit records", "what was done, when, by which account number, from which address", "To keep a tamper-evident record of security events, as our policy and the law require.",
			"Legal obligation", r.AuditEvents.Human() + "; after an erasure they keep only an opaque account number.", "audit_events", "not exported (the record of our own actions)"},
	}
}
