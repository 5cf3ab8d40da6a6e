-- +goose Up
-- Passkeys (internal/passkey): WebAuthn credentials as a second factor and
-- for passwordless sign-in (CP-4.1, MTL-3.1.2).

-- The WebAuthn user handle of an account: 32 random bytes, made when the
-- account registers its first passkey. Authenticators keep it with the
-- credential and return it in a passwordless sign-in, which finds the
-- account through the unique index. It is random rather than the account ID
-- so that nothing an authenticator or a passkey provider stores (or syncs)
-- names a Portico identifier or any personal data.
CREATE TABLE passkey_handles (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    user_handle BLOB NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    CHECK (length(user_handle) = 32)
);

-- One row per registered credential. credential_id is the authenticator's
-- ID for it (unique everywhere); public_key is the COSE key that verifies
-- its signatures; sign_count is the last signature counter seen, which must
-- grow (a counter going back means a cloned authenticator). The flags are
-- those of the authenticator data: backup eligible and backed up (a synced
-- passkey), and whether the authenticator verified the user (PIN,
-- biometric). name_enc is the label the customer gave it ("Work laptop"),
-- free text that may name a person, so it is encrypted under the account's
-- data key (CP-5.1).
CREATE TABLE passkeys (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    rp_id              TEXT NOT NULL,
    credential_id      BLOB NOT NULL UNIQUE,
    public_key         BLOB NOT NULL,
    attestation_type   TEXT NOT NULL,
    attestation_format TEXT NOT NULL,
    aaguid             BLOB NOT NULL,
    sign_count         BIGINT NOT NULL DEFAULT 0,
    transports         TEXT NOT NULL DEFAULT '',
    backup_eligible    BOOLEAN NOT NULL,
    backup_state       BOOLEAN NOT NULL,
    user_verified      BOOLEAN NOT NULL,
    name_enc           BLOB NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    last_used_at       TIMESTAMP,
    CHECK (sign_count >= 0 AND sign_count <= 4294967295)
);
CREATE INDEX passkeys_account ON passkeys (account_id, created_at);

-- A ceremony in progress, so that it can finish on any node: the library's
-- SessionData (the challenge and what the answer must match) as JSON. A
-- challenge is single use (used_at is set by the statement that claims it)
-- and expires five minutes after it was issued. account_id is NULL only for
-- a passwordless sign-in, where the account is not known until the answer.
CREATE TABLE webauthn_challenges (
    id           TEXT PRIMARY KEY,
    account_id   TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    session_data TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    used_at      TIMESTAMP,
    CHECK (kind IN ('register', 'login')),
    CHECK (kind = 'login' OR account_id IS NOT NULL)
);
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_at);
CREATE INDEX webauthn_challenges_account ON webauthn_challenges (account_id);

-- +goose Down
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
DROP TABLE passkey_handles;
