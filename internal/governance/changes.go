package governance

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Significant change (CP-11.2: "annual review, or on significant
// change") marks every document with a version in force as due for
// review now, with the reason. Three changes count:
//
//   - an edit of the policy profile: the policy.change events the
//     administrators' edit (or its approval) appends, one per setting;
//   - a new major version of Portico: the running binary's major
//     version (buildinfo) differs from the last one seen;
//   - an incident closed with its post-incident review: an incident
//     (not a drill) whose phase became closed while it had a review, or
//     whose review was written after it closed; once per incident.
//
// They are observed by the leased pass (Run), which reads the audit
// trail after the sequence number it read up to (policydoc_state
// audit_seq) rather than by hooks in the packages that make the changes:
// those packages stay unaware of governance, a change made while no node
// ran the pass is still seen, and the mark moves in the transaction that
// marks the documents, so each change counts once.

// Keys of policydoc_state.
const (
	stateAuditSeq = "audit_seq"
	stateMajor    = "portico_major"
)

// changeActions are the audit actions the pass reads.
var changeActions = []string{"policy.change", "incident.phase", "incident.review"}

// scanBatch bounds the events read in one transaction.
const scanBatch = 500

// maxReason bounds the reasons kept on a document.
const maxReason = 1000

// startWatching starts the significant-change pass at the end of the
// audit trail, in the transaction that creates the first document:
// changes before any document existed ask nothing of it.
func (s *Service) startWatching(ctx context.Context, tx *db.Tx) error {
	var head sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(seq) FROM audit_events`).Scan(&head); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO policydoc_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		stateAuditSeq, strconv.FormatInt(head.Int64, 10))
	return err
}

func state(ctx context.Context, q querier, name string) (string, bool, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM policydoc_state WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

func setState(ctx context.Context, tx *db.Tx, name, value string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO policydoc_state (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}

// change is one significant change: its reason in words (no personal
// data) and the kind of source, for the audit trail.
type change struct{ source, reason string }

// ObserveChanges marks the documents due for review for each
// significant change since the last pass, and reports how many changes
// it found. Run calls it under its lease.
//
// Enforces CP-11.2: a significant change (a policy profile edit, a new
// major version of Portico, an incident closed with lessons) asks for a
// review of every document in force, audited with the reason.
func (s *Service) ObserveChanges(ctx context.Context) (int, error) {
	n, err := s.observeVersion(ctx)
	if err != nil {
		return n, err
	}
	for {
		k, more, err := s.observeTrail(ctx)
		n += k
		if err != nil || !more {
			return n, err
		}
	}
}

// Major is the major version of a Portico version string: "v1" for
// "v1.4.2", "v0.7" for "v0.7.3" (before 1.0 a minor version may break
// things), "" for a development build.
func Major(version string) string {
	v := strings.TrimPrefix(version, "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return ""
	}
	for _, p := range parts[:2] {
		if _, err := strconv.Atoi(p); err != nil {
			return ""
		}
	}
	if parts[0] == "0" {
		return "v0." + parts[1]
	}
	return "v" + parts[0]
}

// observeVersion compares the running major version with the last one
// seen; the first seen is only remembered.
func (s *Service) observeVersion(ctx context.Context) (int, error) {
	major := Major(s.version())
	if major == "" {
		return 0, nil // a development build: no version to compare
	}
	seen, ok, err := state(ctx, s.db, stateMajor)
	if err != nil || seen == major {
		return 0, err
	}
	n := 0
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		n = 0
		seen, ok, err = state(ctx, tx, stateMajor)
		if err != nil || seen == major {
			return err
		}
		if err := setState(ctx, tx, stateMajor, major); err != nil {
			return err
		}
		if !ok {
			return nil
		}
		n = 1
		events, err := s.requestReview(ctx, tx, change{source: "portico.version",
			reason: fmt.Sprintf("Portico was upgraded from %s to %s", seen, major)})
		if err != nil {
			return err
		}
		return s.appendAll(ctx, tx, events)
	})
	return n, err
}

// observeTrail reads one batch of the audit trail after the mark and
// marks the documents for what it finds; more is set when the batch was
// full.
func (s *Service) observeTrail(ctx context.Context) (n int, more bool, err error) {
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		n, more = 0, false
		v, ok, err := state(ctx, tx, stateAuditSeq)
		if err != nil || !ok {
			return err // no document yet: nothing to mark
		}
		mark, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("governance: policydoc_state audit_seq %q: %w", v, err)
		}
		var head sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(seq) FROM audit_events`).Scan(&head); err != nil {
			return err
		}
		if head.Int64 <= mark {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT seq, action, target, details FROM audit_events
			WHERE seq > $1 AND seq <= $2 AND action IN ($3, $4, $5) ORDER BY seq LIMIT $6`,
			mark, head.Int64, changeActions[0], changeActions[1], changeActions[2], scanBatch)
		if err != nil {
			return err
		}
		type event struct {
			seq                     int64
			action, target, details string
		}
		var events []event
		for rows.Next() {
			var e event
			if err := rows.Scan(&e.seq, &e.action, &e.target, &e.details); err != nil {
				rows.Close()
				return err
			}
			events = append(events, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		upTo := head.Int64
		if len(events) == scanBatch {
			upTo, more = events[len(events)-1].seq, true
		}
		var settings []string
		var closed []string // incidents closed with lessons, in order
		for _, e := range events {
			switch e.action {
			case "policy.change":
				if k := strings.TrimPrefix(e.target, "policy:"); !slices.Contains(settings, k) {
					settings = append(settings, k)
				}
			case "incident.phase", "incident.review":
				var d struct {
					To string `json:"to"`
				}
				if e.action == "incident.phase" {
					if json.Unmarshal([]byte(e.details), &d) != nil || d.To != "closed" {
						continue
					}
				}
				id := strings.TrimPrefix(e.target, "incident:")
				if ok, err := s.closedWithLessons(ctx, tx, id); err != nil {
					return err
				} else if ok && !slices.Contains(closed, id) {
					closed = append(closed, id)
				}
			}
		}
		var changes []change
		if len(settings) > 0 {
			changes = append(changes, change{source: "policy.change",
				reason: "The policy profile changed (" + oneLine(strings.Join(settings, ", "), 200) + ")"})
		}
		for _, id := range closed {
			res, err := tx.ExecContext(ctx, `INSERT INTO policydoc_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
				"incident:"+id, tx.Now().UTC().Format(time.RFC3339))
			if err != nil {
				return err
			}
			if k, err := res.RowsAffected(); err != nil {
				return err
			} else if k == 0 {
				continue // counted already (its review was rewritten)
			}
			changes = append(changes, change{source: "incident.review", reason: "Incident " + id + " closed with a post-incident review"})
		}
		var all []audit.Event
		for _, c := range changes {
			events, err := s.requestReview(ctx, tx, c)
			if err != nil {
				return err
			}
			all = append(all, events...)
		}
		n = len(changes)
		if err := setState(ctx, tx, stateAuditSeq, strconv.FormatInt(upTo, 10)); err != nil {
			return err
		}
		return s.appendAll(ctx, tx, all)
	})
	return n, more, err
}

