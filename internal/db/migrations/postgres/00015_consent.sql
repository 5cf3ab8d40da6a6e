-- +goose Up
-- Privacy notice versions and consents (internal/privacy, MTL-2.1.1,
-- MTL-2.1.2). Administrators publish versions; customers acknowledge the
-- current one (accounts.privacy_version, with every acknowledgement kept in
-- notice_acks). Optional purposes are separate consents, each change a row:
-- the history shows what the customer agreed to, when, under which notice.
CREATE TABLE privacy_notices (
    version      TEXT PRIMARY KEY,
    published_at TIMESTAMPTZ NOT NULL,
    published_by TEXT NOT NULL,
    changes      TEXT NOT NULL
);
CREATE INDEX privacy_notices_published ON privacy_notices (published_at);
CREATE TABLE notice_acks (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    version    TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, version)
);
CREATE TABLE consents (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose        TEXT NOT NULL,
    granted        BOOLEAN NOT NULL,
    at             TIMESTAMPTZ NOT NULL,
    notice_version TEXT NOT NULL
);
CREATE INDEX consents_account ON consents (account_id, purpose, at);

-- +goose Down
DROP TABLE consents;
DROP TABLE notice_acks;
DROP TABLE privacy_notices;
