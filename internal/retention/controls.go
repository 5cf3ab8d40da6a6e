package retention

import "github.com/portico/portico/internal/policy"

// Controls lists the retention schedule's controls, for the compliance
// map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-5.2", Name: "retention.purge",
			Description: "A scheduled purge deletes each category when the profile's period has passed (sign-in history, sessions, risk signals, closed tickets, closed security reports, notices, sent mail, unconfirmed sign-ups, and the audit trail from its start with a recorded anchor), in small batches, with a dry run; every run is recorded and audited.",
			Test:        "internal/retention: TestPurge"},
		{Clause: "MTL-2.1.2", Name: "retention.inactive-accounts",
			Description: "Inactive customer accounts are warned a period ahead and then crypto-shredded and deleted, unless the customer signs in.",
			Test:        "internal/retention: TestInactiveAccounts"},
		{Clause: "CP-5.2", Name: "retention.lease",
			Description: "The purge holds a lease in the database, so one node runs it at a time on a shared PostgreSQL.",
			Test:        "internal/retention: TestPurgeIsLeased"},
	}
}
