-- +goose Up
-- Server-side sessions (internal/session). Enforces CP-6.3: a session is a
-- row that the server can end at any time (logout, "sign out everywhere",
-- password reset, role change), with an idle and an absolute deadline.
--
-- The browser holds "<id>.<secret>"; the table holds the id and the
-- SHA-256 of the secret only, so a copy of the database does not let anyone
-- sign in. aal is the assurance level the session was authenticated at
-- (1 = password only, 2 = multi-factor) and methods the factors used
-- ("password,totp"), so that CP-4.1 can be checked on every request.
-- reauth_at is the last fresh authentication, for step-up.
-- ip_enc and user_agent_enc are personal data, encrypted under the
-- account's data key (CP-5.1); device ("Firefox 140 on Linux") and country
-- (ISO 3166 alpha-2) are coarse and kept in clear for the session list.
-- A session is ended by setting ended_at and end_reason, never by deleting
-- it; rows past retention are purged.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    secret_hash    BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role           TEXT NOT NULL,
    aal            INTEGER NOT NULL CHECK (aal IN (1, 2)),
    methods        TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    reauth_at      TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    ip_enc         BYTEA NOT NULL,
    user_agent_enc BYTEA NOT NULL,
    device         TEXT NOT NULL,
    country        TEXT NOT NULL,
    ended_at       TIMESTAMPTZ,
    end_reason     TEXT,
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
-- Listing an account's sessions and ending all of them.
CREATE INDEX sessions_account ON sessions (account_id, created_at);
-- The sweep of stale sessions reads only the live ones.
CREATE INDEX sessions_live ON sessions (expires_at) WHERE ended_at IS NULL;
-- The purge of old rows reads only the ended ones.
CREATE INDEX sessions_ended ON sessions (ended_at) WHERE ended_at IS NOT NULL;

-- +goose Down
DROP TABLE sessions;
