-- +goose Up
-- A change of email address waits here, encrypted under the account's data
-- key, until the new address confirms it with a single-use link.
ALTER TABLE accounts ADD COLUMN pending_email_enc BYTEA;

-- +goose Down
ALTER TABLE accounts DROP COLUMN pending_email_enc;
