-- +goose Up
-- Security-awareness training (internal/training; issue 13). Enforces
-- MTL-8.1 (training modules with a quiz and a pass mark, assigned to
-- staff by role, contractors included; completion tracked; reminders
-- before it falls due) and CP-12 (passing every assigned module records
-- accounts.training_completed_at, which lifts the restricted mode).

-- training_modules: each version of a module. quiz is the quiz in the
-- text format of internal/training/format.go, the right answers with it:
-- it is read on the server and never sent to the browser. audience is a
-- comma-separated list of staff roles. The version in use is the
-- highest; active is read from it. The built-in modules are version 1 of
-- their slug, installed once (the primary key is the "once").
CREATE TABLE training_modules (
    slug       TEXT NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    title      TEXT NOT NULL,
    lesson     TEXT NOT NULL,
    quiz       TEXT NOT NULL,
    pass_mark  INTEGER NOT NULL CHECK (pass_mark BETWEEN 1 AND 100),
    audience   TEXT NOT NULL,
    active     BOOLEAN NOT NULL,
    builtin    BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (slug, version)
);

-- training_attempts: each quiz a member of staff sent, with its score
-- (percent) and whether it passed; never the answers.
CREATE TABLE training_attempts (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    slug       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    score      INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    passed     BOOLEAN NOT NULL,
    taken_at   TIMESTAMP NOT NULL
);
CREATE INDEX training_attempts_account ON training_attempts (account_id, slug, taken_at);

-- training_reminders: the reminders and the overdue alert sent for each
-- member of staff and due date (RFC 3339, UTC), once each: the primary
-- key is the "once", on any number of nodes.
CREATE TABLE training_reminders (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    due        TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('before', 'due', 'overdue')),
    sent_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, due, kind)
);

-- The administrator's note on training recorded by hand (done outside
-- Portico), kept with the record it explains; emptied when the modules
-- record it.
ALTER TABLE accounts ADD COLUMN training_note TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE accounts DROP COLUMN training_note;
DROP TABLE training_reminders;
DROP TABLE training_attempts;
DROP TABLE training_modules;
