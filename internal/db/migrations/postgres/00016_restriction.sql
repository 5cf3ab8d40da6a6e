-- +goose Up
-- Restriction of processing (CP-11.1, GDPR Art. 18): while set, the
-- account is read-only for everyone (its owner keeps their data rights and
-- security), and it gets no notices but the legally required ones.
ALTER TABLE accounts ADD COLUMN restricted_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE accounts DROP COLUMN restricted_at;
