-- +goose Up
-- The findings register and vulnerability assessments (internal/findings;
-- issue 13). Enforces CP-6.2 (a record of assessments and findings, and
-- the disclosure intake that files them), MTL-4.3.1 (assessments with
-- their findings and the next one due), MTL-4.3.2 (findings tracked to
-- closure against a deadline set by severity) and MTL-4.1.2 (the OSV
-- check files what it finds).
--
-- Written by staff about systems, not people (staff appear as opaque
-- account IDs), except findings.reporter_contact: how an outside reporter
-- of a vulnerability asked to be reached: personal data, kept apart from
-- the report's text and cleared by the findings pass once the finding has
-- been closed for retention.security_reports.

-- assessments: penetration tests, vulnerability scans, code reviews and
-- internal audits, as performed (by a firm or a person, free text).
CREATE TABLE assessments (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('pentest', 'scan', 'code_review', 'audit')),
    scope        TEXT NOT NULL,
    performed_by TEXT NOT NULL,
    performed_at TIMESTAMP NOT NULL,
    summary      TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE INDEX assessments_performed ON assessments (performed_at);

-- findings: the shared register. source_kind and source_id say where a
-- finding came from (an assessment's ID, an OSV advisory's ID, ...).
-- due_at is created_at plus governance.remediation for the severity.
-- closing_note is the evidence of a resolution or the reason of an
-- accepted risk; accepted_until is when an acceptance lapses.
CREATE TABLE findings (
    id               TEXT PRIMARY KEY,
    source_kind      TEXT NOT NULL CHECK (source_kind IN ('assessment', 'disclosure', 'vulncheck', 'audit', 'vendor', 'exercise', 'other')),
    source_id        TEXT NOT NULL DEFAULT '',
    assessment_id    TEXT REFERENCES assessments (id),
    title            TEXT NOT NULL,
    description      TEXT NOT NULL,
    severity         TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    component        TEXT NOT NULL DEFAULT '',
    owner            TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'resolved', 'accepted')),
    created_at       TIMESTAMP NOT NULL,
    created_by       TEXT NOT NULL,
    due_at           TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    closed_at        TIMESTAMP,
    closed_by        TEXT,
    closing_note     TEXT NOT NULL DEFAULT '',
    accepted_until   TIMESTAMP,
    reporter_contact TEXT
);
CREATE INDEX findings_status_due ON findings (status, due_at);
CREATE INDEX findings_source ON findings (source_kind, source_id);
CREATE INDEX findings_assessment ON findings (assessment_id);

-- +goose Down
DROP TABLE findings;
DROP TABLE assessments;
