-- +goose Up
-- The key that signs evidence bundles (internal/compliance; issue 14).
-- Enforces MTL-7.2 (an external auditor verifies the evidence without
-- trusting the operator: the bundle's manifest is signed with Ed25519).

-- compliance_signing_keys: the public half of every evidence signing key,
-- current and retired (kept so that bundles signed before a rotation still
-- verify). The private key is never here: its 32-byte seed is the server
-- secret "compliance-signing:<id>", wrapped by the master keyset.
-- fingerprint is the hex SHA-256 of the public key's PKIX (DER) encoding.
-- At most one key is current (retired_at NULL): the unique index on the
-- constant for those rows lets two nodes creating the first key at once
-- agree on one.
CREATE TABLE compliance_signing_keys (
    id          TEXT PRIMARY KEY,
    public_key  BLOB NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    retired_at  TIMESTAMP
);
CREATE UNIQUE INDEX compliance_signing_keys_current ON compliance_signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- +goose Down
DROP TABLE compliance_signing_keys;
