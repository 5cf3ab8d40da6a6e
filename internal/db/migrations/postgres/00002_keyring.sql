-- +goose Up
-- Keyring (internal/crypto). The master keyset is a file outside the
-- database; these tables hold only keys and secrets wrapped by it.

-- Subject keys: one data key per data subject (a customer), a Tink keyset
-- wrapped by the master keyset with the subject ID as associated data.
-- wrapped_by is the ID of the master key that wrapped it, which rotation
-- uses to find what is left to re-wrap. Destroying a key (crypto-shredding,
-- CP-5.2) sets wrapped_key to NULL and destroyed_at; the row stays as the
-- tombstone that proves the erasure and stops a new key being made for the
-- subject.
CREATE TABLE subject_keys (
    subject_id   TEXT PRIMARY KEY,
    wrapped_key  BYTEA,
    wrapped_by   BIGINT,
    created_at   TIMESTAMPTZ NOT NULL,
    rewrapped_at TIMESTAMPTZ,
    destroyed_at TIMESTAMPTZ,
    CHECK (destroyed_at IS NOT NULL OR (wrapped_key IS NOT NULL AND wrapped_by IS NOT NULL)),
    CHECK (destroyed_at IS NULL OR wrapped_key IS NULL)
);
CREATE INDEX subject_keys_wrapped_by ON subject_keys (wrapped_by) WHERE destroyed_at IS NULL;

-- Server secrets: named 32-byte secrets (CSRF, keyed email lookup) shared
-- by every node, wrapped by the master keyset with the name as associated
-- data.
CREATE TABLE server_secrets (
    name         TEXT PRIMARY KEY,
    wrapped      BYTEA NOT NULL,
    wrapped_by   BIGINT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    rewrapped_at TIMESTAMPTZ
);

-- Master key rotations: one row per key added by `portico keys rotate`.
-- A row with no finished_at whose key is the keyset's primary is a
-- rotation whose re-wrap was interrupted; the next run finishes it instead
-- of adding another key. outcome is 'done', 'abandoned' (the key never
-- reached the keyset file) or 'superseded' (a newer key became primary
-- first; its items were re-wrapped under that one).
CREATE TABLE key_rotations (
    key_id          BIGINT PRIMARY KEY,
    previous_key_id BIGINT NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    outcome         TEXT
);

-- +goose Down
DROP TABLE key_rotations;
DROP TABLE server_secrets;
DROP TABLE subject_keys;
