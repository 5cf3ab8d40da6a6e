-- +goose Up
-- Retention of the audit trail (CP-5.2, CP-5.3). Events older than the
-- profile's period are pruned from the start of the chain. Each prune is
-- recorded here first, with the hash of the last event it removes, which
-- the first remaining event's prev_hash must match: the chain still
-- verifies from there, and the prune is itself an event of the chain. The
-- append-only trigger lets rows go only up to the latest recorded prune.
CREATE TABLE audit_prunes (
    through_seq  BIGINT PRIMARY KEY,
    through_hash BYTEA NOT NULL CHECK (length(through_hash) = 32),
    pruned_at    TIMESTAMPTZ NOT NULL,
    events       BIGINT NOT NULL
);
CREATE TRIGGER audit_prunes_no_update BEFORE UPDATE ON audit_prunes
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_prunes_no_delete BEFORE DELETE ON audit_prunes
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
-- +goose StatementBegin
CREATE FUNCTION audit_events_delete_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.seq > COALESCE((SELECT MAX(through_seq) FROM audit_prunes), 0) THEN
        RAISE EXCEPTION 'audit trail is append-only: DELETE on audit_events rejected'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN OLD;
END;
$$;
-- +goose StatementEnd
DROP TRIGGER audit_events_no_delete ON audit_events;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_delete_guard();

-- +goose Down
DROP TRIGGER audit_events_no_delete ON audit_events;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
DROP FUNCTION audit_events_delete_guard();
DROP TABLE audit_prunes;
