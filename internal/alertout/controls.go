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
	}
}
