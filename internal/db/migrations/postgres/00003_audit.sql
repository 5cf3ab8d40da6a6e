-- +goose Up
-- Audit trail (internal/audit). Enforces CP-5.3, CP-8.1, MTL-1.1: a
-- tamper-evident, append-only record of every security-relevant event.
--
-- Each event stores the SHA-256 of its predecessor (prev_hash) and its own
-- hash over a canonical encoding of seq, prev_hash and every other column
-- (documented in internal/audit/hash.go), so that verify can recompute the
-- chain from the columns alone. seq is assigned by the chain (from
-- audit_head), not by a sequence: a sequence would leave gaps on rollback,
-- and a gap is what verify reports as a removed event. details is canonical
-- JSON kept as TEXT, not JSONB, because JSONB re-orders keys and the hash
-- covers the exact bytes. Events hold no secret, token, password or personal
-- field; actor and target are opaque IDs.
CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    ip         TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    request_id TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL,
    CHECK (seq > 0),
    CHECK (length(prev_hash) = 32 AND length(hash) = 32)
);
-- No index on at: every index is written on every append (an index on at
-- cost a fifth of SQLite's append rate), and export --since, the only
-- reader by time, scans in seq order anyway.

-- The head of the chain: one row with the newest seq and hash (seq 0 and
-- 32 zero bytes before the first event). Appending updates it first, which
-- locks the row until commit: every node appends to one chain, in order. A
-- verify compares it with the last event, which detects a truncated tail.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Defence in depth: the application never changes or removes an event, so
-- the database refuses to (TRUNCATE included, which row triggers do not
-- see). Someone with direct database access can drop these triggers; the
-- hash chain and external anchors catch what they do next.
-- audit_head is updated by every append, so nothing guards its UPDATE: a
-- trigger there cost SQLite a tenth of its append rate, to stop a mistake
-- that only someone editing the table by hand could make. A head moved back
-- is found by verify against an anchor.
-- +goose StatementBegin
CREATE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit trail is append-only: % on % rejected', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();

-- +goose Down
DROP TABLE audit_head;
DROP TABLE audit_events;
DROP FUNCTION audit_reject_change();
