package findings

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// overdueAction is the audit action detection's governance_overdue rule
// turns into an alert to the security team.
const overdueAction = "governance.overdue"

// Pass is what one run of the overdue pass did.
type Pass struct {
	Overdue    int // overdue findings recorded for the first time at their due date
	Assessment bool
	Lapsed     int // accepted risks whose acceptance ended, reopened
	Purged     int // reporters' contacts cleared
}

// Check runs the pass once: acceptances that have lapsed are reopened,
// every open finding past its due date and an overdue assessment are
// recorded once per due date (governance.overdue, which detection raises
// as a governance_overdue alert), and the contacts of reporters of
// findings closed longer than retention.security_reports are cleared.
//
// Enforces MTL-4.3.2, CP-6.2, MTL-4.3.1: an overdue finding or assessment
// is an alert to the security team, once per due date.
func (s *Service) Check(ctx context.Context) (Pass, error) {
	var p Pass
	var errs []error
	var err error
	p.Lapsed, err = s.lapse(ctx)
	errs = append(errs, err)
	p.Overdue, err = s.warnFindings(ctx)
	errs = append(errs, err)
	p.Assessment, err = s.WarnAssessment(ctx)
	errs = append(errs, err)
	p.Purged, err = s.purgeContacts(ctx)
	errs = append(errs, err)
	return p, errors.Join(errs...)
}

// warnFindings records each open finding past its due date once.
func (s *Service) warnFindings(ctx context.Context) (int, error) {
	late, err := s.List(ctx, Filter{Overdue: true})
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, f := range late {
		due := f.DueAt.UTC().Format(time.RFC3339)
		ok, err := s.overdueOnce(ctx, "finding:"+f.ID, map[string]any{"kind": "finding", "due": due,
			"summary": "A " + f.Severity + " finding is past its remediation date."})
		if err != nil {
			errs = append(errs, err) // the others still warn; retried next pass
		} else if ok {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// WarnAssessment records, once per due date, that the next assessment is
// overdue, and reports whether it did.
func (s *Service) WarnAssessment(ctx context.Context) (bool, error) {
	due, err := s.NextAssessmentDue(ctx)
	if err != nil || !s.db.Now().After(due) {
		return false, err
	}
	d := due.UTC().Format(time.RFC3339)
	return s.overdueOnce(ctx, "assessments:"+d, map[string]any{"kind": "assessment", "due": d,
		"summary": "A vulnerability assessment or penetration test is overdue."})
}

// overdueOnce appends governance.overdue for target unless one with the
// same due date is on the record already.
func (s *Service) overdueOnce(ctx context.Context, target string, details map[string]any) (bool, error) {
	warned := false
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		warned = false
		rows, err := db.Strings(ctx, tx, `SELECT details FROM audit_events WHERE action = $1 AND target = $2`, overdueAction, target)
		if err != nil {
			return err
		}
		for _, r := range rows {
			var d struct{ Due string }
			if json.Unmarshal([]byte(r), &d) == nil && d.Due == details["due"] {
				return nil
			}
		}
		warned = true
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: overdueAction, Target: target, Outcome: audit.Success, Details: details})
		return err
	})
	return warned, err
}

// lapse reopens the accepted risks whose acceptance has ended.
func (s *Service) lapse(ctx context.Context) (int, error) {
	ids, err := db.Strings(ctx, s.db, `SELECT id FROM findings WHERE status = 'accepted' AND accepted_until <= $1`, s.db.Now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := s.transition(ctx, id, "finding.reopen", []string{StatusAccepted}, StatusOpen, audit.ActorSystem, func(tx *db.Tx, f *Finding) (map[string]any, error) {
			f.ClosedAt, f.ClosedBy, f.ClosingNote, f.AcceptedUntil = time.Time{}, "", "", time.Time{}
			return map[string]any{"reason": "acceptance ended"}, nil
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// purgeContacts clears the reporter contact of findings closed longer ago
// than retention.security_reports.
//
// Enforces CP-5.2: a reporter's contact is kept no longer than the
// retention of security reports after the finding is closed.
func (s *Service) purgeContacts(ctx context.Context) (int, error) {
	n := 0
	err := s.db.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE findings SET reporter_contact = NULL WHERE reporter_contact IS NOT NULL
			AND status IN ('resolved', 'accepted') AND closed_at < $1`, tx.Now().Add(-s.profile.Retention.SecurityReports.Duration))
		if err != nil {
			return err
		}
		k, err := res.RowsAffected()
		if err != nil || k == 0 {
			return err
		}
		n = int(k)
		_, err = s.audit.Append(ctx, tx, audit.Event{Action: "finding.contacts_purge", Target: "findings", Outcome: audit.Success,
			Details: map[string]any{"count": n}})
		return err
	})
	return n, err
}

// Run runs Check at once and then every interval until ctx ends, on one
// node at a time: each pass takes or renews the lease findings.overdue,
// held for three intervals. Errors are logged (nil logger: the default)
// and the pass is tried again at the next tick.
//
// Enforces MTL-4.3.2, MTL-4.3.1: the overdue alerts go out while Portico
// runs, from one node.
func (s *Service) Run(ctx context.Context, every time.Duration, logger *slog.Logger) {
	s.db.RunLeased(audit.WithActor(ctx, audit.ActorSystem), leaseName, every, logger, "findings overdue pass", func(ctx context.Context) error {
		_, err := s.Check(ctx)
		return err
	})
}

// leaseName is the overdue pass's lease (db.TakeLease).
const leaseName = "findings.overdue"
