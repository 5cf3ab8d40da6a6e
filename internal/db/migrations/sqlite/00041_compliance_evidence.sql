-- +goose Up
-- Live compliance evidence (internal/compliance; issue 14). Enforces
-- MTL-7.2 (regular audits of compliance: every clause's evidence taken on
-- a schedule and on demand, with its history kept for the report's trend).

-- compliance_runs: one taking of the evidence. kind is schedule,
-- demand (a person on /admin/compliance) or cli; actor is who asked
-- (an account ID, or system/cli). chain_seq and chain_hash are the audit
-- chain's head when the run began: each run is also an anchor the
-- evidence bundle carries.
CREATE TABLE compliance_runs (
    id          TEXT PRIMARY KEY,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('schedule', 'demand', 'cli')),
    actor       TEXT NOT NULL,
    chain_seq   BIGINT NOT NULL,
    chain_hash  BLOB NOT NULL,
    passed      INTEGER NOT NULL,
    warned      INTEGER NOT NULL,
    failed      INTEGER NOT NULL
);
CREATE INDEX compliance_runs_started ON compliance_runs (started_at);

-- compliance_results: what each evidence check found in a run. figures is
-- a JSON array of {"label", "value"} pairs: counts, dates and digests,
-- never a person's data.
CREATE TABLE compliance_results (
    run_id     TEXT NOT NULL REFERENCES compliance_runs (id) ON DELETE CASCADE,
    check_name TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
    summary    TEXT NOT NULL,
    figures    TEXT NOT NULL,
    taken_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, check_name)
);

-- +goose Down
DROP TABLE compliance_results;
DROP TABLE compliance_runs;
