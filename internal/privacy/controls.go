package privacy

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of data-subject rights, for the compliance
// map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-11.1", Name: "privacy.export",
			Description: "A customer downloads everything Portico holds about them, decrypted, as a zip of JSON files with a README, through a link that works once, for them only, for an hour; request and download are audited and tracked with the legal deadline.",
			Test:        "internal/privacy: TestExportArchive"},
		{Clause: "CP-11.1", Name: "privacy.erasure",
			Description: "A customer schedules the erasure of their account (fresh step-up); it runs after the profile's grace period unless cancelled: the data key is destroyed and the account's rows deleted; sign-in is impossible, no copy decrypts, and the audit trail keeps only the opaque ID.",
			Test:        "internal/privacy: TestErasure"},
		{Clause: "CP-5.2", Name: "privacy.erasure",
			Description: "Erased data is destroyed beyond recovery by crypto-shredding, not only deleted.",
			Test:        "internal/privacy: TestErasure"},
		{Clause: "CP-5.2", Name: "privacy.sealed-reasons",
			Description: "Staff's reasons for unmasking, correcting and restricting a customer's data are encrypted under the customer's key in the audit trail and in their tables; staff read them while the customer exists, and after the erasure no row of any table gives one back.",
			Test:        "internal/privacy: TestErasedReasonsAreUnreadable"},
		{Clause: "MTL-2.1.3", Name: "privacy.sealed-reasons",
			Description: "A reason staff give about a customer is personal data of the customer and is encrypted at rest under their key, in the append-only audit trail too.",
			Test:        "internal/privacy: TestErasedReasonsAreUnreadable"},
		{Clause: "CP-5.2", Name: "privacy.erasure-checkpoint",
			Description: "Once an erasure commits, the SQLite write-ahead log is checkpointed and truncated: the erased customer's wrapped key is in no file of the data directory (database, -wal, -shm) while the server runs, nor in a pg_dump on PostgreSQL.",
			Test:        "internal/privacy: TestErasureLeavesNoKeyInDataDirectory"},
		{Clause: "CP-11.1", Name: "privacy.erasure-ledger",
			Description: "An erasure whose transaction fails after the key was destroyed leaves no entry in the erasure ledger (a restore must not erase a person who was not erased), the account intact and the request pending; its retry commits and writes the entry.",
			Test:        "internal/privacy: TestRolledBackErasureIsNotInLedger"},
		{Clause: "MTL-7.1", Name: "privacy.requests",
			Description: "Every data-subject request is recorded with its legal deadline (profile privacy.request_deadline) and its outcome.",
			Test:        "internal/privacy: TestExportArchive"},
		{Clause: "MTL-2.1.1", Name: "privacy.inventory",
			Description: "A data inventory in code lists every category of personal data with its purpose, lawful basis, retention from the live profile and where it lives; the privacy notice, the admin page and the export's README come from it, and every file of the export is explained by it.",
			Test:        "internal/privacy: TestInventoryCoversTheExport"},
		{Clause: "MTL-2.1.2", Name: "privacy.inventory",
			Description: "Each category's retention is the profile's, stated to the customer in the privacy notice and the export.",
			Test:        "internal/privacy: TestInventoryCoversTheExport"},
		{Clause: "CP-5.1", Name: "privacy.no-clear-text",
			Description: "A customer seeded with every category of the inventory leaves none of their values in clear in the raw SQLite file (and WAL) or in a pg_dump of the schema.",
			Test:        "internal/privacy: TestNoPersonalDataInClear"},
		{Clause: "MTL-2.1.3", Name: "privacy.no-clear-text",
			Description: "Personal data is encrypted at rest in every category, proven by reading the database as an attacker with a copy would.",
			Test:        "internal/privacy: TestNoPersonalDataInClear"},
		{Clause: "MTL-2.1.1", Name: "privacy.notice-versions",
			Description: "Administrators publish privacy notice versions (step-up) with what changed; customers are asked on every page to read the version in force until they acknowledge it; acknowledgements are recorded and audited.",
			Test:        "internal/privacy: TestNoticeVersionsAndConsents"},
		{Clause: "MTL-2.1.2", Name: "privacy.consents",
			Description: "Optional purposes (product news, service research) rest on separate consents that the customer gives and withdraws from their data page, each change kept with the notice version in force, audited, and in the export.",
			Test:        "internal/privacy: TestNoticeVersionsAndConsents"},
	}
}
