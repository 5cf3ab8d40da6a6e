-- +goose Up
-- Staff invitations (issue 10): an invited member of staff is an account
-- in status 'invited', with no password, until they open the single-use
-- link (account_tokens, purpose 'invite', stored as a hash) and choose
-- one. invited_by is the opaque ID of the administrator who invited them.
ALTER TABLE accounts ADD COLUMN invited_by TEXT;

-- +goose Down
ALTER TABLE accounts DROP COLUMN invited_by;
