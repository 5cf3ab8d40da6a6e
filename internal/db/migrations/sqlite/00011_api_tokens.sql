-- +goose Up
-- Personal access tokens (internal/apitoken). Enforces CP-6.3: the table
-- holds the SHA-256 of each token's secret, never the token; each token has
-- scopes within its holder's role at creation (role), an expiry, and can be
-- revoked. last_used_ip_enc is personal data, encrypted under the holder's
-- data key.
CREATE TABLE api_tokens (
    id               TEXT PRIMARY KEY,
    secret_hash      BLOB NOT NULL CHECK (length(secret_hash) = 32),
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role             TEXT NOT NULL,
    name             TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    last_used_at     TIMESTAMP,
    last_used_ip_enc BLOB,
    revoked_at       TIMESTAMP
);
CREATE INDEX api_tokens_account ON api_tokens (account_id, created_at);

-- +goose Down
DROP TABLE api_tokens;
