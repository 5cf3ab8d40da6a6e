package support

import "github.com/portico/portico/internal/policy"

// Controls lists the support desk's controls, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-3.3", Name: "support.ticket-desk",
			Description: "Customers open, answer and close tickets with attachments; agents work a queue, assign, reply and change status; every step is audited and a staff reply notifies the customer.",
			Test:        "internal/support: TestTicketLifecycle"},
		{Clause: "CP-3.3", Name: "support.report-for-customer",
			Description: "A support agent (or the security team) files a suspicious-activity report on a customer's behalf, marked with who filed it.",
			Test:        "internal/support: TestReportForCustomer"},
		{Clause: "CP-4.2", Name: "support.object-checks",
			Description: "Object-level checks below the handler: a customer reaches only their own tickets and attachments, staff outside the desk reach none, and a foreign ticket answers exactly like an unknown one; IDs are 130-bit random.",
			Test:        "internal/support: TestTicketIDOR"},
		{Clause: "CP-5.1", Name: "support.encrypted-tickets",
			Description: "Ticket subjects, messages, attachment names and contents are encrypted under the customer's data key; the raw rows hold none of them.",
			Test:        "internal/support: TestTicketsEncryptedAtRest"},
		{Clause: "MTL-2.1.3", Name: "support.encrypted-tickets",
			Description: "Customers' tickets are encrypted at rest and reachable only by their owner and the support desk.",
			Test:        "internal/support: TestTicketsEncryptedAtRest"},
		{Clause: "CP-6.1", Name: "support.attachment-types",
			Description: "Attachments are accepted by content, not by name (PNG, JPEG, GIF, PDF, plain text), at most 5 MB and 3 per message, and served as downloads with nosniff and a sandbox CSP.",
			Test:        "internal/support: TestAttachmentsAreChecked"},
		{Clause: "MTL-3.2.1", Name: "support.masked-lookup",
			Description: "Support finds a customer only by exact email address and sees email, name and phone masked; each view is audited.",
			Test:        "internal/support: TestRevealIsReasonedTimeBoundAndVisible"},
		{Clause: "MTL-3.2.2", Name: "support.reveal-grant",
			Description: "Unmasking a field needs a reason (10-500 characters) and a fresh re-authentication, lasts the profile's access.reveal_grant for that agent only, is audited with the reason (encrypted under the customer's key), and appears in the customer's access history.",
			Test:        "internal/support: TestRevealIsReasonedTimeBoundAndVisible"},
		{Clause: "CP-11.1", Name: "support.rectification",
			Description: "Support corrects a customer's name or phone on request, with a reason and a fresh step-up; the audit event holds the old and new values encrypted under the customer's key (shredded with them on erasure).",
			Test:        "internal/support: TestRectifyByStaff"},
	}
}
