-- +goose Up
-- When the organisation became aware of a personal-data breach (GDPR Art.
-- 33(1): the regulator's 72 hours run from it), set later than detection
-- with the reason: a security incident found at 09:00 may be known to
-- involve personal data only at 15:00. Enforces MTL-5.1.1.
ALTER TABLE incidents ADD COLUMN aware_reason TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE incidents DROP COLUMN aware_reason;
