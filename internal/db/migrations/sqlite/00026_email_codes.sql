-- +goose Up
-- The one-time code emailed for a sign-in that detection challenged when
-- the account has no second factor (CP-8.2). One row per pending sign-in,
-- keyed by its session: while the row exists, the session can do nothing
-- but enter the code. The code is kept only as an HMAC under a server
-- secret, bound to the session; tries counts the wrong codes (at most 5)
-- and sends the emails (at most 4: the first and 3 new codes). The row goes
-- when the sign-in completes, and with its session when it runs out of
-- tries or expires (the maintenance sweep ends both).
CREATE TABLE email_codes (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    tries      INTEGER NOT NULL DEFAULT 0,
    sends      INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX email_codes_expires ON email_codes (expires_at);
CREATE INDEX email_codes_account ON email_codes (account_id);

-- +goose Down
DROP TABLE email_codes;
