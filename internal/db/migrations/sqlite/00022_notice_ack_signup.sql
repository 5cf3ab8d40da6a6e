-- +goose Up
-- The privacy notice accepted at sign-up is an acknowledgement like the
-- later ones (CP-11.1, MTL-2.1.2): kept in notice_acks, marked at_sign_up,
-- so that it survives the customer's acknowledging a newer version (which
-- overwrites accounts.privacy_version) and is in their data export.
ALTER TABLE notice_acks ADD COLUMN at_sign_up BOOLEAN NOT NULL DEFAULT FALSE;
-- An account's accepted version that no acknowledgement holds can only have
-- come from the sign-up form: acknowledging later writes both.
INSERT INTO notice_acks (account_id, version, at, at_sign_up)
SELECT a.id, a.privacy_version, a.privacy_accepted_at, TRUE FROM accounts a
WHERE a.privacy_version <> '' AND a.privacy_accepted_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM notice_acks n WHERE n.account_id = a.id AND n.version = a.privacy_version);

-- +goose Down
ALTER TABLE notice_acks DROP COLUMN at_sign_up;
