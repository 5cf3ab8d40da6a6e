-- +goose Up
-- Every data-subject request is tracked with its deadline, restriction and
-- rectification too (CP-11.1, MTL-7.1).
ALTER TABLE privacy_requests DROP CONSTRAINT privacy_requests_kind_check;
ALTER TABLE privacy_requests ADD CONSTRAINT privacy_requests_kind_check
    CHECK (kind IN ('export', 'erasure', 'restriction', 'rectification'));

-- +goose Down
ALTER TABLE privacy_requests DROP CONSTRAINT privacy_requests_kind_check;
ALTER TABLE privacy_requests ADD CONSTRAINT privacy_requests_kind_check CHECK (kind IN ('export', 'erasure'));
