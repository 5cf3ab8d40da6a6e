-- +goose Up
-- Identity (internal/identity): what an account needs to sign in and stay
-- safe. Personal fields are encrypted under the account's data key (CP-5.1,
-- MTL-2.1.3); tokens and recovery codes are stored only as hashes.

-- The account's own state. status is 'unverified' until the email address
-- is confirmed, then 'active'; 'disabled' ends every session.
ALTER TABLE accounts ADD COLUMN name_enc BLOB;
ALTER TABLE accounts ADD COLUMN email_verified_at TIMESTAMP;
ALTER TABLE accounts ADD COLUMN privacy_version TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN privacy_accepted_at TIMESTAMP;
-- Password age (CP-4.3 expiry) and a change the account must make before
-- anything else: '' none, 'expired', 'compromised', 'admin', 'incident'.
ALTER TABLE accounts ADD COLUMN password_changed_at TIMESTAMP;
ALTER TABLE accounts ADD COLUMN password_change_required TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN expiry_warned_at TIMESTAMP;
-- Lockout (CP-8.2): locked until this time; lock_count grows the next lock
-- (exponential back-off) until a successful sign-in or reset.
ALTER TABLE accounts ADD COLUMN locked_until TIMESTAMP;
ALTER TABLE accounts ADD COLUMN lock_count INTEGER NOT NULL DEFAULT 0;
-- TOTP (CP-4.1): the secret encrypted; totp_last_step is the last accepted
-- time step, so a code is accepted at most once, on every node.
ALTER TABLE accounts ADD COLUMN totp_secret_enc BLOB;
ALTER TABLE accounts ADD COLUMN totp_pending_enc BLOB;
ALTER TABLE accounts ADD COLUMN totp_enabled_at TIMESTAMP;
ALTER TABLE accounts ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN last_sign_in_at TIMESTAMP;

-- The last passwords of an account (MTL-3.1.1: no reuse), as argon2id hashes.
CREATE TABLE password_history (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX password_history_account ON password_history (account_id, created_at);

-- Single-use, expiring links (email verification, password reset). Only
-- the SHA-256 of the token is stored.
CREATE TABLE account_tokens (
    id         TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX account_tokens_account ON account_tokens (account_id, purpose);

-- Recovery codes (MTL-3.1.2): HMAC-SHA256 of each code, single use.
CREATE TABLE recovery_codes (
    code_hash  BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX recovery_codes_account ON recovery_codes (account_id);

-- Sign-in history (CP-8.2, shown to the customer): every attempt on a known
-- account. IP and user agent are personal data: encrypted.
CREATE TABLE sign_in_events (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at         TIMESTAMP NOT NULL,
    outcome    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    method     TEXT NOT NULL,
    ip_enc     BLOB,
    ua_enc     BLOB,
    device     TEXT NOT NULL,
    country    TEXT NOT NULL
);
CREATE INDEX sign_in_events_account ON sign_in_events (account_id, at);

-- Rate limits per client address and network (CP-8.2), shared by every
-- node. The key is an HMAC of "kind|address", so no address is stored.
CREATE TABLE rate_limits (
    key_hash     BLOB NOT NULL,
    window_start TIMESTAMP NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (key_hash, window_start)
);

-- Suspicious-activity reports (CP-7.3): "this wasn't me" from the account's
-- security page. Triage arrives with the incident capability.
CREATE TABLE security_reports (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at       TIMESTAMP NOT NULL,
    source           TEXT NOT NULL,
    sign_in_event_id TEXT,
    details_enc      BLOB,
    status           TEXT NOT NULL DEFAULT 'open'
);
CREATE INDEX security_reports_status ON security_reports (status, created_at);

-- +goose Down
DROP TABLE security_reports;
DROP TABLE rate_limits;
DROP TABLE sign_in_events;
DROP TABLE recovery_codes;
DROP TABLE account_tokens;
DROP TABLE password_history;
ALTER TABLE accounts DROP COLUMN last_sign_in_at;
ALTER TABLE accounts DROP COLUMN totp_last_step;
ALTER TABLE accounts DROP COLUMN totp_enabled_at;
ALTER TABLE accounts DROP COLUMN totp_pending_enc;
ALTER TABLE accounts DROP COLUMN totp_secret_enc;
ALTER TABLE accounts DROP COLUMN lock_count;
ALTER TABLE accounts DROP COLUMN locked_until;
ALTER TABLE accounts DROP COLUMN expiry_warned_at;
ALTER TABLE accounts DROP COLUMN password_change_required;
ALTER TABLE accounts DROP COLUMN password_changed_at;
ALTER TABLE accounts DROP COLUMN privacy_accepted_at;
ALTER TABLE accounts DROP COLUMN privacy_version;
ALTER TABLE accounts DROP COLUMN email_verified_at;
ALTER TABLE accounts DROP COLUMN name_enc;
