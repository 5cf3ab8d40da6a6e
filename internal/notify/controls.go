package notify

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of security notices, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-9.1", Name: "notify.inbox-and-email",
			Description: "A security notice is posted to the customer's in-portal inbox and queued as email in the same transaction as the change that causes it; the worker delivers the mail over SMTP (TLS required unless configured for a local relay).",
			Test:        "internal/notify: TestNotifyDeliversInboxAndEmail"},
		{Clause: "MTL-5.1.2", Name: "notify.inbox-and-email",
			Description: "Affected customers are told in the portal and by email; each delivery (or its final failure) is in the audit trail.",
			Test:        "internal/notify: TestNotifyDeliversInboxAndEmail"},
		{Clause: "CP-5.1", Name: "notify.encrypted-outbox",
			Description: "Queued mail (recipient, subject, body) and inbox notice bodies are encrypted under the customer's own data key; neither the address nor the text appears in the database file.",
			Test:        "internal/notify: TestOutboxEncryptedAtRest"},
		{Clause: "MTL-1.1", Name: "notify.transactional-outbox",
			Description: "Mail is durable before it is sent: without a mail server, or while it refuses, mail waits in the outbox with retries and back-off, and mail that cannot be delivered is listed to administrators, never dropped.",
			Test:        "internal/notify: TestNoSMTPKeepsMailPending"},
		{Clause: "CP-5.3", Name: "notify.delivery-audited",
			Description: "Posting a notice, sending a mail and giving up on one are audit events (outbox and notice IDs, kind and attempts; no address or text).",
			Test:        "internal/notify: TestFailedAfterMaxAttempts"},
	}
}
