-- +goose Up
-- Incidents (internal/incident, issue 12). Enforces CP-7.2 (incidents
-- run by phase with the response plan's checklists), CP-7.1 and MTL-5.1.1
-- (the customer and regulator clocks from detection and awareness) and
-- MTL-5.1.1 (the personal-data-breach decision with its reasoning, the
-- regulator submission's record).
--
-- Titles, reasons and reasoning are written by the security team about an
-- event, not about a person: the affected customers are the rows of
-- incident_affected (opaque account IDs), never named in the text.
CREATE TABLE incidents (
    id                   TEXT PRIMARY KEY,
    title                TEXT NOT NULL,
    severity             TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    category             TEXT NOT NULL,
    source               TEXT NOT NULL,
    phase                TEXT NOT NULL,
    plan_version         TEXT NOT NULL,
    detected_at          TIMESTAMPTZ NOT NULL,
    detected_reason      TEXT NOT NULL DEFAULT '',
    aware_at             TIMESTAMPTZ NOT NULL,
    data_categories      TEXT NOT NULL,
    affected_query       TEXT NOT NULL DEFAULT '',
    affected_count       INTEGER NOT NULL DEFAULT 0,
    breach_personal      BOOLEAN,
    breach_risk          BOOLEAN,
    breach_high_risk     BOOLEAN,
    breach_reasoning     TEXT NOT NULL DEFAULT '',
    breach_decided_at    TIMESTAMPTZ,
    breach_decided_by    TEXT,
    regulator_submitted_at TIMESTAMPTZ,
    regulator_authority  TEXT NOT NULL DEFAULT '',
    regulator_reference  TEXT NOT NULL DEFAULT '',
    regulator_late_reason TEXT NOT NULL DEFAULT '',
    created_at           TIMESTAMPTZ NOT NULL,
    created_by           TEXT NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    closed_at            TIMESTAMPTZ
);
CREATE INDEX incidents_open ON incidents (created_at) WHERE closed_at IS NULL;

-- The affected customers, as a snapshot taken by the query recorded in
-- incidents.affected_query. An erased account leaves the set (the count
-- stays in affected_count).
CREATE TABLE incident_affected (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (incident_id, account_id)
);
CREATE INDEX incident_affected_account ON incident_affected (account_id);

-- The checklist items of each phase, ticked by whom and when.
CREATE TABLE incident_checks (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    phase       TEXT NOT NULL,
    item        TEXT NOT NULL,
    checked_at  TIMESTAMPTZ NOT NULL,
    checked_by  TEXT NOT NULL,
    PRIMARY KEY (incident_id, phase, item)
);

-- +goose Down
DROP TABLE incident_checks;
DROP TABLE incident_affected;
DROP TABLE incidents;
