-- +goose Up
-- Behavioural analytics (internal/detect, issue 11). Enforces CP-8.2 (the
-- rules' alerts and automatic responses), CP-3.2 and CP-8.1 (the security
-- team's triage queue) and CP-5.3 (each alert links the audit events
-- behind it).
--
-- alerts: one row per alert; repeats of an open alert (same group_key,
-- state new or acknowledged) add to occurrences and last_at instead of
-- raising another. accounts holds opaque account IDs and networks the
-- client networks (IPv4 /24, IPv6 /56) as JSON arrays; evidence the audit
-- sequence numbers (at most 100). No address, name or email is stored
-- here: the evidence events hold the addresses, under the audit trail's
-- own retention.
CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    rule         TEXT NOT NULL,
    severity     TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    group_key    TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject      TEXT NOT NULL,
    summary      TEXT NOT NULL,
    accounts     TEXT NOT NULL,
    networks     TEXT NOT NULL,
    evidence     TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'acknowledged', 'dismissed', 'escalated')),
    state_reason TEXT NOT NULL DEFAULT '',
    assigned_to  TEXT,
    occurrences  INTEGER NOT NULL DEFAULT 1 CHECK (occurrences > 0),
    first_at     TIMESTAMPTZ NOT NULL,
    last_at      TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    updated_by   TEXT
);
CREATE INDEX alerts_open ON alerts (group_key) WHERE state IN ('new', 'acknowledged');
CREATE INDEX alerts_state ON alerts (state, last_at);

-- The automatic responses a rule took: a network throttled, an account
-- challenged, locked, signed out or made to change its password. subject
-- is the network or the account ID; until bounds throttles and
-- challenges. A response is undone by the security team (undone_at, by).
CREATE TABLE detect_responses (
    id         TEXT PRIMARY KEY,
    alert_id   TEXT NOT NULL REFERENCES alerts (id),
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    until      TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    undone_at  TIMESTAMPTZ,
    undone_by  TEXT
);
CREATE INDEX detect_responses_active ON detect_responses (subject, action) WHERE undone_at IS NULL;
CREATE INDEX detect_responses_alert ON detect_responses (alert_id);

-- Where the detector is in the audit trail: the last sequence number
-- whose event the rules have seen.
CREATE TABLE detect_cursor (
    name TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);

-- The risk of each sign-in attempt that reached the password check: its
-- level (low, medium, high), the reasons that raised it (codes, as JSON)
-- and the action taken (allow, challenge, block), for the owner's security
-- page and the security team.
ALTER TABLE sign_in_events ADD COLUMN risk_level TEXT;
ALTER TABLE sign_in_events ADD COLUMN risk_reasons TEXT;
ALTER TABLE sign_in_events ADD COLUMN risk_action TEXT;

-- Security reports join the alerts in one triage queue: who has it, and the
-- outcome the customer is told when it is closed.
ALTER TABLE security_reports ADD COLUMN assigned_to TEXT;
ALTER TABLE security_reports ADD COLUMN outcome TEXT;
ALTER TABLE security_reports ADD COLUMN closed_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE security_reports DROP COLUMN closed_at;
ALTER TABLE security_reports DROP COLUMN outcome;
ALTER TABLE security_reports DROP COLUMN assigned_to;
ALTER TABLE sign_in_events DROP COLUMN risk_action;
ALTER TABLE sign_in_events DROP COLUMN risk_reasons;
ALTER TABLE sign_in_events DROP COLUMN risk_level;
DROP TABLE detect_cursor;
DROP TABLE detect_responses;
DROP TABLE alerts;
