-- +goose Up
-- Every data-subject request is tracked with its deadline, restriction and
-- rectification too (CP-11.1, MTL-7.1). SQLite cannot change a CHECK in
-- place: the table is rebuilt.
CREATE TABLE privacy_requests_new (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('export', 'erasure', 'restriction', 'rectification')),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'done', 'cancelled')),
    created_at       TIMESTAMP NOT NULL,
    due_at           TIMESTAMP NOT NULL,
    scheduled_for    TIMESTAMP,
    completed_at     TIMESTAMP,
    token_hash       BLOB UNIQUE,
    token_expires_at TIMESTAMP
);
INSERT INTO privacy_requests_new SELECT id, account_id, kind, status, created_at, due_at, scheduled_for, completed_at, token_hash, token_expires_at FROM privacy_requests;
DROP TABLE privacy_requests;
ALTER TABLE privacy_requests_new RENAME TO privacy_requests;
CREATE INDEX privacy_requests_account ON privacy_requests (account_id, created_at);
CREATE INDEX privacy_requests_open ON privacy_requests (status, scheduled_for);

-- +goose Down
SELECT 1;
