-- +goose Up
-- Retention of the audit trail (CP-5.2, CP-5.3). Events older than the
-- profile's period are pruned from the start of the chain. Each prune is
-- recorded here first, with the hash of the last event it removes, which
-- the first remaining event's prev_hash must match: the chain still
-- verifies from there, and the prune is itself an event of the chain. The
-- append-only trigger lets rows go only up to the latest recorded prune.
CREATE TABLE audit_prunes (
    through_seq  INTEGER PRIMARY KEY,
    through_hash BLOB NOT NULL CHECK (length(through_hash) = 32),
    pruned_at    TIMESTAMP NOT NULL,
    events       INTEGER NOT NULL
);
-- +goose StatementBegin
CREATE TRIGGER audit_prunes_no_update BEFORE UPDATE ON audit_prunes
BEGIN
    SELECT RAISE(ABORT, 'audit prunes are append-only: UPDATE rejected');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_prunes_no_delete BEFORE DELETE ON audit_prunes
BEGIN
    SELECT RAISE(ABORT, 'audit prunes are append-only: DELETE rejected');
END;
-- +goose StatementEnd
DROP TRIGGER audit_events_no_delete;
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > COALESCE((SELECT MAX(through_seq) FROM audit_prunes), 0)
BEGIN
    SELECT RAISE(ABORT, 'audit trail is append-only: DELETE on audit_events rejected');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_events_no_delete;
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit trail is append-only: DELETE on audit_events rejected');
END;
-- +goose StatementEnd
DROP TABLE audit_prunes;
