-- +goose Up
-- Suspicious-activity reports in the security team's triage queue
-- (internal/detect/reports.go). Enforces CP-7.3, CP-3.2 and CP-3.1: each
-- report is assigned, worked with internal notes, questions to the
-- customer and their answers, and closed with an outcome the customer is
-- told; closing sets closed_at, from which the retention rule for closed
-- reports counts.
--
-- report_messages: the report's thread. kind 'note' is the security
-- team's own (never shown to the customer); 'question', 'answer' and
-- 'outcome' are shown to the customer in the portal. author is the opaque
-- account ID of whoever wrote it; seq keeps the thread in the order
-- written when clocks tie. body_enc is encrypted under the
-- customer's data key (crypto.Field report_messages.body_enc.<id>), so an
-- erasure shreds the thread with the rest of the account.
CREATE TABLE report_messages (
    id         TEXT PRIMARY KEY,
    report_id  TEXT NOT NULL REFERENCES security_reports (id) ON DELETE CASCADE,
    author     TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('note', 'question', 'answer', 'outcome')),
    body_enc   BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    seq        INTEGER NOT NULL,
    UNIQUE (report_id, seq)
);

-- An escalated report names the incident it went to (the incident
-- capability, issue 12), as an opaque reference; NULL until then.
ALTER TABLE security_reports ADD COLUMN incident_id TEXT;

-- The retention purge finds closed reports by when they were closed.
CREATE INDEX security_reports_closed ON security_reports (closed_at) WHERE status = 'closed';

-- +goose Down
DROP INDEX security_reports_closed;
ALTER TABLE security_reports DROP COLUMN incident_id;
DROP TABLE report_messages;
