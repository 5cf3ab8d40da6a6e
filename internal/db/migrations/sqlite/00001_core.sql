-- +goose Up
-- Accounts: the people who use Portico. Each account is also a data
-- subject: its personal fields are encrypted under its own data key
-- (internal/crypto), and email is found through a keyed hash, never stored
-- in clear text (CP-5.1, MTL-2.1.3).
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    email_lookup  BLOB NOT NULL UNIQUE,
    email_enc     BLOB NOT NULL,
    role          TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'active',
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE accounts;
