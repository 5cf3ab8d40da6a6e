-- +goose Up
-- The credentials epoch (CP-6.3, CP-4.1): every action that gets an
-- attacker out (a password reset or change, "sign out everywhere", an
-- administrator's "end sessions", a risk sign-out, a suspicious-activity
-- report, a role change, a disabled account) moves the account's epoch in
-- the same transaction. Each session and API token records the epoch it was
-- issued under, and one older than its account's is refused on every node,
-- even one created by a request that raced the action.
ALTER TABLE accounts ADD COLUMN credentials_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN credentials_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN credentials_epoch INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN credentials_epoch;
ALTER TABLE sessions DROP COLUMN credentials_epoch;
ALTER TABLE accounts DROP COLUMN credentials_epoch;
