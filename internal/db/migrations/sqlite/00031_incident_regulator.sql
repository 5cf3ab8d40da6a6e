-- +goose Up
-- The regulator's report of an incident (internal/incident, issue 12).
-- Enforces MTL-5.1.1 (GDPR Art. 33(3) and 33(4)): the assessment that the
-- report carries, and each submission of it, initial or follow-up, with a
-- snapshot of what was submitted.
--
-- Like the rest of the incident, the assessment is written by the security
-- team about an event: the contact point is a role and its address (the
-- data protection officer's office), the numbers are estimates.
ALTER TABLE incidents ADD COLUMN nature TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN consequences TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN measures TEXT NOT NULL DEFAULT '';
-- The approximate number of personal-data records concerned; NULL until
-- it is estimated.
ALTER TABLE incidents ADD COLUMN records_approx INTEGER CHECK (records_approx >= 0);
ALTER TABLE incidents ADD COLUMN contact_point TEXT NOT NULL DEFAULT '';

-- The report as submitted to the authority, in phases (Art. 33(4)): one
-- initial submission, then follow-ups. The initial one is also kept in
-- incidents.regulator_* (the regulator's clock reads it there). content is
-- the JSON of the report as it stood when it was submitted.
CREATE TABLE incident_submissions (
    id           TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('initial', 'follow-up')),
    authority    TEXT NOT NULL,
    reference    TEXT NOT NULL,
    submitted_at TIMESTAMP NOT NULL,
    late_reason  TEXT NOT NULL DEFAULT '',
    content      TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE INDEX incident_submissions_incident ON incident_submissions (incident_id, submitted_at);
CREATE UNIQUE INDEX incident_submissions_initial ON incident_submissions (incident_id) WHERE kind = 'initial';

-- A submission recorded before this table existed becomes the initial one
-- (without a snapshot: its content is an empty object).
INSERT INTO incident_submissions (id, incident_id, kind, authority, reference, submitted_at, late_reason, content, created_at, created_by)
SELECT 'm' || id, id, 'initial', regulator_authority, regulator_reference, regulator_submitted_at, regulator_late_reason, '{}',
       regulator_submitted_at, 'migration'
FROM incidents WHERE regulator_submitted_at IS NOT NULL;

-- +goose Down
DROP TABLE incident_submissions;
ALTER TABLE incidents DROP COLUMN contact_point;
ALTER TABLE incidents DROP COLUMN records_approx;
ALTER TABLE incidents DROP COLUMN measures;
ALTER TABLE incidents DROP COLUMN consequences;
ALTER TABLE incidents DROP COLUMN nature;