// closedWithLessons reports whether an incident is closed, is not a
// drill, and has its post-incident review.
func (s *Service) closedWithLessons(ctx context.Context, tx *db.Tx, id string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents i JOIN incident_reviews r ON r.incident_id = i.id
		WHERE i.id = $1 AND i.closed_at IS NOT NULL AND i.exercise_id IS NULL`, id).Scan(&n)
	return n > 0, err
}

// appendAll appends the events, last in the transaction: the audit
// chain's head stays locked from the first append to the commit, so no
// row is written after it.
func (s *Service) appendAll(ctx context.Context, tx *db.Tx, events []audit.Event) error {
	for _, e := range events {
		if _, err := s.audit.Append(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// requestReview marks every document with a version in force as due for
// review now, for c, and returns the events that audit each
// (policydoc.review_requested), to append last. A document already
// asked keeps the time of the first request and gains the reason.
func (s *Service) requestReview(ctx context.Context, tx *db.Tx, c change) ([]audit.Event, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, review_requested_reason FROM policy_documents d
		WHERE EXISTS (SELECT 1 FROM policy_document_versions v WHERE v.document_id = d.id AND v.approved_at IS NOT NULL) ORDER BY id`)
	if err != nil {
		return nil, err
	}
	type doc struct{ id, reason string }
	var docs []doc
	for rows.Next() {
		var d doc
		if err := rows.Scan(&d.id, &d.reason); err != nil {
			rows.Close()
			return nil, err
		}
		docs = append(docs, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	now := tx.Now()
	var events []audit.Event
	for _, d := range docs {
		reason := c.reason
		if d.reason != "" {
			reason = oneLine(d.reason+"; "+c.reason, maxReason)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policy_documents SET review_requested_at = COALESCE(review_requested_at, $1), review_requested_reason = $2 WHERE id = $3`,
			now, reason, d.id); err != nil {
			return nil, err
		}
		events = append(events, audit.Event{Action: "policydoc.review_requested", Target: "policydoc:" + d.id, Outcome: audit.Success,
			Details: map[string]any{"source": c.source, "reason": c.reason}})
	}
	return events, nil
}
