package alertout

import "github.com/portico/portico/internal/policy"

// Controls lists the controls of alert delivery, for the compliance map.
func Controls() []policy.Control {
	return []policy.Control{
		{Clause: "CP-8.1", Name: "alertout.durable-delivery",
			Description: "Security alerts are queued in the same transaction as the detection that raises them, one row per configured channel, and delivered to the SIEM's webhook and syslog collector with retries and exponential back-off; an alert out of attempts stays in the table as failed and is logged as an error, never dropped. Without a channel configured nothing is queued.",
			Test:        "internal/alertout: TestWebhookRetriesUntilDelivered"},
		{Clause: "CP-3.2", Name: "alertout.durable-delivery",
			Description: "Alerts reach the security team's own tools; a receiver that stays down leaves the alert failed after the configured attempts, with a fixed reason and an error log line (no payload).",
			Test:        "internal/alertout: TestWebhookDeadReceiverFails"},
		{Clause: "CP-8.1", Name: "alertout.leased-claims",
			Description: "A delivery pass leases the rows it takes (FOR UPDATE SKIP LOCKED on PostgreSQL): concurrent passes on any number of nodes never send one row twice.",
			Test:        "internal/alertout: TestConcurrentPassesSendOnce"},
		{Clause: "CP-8.1", Name: "alertout.lease-held",
			Description: "Outcomes are recorded only while the pass still holds the lease: a stalled pass cannot release a row that another pass is sending.",
			Test:        "internal/alertout: TestLostLeaseRecordsNothing"},
		{Clause: "CP-8.1", Name: "alertout.signed-webhook",
			Description: "Each webhook request carries an event ID for deduplication and an HMAC-SHA256 signature over the timestamp and body; Verify (constant-time, with a freshness window) lets the receiver refuse forged, altered and replayed requests. Redirects are not followed.",
			Test:        "internal/alertout: TestVerify"},
		{Clause: "CP-8.1", Name: "alertout.syslog-tls",
			Description: "Alerts go to syslog as RFC 5424 messages (facility authpriv, severity from the alert, structured data with the rule, severity and IDs, the JSON as message) with RFC 5425 octet-counting framing over TLS 1.2 or later with a verified certificate.",
			Test:        "internal/alertout: TestSyslogOverTLS"},
		{Clause: "CP-8.1", Name: "alertout.running-server",
			Description: "A running server configured with --alert-webhook-url, --alert-webhook-secret-file, --alert-syslog-addr and --alert-syslog-ca-file delivers an alert raised by detection to both receivers on its own, within seconds: a signed JSON POST that Verify accepts, and an RFC 5424 message over TLS verified against the given CA; on SQLite and PostgreSQL.",
			Test:        "internal/app: TestAlertsReachWebhookAndSyslog"},
		{Clause: "CP-3.2", Name: "alertout.running-server",
			Description: "The security team's webhook and syslog collector receive the alerts of a running server, not only of the package's tests: the flags are wired, the worker runs, and the CA file is trusted.",
			Test:        "internal/app: TestAlertsReachWebhookAndSyslog"},
		{Clause: "CP-8.1", Name: "alertout.prune",
			Description: "Delivered alerts leave the outbox 30 days after they were sent and alerts that failed for good after the profile's security-report retention; pending alerts are never pruned. The server's maintenance loop runs it.",
			Test:        "internal/alertout: TestPrune"},
	}
}
