-- +goose Up
-- Data-subject requests (internal/privacy, CP-11.1, MTL-7.1): access
-- (export) and erasure, each with its legal deadline (due_at). No foreign
-- key to accounts: the request outlives an erasure as the pseudonymous
-- record that it was carried out. An export's download link is single use:
-- the table holds the SHA-256 of its token only.
CREATE TABLE privacy_requests (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('export', 'erasure')),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'done', 'cancelled')),
    created_at       TIMESTAMP NOT NULL,
    due_at           TIMESTAMP NOT NULL,
    scheduled_for    TIMESTAMP,
    completed_at     TIMESTAMP,
    token_hash       BLOB UNIQUE,
    token_expires_at TIMESTAMP
);
CREATE INDEX privacy_requests_account ON privacy_requests (account_id, created_at);
CREATE INDEX privacy_requests_open ON privacy_requests (status, scheduled_for);

-- +goose Down
DROP TABLE privacy_requests;
