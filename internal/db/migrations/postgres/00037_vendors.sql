-- +goose Up
-- Third parties (internal/vendor; issue 13). Enforces CP-10.1 (the
-- register of vendors with the data they receive, a risk tier and the
-- security team's approval, and their assessments), MTL-6.1 (the
-- assessment's questions, answered by staff or by the vendor through a
-- single-use link), CP-10.2 (the history of the scheduled checks of the
-- vendors' endpoints, reassessment and contract expiry), MTL-6.2 (the
-- agreements with their security clauses) and MTL-1.2 (the staff and
-- contractor accounts linked to a vendor).
--
-- Everything here is about organisations and their contracts, not a
-- person: staff appear only as opaque account IDs.

-- vendors: the register. data_categories and endpoints are JSON arrays
-- (the inventory's category names; https URLs). review_due is the latest
-- approved assessment's approval plus governance.vendor_review_interval.
CREATE TABLE vendors (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    service         TEXT NOT NULL,
    data_categories TEXT NOT NULL,
    endpoints       TEXT NOT NULL,
    owner           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'retired')),
    created_at      TIMESTAMPTZ NOT NULL,
    created_by      TEXT NOT NULL,
    approved_at     TIMESTAMPTZ,
    approved_by     TEXT,
    retired_at      TIMESTAMPTZ,
    review_due      TIMESTAMPTZ
);

-- vendor_assessments: one assessment against a version of the question
-- set. answers is a JSON object (question ID to answer). A vendor's link
-- is kept as the SHA-256 of its token only, used once before it expires.
CREATE TABLE vendor_assessments (
    id                TEXT PRIMARY KEY,
    vendor_id         TEXT NOT NULL REFERENCES vendors (id),
    questions_version TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('open', 'submitted', 'approved')),
    answers           TEXT NOT NULL DEFAULT '{}',
    score             INTEGER NOT NULL DEFAULT 0,
    outcome           TEXT NOT NULL DEFAULT '',
    link_hash         BYTEA UNIQUE,
    link_expires_at   TIMESTAMPTZ,
    link_used_at      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    created_by        TEXT NOT NULL,
    submitted_at      TIMESTAMPTZ,
    submitted_by      TEXT,
    approved_at       TIMESTAMPTZ,
    approved_by       TEXT,
    review_due        TIMESTAMPTZ,
    CHECK (approved_by IS NULL OR approved_by <> submitted_by)
);
CREATE INDEX vendor_assessments_vendor ON vendor_assessments (vendor_id, created_at);

-- vendor_agreements: contracts and DPAs, the file kept with its SHA-256.
-- clauses is a JSON array of the security clauses it holds.
CREATE TABLE vendor_agreements (
    id           TEXT PRIMARY KEY,
    vendor_id    TEXT NOT NULL REFERENCES vendors (id),
    kind         TEXT NOT NULL CHECK (kind IN ('contract', 'dpa')),
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    body         BYTEA NOT NULL,
    clauses      TEXT NOT NULL,
    starts_on    TIMESTAMPTZ NOT NULL,
    expires_on   TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE INDEX vendor_agreements_vendor ON vendor_agreements (vendor_id, expires_on);

-- vendor_checks: the history of the checks of each endpoint. items is
-- the JSON of vendorcheck's items, which the next check is compared with.
CREATE TABLE vendor_checks (
    id           TEXT PRIMARY KEY,
    vendor_id    TEXT NOT NULL REFERENCES vendors (id),
    endpoint     TEXT NOT NULL,
    checked_at   TIMESTAMPTZ NOT NULL,
    reachable    BOOLEAN NOT NULL,
    tls_version  TEXT NOT NULL,
    cipher       TEXT NOT NULL,
    cert_expiry  TIMESTAMPTZ,
    hsts         TEXT NOT NULL,
    security_txt TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('good', 'warn', 'bad')),
    findings     TEXT NOT NULL,
    items        TEXT NOT NULL
);
CREATE INDEX vendor_checks_endpoint ON vendor_checks (vendor_id, endpoint, checked_at);

-- vendor_people: staff and contractor accounts that work for a vendor
-- (MTL-1.2).
CREATE TABLE vendor_people (
    vendor_id  TEXT NOT NULL REFERENCES vendors (id),
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    added_at   TIMESTAMPTZ NOT NULL,
    added_by   TEXT NOT NULL,
    PRIMARY KEY (vendor_id, account_id)
);
CREATE INDEX vendor_people_account ON vendor_people (account_id);

-- +goose Down
DROP TABLE vendor_people;
DROP TABLE vendor_checks;
DROP TABLE vendor_agreements;
DROP TABLE vendor_assessments;
DROP TABLE vendors;
