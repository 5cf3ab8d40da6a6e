-- +goose Up
-- The support desk (internal/support). Everything a customer writes is
-- personal data: subjects, bodies, attachment names and contents are
-- encrypted under the customer's data key (CP-5.1, MTL-2.1.3), whoever
-- wrote them, so that erasing the customer shreds their tickets too.
CREATE TABLE tickets (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    subject_enc BLOB NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'pending', 'closed')),
    assignee_id TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    closed_at   TIMESTAMP
);
CREATE INDEX tickets_account ON tickets (account_id, updated_at);
CREATE INDEX tickets_queue ON tickets (status, updated_at);

CREATE TABLE ticket_messages (
    id         TEXT PRIMARY KEY,
    ticket_id  TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author_id  TEXT NOT NULL,
    staff      INTEGER NOT NULL,
    body_enc   BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, seq);

CREATE TABLE ticket_attachments (
    id           TEXT PRIMARY KEY,
    ticket_id    TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    message_id   TEXT NOT NULL REFERENCES ticket_messages (id) ON DELETE CASCADE,
    name_enc     BLOB NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    data_enc     BLOB NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX ticket_attachments_message ON ticket_attachments (message_id);

-- Reveals of masked personal data (MTL-3.2.2): who, whose, which field,
-- why (encrypted under the customer's key: the customer reads it in their
-- access history) and until when.
CREATE TABLE reveal_grants (
    id          TEXT PRIMARY KEY,
    staff_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    field       TEXT NOT NULL,
    reason_enc  BLOB NOT NULL,
    granted_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
CREATE INDEX reveal_grants_customer ON reveal_grants (customer_id, granted_at);
CREATE INDEX reveal_grants_staff ON reveal_grants (staff_id, customer_id, expires_at);

-- +goose Down
DROP TABLE reveal_grants;
DROP TABLE ticket_attachments;
DROP TABLE ticket_messages;
DROP TABLE tickets;
