-- +goose Up
-- A step-up-protected action held while its session re-authenticates
-- (MTL-3.2.2, CP-6.3): the form values are kept on the server, encrypted
-- under the account's data key, bound to the session, used once and only
-- for a few minutes, so that confirming the password completes the action
-- instead of losing it.
CREATE TABLE pending_actions (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    form_enc   BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX pending_actions_session ON pending_actions (session_id);
CREATE INDEX pending_actions_expires ON pending_actions (expires_at);

-- +goose Down
DROP TABLE pending_actions;
