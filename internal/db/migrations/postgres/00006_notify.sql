-- +goose Up
-- Security notices for customers (internal/notify). Enforces CP-9.1 and
-- MTL-5.1.2 (delivered in-portal and by email), CP-5.1 (the recipient,
-- subject and body are personal data, encrypted under the account's own
-- data key with associated data outbox.<column>[id]) and MTL-1.1 (mail is
-- written in the same transaction as the change that causes it, and stays
-- here until it is sent or given up on: nothing is lost when the mail
-- server is down or not configured).

-- The transactional outbox. A worker (notify.Service.DeliverDue) claims due
-- pending rows, sends them and records the outcome. Claiming sets
-- claimed_by to a random token and moves next_attempt_at past the lease, so
-- no other node takes the row while it is being sent, and a node that dies
-- mid-send leaves it due again once the lease ends. attempts counts claims.
-- last_error is a fixed description with the SMTP status code, never the
-- server's text (which can echo the address).
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    recipient_enc   BYTEA NOT NULL,
    subject_enc     BYTEA NOT NULL,
    body_enc        BYTEA NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    claimed_by      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
-- The worker's query: due pending rows, oldest due first.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
-- The admin page's query (undelivered mail) and the cascade on account
-- deletion.
CREATE INDEX outbox_undelivered ON outbox (created_at) WHERE status <> 'sent';
CREATE INDEX outbox_account ON outbox (account_id);

-- The in-portal inbox. title is plain and generic ("New sign-in from a new
-- device"); body holds the specifics (times, IP addresses, countries) and
-- is encrypted with associated data notices.body_enc[id].
CREATE TABLE notices (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body_enc   BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    read_at    TIMESTAMPTZ
);
-- An account's inbox, newest first; the unread count.
CREATE INDEX notices_account ON notices (account_id, created_at DESC, id DESC);
CREATE INDEX notices_unread ON notices (account_id) WHERE read_at IS NULL;

-- +goose Down
DROP TABLE notices;
DROP TABLE outbox;
