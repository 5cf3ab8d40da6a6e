-- +goose Up
-- Policy documents and their reviews (internal/governance, policydoc.go,
-- changes.go, warn.go; issue 13). Enforces CP-11.2 (policy documents
-- versioned with an owner, approved by a second administrator, reviewed
-- every governance.policy_review_interval and on significant change, an
-- overdue review alerted) and, in part, MTL-5.2.1.
--
-- Everything here is written by staff about a policy, not about a
-- person: people appear only as opaque account IDs.

-- policy_documents: one row per document. id is its slug. generated_from
-- names the policy a document was generated from (its clause register),
-- NULL for one the operator imported; the UNIQUE constraint makes the
-- generation happen once, whichever node starts first. review_due is the
-- approval (or the last review without change) plus the interval, NULL
-- until a version is approved. review_requested_at and its reason mark a
-- significant change since. overdue_alerted is the due date (RFC 3339)
-- last alerted as overdue, so each due date alerts once.
CREATE TABLE policy_documents (
    id                      TEXT PRIMARY KEY,
    title                   TEXT NOT NULL,
    owner                   TEXT NOT NULL,
    generated_from          TEXT UNIQUE,
    created_at              TIMESTAMPTZ NOT NULL,
    created_by              TEXT NOT NULL,
    review_due              TIMESTAMPTZ,
    review_requested_at     TIMESTAMPTZ,
    review_requested_reason TEXT NOT NULL DEFAULT '',
    overdue_alerted         TEXT NOT NULL DEFAULT ''
);

-- policy_document_versions: each version's Markdown. A version is a draft
-- until approved_at is set, and never changes after; its approver is not
-- its author (four eyes).
CREATE TABLE policy_document_versions (
    document_id TEXT NOT NULL REFERENCES policy_documents (id),
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    summary     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    approved_at TIMESTAMPTZ,
    approved_by TEXT,
    PRIMARY KEY (document_id, version),
    CHECK (approved_by IS NULL OR approved_by <> created_by)
);

-- policy_reviews: the reviews recorded, with their outcome; a review
-- that changed the document names the version it led to.
CREATE TABLE policy_reviews (
    id          TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES policy_documents (id),
    reviewed_at TIMESTAMPTZ NOT NULL,
    reviewer    TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('no_change', 'changes_needed', 'changed')),
    version     INTEGER,
    notes       TEXT NOT NULL,
    due_before  TIMESTAMPTZ,
    due_after   TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX policy_reviews_document ON policy_reviews (document_id, reviewed_at);

-- policydoc_state: what the significant-change pass remembers: the audit
-- sequence number read up to (audit_seq), the last major version of
-- Portico seen (portico_major), and the incidents already counted
-- (incident:<id>), so that each change marks the documents once.
CREATE TABLE policydoc_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE policydoc_state;
DROP TABLE policy_reviews;
DROP TABLE policy_document_versions;
DROP TABLE policy_documents;
