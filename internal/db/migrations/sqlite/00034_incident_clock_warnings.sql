-- +goose Up
-- The warnings sent on each incident's legal clocks (internal/incident,
-- warn.go). Enforces CP-7.1 and MTL-5.1.1: the security team is warned at
-- half time, in the last tenth and once overdue, once for each, on one
-- node at a time; the primary key is the "once".
CREATE TABLE incident_clock_warnings (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    clock       TEXT NOT NULL, -- Clock.Name: customers, regulator, and any later regime's
    state       TEXT NOT NULL CHECK (state IN ('half', 'near', 'overdue')),
    warned_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (incident_id, clock, state)
);

-- +goose Down
DROP TABLE incident_clock_warnings;
