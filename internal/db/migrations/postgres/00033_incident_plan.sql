-- +goose Up
-- The response plan as versioned documents, its exercises and the
-- post-incident reviews (internal/incident: plandoc.go, exercise.go,
-- review.go; issue 12). Enforces MTL-5.2.1 (a versioned plan, approved
-- by a second member of the security team, whose checklists drive the
-- phases), MTL-5.2.2 (exercises with their findings tracked to closure)
-- and CP-7.2 (the post-incident review).
--
-- Everything here is written by staff about the plan, an exercise or an
-- event, not about a person: people appear only as opaque account IDs.

-- incident_plans: each version of the plan. body is the Markdown the
-- phases' checklists are read from; a version is a draft until
-- approved_at is set, and never changes after. review_due is the
-- approval plus governance.policy_review_interval.
CREATE TABLE incident_plans (
    version     INTEGER PRIMARY KEY,
    body        TEXT NOT NULL,
    owner       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    approved_at TIMESTAMPTZ,
    approved_by TEXT,
    review_due  TIMESTAMPTZ,
    CHECK (approved_by IS NULL OR approved_by <> created_by)
);

-- incident_exercises: tabletop exercises and drills. participants is a
-- JSON array of account IDs; a drill started in Portico names the
-- incident it opened (incidents.exercise_id points back).
CREATE TABLE incident_exercises (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('tabletop', 'drill')),
    scenario     TEXT NOT NULL,
    held_at      TIMESTAMPTZ NOT NULL,
    participants TEXT NOT NULL,
    plan_version TEXT NOT NULL,
    incident_id  TEXT REFERENCES incidents (id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE INDEX incident_exercises_held ON incident_exercises (held_at);

-- incident_findings: what an exercise found, with an owner and a due
-- date, open until closed with a note.
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

-- A drill's incident is marked with its exercise (NULL for a real one):
-- its notices go only to staff test accounts. It is set in the
-- transaction that opens the incident, so a drill is never unmarked.
ALTER TABLE incidents ADD COLUMN exercise_id TEXT;

-- incident_reviews: the post-incident review, one per incident, written
-- once it has recovered; incident_review_actions are its actions in the
-- order written.
CREATE TABLE incident_reviews (
    incident_id TEXT PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    summary     TEXT NOT NULL,
    worked      TEXT NOT NULL,
    failed      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  TEXT NOT NULL
);
CREATE TABLE incident_review_actions (
    incident_id TEXT NOT NULL REFERENCES incident_reviews (incident_id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    body        TEXT NOT NULL,
    owner       TEXT NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    done        BOOLEAN NOT NULL,
    PRIMARY KEY (incident_id, seq)
);

-- +goose Down
DROP TABLE incident_review_actions;
DROP TABLE incident_reviews;
ALTER TABLE incidents DROP COLUMN exercise_id;
DROP TABLE incident_findings;
DROP TABLE incident_exercises;
DROP TABLE incident_plans;
