-- +goose Up
-- Four eyes (CP-4.2, CP-5.2, CP-5.3, MTL-7.2): a change that one
-- administrator may not make alone is filed here and carried out only when
-- a second administrator (never the requester, never the account
-- concerned) approves it: granting or removing the admin role, disabling
-- an administrator, and a policy edit that weakens a control (a shorter
-- retention, weaker MFA, lockout, password or session rules, a longer
-- step-up window). payload is the change as JSON (a role, the policy
-- settings' new values): no personal data. The decision is one
-- conditional UPDATE (decided_at IS NULL), so a concurrent approve, reject
-- or cancel wins or loses cleanly. role_requests moves in here.
CREATE TABLE approvals (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('role.change', 'account.disable', 'policy.edit')),
    target       TEXT NOT NULL,
    payload      TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    decided_by   TEXT,
    decided_at   TIMESTAMPTZ,
    outcome      TEXT CHECK (outcome IN ('approved', 'rejected', 'cancelled'))
);
CREATE INDEX approvals_open ON approvals (created_at) WHERE decided_at IS NULL;
CREATE INDEX approvals_target ON approvals (kind, target) WHERE decided_at IS NULL;
INSERT INTO approvals (id, kind, target, payload, requested_by, created_at, expires_at, decided_by, decided_at, outcome)
    SELECT id, 'role.change', account_id, json_build_object('role', role)::text, requested_by, created_at, expires_at, decided_by, decided_at, outcome
    FROM role_requests;
DROP TABLE role_requests;

-- +goose Down
SELECT 1;
