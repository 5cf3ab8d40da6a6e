-- +goose Up
-- Security alerts on their way to the security team's tools (a SIEM's
-- webhook, a syslog collector), by internal/alertout. Enforces CP-3.2 and
-- CP-8.1: an alert is written in the same transaction as the detection
-- that raises it, one row per configured channel, and stays here until it
-- is delivered or given up on: nothing is lost while the receiver is down.

-- The alert outbox. payload is the alert as JSON text, sent as it is: it
-- holds no personal data (opaque IDs, rule names, severities, counts; no
-- address, name, IP address or browser string), so it is stored in clear.
-- A worker (alertout.Service.DeliverDue) claims due pending rows, sends
-- them and records the outcome. Claiming sets claimed_by to a random token
-- and moves next_attempt_at past the lease, so no other node takes the row
-- while it is being sent, and a node that dies mid-send leaves it due again
-- once the lease ends. attempts counts claims. last_error is a fixed
-- description (with the HTTP status code for the webhook), never the
-- receiver's text. id is also the event ID that receivers dedupe on.
CREATE TABLE alert_outbox (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL CHECK (channel IN ('webhook', 'syslog')),
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    claimed_by      TEXT,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
-- The worker's query: due pending rows, oldest due first.
CREATE INDEX alert_outbox_due ON alert_outbox (next_attempt_at) WHERE status = 'pending';
-- Undelivered alerts, oldest first (for the security team's page).
CREATE INDEX alert_outbox_undelivered ON alert_outbox (created_at) WHERE status <> 'sent';

-- +goose Down
DROP TABLE alert_outbox;
