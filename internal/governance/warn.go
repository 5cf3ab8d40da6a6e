package governance

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// passLease is the name of the policy documents' pass's lease
// (db.TakeLease).
const passLease = "governance.policy_documents"

// WarnOverdue records, once per document and due date, that a
// document's periodic review is overdue: the audit event
// governance.overdue (Target "policydoc:<id>", kind "policy_review"),
// which detection raises as a governance_overdue alert. It returns how
// many it recorded. A review asked for by a significant change shows as
// due on the pages and does not alert by itself (it is in the audit
// trail as policydoc.review_requested); the periodic date alerts.
//
// Enforces CP-11.2: a review not held by its due date is an alert.
func (s *Service) WarnOverdue(ctx context.Context) (int, error) {
	docs, err := s.Documents(ctx)
	if err != nil {
		return 0, err
	}
	now := s.db.Now()
	n := 0
	var errs []error
	for _, d := range docs {
		if !d.Overdue(now) {
			continue
		}
		warned, err := s.warnOnce(ctx, d.ID)
		if err != nil {
			errs = append(errs, err) // the others still warn; this one is tried again next pass
		}
		if warned {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// warnOnce records d's overdue review unless its due date was recorded
// already (by an earlier pass or another node) or the review moved
// meanwhile.
func (s *Service) warnOnce(ctx context.Context, id string) (bool, error) {
	warned := false
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		warned = false
		d, err := s.document(ctx, tx, id)
		if err != nil || !d.Overdue(tx.Now()) {
			return err
		}
		due := d.ReviewDue.UTC().Format(time.RFC3339)
		res, err := tx.ExecContext(ctx, `UPDATE policy_documents SET overdue_alerted = $1 WHERE id = $2 AND overdue_alerted <> $1`, due, id)
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil || k != 1 {
			return err
		}
		warned = true
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "governance.overdue", Target: "policydoc:" + d.ID, Outcome: audit.Success,
			Details: map[string]any{"kind": "policy_review", "due": due,
				"summary": "The review of the policy document " + d.ID + " was due on " + d.ReviewDue.UTC().Format("2 January 2006") + " and is overdue."}})
		return err
	})
	return warned, err
}

// Run, at once and every interval until ctx ends, on one node at a time
// (db.RunLeased, lease governance.policy_documents): generates the
// default documents on its first pass (EnsureDefaults, idempotent), marks
// the documents for the significant changes since the last pass
// (ObserveChanges) and alerts overdue reviews (WarnOverdue).
//
// Enforces CP-11.2: significant changes and overdue reviews are seen
// while Portico runs, from one node.
func (s *Service) Run(ctx context.Context, every time.Duration, logger *slog.Logger) {
	defaults := false
	s.db.RunLeased(audit.WithActor(ctx, audit.ActorSystem), passLease, every, logger, "policy documents' pass", func(ctx context.Context) error {
		if !defaults {
			if _, err := s.EnsureDefaults(ctx); err != nil {
				return err
			}
			defaults = true
		}
		if _, err := s.ObserveChanges(ctx); err != nil {
			return err
		}
		_, err := s.WarnOverdue(ctx)
		return err
	})
}
