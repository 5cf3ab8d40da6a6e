-- +goose Up
-- Audit trail (internal/audit). Enforces CP-5.3, CP-8.1, MTL-1.1: a
-- tamper-evident, append-only record of every security-relevant event.
--
-- Each event stores the SHA-256 of its predecessor (prev_hash) and its own
-- hash over a canonical encoding of seq, prev_hash and every other column
-- (documented in internal/audit/hash.go), so that verify can recompute the
-- chain from the columns alone. seq is assigned by the chain (from
-- audit_head), never by the database: INTEGER PRIMARY KEY makes it the rowid,
-- so the table is one b-tree keyed by seq, but a value is always given.
-- details is canonical JSON kept as TEXT, exactly the bytes that were hashed.
-- Events hold no secret, token, password or personal field; actor and target
-- are opaque IDs.
CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY,
    at         TIMESTAMP NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    ip         TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    request_id TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL,
    CHECK (seq > 0),
    CHECK (length(prev_hash) = 32 AND length(hash) = 32)
);
-- No index on at: every index is written on every append (an index on at
-- cost a fifth of SQLite's append rate), and export --since, the only
-- reader by time, scans in seq order anyway.

-- The head of the chain: one row with the newest seq and hash (seq 0 and
-- 32 zero bytes before the first event). Appending updates it first, which
-- serialises appenders on this row, and a verify compares it with the last
-- event, which detects a truncated tail.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BLOB NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- Defence in depth: the application never changes or removes an event, so
-- the database refuses to. Someone with direct database access can drop
-- these triggers; the hash chain and external anchors catch what they do
-- next.
-- audit_head is updated by every append, so nothing guards its UPDATE: a
-- trigger there cost SQLite a tenth of its append rate, to stop a mistake
-- that only someone editing the table by hand could make. A head moved back
-- is found by verify against an anchor.
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit trail is append-only: UPDATE on audit_events rejected');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit trail is append-only: DELETE on audit_events rejected');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit trail is append-only: DELETE on audit_head rejected');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_head_no_delete;
DROP TRIGGER audit_events_no_delete;
DROP TRIGGER audit_events_no_update;
DROP TABLE audit_head;
DROP TABLE audit_events;
