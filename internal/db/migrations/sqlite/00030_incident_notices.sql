-- +goose Up
-- Breach notices and their follow-ups (internal/incident, issue 12).
-- Enforces CP-9.1 and MTL-5.1.2 (a notice holds every part GDPR Art. 34(2)
-- asks and goes to the affected customers only, in the portal and by
-- email, each customer's receipt tracked) and CP-9.2 (follow-ups linked to
-- the breach notice, with steps tracked per customer).
--
-- The notice's text is written by the security team for every recipient
-- alike: it names no customer. Each customer's copy is in their inbox
-- (notices, encrypted under their key) and the outbox; a delivery row
-- links them.
CREATE TABLE incident_notices (
    id           TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    parent_id    TEXT REFERENCES incident_notices (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('breach', 'follow-up')),
    title        TEXT NOT NULL,
    nature       TEXT NOT NULL DEFAULT '',
    consequences TEXT NOT NULL DEFAULT '',
    measures     TEXT NOT NULL DEFAULT '',
    advice       TEXT NOT NULL DEFAULT '',
    steps        TEXT NOT NULL DEFAULT '[]',
    contact      TEXT NOT NULL DEFAULT '',
    late_reason  TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    created_by   TEXT NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    sent_at      TIMESTAMP,
    sent_by      TEXT
);
CREATE INDEX incident_notices_incident ON incident_notices (incident_id, created_at);

-- One row per notice and recipient: the inbox notice and the outbox
-- message, whose states say queued, sent, failed or read.
CREATE TABLE incident_deliveries (
    notice_id    TEXT NOT NULL REFERENCES incident_notices (id) ON DELETE CASCADE,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    inbox_id     TEXT,
    outbox_id    TEXT,
    attempts     INTEGER NOT NULL DEFAULT 1,
    created_at   TIMESTAMP NOT NULL,
    last_sent_at TIMESTAMP NOT NULL,
    reminded_at  TIMESTAMP,
    PRIMARY KEY (notice_id, account_id)
);
CREATE INDEX incident_deliveries_account ON incident_deliveries (account_id, created_at);
CREATE INDEX incident_deliveries_remind ON incident_deliveries (created_at) WHERE reminded_at IS NULL;

-- The steps a customer confirms themselves (reviewed their devices,
-- checked their contact details); the others are seen in the records.
CREATE TABLE incident_steps (
    notice_id  TEXT NOT NULL REFERENCES incident_notices (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    step       TEXT NOT NULL,
    done_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (notice_id, account_id, step)
);
CREATE INDEX incident_steps_account ON incident_steps (account_id);

-- +goose Down
DROP TABLE incident_steps;
DROP TABLE incident_deliveries;
DROP TABLE incident_notices;
