-- +goose Up
-- Roles and zero trust (internal/access, internal/identity).

-- Contact phone, encrypted under the account's data key (CP-5.1); support
-- sees it masked (MTL-3.2.1).
ALTER TABLE accounts ADD COLUMN phone_enc BYTEA;
-- The last security-awareness training of a staff member: past the
-- profile's interval they work in restricted mode (CP-12, MTL-8.1).
ALTER TABLE accounts ADD COLUMN training_completed_at TIMESTAMPTZ;
-- A contractor's end date: from then on the account is disabled (MTL-1.2).
ALTER TABLE accounts ADD COLUMN contractor_until TIMESTAMPTZ;
-- An administrator's unlock: failed sign-ins before it no longer count
-- towards the lock or the back-off (CP-8.2).
ALTER TABLE accounts ADD COLUMN failures_reset_at TIMESTAMPTZ;
-- The role's last change, for the admin list.
ALTER TABLE accounts ADD COLUMN role_changed_at TIMESTAMPTZ;

-- A request to grant a role that needs a second administrator (admin):
-- the requester can never approve it (separation of duties, CP-4.2).
CREATE TABLE role_requests (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    decided_by   TEXT,
    decided_at   TIMESTAMPTZ,
    outcome      TEXT CHECK (outcome IN ('approved', 'rejected', 'cancelled'))
);
CREATE INDEX role_requests_open ON role_requests (created_at) WHERE decided_at IS NULL;

-- The SHA-256 of the session's full User-Agent, compared on every request:
-- a change within a session forces re-authentication (CP-6.3).
ALTER TABLE sessions ADD COLUMN ua_hash BYTEA;

-- Risk signals: a session whose context changed (country, user agent) or
-- that came from a blocked network. Behavioural analytics builds on these
-- (CP-6.3, CP-8.2). detail holds coarse values only (countries, devices).
CREATE TABLE risk_signals (
    id         TEXT PRIMARY KEY,
    account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    session_id TEXT,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX risk_signals_account ON risk_signals (account_id, created_at);
CREATE INDEX risk_signals_time ON risk_signals (created_at);

-- +goose Down
DROP TABLE risk_signals;
ALTER TABLE sessions DROP COLUMN ua_hash;
DROP TABLE role_requests;
ALTER TABLE accounts DROP COLUMN role_changed_at;
ALTER TABLE accounts DROP COLUMN failures_reset_at;
ALTER TABLE accounts DROP COLUMN contractor_until;
ALTER TABLE accounts DROP COLUMN training_completed_at;
ALTER TABLE accounts DROP COLUMN phone_enc;
