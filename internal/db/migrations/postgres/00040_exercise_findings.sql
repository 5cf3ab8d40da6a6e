-- +goose Up
-- The findings of incident response exercises move into the shared
-- findings register (internal/findings; issue 13): an exercise files what
-- it finds there (source_kind 'exercise', source_id the exercise's ID),
-- and the register tracks it to closure and raises it when overdue with
-- the findings of every other source. Enforces MTL-5.2.2 (exercise
-- findings tracked to closure) through MTL-4.3.2 (one register, deadlines
-- by severity, overdue alerts).
--
-- Every row of incident_findings is copied, keeping its ID (so the audit
-- trail's incident_finding:<id> names the same finding:<id>): titled by
-- the first line of its text (at most 200 characters), the text as its
-- description, medium (the exercises recorded no severity), its owner,
-- creation and due date as they were; resolved with the closing note as
-- evidence when it was closed, else open. due_at stays the date agreed at
-- the exercise, even where it is later than a medium finding's deadline.
INSERT INTO findings (id, source_kind, source_id, assessment_id, title, description, severity, component, owner, status,
                      created_at, created_by, due_at, updated_at, closed_at, closed_by, closing_note, accepted_until, reporter_contact)
SELECT id, 'exercise', exercise_id, NULL,
       COALESCE(NULLIF(left(rtrim(split_part(body, E'\n', 1), E'\r \t'), 200), ''), 'Exercise finding'),
       body, 'medium', '', owner,
       CASE WHEN closed_at IS NULL THEN 'open' ELSE 'resolved' END,
       created_at, created_by, due_at, COALESCE(closed_at, created_at),
       closed_at, CASE WHEN closed_at IS NULL THEN NULL ELSE closed_by END,
       CASE WHEN closed_at IS NULL THEN '' ELSE closing_note END, NULL, NULL
FROM incident_findings;

DROP TABLE incident_findings;

-- +goose Down
-- The table comes back empty: the findings copied above stay in the
-- register (source_kind 'exercise') and are not moved back.
CREATE TABLE incident_findings (
    id           TEXT PRIMARY KEY,
    exercise_id  TEXT NOT NULL REFERENCES incident_exercises (id),
    body         TEXT NOT NULL,
    owner        TEXT NOT NULL,
    due_at       TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL,
    closed_at    TIMESTAMPTZ,
    closed_by    TEXT,
    closing_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX incident_findings_exercise ON incident_findings (exercise_id);
