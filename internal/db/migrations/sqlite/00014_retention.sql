-- +goose Up
-- Retention (internal/retention, CP-5.2). A lease lets one node at a time
-- run a scheduled job; every run of the purge is recorded with what it
-- deleted per category (also in the audit trail).
CREATE TABLE job_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE TABLE retention_runs (
    id          TEXT PRIMARY KEY,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    dry_run     BOOLEAN NOT NULL,
    counts      TEXT NOT NULL DEFAULT '{}',
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX retention_runs_started ON retention_runs (started_at);
-- The purge finds expired rows through these.
CREATE INDEX sign_in_events_at ON sign_in_events (at);
CREATE INDEX tickets_closed ON tickets (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX notices_created ON notices (created_at);
CREATE INDEX accounts_unverified ON accounts (created_at) WHERE status = 'unverified';
-- When a customer was warned that their inactive account will be closed.
ALTER TABLE accounts ADD COLUMN inactivity_warned_at TIMESTAMP;

-- +goose Down
ALTER TABLE accounts DROP COLUMN inactivity_warned_at;
DROP INDEX accounts_unverified;
DROP INDEX notices_created;
DROP INDEX tickets_closed;
DROP INDEX sign_in_events_at;
DROP TABLE retention_runs;
DROP TABLE job_leases;
