-- +goose Up
-- The auditors' search (internal/audit/search.go) by actor, action prefix
-- and target, newest first (CP-5.3, MTL-7.2).
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_target ON audit_events (target, seq);

-- +goose Down
DROP INDEX audit_events_target;
DROP INDEX audit_events_action;
DROP INDEX audit_events_actor;
